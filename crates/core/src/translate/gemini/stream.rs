//! `streamGenerateContent?alt=sse` events (each a whole `GenerateContentResponse`) → canonical
//! stream events.

use serde_json::Value;

use super::response::{Part, candidate_parts, read_part};
use super::{call_id, error_text, finish_reason, usage};
use crate::translate::{FinishReason, StreamDecoder, StreamError, StreamEvent};
use crate::usage::Usage;

/// Decodes a Gemini SSE stream. Each chunk carries new parts only; `usageMetadata` is
/// cumulative. The answer is complete once a `finishReason` (or a prompt `blockReason`) came.
pub struct GeminiStreamDecoder {
    /// The response id once the first chunk named it (or one made up for it).
    response_id: Option<String>,
    calls: usize,
    /// Whether text has been streamed since the last thought or call.
    in_text: bool,
    finished: bool,
    last_usage: Option<Usage>,
}

impl Default for GeminiStreamDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl GeminiStreamDecoder {
    pub fn new() -> GeminiStreamDecoder {
        GeminiStreamDecoder {
            response_id: None,
            calls: 0,
            in_text: false,
            finished: false,
            last_usage: None,
        }
    }

    fn parts(&mut self, parts: &[Value], out: &mut Vec<StreamEvent>) {
        for part in parts {
            let (kind, signature) = read_part(part);
            // A signature on a call, or on the text right after thinking, belongs before that
            // part: it closes the thinking. One arriving after text has begun (Gemini's
            // optional text signature, often on a trailing empty part) would split the
            // client's text block, and Gemini does not require it back: it is dropped.
            let closes_thinking = match kind {
                Part::Call { .. } => true,
                Part::Text(_) | Part::Other => !self.in_text,
                Part::Thought(_) => false,
            };
            if closes_thinking && let Some(signature) = signature.clone() {
                out.push(StreamEvent::ThinkingSignature { signature });
            }
            self.in_text = match kind {
                Part::Text(text) => self.in_text || !text.is_empty(),
                Part::Thought(_) | Part::Call { .. } => false,
                Part::Other => self.in_text,
            };
            match kind {
                Part::Thought(text) => {
                    if !text.is_empty() {
                        out.push(StreamEvent::ThinkingDelta {
                            text: text.to_owned(),
                        });
                    }
                    if let Some(signature) = signature {
                        out.push(StreamEvent::ThinkingSignature { signature });
                    }
                }
                Part::Text(text) if !text.is_empty() => out.push(StreamEvent::TextDelta {
                    text: text.to_owned(),
                }),
                Part::Call { id, name, args } => {
                    let index = self.calls;
                    self.calls += 1;
                    let id = id.map_or_else(
                        || call_id(self.response_id.as_deref().unwrap_or_default(), index),
                        str::to_owned,
                    );
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id,
                        name: name.to_owned(),
                    });
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: args,
                    });
                }
                _ => {}
            }
        }
    }
}

impl StreamDecoder for GeminiStreamDecoder {
    fn decode(
        &mut self,
        _event: &str,
        data: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), StreamError> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| {
            StreamError::new(
                "malformed_event",
                format!("Gemini stream: an event is not valid JSON: {e}"),
            )
        })?;
        if let Some(error) = chunk.get("error") {
            let (status, message) = error_text(error);
            return Err(StreamError::new(status, message));
        }
        if self.response_id.is_none() {
            let id = chunk
                .get("responseId")
                .and_then(Value::as_str)
                .map_or_else(crate::ids::fresh_hex, str::to_owned);
            self.response_id = Some(id.clone());
            out.push(StreamEvent::Start {
                id,
                model: chunk
                    .get("modelVersion")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        let candidate = chunk
            .get("candidates")
            .and_then(Value::as_array)
            .and_then(|c| c.first());
        self.parts(candidate_parts(candidate), out);
        let reason = match candidate
            .and_then(|c| c.get("finishReason"))
            .and_then(Value::as_str)
        {
            Some(word) => Some(finish_reason(word, self.calls > 0)),
            None if chunk.pointer("/promptFeedback/blockReason").is_some() => {
                Some(FinishReason::ContentFilter)
            }
            None => None,
        };
        if let Some(reason) = reason
            && !self.finished
        {
            self.finished = true;
            out.push(StreamEvent::Finish { reason });
        }
        if let Some(metadata) = chunk.get("usageMetadata") {
            let usage = usage(metadata);
            if self.last_usage != Some(usage) {
                self.last_usage = Some(usage);
                out.push(StreamEvent::Usage { usage });
            }
        }
        Ok(())
    }

    fn is_complete(&self) -> bool {
        self.finished
    }
}
