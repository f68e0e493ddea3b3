//! Upstream `chat.completion.chunk` events → canonical stream events, tolerant of the ways
//! OpenAI-compatible vendors differ (tool-call fragments, where usage arrives, a missing `[DONE]`).

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::response::error_message;
use super::{OpenAiQuirks, finish_reason_from_word};
use crate::translate::{FinishReason, StreamDecoder, StreamError, StreamEvent};
use crate::usage::{OpenAiUsage, Usage};

/// One tool call being streamed, keyed by the provider's `index` (or its id when a vendor sends
/// no index).
struct CallSlot {
    provider_index: Option<u64>,
    id: String,
    name: Option<String>,
    /// Whether `ToolCallStart` went out (it waits for the name).
    started: bool,
    /// Argument fragments that arrived before the name.
    pending: String,
    index: usize,
}

/// Decodes an OpenAI-compatible stream.
///
/// Completeness: the answer counts as complete at `[DONE]`, and also as soon as a
/// `finish_reason` arrived — after it the content cannot change, and vendors that never send
/// `[DONE]` (or close right after the finish chunk) should not be reported as interrupted. Only
/// a usage chunk can still follow; if the stream ends before it, usage is estimated downstream.
pub struct OpenAiStreamDecoder {
    _quirks: OpenAiQuirks,
    started: bool,
    finished: bool,
    done: bool,
    calls: Vec<CallSlot>,
    last_usage: Option<Usage>,
}

impl OpenAiStreamDecoder {
    pub fn new(quirks: OpenAiQuirks) -> OpenAiStreamDecoder {
        OpenAiStreamDecoder {
            _quirks: quirks,
            started: false,
            finished: false,
            done: false,
            calls: Vec::new(),
            last_usage: None,
        }
    }

    fn slot(&mut self, provider_index: Option<u64>, id: Option<&str>) -> usize {
        let found = match (provider_index, id) {
            (Some(index), id) => self
                .calls
                .iter()
                .rposition(|c| c.provider_index == Some(index))
                // A vendor reusing an index for a new call announces it with a new id.
                .filter(|&k| id.is_none_or(|id| self.calls[k].id == id)),
            (None, Some(id)) => self.calls.iter().rposition(|c| c.id == id),
            (None, None) => self.calls.len().checked_sub(1),
        };
        if let Some(k) = found {
            return k;
        }
        let index = self.calls.len();
        self.calls.push(CallSlot {
            provider_index,
            id: id.map_or_else(
                || format!("call_{}", crate::ids::fresh_hex()),
                str::to_owned,
            ),
            name: None,
            started: false,
            pending: String::new(),
            index,
        });
        index
    }

    fn tool_call_fragment(
        &mut self,
        provider_index: Option<u64>,
        id: Option<&str>,
        function: Option<&Value>,
        out: &mut Vec<StreamEvent>,
    ) {
        let k = self.slot(provider_index, id);
        let name = function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        let arguments = match function.and_then(|f| f.get("arguments")) {
            Some(Value::String(arguments)) => arguments.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        let slot = &mut self.calls[k];
        if slot.name.is_none()
            && let Some(name) = name
        {
            slot.name = Some(name.to_owned());
        }
        if !slot.started && slot.name.is_some() {
            start_call(slot, out);
        }
        if slot.started {
            if !arguments.is_empty() {
                out.push(StreamEvent::ToolCallDelta {
                    index: slot.index,
                    arguments,
                });
            }
        } else {
            slot.pending.push_str(&arguments);
        }
    }

    fn choice(&mut self, choice: &Value, out: &mut Vec<StreamEvent>) {
        if let Some(delta) = choice.get("delta") {
            let reasoning = delta
                .get("reasoning_content")
                .or_else(|| delta.get("reasoning"))
                .and_then(Value::as_str);
            if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                out.push(StreamEvent::ThinkingDelta {
                    text: text.to_owned(),
                });
            }
            for key in ["content", "refusal"] {
                if let Some(text) = delta.get(key).and_then(Value::as_str)
                    && !text.is_empty()
                {
                    out.push(StreamEvent::TextDelta {
                        text: text.to_owned(),
                    });
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|i| !i.is_empty());
                let index = call.get("index").and_then(Value::as_u64);
                self.tool_call_fragment(index, id, call.get("function"), out);
            }
            if let Some(call) = delta.get("function_call").filter(|c| !c.is_null()) {
                self.tool_call_fragment(Some(0), None, Some(call), out);
            }
        }
        if let Some(word) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish(word, out);
        }
    }

    fn finish(&mut self, word: &str, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.finished = true;
        // Calls whose name never came still go out, so their arguments are not lost.
        for slot in &mut self.calls {
            if !slot.started {
                start_call(slot, out);
            }
        }
        let mut reason = finish_reason_from_word(word);
        // Some vendors say `stop` after tool calls; clients act on `tool_calls`.
        if reason == FinishReason::Stop && !self.calls.is_empty() {
            reason = FinishReason::ToolCalls;
        }
        out.push(StreamEvent::Finish { reason });
    }

    fn start(&mut self, id: Option<&str>, model: Option<&str>, out: &mut Vec<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let id = id.unwrap_or_default();
        out.push(StreamEvent::Start {
            id: if id.is_empty() {
                format!("chatcmpl-{}", crate::ids::fresh_hex())
            } else {
                id.to_owned()
            },
            model: model.unwrap_or_default().to_owned(),
        });
    }

    fn usage(&mut self, usage: Usage, out: &mut Vec<StreamEvent>) {
        if self.last_usage != Some(usage) {
            self.last_usage = Some(usage);
            out.push(StreamEvent::Usage { usage });
        }
    }

    /// The common chunk (text, reasoning, finish, usage) read into borrowed, typed fields
    /// instead of a `Value` tree. `None` when the chunk is anything else (tool calls, an error,
    /// a field of an unexpected type, a repeated field): the caller then reads it as a `Value`,
    /// which gives the same events. Decides before touching any state.
    fn decode_plain(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Option<()> {
        let chunk: PlainChunk<'_> = serde_json::from_str(data).ok()?;
        if chunk.error.is_some() {
            return None;
        }
        let usage = match chunk.usage {
            Some(raw) => Some(Usage::from(
                serde_json::from_str::<OpenAiUsage>(raw.get()).ok()?,
            )),
            None => None,
        };
        let first = chunk
            .choices
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|c| c.index.unwrap_or(0) == 0);
        if let Some(delta) = first.and_then(|c| c.delta.as_ref())
            && (delta.tool_calls.is_some() || delta.function_call.is_some())
        {
            return None;
        }
        if !self.started {
            let id = chunk.id.and_then(string_value);
            let model = chunk.model.and_then(string_value);
            self.start(id.as_deref(), model.as_deref(), out);
        }
        if let Some(choice) = first {
            if let Some(delta) = &choice.delta {
                // `reasoning_content`, when present (even `null`), wins over `reasoning`.
                let reasoning = match &delta.reasoning_content {
                    Some(value) => value.as_deref(),
                    None => delta.reasoning.as_deref(),
                };
                if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                    out.push(StreamEvent::ThinkingDelta {
                        text: text.to_owned(),
                    });
                }
                for text in [&delta.content, &delta.refusal].into_iter().flatten() {
                    if !text.is_empty() {
                        out.push(StreamEvent::TextDelta { text: text.clone() });
                    }
                }
            }
            if let Some(word) = choice.finish_reason.and_then(string_value) {
                self.finish(&word, out);
            }
        }
        if let Some(usage) = usage {
            self.usage(usage, out);
        }
        Some(())
    }
}

/// The fields of a chunk the decoder reads, for `decode_plain`.
#[derive(Deserialize)]
struct PlainChunk<'a> {
    /// Read only from the first chunk.
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    model: Option<&'a RawValue>,
    #[serde(default, borrow)]
    choices: Option<Vec<PlainChoice<'a>>>,
    #[serde(default, borrow)]
    usage: Option<&'a RawValue>,
    #[serde(default, borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct PlainChoice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(default, borrow)]
    delta: Option<PlainDelta<'a>>,
    #[serde(default, borrow)]
    finish_reason: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct PlainDelta<'a> {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    /// `Some(None)` for an explicit `null`: it still hides `reasoning`.
    #[serde(default, deserialize_with = "present")]
    reasoning_content: Option<Option<String>>,
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default, borrow)]
    tool_calls: Option<&'a RawValue>,
    #[serde(default, borrow)]
    function_call: Option<&'a RawValue>,
}

/// The string a raw value holds; `None` for anything else (as `Value::as_str`).
fn string_value(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// A field that is present, whatever its value (`null` included).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

fn start_call(slot: &mut CallSlot, out: &mut Vec<StreamEvent>) {
    slot.started = true;
    out.push(StreamEvent::ToolCallStart {
        index: slot.index,
        id: slot.id.clone(),
        name: slot.name.clone().unwrap_or_default(),
    });
    if !slot.pending.is_empty() {
        out.push(StreamEvent::ToolCallDelta {
            index: slot.index,
            arguments: std::mem::take(&mut slot.pending),
        });
    }
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn decode(
        &mut self,
        _event: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError> {
        let data = data.trim();
        if data.is_empty() || self.done {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if self.decode_plain(data, out).is_some() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            StreamError::new(
                "malformed_event",
                format!("OpenAI chat stream: an event is not valid JSON: {e}"),
            )
        })?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let code = error
                .get("code")
                .and_then(Value::as_str)
                .or_else(|| error.get("type").and_then(Value::as_str))
                .unwrap_or("upstream_error");
            return Err(StreamError::new(code, error_message(error)));
        }
        self.start(
            chunk.get("id").and_then(Value::as_str),
            chunk.get("model").and_then(Value::as_str),
            out,
        );
        // Only the first choice is relayed (`n` > 1 is not supported through the canonical model).
        let first = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| {
                choices
                    .iter()
                    .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            });
        if let Some(choice) = first {
            self.choice(choice, out);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            let usage = Usage::from(
                serde_json::from_value::<OpenAiUsage>(usage.clone()).map_err(|e| {
                    StreamError::new(
                        "malformed_event",
                        format!("OpenAI chat stream: unreadable `usage`: {e}"),
                    )
                })?,
            );
            self.usage(usage, out);
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.done || self.finished
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunks: &[&str]) -> Vec<StreamEvent> {
        let mut decoder = OpenAiStreamDecoder::new(OpenAiQuirks::default());
        let mut out = Vec::new();
        for chunk in chunks {
            decoder
                .decode("", chunk, &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        out
    }

    fn text(t: &str) -> StreamEvent {
        StreamEvent::TextDelta { text: t.into() }
    }

    /// Chunks the typed fast path reads and chunks it leaves to the `Value` path give the events
    /// the `Value` path always gave.
    #[test]
    fn odd_chunks_decode_as_before() {
        let start = StreamEvent::Start {
            id: "c1".into(),
            model: "m".into(),
        };
        // An explicit `null` reasoning_content hides `reasoning`.
        assert_eq!(
            decode(&[
                r#"{"id":"c1","model":"m","choices":[{"delta":{"reasoning_content":null,"reasoning":"r","content":"c"}}]}"#
            ]),
            vec![start.clone(), text("c")]
        );
        // Only the choice with index 0 counts, wherever it is; escapes are decoded.
        assert_eq!(
            decode(&[
                r#"{"id":"c1","model":"m","choices":[{"index":1,"delta":{"content":"x"}},{"delta":{"content":"y\n\u00e9"},"finish_reason":"stop"}],"usage":null}"#
            ]),
            vec![
                start.clone(),
                text("y\né"),
                StreamEvent::Finish {
                    reason: FinishReason::Stop
                }
            ]
        );
        // Values of unexpected types are skipped, as `Value::as_str` skips them.
        assert_eq!(
            decode(&[
                r#"{"id":7,"model":"m","choices":[{"index":"0","delta":{"content":["x"],"refusal":"no"},"finish_reason":3}]}"#
            ])[1..],
            [text("no")]
        );
        // A repeated field: the last one wins.
        assert_eq!(
            decode(&[
                r#"{"id":"c1","model":"m","choices":[{"delta":{"content":"a","content":"b"}}]}"#
            ]),
            vec![start.clone(), text("b")]
        );
        // Tool calls and usage.
        assert_eq!(
            decode(&[
                r#"{"id":"c1","model":"m","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]}"#,
                r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#
            ]),
            vec![
                start,
                StreamEvent::ToolCallStart {
                    index: 0,
                    id: "t".into(),
                    name: "f".into()
                },
                StreamEvent::ToolCallDelta {
                    index: 0,
                    arguments: "{}".into()
                },
                StreamEvent::Usage {
                    usage: Usage {
                        input_tokens: 3,
                        output_tokens: 4,
                        ..Usage::default()
                    }
                }
            ]
        );
    }
}
