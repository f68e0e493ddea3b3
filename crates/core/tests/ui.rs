//! The dashboard's static files: served under `/ui/` with the right content types, no caching
//! without revalidation, and a Content-Security-Policy that the files actually comply with.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use switchboard_core::config::{Config, LoadOptions};
use switchboard_core::{Gateway, GatewayHandle, GatewayOptions};

async fn gateway() -> GatewayHandle {
    let config = Config::from_toml(
        "",
        "ui-test.toml",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Gateway::start(
        config,
        GatewayOptions {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..GatewayOptions::default()
        },
    )
    .await
    .expect("gateway starts")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no `{name}` header", response.url()))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn the_three_files_are_served_with_their_types_and_a_strict_policy() {
    let gateway = gateway().await;
    let http = reqwest::Client::new();
    let cases = [
        ("/ui/", "text/html; charset=utf-8", "<!doctype html>"),
        (
            "/ui/index.html",
            "text/html; charset=utf-8",
            "<!doctype html>",
        ),
        (
            "/ui/app.js",
            "text/javascript; charset=utf-8",
            "EventSource",
        ),
        (
            "/ui/style.css",
            "text/css; charset=utf-8",
            "prefers-color-scheme: dark",
        ),
    ];
    for (path, content_type, marker) in cases {
        let response = http
            .get(format!("{}{path}", gateway.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), content_type, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{path}"
        );
        let csp = header(&response, "content-security-policy").to_owned();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: `{directive}` missing from `{csp}`"
            );
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(marker), "{path} does not look like itself");
    }
    gateway.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn ui_without_a_slash_redirects_and_unknown_files_are_not_found() {
    let gateway = gateway().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = http
        .get(format!("{}/ui", gateway.base_url()))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(header(&response, "location"), "/ui/");
    let response = http
        .get(format!("{}/ui/missing.js", gateway.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    gateway.shutdown(std::time::Duration::from_secs(1)).await;
}

/// The policy forbids inline code, so the page must have none; and data goes into the page as
/// text only.
#[test]
fn the_files_comply_with_the_policy() {
    let html = include_str!("../../../ui/index.html");
    let js = include_str!("../../../ui/app.js");
    let lower = html.to_ascii_lowercase();
    for (at, _) in lower.match_indices("<script") {
        let tag = &lower[at..at + lower[at..].find('>').unwrap()];
        assert!(tag.contains(" src="), "inline script: {tag}");
    }
    assert!(!lower.contains("<style"), "inline <style> element");
    assert!(!lower.contains(" style="), "inline style attribute");
    for handler in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " onchange=",
        " oninput=",
    ] {
        assert!(!lower.contains(handler), "inline event handler `{handler}`");
    }
    for remote in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(
            !lower.contains(remote),
            "remote resource `{remote}`: the dashboard must work offline"
        );
    }
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(forbidden), "app.js uses `{forbidden}`");
    }
    assert!(html.contains(r#"src="app.js""#) && html.contains(r#"href="style.css""#));
}
