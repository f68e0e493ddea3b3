//! Reading a client's JSON body just enough to route it, and rewriting only what must change
//! (`model`, `stream_options`). Every other field is carried over as raw JSON, untouched.

use indexmap::IndexMap;
use serde_json::value::RawValue;

use crate::error::GatewayError;

/// A request body as an ordered map of top-level fields, each kept as raw JSON text.
pub struct ClientBody {
    fields: IndexMap<String, Box<RawValue>>,
    pub model: String,
    pub stream: bool,
}

impl ClientBody {
    pub fn parse(body: &[u8]) -> Result<ClientBody, GatewayError> {
        if body.is_empty() {
            return Err(GatewayError::bad_request(
                "the request body is empty; send a JSON object with `model` and the request fields",
            ));
        }
        let fields: IndexMap<String, Box<RawValue>> =
            serde_json::from_slice(body).map_err(|e| {
                if e.is_data() {
                    GatewayError::bad_request("the request body must be a JSON object")
                } else {
                    GatewayError::bad_request(format!("the request body is not valid JSON: {e}"))
                }
            })?;
        let model = match fields.get("model") {
            None => {
                return Err(GatewayError::BadRequest {
                    message: "missing `model`: say which model to use".into(),
                    param: Some("model"),
                });
            }
            Some(raw) => {
                serde_json::from_str::<String>(raw.get()).map_err(|_| GatewayError::BadRequest {
                    message: format!("`model` must be a string, got {}", raw.get()),
                    param: Some("model"),
                })?
            }
        };
        let stream = match fields.get("stream") {
            None => false,
            Some(raw) => match raw.get() {
                "true" => true,
                "false" | "null" => false,
                other => {
                    return Err(GatewayError::BadRequest {
                        message: format!("`stream` must be true or false, got {other}"),
                        param: Some("stream"),
                    });
                }
            },
        };
        Ok(ClientBody {
            fields,
            model,
            stream,
        })
    }

    /// Whether the client asked for the usage chunk (`stream_options.include_usage`).
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options()
            .and_then(|o| o.get("include_usage").and_then(serde_json::Value::as_bool))
            .unwrap_or(false)
    }

    fn stream_options(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let raw = self.fields.get("stream_options")?;
        serde_json::from_str(raw.get()).ok()
    }

    pub fn set_model(&mut self, model: &str) -> Result<(), GatewayError> {
        self.set_field("model", &model)
    }

    /// Asks for the usage chunk; keeps any other stream options the client sent.
    pub fn request_stream_usage(&mut self) -> Result<(), GatewayError> {
        let mut options = self.stream_options().unwrap_or_default();
        options.insert("include_usage".into(), serde_json::Value::Bool(true));
        self.set_field("stream_options", &options)
    }

    fn set_field(&mut self, name: &str, value: &impl serde::Serialize) -> Result<(), GatewayError> {
        let raw = serde_json::value::to_raw_value(value)
            .map_err(|e| GatewayError::Internal(format!("cannot encode `{name}`: {e}")))?;
        self.fields.insert(name.to_owned(), raw);
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, GatewayError> {
        serde_json::to_vec(&self.fields)
            .map_err(|e| GatewayError::Internal(format!("cannot encode the request: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<ClientBody, GatewayError>) -> String {
        match result {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn rewrites_model_and_stream_options_and_keeps_the_rest_verbatim() {
        let body = br#"{"model":"fast","messages":[{"role":"user","content":"hi \u00e9"}],"stream":true,"stream_options":{"foo":1},"temperature":0.50}"#;
        let mut parsed = ClientBody::parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.stream);
        assert!(!parsed.wants_stream_usage());
        parsed
            .set_model("llama-3.1-8b")
            .unwrap_or_else(|e| panic!("{e}"));
        parsed
            .request_stream_usage()
            .unwrap_or_else(|e| panic!("{e}"));
        let out = String::from_utf8(parsed.to_bytes().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out,
            r#"{"model":"llama-3.1-8b","messages":[{"role":"user","content":"hi \u00e9"}],"stream":true,"stream_options":{"foo":1,"include_usage":true},"temperature":0.50}"#
        );
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        assert_eq!(
            message(ClientBody::parse(b"")),
            "the request body is empty; send a JSON object with `model` and the request fields"
        );
        assert_eq!(
            message(ClientBody::parse(b"{\"model\": ")),
            "the request body is not valid JSON: EOF while parsing a value at line 1 column 10"
        );
        assert_eq!(
            message(ClientBody::parse(b"[1]")),
            "the request body must be a JSON object"
        );
        assert_eq!(
            message(ClientBody::parse(b"{}")),
            "missing `model`: say which model to use"
        );
        assert_eq!(
            message(ClientBody::parse(br#"{"model":3}"#)),
            "`model` must be a string, got 3"
        );
        assert_eq!(
            message(ClientBody::parse(br#"{"model":"m","stream":"yes"}"#)),
            "`stream` must be true or false, got \"yes\""
        );
    }
}
