//! OpenAI wire format (as spoken by OpenAI, NVIDIA NIM, Groq, DeepSeek, …): errors, models, and the
//! chat and embeddings endpoints in the submodules.

mod chat;
mod embeddings;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::config::RequestOptions;
use crate::faults::Dialect;
use crate::reply::{JSON, Outcome, with_content_type};
use crate::server::Incoming;

pub(crate) use chat::chat;
pub(crate) use embeddings::embeddings;

/// `created` of every object the mock returns: fixed, so that replies are deterministic.
const CREATED: u64 = 1_700_000_000;
/// The models `GET /v1/models` lists (any model id is accepted by the other endpoints).
pub const MODEL_IDS: [&str; 3] = ["mock-small", "mock-large", "mock-embed"];

/// OpenAI's errors and broken streams.
pub(crate) static DIALECT: Dialect = Dialect {
    error_response,
    malformed_event: b"data: {not json\n\n",
    stream_error_event: concat!(
        "data: ",
        r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
        "\n\n"
    )
    .as_bytes(),
    stream_error_status: 500,
};

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

/// `type` and `code` of OpenAI's error object for an HTTP status.
fn error_kind(status: StatusCode) -> (&'static str, Option<&'static str>) {
    match status.as_u16() {
        401 => ("invalid_request_error", Some("invalid_api_key")),
        403 => ("permission_error", None),
        404 => ("invalid_request_error", None),
        429 => ("requests", Some("rate_limit_exceeded")),
        400..=499 => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

/// `{"error":{"message","type","param","code"}}`.
fn error_body(status: StatusCode, message: &str, param: Option<&str>) -> Bytes {
    let (kind, code) = error_kind(status);
    let envelope = ErrorEnvelope {
        error: ErrorObject {
            message,
            kind,
            param,
            code,
        },
    };
    // Serializing plain strings cannot fail; an empty body would still carry the status.
    serde_json::to_vec(&envelope).map_or_else(|_| Bytes::new(), Bytes::from)
}

/// An error response in OpenAI's shape (the fault machinery's renderer for this dialect).
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    with_content_type(status, JSON, Body::from(error_body(status, message, None)))
}

fn error_outcome(status: StatusCode, message: &str, param: Option<&str>) -> Outcome {
    Outcome::json(status, error_body(status, message, param), None)
}

fn internal_error(error: &serde_json::Error) -> Outcome {
    error_outcome(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("mock-upstream could not serialize its reply: {error}"),
        None,
    )
}

#[derive(Serialize)]
struct ModelObject<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

impl<'a> ModelObject<'a> {
    fn new(id: &'a str) -> Self {
        Self {
            id,
            object: "model",
            created: CREATED,
            owned_by: "mock-upstream",
        }
    }
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<ModelObject<'a>>,
}

/// `GET /v1/models`.
pub(crate) fn models(_incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    let list = ModelList {
        object: "list",
        data: MODEL_IDS.iter().map(|id| ModelObject::new(id)).collect(),
    };
    match serde_json::to_vec(&list) {
        Ok(body) => Outcome::json(StatusCode::OK, Bytes::from(body), None),
        Err(e) => internal_error(&e),
    }
}

/// `GET /v1/models/{id}`.
pub(crate) fn model(id: &str) -> Outcome {
    if !MODEL_IDS.contains(&id) {
        return error_outcome(
            StatusCode::NOT_FOUND,
            &format!("The model `{id}` does not exist or you do not have access to it."),
            Some("model"),
        );
    }
    match serde_json::to_vec(&ModelObject::new(id)) {
        Ok(body) => Outcome::json(StatusCode::OK, Bytes::from(body), None),
        Err(e) => internal_error(&e),
    }
}

/// Any other path: OpenAI's 404.
pub(crate) fn not_found(incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    error_outcome(
        StatusCode::NOT_FOUND,
        &format!("Invalid URL ({} {})", incoming.method, incoming.uri.path()),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_matches_openai() {
        let body = error_body(StatusCode::TOO_MANY_REQUESTS, "slow down", None);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(
            value,
            serde_json::json!({"error": {
                "message": "slow down",
                "type": "requests",
                "param": null,
                "code": "rate_limit_exceeded"
            }})
        );
    }
}
