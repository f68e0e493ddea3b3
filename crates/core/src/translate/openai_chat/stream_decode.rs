//! Upstream `chat.completion.chunk` events → canonical stream events, tolerant of the ways
//! OpenAI-compatible vendors differ (tool-call fragments, where usage arrives, a missing `[DONE]`).

use serde_json::Value;

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
                || format!("call_{}", uuid::Uuid::new_v4().simple()),
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
        if let Some(word) = choice.get("finish_reason").and_then(Value::as_str)
            && !self.finished
        {
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
    }
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
        if !self.started {
            self.started = true;
            let id = chunk.get("id").and_then(Value::as_str).unwrap_or_default();
            out.push(StreamEvent::Start {
                id: if id.is_empty() {
                    format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())
                } else {
                    id.to_owned()
                },
                model: chunk
                    .get("model")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
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
            if self.last_usage != Some(usage) {
                self.last_usage = Some(usage);
                out.push(StreamEvent::Usage { usage });
            }
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.done || self.finished
    }
}
