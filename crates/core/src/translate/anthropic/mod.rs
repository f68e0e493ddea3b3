//! The Anthropic Messages API dialect: client requests in, upstream requests out, whole responses
//! and SSE streams both ways, Anthropic's error shape, and the thinking-signature bookkeeping that
//! keeps other providers' reasoning away from Anthropic.
//!
//! Signatures: Anthropic rejects a `thinking` block whose `signature` it did not issue. When an
//! Anthropic client is shown thinking that came from another provider, the block carries a
//! signature Switchboard invents, `swb:<dialect>` or `swb:<dialect>:<that provider's signature>`.
//! The prefix is not valid base64, so it can never collide with a real signature; when the client
//! sends the block back, `decode_request` turns it into a `Signature` of that dialect again, the
//! Anthropic encoder drops it, and `strip_foreign_thinking` removes it from passthrough bodies.

mod request_decode;
mod request_encode;
mod response;
mod stream_decode;
mod stream_encode;
mod strip;
mod wire;

pub use request_decode::decode_request;
pub use request_encode::encode_request;
pub use response::{decode_response, encode_response};
pub use stream_decode::AnthropicStreamDecoder;
pub use stream_encode::AnthropicStreamEncoder;
pub use strip::strip_foreign_thinking;

use http::StatusCode;
use serde_json::json;

use super::canonical::{Dialect, Signature};

/// Starts every signature Switchboard invents. `:` is not in the base64 alphabet.
const INVENTED_SIGNATURE_PREFIX: &str = "swb:";

/// The name a dialect has inside an invented signature.
fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::OpenAiChat => "openai_chat",
        Dialect::Anthropic => "anthropic",
        Dialect::Gemini => "gemini",
        Dialect::Responses => "responses",
    }
}

fn dialect_from_name(name: &str) -> Option<Dialect> {
    match name {
        "openai_chat" => Some(Dialect::OpenAiChat),
        "anthropic" => Some(Dialect::Anthropic),
        "gemini" => Some(Dialect::Gemini),
        "responses" => Some(Dialect::Responses),
        _ => None,
    }
}

/// The `signature` an Anthropic client sees for a thinking block: Anthropic's own unchanged,
/// another provider's wrapped so that it is recognized when it comes back.
fn signature_for_client(signature: &Signature) -> String {
    if signature.dialect == Dialect::Anthropic {
        return signature.value.clone();
    }
    invented_signature(signature.dialect, &signature.value)
}

/// `swb:<dialect>` or, when the provider gave a signature of its own, `swb:<dialect>:<value>`.
fn invented_signature(dialect: Dialect, value: &str) -> String {
    let name = dialect_name(dialect);
    if value.is_empty() {
        format!("{INVENTED_SIGNATURE_PREFIX}{name}")
    } else {
        format!("{INVENTED_SIGNATURE_PREFIX}{name}:{value}")
    }
}

/// Reads a `signature` an Anthropic client sent back: invented ones name their dialect (an
/// unknown name still marks the block as foreign), everything else is Anthropic's.
fn signature_from_client(value: &str) -> Signature {
    let Some(rest) = value.strip_prefix(INVENTED_SIGNATURE_PREFIX) else {
        return Signature {
            dialect: Dialect::Anthropic,
            value: value.to_owned(),
        };
    };
    let (name, inner) = rest.split_once(':').unwrap_or((rest, ""));
    match dialect_from_name(name) {
        // `swb:anthropic` is never issued; treat it as foreign too so it is never sent upstream.
        Some(dialect) if dialect != Dialect::Anthropic => Signature {
            dialect,
            value: inner.to_owned(),
        },
        _ => Signature {
            dialect: Dialect::OpenAiChat,
            value: String::new(),
        },
    }
}

/// Anthropic's error `type` for an HTTP status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic's error shape for a status: `{"type":"error","error":{"type","message"}}`.
pub fn error_body(status: StatusCode, message: &str) -> Vec<u8> {
    let body = json!({
        "type": "error",
        "error": { "type": error_type(status), "message": message },
    });
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_signatures_round_trip() {
        for dialect in [Dialect::OpenAiChat, Dialect::Gemini, Dialect::Responses] {
            for value in ["", "abc:def=="] {
                let signature = Signature {
                    dialect,
                    value: value.to_owned(),
                };
                let wire = signature_for_client(&signature);
                assert!(wire.starts_with("swb:"));
                assert_eq!(signature_from_client(&wire), signature);
            }
        }
        let real = Signature {
            dialect: Dialect::Anthropic,
            value: "EqQBCkYIBRgCKkA=".to_owned(),
        };
        assert_eq!(signature_for_client(&real), real.value);
        assert_eq!(signature_from_client(&real.value), real);
        assert_eq!(
            signature_from_client("swb:anthropic").dialect,
            Dialect::OpenAiChat
        );
        assert_eq!(signature_from_client("swb:mystery:x").value, "");
    }

    #[test]
    fn error_types_follow_the_status() {
        let cases = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            let body: serde_json::Value =
                serde_json::from_slice(&error_body(status, "boom")).unwrap();
            assert_eq!(
                body,
                json!({"type": "error", "error": {"type": kind, "message": "boom"}})
            );
        }
    }
}
