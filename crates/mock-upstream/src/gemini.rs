//! Gemini API wire format (`generativelanguage.googleapis.com/v1beta`): errors, models, token
//! counting, and `generateContent` / `streamGenerateContent` in the submodules.

mod generate;
mod request;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;

use crate::config::RequestOptions;
use crate::faults::Dialect;
use crate::openai::MODEL_IDS;
use crate::reply::{Outcome, Reply, with_content_type};
use crate::server::Incoming;
use crate::synth;

/// The `thoughtSignature` the mock puts on the part after its thoughts; parts sent back with any
/// other signature are rejected, except Google's documented placeholders below.
pub const THOUGHT_SIGNATURE: &str = "bW9jay11cHN0cmVhbS10aG91Z2h0LXNpZ25hdHVyZQ==";
/// What Google documents for replaying function calls that have no signature (history from
/// another model, or a client that cannot carry one): Gemini accepts these in place of one.
pub const PLACEHOLDER_SIGNATURES: [&str; 2] = [
    "skip_thought_signature_validator",
    "context_engineering_is_the_way_to_go",
];
/// Content type of Gemini's JSON replies.
const JSON_UTF8: &str = "application/json; charset=UTF-8";
/// Largest prompt the listed models take.
const INPUT_TOKEN_LIMIT: u64 = 1_048_576;
/// Largest reply the listed models produce.
const OUTPUT_TOKEN_LIMIT: u64 = 65_536;

/// Gemini's errors and broken streams (events end in `\r\n\r\n`, as Google sends them).
pub(crate) static DIALECT: Dialect = Dialect {
    error_response,
    malformed_event: b"data: {not json\r\n\r\n",
    stream_error_event: concat!(
        "data: ",
        r#"{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}"#,
        "\r\n\r\n"
    )
    .as_bytes(),
    stream_error_status: 503,
};

/// Whether a request outside `/v1beta` speaks Gemini's dialect: it carries a Google API key
/// (`x-goog-api-key`, or `key=` in the query) or Google's client header.
pub(crate) fn is_gemini(incoming: &Incoming) -> bool {
    let headers = &incoming.headers;
    headers.contains_key("x-goog-api-key")
        || headers.contains_key("x-goog-api-client")
        || incoming
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|pair| pair.starts_with("key=")))
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    code: u16,
    message: &'a str,
    status: &'static str,
}

/// The `google.rpc.Code` name Google sends with an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ if status.is_client_error() => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// `{"error":{"code","message","status"}}`.
fn error_body(status: StatusCode, message: &str) -> Bytes {
    let envelope = ErrorEnvelope {
        error: ErrorObject {
            code: status.as_u16(),
            message,
            status: status_name(status),
        },
    };
    // Serializing plain strings cannot fail; an empty body would still carry the status.
    serde_json::to_vec(&envelope).map_or_else(|_| Bytes::new(), Bytes::from)
}

/// An error response in Gemini's shape (the fault machinery's renderer for this dialect).
pub(crate) fn error_response(status: StatusCode, message: &str) -> Response {
    with_content_type(status, JSON_UTF8, Body::from(error_body(status, message)))
}

fn json_reply(status: StatusCode, body: Bytes) -> Reply {
    Reply::Json {
        status,
        content_type: JSON_UTF8,
        body,
    }
}

fn error_outcome(status: StatusCode, message: &str) -> Outcome {
    Outcome {
        reply: json_reply(status, error_body(status, message)),
        usage: None,
    }
}

fn invalid_argument(message: &str) -> Outcome {
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
        Ok(body) => Outcome {
            reply: json_reply(StatusCode::OK, Bytes::from(body)),
            usage: None,
        },
        Err(e) => internal_error(&e),
    }
}

/// `POST …/models/{model}:{action}`: `name` is the path after `models/`.
pub(crate) fn action(name: &str, incoming: &Incoming, options: &RequestOptions) -> Outcome {
    let Some((model, method)) = name.rsplit_once(':') else {
        return not_found(incoming, options);
    };
    match method {
        "generateContent" => generate::generate(model, false, incoming, options),
        "streamGenerateContent" => generate::generate(model, true, incoming, options),
        "countTokens" => count_tokens(incoming),
        _ => not_found(incoming, options),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CountTokens {
    total_tokens: u64,
    prompt_tokens_details: [ModalityTokenCount; 1],
}

/// Tokens of one modality, as `usageMetadata` details list them.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct ModalityTokenCount {
    modality: &'static str,
    token_count: u64,
}

impl ModalityTokenCount {
    fn text(token_count: u64) -> Self {
        Self {
            modality: "TEXT",
            token_count,
        }
    }
}

/// `:countTokens`: the prompt tokens a `generateContent` would report.
fn count_tokens(incoming: &Incoming) -> Outcome {
    let request = match request::parse(&incoming.body) {
        Ok(request) => request,
        Err(message) => return invalid_argument(&message),
    };
    match request::validate(&request) {
        Ok(valid) => {
            let total_tokens = valid.prompt_tokens();
            json_outcome(&CountTokens {
                total_tokens,
                prompt_tokens_details: [ModalityTokenCount::text(total_tokens)],
            })
        }
        Err(message) => invalid_argument(&message),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModelInfo {
    name: String,
    version: &'static str,
    display_name: String,
    description: String,
    input_token_limit: u64,
    output_token_limit: u64,
    supported_generation_methods: &'static [&'static str],
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<bool>,
}

impl ModelInfo {
    fn new(id: &str) -> Self {
        let embed = id.contains("embed");
        Self {
            name: format!("models/{id}"),
            version: "001",
            display_name: synth::display_name(id),
            description: format!("mock-upstream model {id}"),
            input_token_limit: INPUT_TOKEN_LIMIT,
            output_token_limit: if embed { 1 } else { OUTPUT_TOKEN_LIMIT },
            supported_generation_methods: if embed {
                &["embedContent"]
            } else {
                &["generateContent", "countTokens"]
            },
            thinking: (!embed).then_some(true),
        }
    }
}

#[derive(Serialize)]
struct ModelList {
    models: Vec<ModelInfo>,
}

/// `GET /v1beta/models`.
pub(crate) fn models(_incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    json_outcome(&ModelList {
        models: MODEL_IDS.iter().map(|id| ModelInfo::new(id)).collect(),
    })
}

/// `GET /v1beta/models/{model}`.
pub(crate) fn model(id: &str) -> Outcome {
    if MODEL_IDS.contains(&id) {
        json_outcome(&ModelInfo::new(id))
    } else {
        error_outcome(
            StatusCode::NOT_FOUND,
            &format!(
                "models/{id} is not found for API version v1beta, or is not supported for \
                 generateContent. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
        )
    }
}

/// Any other path under `/v1beta`.
pub(crate) fn not_found(incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    error_outcome(
        StatusCode::NOT_FOUND,
        &format!(
            "Method not found: {} {}",
            incoming.method,
            incoming.uri.path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_shape_matches_google() {
        let body = error_body(StatusCode::TOO_MANY_REQUESTS, "quota");
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})
        );
    }
}
