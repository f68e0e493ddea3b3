//! Request guards: the Host check against DNS rebinding, the Origin check and CORS allowlist
//! against cross-site requests from browsers, and the optional client token.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::AppState;
use crate::error::GatewayError;

/// The host part of a `Host` header or an origin's authority, lowercased, without port/brackets.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_owned();
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host.to_owned(),
        _ => authority,
    }
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A Host is acceptable when it is a loopback name, any IP literal (a DNS-rebinding page always
/// arrives under its own host name), or listed in `server.allowed_hosts`.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    is_loopback_name(host) || host.parse::<IpAddr>().is_ok() || allowed.iter().any(|a| a == host)
}

/// An Origin is acceptable when it is a loopback page (e.g. the dashboard itself), a page on an
/// allowed host, or listed in `server.allowed_origins`. IP literals are not enough here: any
/// web page can be served from one.
fn origin_allowed(origin: &str, allowed_hosts: &[String], allowed_origins: &[String]) -> bool {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if allowed_origins.contains(&origin) {
        return true;
    }
    let Some((_scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let host = host_name(authority);
    is_loopback_name(&host) || allowed_hosts.contains(&host)
}

/// A page on this machine (`http://127.0.0.1:4141`) or on one of `server.allowed_hosts` — the
/// dashboard itself, opened by whichever name the gateway answers to.
pub(crate) fn is_local_origin(origin: &str, allowed_hosts: &[String]) -> bool {
    origin_allowed(origin, allowed_hosts, &[])
}

fn forbidden(message: String) -> Response {
    GatewayError::Forbidden(message).into_response()
}

pub(super) async fn check_host_and_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let live = state.live.load();
    let server = &live.config.server;
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    let Some(authority) = authority else {
        return forbidden("requests must carry a Host header".into());
    };
    let host = host_name(&authority);
    if !host_allowed(&host, &server.allowed_hosts) {
        return forbidden(format!(
            "Host `{host}` is not allowed; Switchboard answers on localhost, IP addresses and the \
             names in `server.allowed_hosts`"
        ));
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_owned());
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    if !origin_allowed(&origin, &server.allowed_hosts, &server.allowed_origins) {
        return forbidden(format!(
            "Origin `{origin}` is not allowed; add it to `server.allowed_origins` to let that web \
             page call Switchboard"
        ));
    }
    let listed = server
        .allowed_origins
        .iter()
        .any(|o| *o == origin.trim_end_matches('/').to_ascii_lowercase());
    if !listed {
        // Same-machine pages (the dashboard) need no CORS headers: they are same-origin.
        return next.run(request).await;
    }
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    add_cors_headers(response.headers_mut(), &origin, preflight);
    response
}

fn add_cors_headers(headers: &mut HeaderMap, origin: &str, preflight: bool) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, x-api-key, anthropic-version, anthropic-beta, x-stainless-*",
            ),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
}

/// The token a client presented: `Authorization: Bearer …` or `x-api-key: …`.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let auth = auth.trim();
        if auth.len() > 7 && auth[..7].eq_ignore_ascii_case("bearer ") {
            return Some(auth[7..].trim());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

pub(super) async fn require_client_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let live = state.live.load();
    let Some(expected) = &live.config.server.client_token else {
        return next.run(request).await;
    };
    let expected = expected.expose_secret().as_bytes();
    let ok = presented_token(request.headers())
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected)));
    if ok {
        next.run(request).await
    } else {
        // Anthropic clients (`/v1/messages…`) read Anthropic's error shape.
        let dialect = if request.uri().path().starts_with("/v1/messages") {
            crate::translate::Dialect::Anthropic
        } else {
            crate::translate::Dialect::OpenAiChat
        };
        GatewayError::Unauthorized(
            "this Switchboard requires its client token: send it as `Authorization: Bearer TOKEN` \
             or `x-api-key: TOKEN` (it is `server.client_token` in the config)"
                .into(),
        )
        .into_dialect_response(dialect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_parsed_without_ports() {
        assert_eq!(host_name("LOCALHOST:4141"), "localhost");
        assert_eq!(host_name("[::1]:4141"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("devbox.local:80"), "devbox.local");
    }

    #[test]
    fn hosts_and_origins() {
        let allowed = vec!["devbox.local".to_string()];
        for ok in [
            "localhost",
            "127.0.0.1",
            "::1",
            "10.0.0.5",
            "devbox.local",
            "app.localhost",
        ] {
            assert!(host_allowed(ok, &allowed), "{ok}");
        }
        for bad in ["evil.com", "localhost.evil.com", "127.0.0.1.nip.io"] {
            assert!(!host_allowed(bad, &allowed), "{bad}");
        }
        let origins = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed("http://127.0.0.1:4141", &allowed, &origins));
        assert!(origin_allowed("http://localhost:5173", &allowed, &origins));
        assert!(origin_allowed(
            "https://app.example.com/",
            &allowed,
            &origins
        ));
        assert!(!origin_allowed("https://evil.com", &allowed, &origins));
        assert!(!origin_allowed("http://1.2.3.4", &allowed, &origins));
        assert!(!origin_allowed("null", &allowed, &origins));
    }
}
