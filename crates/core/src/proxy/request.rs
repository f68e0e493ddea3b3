//! Reading a client's JSON body just enough to route it, and rewriting only what must change
//! (`model`, `stream_options`). Every other byte is carried over untouched: the body is scanned
//! once (top-level keys, each value validated and skipped in place) and the new values are
//! spliced in where the old ones were, without building or re-serializing the rest. A body that
//! names one of those fields twice goes the slow way (a map of raw fields, the last one wins).

use std::ops::Range;

use indexmap::IndexMap;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::GatewayError;

/// A request body: the client's bytes, where its `model` and `stream_options` values are, and
/// the replacements to splice in.
pub struct ClientBody {
    body: Vec<u8>,
    layout: Layout,
    new_model: Option<Box<RawValue>>,
    new_stream_options: Option<Box<RawValue>>,
    pub model: String,
    pub stream: bool,
}

enum Layout {
    /// Each field at most once: the byte ranges of the values that may be rewritten.
    Spans {
        model: Range<usize>,
        stream_options: Option<Range<usize>>,
    },
    /// A field the gateway rewrites appears more than once: the fields as an ordered map.
    Fields(IndexMap<String, Box<RawValue>>),
}

/// The top-level fields the gateway reads or rewrites.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Model,
    Stream,
    StreamOptions,
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "model" => Key::Model,
                    "stream" => Key::Stream,
                    "stream_options" => Key::StreamOptions,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// What one pass over the body found: the raw values of the interesting fields (borrowed from
/// the body), and whether one of them came twice.
#[derive(Default)]
struct Scan<'a> {
    model: Option<&'a RawValue>,
    stream: Option<&'a RawValue>,
    stream_options: Option<&'a RawValue>,
    repeated: bool,
}

struct ScanSeed;

impl<'de> DeserializeSeed<'de> for ScanSeed {
    type Value = Scan<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scan<'de>, D::Error> {
        deserializer.deserialize_map(ScanVisitor)
    }
}

struct ScanVisitor;

impl<'de> Visitor<'de> for ScanVisitor {
    type Value = Scan<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scan<'de>, A::Error> {
        let mut scan = Scan::default();
        while let Some(key) = map.next_key::<Key>()? {
            let slot = match key {
                Key::Model => &mut scan.model,
                Key::Stream => &mut scan.stream,
                Key::StreamOptions => &mut scan.stream_options,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let value: &'de RawValue = map.next_value()?;
            scan.repeated |= slot.is_some();
            *slot = Some(value);
        }
        Ok(scan)
    }
}

/// Where `raw`, borrowed from `body`, sits in it.
fn span_of(body: &[u8], raw: &RawValue) -> Option<Range<usize>> {
    let start = (raw.get().as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start + raw.get().len();
    (end <= body.len()).then_some(start..end)
}

fn parse_error(e: &serde_json::Error) -> GatewayError {
    if e.is_data() {
        GatewayError::bad_request("the request body must be a JSON object")
    } else {
        GatewayError::bad_request(format!("the request body is not valid JSON: {e}"))
    }
}

impl ClientBody {
    pub fn parse(body: &[u8]) -> Result<ClientBody, GatewayError> {
        if body.is_empty() {
            return Err(GatewayError::bad_request(
                "the request body is empty; send a JSON object with `model` and the request fields",
            ));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let scan = ScanSeed
            .deserialize(&mut deserializer)
            .and_then(|scan| deserializer.end().map(|()| scan))
            .map_err(|e| parse_error(&e))?;
        let model = match scan.model {
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
        let stream = match scan.stream {
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
        let spans = match (scan.model.and_then(|raw| span_of(body, raw)), scan.repeated) {
            (Some(model), false) => match scan.stream_options {
                None => Some(Layout::Spans {
                    model,
                    stream_options: None,
                }),
                Some(raw) => span_of(body, raw).map(|options| Layout::Spans {
                    model,
                    stream_options: Some(options),
                }),
            },
            _ => None,
        };
        let layout = match spans {
            Some(layout) => layout,
            None => Layout::Fields(serde_json::from_slice(body).map_err(|e| parse_error(&e))?),
        };
        Ok(ClientBody {
            body: body.to_vec(),
            layout,
            new_model: None,
            new_stream_options: None,
            model,
            stream,
        })
    }

    /// The current `stream_options` value, as raw JSON.
    fn stream_options_raw(&self) -> Option<&str> {
        if let Some(raw) = &self.new_stream_options {
            return Some(raw.get());
        }
        match &self.layout {
            Layout::Spans { stream_options, .. } => stream_options
                .clone()
                .and_then(|span| std::str::from_utf8(&self.body[span]).ok()),
            Layout::Fields(fields) => fields.get("stream_options").map(|raw| raw.get()),
        }
    }

    /// Whether the client asked for the usage chunk (`stream_options.include_usage`).
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options()
            .and_then(|o| o.get("include_usage").and_then(serde_json::Value::as_bool))
            .unwrap_or(false)
    }

    fn stream_options(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        serde_json::from_str(self.stream_options_raw()?).ok()
    }

    pub fn set_model(&mut self, model: &str) -> Result<(), GatewayError> {
        self.new_model = Some(encode("model", &model)?);
        Ok(())
    }

    /// Asks for the usage chunk; keeps any other stream options the client sent.
    pub fn request_stream_usage(&mut self) -> Result<(), GatewayError> {
        let mut options = self.stream_options().unwrap_or_default();
        options.insert("include_usage".into(), serde_json::Value::Bool(true));
        self.new_stream_options = Some(encode("stream_options", &options)?);
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, GatewayError> {
        match &self.layout {
            Layout::Spans {
                model,
                stream_options,
            } => Ok(self.splice(model.clone(), stream_options.clone())),
            Layout::Fields(fields) => {
                let mut fields = fields.clone();
                if let Some(model) = &self.new_model {
                    fields.insert("model".to_owned(), model.clone());
                }
                if let Some(options) = &self.new_stream_options {
                    fields.insert("stream_options".to_owned(), options.clone());
                }
                serde_json::to_vec(&fields)
                    .map_err(|e| GatewayError::Internal(format!("cannot encode the request: {e}")))
            }
        }
    }

    /// The body with the new values in place of the old ones; a `stream_options` the client did
    /// not send goes last, as a map insert would put it.
    fn splice(&self, model: Range<usize>, stream_options: Option<Range<usize>>) -> Vec<u8> {
        let body = &self.body;
        let mut edits: [Option<Edit<'_>>; 2] = [None, None];
        if let Some(new) = &self.new_model {
            edits[0] = Some((model, b"", new.get().as_bytes()));
        }
        if let Some(new) = &self.new_stream_options {
            edits[1] = Some(match stream_options {
                Some(span) => (span, b"", new.get().as_bytes()),
                None => {
                    // Just before the closing brace of the top-level object.
                    let end = body.iter().rposition(|b| *b == b'}').unwrap_or(body.len());
                    (end..end, b",\"stream_options\":", new.get().as_bytes())
                }
            });
        }
        if let [Some(a), Some(b)] = &edits
            && b.0.start < a.0.start
        {
            edits.swap(0, 1);
        }
        let extra: usize = edits
            .iter()
            .flatten()
            .map(|(_, a, b)| a.len() + b.len())
            .sum();
        let mut out = Vec::with_capacity(body.len() + extra);
        let mut at = 0;
        for (span, prefix, value) in edits.into_iter().flatten() {
            out.extend_from_slice(&body[at..span.start]);
            out.extend_from_slice(prefix);
            out.extend_from_slice(value);
            at = span.end;
        }
        out.extend_from_slice(&body[at..]);
        out
    }
}

/// A span of the body, and the prefix and value that replace it.
type Edit<'a> = (Range<usize>, &'a [u8], &'a [u8]);

fn encode(name: &str, value: &impl serde::Serialize) -> Result<Box<RawValue>, GatewayError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| GatewayError::Internal(format!("cannot encode `{name}`: {e}")))
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

    fn rewritten(body: &[u8], model: &str, usage: bool) -> String {
        let mut parsed = ClientBody::parse(body).unwrap_or_else(|e| panic!("{e}"));
        parsed.set_model(model).unwrap_or_else(|e| panic!("{e}"));
        if usage {
            parsed
                .request_stream_usage()
                .unwrap_or_else(|e| panic!("{e}"));
        }
        String::from_utf8(parsed.to_bytes().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn splices_values_in_place_and_keeps_every_other_byte() {
        // Whitespace, key order and the other values stay as the client wrote them.
        assert_eq!(
            rewritten(
                b"{ \"messages\" : [ {\"role\":\"user\"} ],\n  \"model\" : \"fast\" ,\"stream\":true }\n",
                "up/\"quoted\"",
                true
            ),
            "{ \"messages\" : [ {\"role\":\"user\"} ],\n  \"model\" : \"up/\\\"quoted\\\"\" ,\"stream\":true ,\"stream_options\":{\"include_usage\":true}}\n"
        );
        // `stream_options` before `model`: both edits land in the right places.
        assert_eq!(
            rewritten(
                br#"{"stream_options":{"include_usage":false},"model":"fast","stream":true}"#,
                "m",
                true
            ),
            r#"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#
        );
        // An escaped key name is the same field.
        assert_eq!(
            rewritten(br#"{"mod\u0065l":"fast","n":1}"#, "m", false),
            r#"{"mod\u0065l":"m","n":1}"#
        );
        let parsed =
            ClientBody::parse(br#"{"mod\u0065l":"fast"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.model, "fast");
    }

    #[test]
    fn a_repeated_field_is_rewritten_once_and_the_last_one_counts() {
        let body = br#"{"model":"a","messages":[],"model":"b","stream":false,"stream":true}"#;
        let parsed = ClientBody::parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((parsed.model.as_str(), parsed.stream), ("b", true));
        assert_eq!(
            rewritten(body, "m", true),
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#
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
            message(ClientBody::parse(br#"{"model":"m"} x"#)),
            "the request body is not valid JSON: trailing characters at line 1 column 15"
        );
        assert_eq!(
            message(ClientBody::parse(br#"{"model":"m","n":[1,}"#)),
            "the request body is not valid JSON: expected value at line 1 column 21"
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
