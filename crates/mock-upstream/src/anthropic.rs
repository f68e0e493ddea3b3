//! Anthropic Messages API wire format (as spoken by Anthropic and Anthropic-compatible endpoints):
//! errors, models, token counting, and `POST /v1/messages` in the submodules.

mod messages;
mod request;
mod stream;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::config::RequestOptions;
use crate::faults::Dialect;
use crate::openai::MODEL_IDS;
use crate::reply::{JSON, Outcome, with_content_type};
use crate::server::Incoming;
use crate::synth;

pub(crate) use messages::messages;
use request::{Betas, Endpoint};

/// The `signature` of every thinking block the mock sends; thinking blocks sent back with any
/// other signature are rejected, as Anthropic rejects signatures it did not make.
pub const THINKING_SIGNATURE: &str = "bW9jay11cHN0cmVhbS10aGlua2luZy1zaWduYXR1cmU=";
/// `created_at` of every model (the OpenAI side's `created`, 1 700 000 000, in RFC 3339).
const CREATED_AT: &str = "2023-11-14T22:13:20Z";

/// Anthropic's errors and broken streams.
pub(crate) static DIALECT: Dialect = Dialect {
    error_response,
    malformed_event: b"event: content_block_delta\ndata: {not json\n\n",
    stream_error_event: concat!(
        "event: error\n",
        r#"data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        "\n\n"
    )
    .as_bytes(),
    stream_error_status: 529,
};

/// Whether a request speaks Anthropic's dialect: it carries `anthropic-version`.
pub(crate) fn is_anthropic(incoming: &Incoming) -> bool {
    incoming.headers.contains_key("anthropic-version")
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorObject<'a>,
    request_id: String,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

/// Anthropic's error `type` for an HTTP status.
fn error_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        503 | 529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// `{"type":"error","error":{"type","message"},"request_id"}`.
fn error_body(status: StatusCode, message: &str) -> Bytes {
    let envelope = ErrorEnvelope {
        kind: "error",
        error: ErrorObject {
            kind: error_kind(status),
            message,
        },
        request_id: format!("req_mock{:016x}", synth::fnv1a(message.as_bytes())),
    };
    // Serializing plain strings cannot fail; an empty body would still carry the status.
    serde_json::to_vec(&envelope).map_or_else(|_| Bytes::new(), Bytes::from)
}

/// An error response in Anthropic's shape (the fault machinery's renderer for this dialect).
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    with_content_type(status, JSON, Body::from(error_body(status, message)))
}

fn error_outcome(status: StatusCode, message: &str) -> Outcome {
    Outcome::json(status, error_body(status, message), None)
}

fn invalid_request(message: &str) -> Outcome {
    error_outcome(StatusCode::BAD_REQUEST, message)
}

fn internal_error(error: &serde_json::Error) -> Outcome {
    error_outcome(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("mock-upstream could not serialize its reply: {error}"),
    )
}

fn json_outcome<T: Serialize>(value: &T) -> Outcome {
    match serde_json::to_vec(value) {
        Ok(body) => Outcome::json(StatusCode::OK, Bytes::from(body), None),
        Err(e) => internal_error(&e),
    }
}

#[derive(Serialize)]
struct CountTokens {
    input_tokens: u64,
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the prompt tokens a message would report
/// (cached ones included).
pub(crate) fn count_tokens(incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    let request = match request::parse(&incoming.body) {
        Ok(request) => request,
        Err(message) => return invalid_request(&message),
    };
    let betas = Betas::from_headers(&incoming.headers);
    match request::validate(&request, Endpoint::CountTokens, betas) {
        Ok(valid) => json_outcome(&CountTokens {
            input_tokens: valid.prompt_tokens(),
        }),
        Err(message) => invalid_request(&message),
    }
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: String,
    created_at: &'static str,
}

impl<'a> ModelInfo<'a> {
    fn new(id: &'a str) -> Self {
        Self {
            kind: "model",
            id,
            display_name: synth::display_name(id),
            created_at: CREATED_AT,
        }
    }
}

#[derive(Serialize)]
struct ModelList<'a> {
    data: Vec<ModelInfo<'a>>,
    has_more: bool,
    first_id: Option<&'a str>,
    last_id: Option<&'a str>,
}

/// `GET /v1/models` with `anthropic-version`.
pub(crate) fn models(_incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    json_outcome(&ModelList {
        data: MODEL_IDS.iter().map(|id| ModelInfo::new(id)).collect(),
        has_more: false,
        first_id: MODEL_IDS.first().copied(),
        last_id: MODEL_IDS.last().copied(),
    })
}

/// `GET /v1/models/{id}` with `anthropic-version`.
pub(crate) fn model(id: &str) -> Outcome {
    if MODEL_IDS.contains(&id) {
        json_outcome(&ModelInfo::new(id))
    } else {
        error_outcome(StatusCode::NOT_FOUND, &format!("model: {id}"))
    }
}

/// Any other path, asked in Anthropic's dialect.
pub(crate) fn not_found(incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    error_outcome(
        StatusCode::NOT_FOUND,
        &format!("Not found: {} {}", incoming.method, incoming.uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_matches_anthropic() {
        let body = error_body(StatusCode::TOO_MANY_REQUESTS, "slow down");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["type"], "error");
        assert_eq!(
            value["error"],
            serde_json::json!({"type": "rate_limit_error", "message": "slow down"})
        );
        assert!(value["request_id"].as_str().unwrap().starts_with("req_"));
        for status in [400, 401, 403, 404, 413, 500, 529] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(!error_kind(status).is_empty());
        }
    }
}
