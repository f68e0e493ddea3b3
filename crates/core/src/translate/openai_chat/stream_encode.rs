//! Canonical stream events → the client's `chat.completion.chunk` SSE events, ending with the
//! finish chunk, the usage chunk (when asked for) and `data: [DONE]`.

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::json;

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
    /// What follows the choice in every chunk (`],"created":…,"id":…,"model":…,…}`), serialized
    /// once the id is known: the id and model are not escaped again for every event.
    tail: Vec<u8>,
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
            tail: Vec::new(),
        }
    }

    fn id(&mut self) -> &str {
        self.id.get_or_insert_with(|| completion_id(""))
    }

    fn chunk(&mut self, delta: Delta<'_>, finish_reason: Option<&str>, out: &mut BytesMut) {
        if !self.opened {
            self.opened = true;
            self.write_choice(Delta::ROLE, None, out);
        }
        self.write_choice(delta, finish_reason, out);
    }

    fn write_choice(&mut self, delta: Delta<'_>, finish_reason: Option<&str>, out: &mut BytesMut) {
        if self.tail.is_empty() {
            self.id();
            let frame = Chunk {
                choices: [],
                created: self.created,
                id: self.id.as_deref().unwrap_or_default(),
                model: &self.model,
                object: "chat.completion.chunk",
            };
            // `{"choices":[],"created":…}` → `],"created":…}`: `choices` is the first field.
            let json = serde_json::to_vec(&frame).unwrap_or_default();
            self.tail = json.get(CHOICES_OPEN.len()..).unwrap_or_default().to_vec();
        }
        let choice = Choice {
            delta,
            finish_reason,
            index: 0,
            logprobs: None,
        };
        let prefix: [&[u8]; 2] = [b"data: ", CHOICES_OPEN];
        crate::translate::write_json(out, &prefix, &choice, &[&self.tail, b"\n\n"]);
    }

    fn finish_chunk(&mut self, reason: &FinishReason, out: &mut BytesMut) {
        if !self.finish_sent {
            self.finish_sent = true;
            self.chunk(Delta::Empty {}, Some(finish_reason_word(reason)), out);
        }
    }
}

/// How every chunk begins, up to its one choice.
const CHOICES_OPEN: &[u8] = b"{\"choices\":[";

/// A `chat.completion.chunk` around its choice (serialized with none, then cut, see
/// `write_choice`). The fields are in the order `serde_json::Map` (sorted keys) gave them
/// before, so the bytes are the same as when each chunk was built as a `Value`.
#[derive(Serialize)]
struct Chunk<'a> {
    choices: [Choice<'a>; 0],
    created: u64,
    id: &'a str,
    model: &'a str,
    object: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    delta: Delta<'a>,
    finish_reason: Option<&'a str>,
    index: u32,
    logprobs: Option<()>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Delta<'a> {
    Role {
        content: &'static str,
        role: &'static str,
    },
    Content {
        content: &'a str,
    },
    Reasoning {
        reasoning_content: &'a str,
    },
    ToolStart {
        tool_calls: [ToolStart<'a>; 1],
    },
    ToolArguments {
        tool_calls: [ToolArguments<'a>; 1],
    },
    Empty {},
}

impl Delta<'_> {
    /// The first chunk's delta.
    const ROLE: Delta<'static> = Delta::Role {
        content: "",
        role: "assistant",
    };
}

#[derive(Serialize)]
struct ToolStart<'a> {
    function: NamedFunction<'a>,
    id: &'a str,
    index: usize,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct NamedFunction<'a> {
    arguments: &'static str,
    name: &'a str,
}

#[derive(Serialize)]
struct ToolArguments<'a> {
    function: Arguments<'a>,
    index: usize,
}

#[derive(Serialize)]
struct Arguments<'a> {
    arguments: &'a str,
}

fn write_event(value: &impl Serialize, out: &mut BytesMut) {
    crate::translate::write_json(out, &[b"data: "], value, &[b"\n\n"]);
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
                    self.write_choice(Delta::ROLE, None, out);
                }
            }
            StreamEvent::TextDelta { text } => {
                self.chunk(Delta::Content { content: &text }, None, out);
            }
            StreamEvent::ThinkingDelta { text } => {
                let delta = Delta::Reasoning {
                    reasoning_content: &text,
                };
                self.chunk(delta, None, out);
            }
            // Signatures and redacted thinking have no place in this format.
            StreamEvent::ThinkingSignature { .. } | StreamEvent::RedactedThinking { .. } => {}
            StreamEvent::ToolCallStart { index, id, name } => {
                let call = ToolStart {
                    function: NamedFunction {
                        arguments: "",
                        name: &name,
                    },
                    id: &id,
                    index,
                    kind: "function",
                };
                let delta = Delta::ToolStart { tool_calls: [call] };
                self.chunk(delta, None, out);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let call = ToolArguments {
                    function: Arguments {
                        arguments: &arguments,
                    },
                    index,
                };
                let delta = Delta::ToolArguments { tool_calls: [call] };
                self.chunk(delta, None, out);
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
                "id": self.id().to_owned(),
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
