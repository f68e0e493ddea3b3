//! Canonical stream events → the client's `chat.completion.chunk` SSE events, ending with the
//! finish chunk, the usage chunk (when asked for) and `data: [DONE]`.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::response::usage_json;
use super::{completion_id, finish_reason_word, unix_now};
use crate::translate::{FinishReason, StreamEncoder, StreamError, StreamEvent};
use crate::usage::Usage;

/// Encodes one streamed answer for an OpenAI chat client.
pub struct OpenAiStreamEncoder {
    model: String,
    include_usage: bool,
    id: Option<String>,
    created: u64,
    /// Whether the first chunk (the one with `role: assistant`) went out.
    opened: bool,
    finish_sent: bool,
    usage: Option<Usage>,
    ended: bool,
}

impl OpenAiStreamEncoder {
    /// `model` is the id the client asked for; `include_usage` is its
    /// `stream_options.include_usage`.
    pub fn new(model: String, include_usage: bool) -> OpenAiStreamEncoder {
        OpenAiStreamEncoder {
            model,
            include_usage,
            id: None,
            created: unix_now(),
            opened: false,
            finish_sent: false,
            usage: None,
            ended: false,
        }
    }

    fn id(&mut self) -> String {
        self.id.get_or_insert_with(|| completion_id("")).clone()
    }

    fn chunk(&mut self, delta: Value, finish_reason: Option<&str>, out: &mut BytesMut) {
        if !self.opened {
            self.opened = true;
            let role = json!({"role": "assistant", "content": ""});
            self.write_choice(role, None, out);
        }
        self.write_choice(delta, finish_reason, out);
    }

    fn write_choice(&mut self, delta: Value, finish_reason: Option<&str>, out: &mut BytesMut) {
        let chunk = json!({
            "id": self.id(),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        write_event(&chunk, out);
    }

    fn finish_chunk(&mut self, reason: &FinishReason, out: &mut BytesMut) {
        if !self.finish_sent {
            self.finish_sent = true;
            self.chunk(json!({}), Some(finish_reason_word(reason)), out);
        }
    }
}

fn write_event(value: &Value, out: &mut BytesMut) {
    out.put_slice(b"data: ");
    // A `Value` built from strings and numbers always serializes.
    out.put_slice(&serde_json::to_vec(value).unwrap_or_default());
    out.put_slice(b"\n\n");
}

impl StreamEncoder for OpenAiStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if self.id.is_none() {
                    self.id = Some(completion_id(&id));
                }
                if !self.opened {
                    self.opened = true;
                    self.write_choice(json!({"role": "assistant", "content": ""}), None, out);
                }
            }
            StreamEvent::TextDelta { text } => self.chunk(json!({"content": text}), None, out),
            StreamEvent::ThinkingDelta { text } => {
                self.chunk(json!({"reasoning_content": text}), None, out);
            }
            // Signatures and redacted thinking have no place in this format.
            StreamEvent::ThinkingSignature { .. } | StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                let call = json!({
                    "index": index,
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                });
                self.chunk(json!({"tool_calls": [call]}), None, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let call = json!({"index": index, "function": {"arguments": arguments}});
                self.chunk(json!({"tool_calls": [call]}), None, out);
            }
            StreamEvent::Finish { reason } => self.finish_chunk(&reason, out),
            StreamEvent::Usage { usage } => self.usage = Some(usage),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        self.finish_chunk(&FinishReason::Stop, out);
        if self.include_usage
            && let Some(usage) = self.usage
        {
            let chunk = json!({
                "id": self.id(),
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage_json(&usage),
            });
            write_event(&chunk, out);
        }
        out.put_slice(b"data: [DONE]\n\n");
        self.ended = true;
    }

    fn fail(&mut self, error: &StreamError, out: &mut BytesMut) {
        if self.ended {
            return;
        }
        let body = json!({"error": {
            "message": error.message,
            "type": "upstream_error",
            "param": null,
            "code": error.code,
        }});
        write_event(&body, out);
        self.ended = true;
    }

    fn keepalive(&self) -> &'static [u8] {
        b": keep-alive\n\n"
    }
}
