//! `POST /v1/chat/completions`: a `chat.completion` object, or `chat.completion.chunk` SSE events.

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CREATED, error_outcome, internal_error};
use crate::config::{RequestOptions, UsageMode};
use crate::recording::Usage;
use crate::reply::{JSON, Outcome, Reply, SseEvents};
use crate::server::Incoming;
use crate::synth;

const FINGERPRINT: &str = "fp_mock";

#[derive(Deserialize)]
struct ChatRequest {
    model: Option<String>,
    messages: Option<Vec<Message>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    tool_choice: Option<Value>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// What the mock answers: text (ending for `finish_reason`), or one call to a tool.
enum Answer<'r> {
    Text {
        text: String,
        finish_reason: &'static str,
    },
    ToolCall {
        id: String,
        name: &'r str,
        arguments: String,
    },
}

/// Handles one chat completion request.
pub(crate) fn chat(incoming: &Incoming, options: &RequestOptions) -> Outcome {
    let request: ChatRequest = match serde_json::from_slice(&incoming.body) {
        Ok(request) => request,
        Err(e) => {
            return error_outcome(
                StatusCode::BAD_REQUEST,
                &format!("We could not parse the JSON body of your request: {e}"),
                None,
            );
        }
    };
    let Some(model) = request.model.as_deref() else {
        return error_outcome(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            None,
        );
    };
    let messages = match request.messages.as_deref() {
        None => {
            return error_outcome(
                StatusCode::BAD_REQUEST,
                "Missing required parameter: 'messages'.",
                Some("messages"),
            );
        }
        Some([]) => {
            return error_outcome(
                StatusCode::BAD_REQUEST,
                "Invalid 'messages': empty array. Expected an array with minimum length 1.",
                Some("messages"),
            );
        }
        Some(messages) => messages,
    };

    let answer = plan_answer(&request, messages, options);
    let pieces = match &answer {
        Answer::Text { text, .. } => {
            synth::split_even(text, options.chunks.min(text.chars().count()))
        }
        Answer::ToolCall { arguments, .. } => {
            let chars = arguments.chars().count();
            synth::split_even(arguments, options.chunks.min(chars))
        }
    };
    let completion_tokens = match answer {
        Answer::Text { .. } => pieces.len(),
        // The header delta (id and name) counts as one.
        Answer::ToolCall { .. } => pieces.len() + 1,
    };
    let usage = Usage::new(prompt_tokens(messages), completion_tokens as u64);
    let id = format!("chatcmpl-mock-{:016x}", synth::fnv1a(&incoming.body));

    let encoded = if request.stream == Some(true) {
        let include_usage = request
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false);
        let stream = StreamPlan {
            id: &id,
            model,
            usage,
            mode: options.usage,
            include_usage,
        };
        stream.encode(&answer, &pieces).map(Reply::Sse)
    } else {
        encode_completion(&id, model, &answer, usage).map(|body| Reply::Json {
            status: StatusCode::OK,
            content_type: JSON,
            body,
        })
    };
    match encoded {
        Ok(reply) => Outcome {
            reply,
            usage: Some(usage.into()),
        },
        Err(e) => internal_error(&e),
    }
}

fn plan_answer<'r>(
    request: &'r ChatRequest,
    messages: &[Message],
    options: &RequestOptions,
) -> Answer<'r> {
    let last = messages.last();
    let last_role = last.map(|m| m.role.as_str());
    if last_role == Some("user")
        && !options.refusal
        && let Some((name, schema)) = chosen_tool(
            request.tools.as_deref().unwrap_or_default(),
            request.tool_choice.as_ref(),
        )
    {
        return Answer::ToolCall {
            id: format!("call_{}", messages.len()),
            name,
            arguments: synth::tool_arguments(schema),
        };
    }
    let text = if last_role == Some("tool") {
        synth::tool_result_reply(&content_text(last.and_then(|m| m.content.as_ref())))
    } else {
        let user = messages.iter().rev().find(|m| m.role == "user");
        synth::reply_text(&content_text(user.and_then(|m| m.content.as_ref())))
    };
    let text = synth::pad_for_chunks(text, options.chunks);
    if options.refusal {
        return Answer::Text {
            text: synth::first_half(&text).to_owned(),
            finish_reason: "content_filter",
        };
    }
    Answer::Text {
        text,
        finish_reason: "stop",
    }
}

/// The tool to call: the one `tool_choice` names, else the first; none when `tool_choice` is `none`.
fn chosen_tool<'r>(
    tools: &'r [Value],
    choice: Option<&Value>,
) -> Option<(&'r str, Option<&'r Value>)> {
    if choice.and_then(Value::as_str) == Some("none") {
        return None;
    }
    let function_name = |v: &'r Value| v.get("function")?.get("name")?.as_str();
    let wanted = choice.and_then(|c| c.get("function")?.get("name")?.as_str());
    let tool = match wanted {
        Some(wanted) => tools.iter().find(|t| function_name(t) == Some(wanted)),
        None => tools.first(),
    }?;
    let name = function_name(tool)?;
    Some((name, tool.get("function")?.get("parameters")))
}

/// The text of a message's content: a string, or the `text` of its parts.
fn content_text(content: Option<&Value>) -> Cow<'_, str> {
    match content {
        Some(Value::String(text)) => Cow::Borrowed(text),
        Some(Value::Array(parts)) => Cow::Owned(
            parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect(),
        ),
        _ => Cow::Borrowed(""),
    }
}

fn prompt_tokens(messages: &[Message]) -> u64 {
    let chars: usize = messages
        .iter()
        .map(|m| {
            let calls: usize = m
                .tool_calls
                .iter()
                .flatten()
                .filter_map(|call| call.get("function"))
                .flat_map(|f| [f.get("name"), f.get("arguments")])
                .filter_map(|v| v.and_then(Value::as_str))
                .map(|s| s.chars().count())
                .sum();
            content_text(m.content.as_ref()).chars().count() + calls
        })
        .sum();
    synth::prompt_tokens(chars, messages.len())
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: [CompletionChoice<'a>; 1],
    usage: Usage,
}

#[derive(Serialize)]
struct CompletionChoice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    arguments: &'a str,
}

fn encode_completion(
    id: &str,
    model: &str,
    answer: &Answer<'_>,
    usage: Usage,
) -> Result<Bytes, serde_json::Error> {
    let (message, finish_reason) = match answer {
        Answer::Text {
            text,
            finish_reason,
        } => (
            AssistantMessage {
                role: "assistant",
                content: Some(text),
                refusal: None,
                tool_calls: None,
            },
            *finish_reason,
        ),
        Answer::ToolCall {
            id,
            name,
            arguments,
        } => (
            AssistantMessage {
                role: "assistant",
                content: None,
                refusal: None,
                tool_calls: Some([ToolCall {
                    id,
                    kind: "function",
                    function: FunctionCall { name, arguments },
                }]),
            },
            "tool_calls",
        ),
    };
    let completion = Completion {
        id,
        object: "chat.completion",
        created: CREATED,
        model,
        system_fingerprint: FINGERPRINT,
        choices: [CompletionChoice {
            index: 0,
            message,
            logprobs: None,
            finish_reason,
        }],
        usage,
    };
    serde_json::to_vec(&completion).map(Bytes::from)
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    /// Absent, `null` (OpenAI with `include_usage`, before the last chunk), or the usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Default, Serialize)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

#[derive(Serialize)]
struct ToolCallDelta<'a> {
    index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDelta<'a>,
}

#[derive(Serialize)]
struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// Everything a streamed reply needs besides its deltas.
struct StreamPlan<'a> {
    id: &'a str,
    model: &'a str,
    usage: Usage,
    mode: UsageMode,
    include_usage: bool,
}

impl StreamPlan<'_> {
    fn encode(&self, answer: &Answer<'_>, pieces: &[&str]) -> Result<SseEvents, serde_json::Error> {
        // OpenAI: with `include_usage`, every chunk but the last carries `"usage": null`.
        let null_usage = (self.mode == UsageMode::Final && self.include_usage).then_some(None);
        let per_event = 160 + self.id.len() + self.model.len();
        let mut events = SseEvents::with_capacity(
            (pieces.len() + 4) * per_event + pieces.iter().map(|p| p.len()).sum::<usize>(),
            pieces.len() + 4,
        );
        let finish_reason = match answer {
            Answer::Text { finish_reason, .. } => {
                for (i, piece) in pieces.iter().enumerate() {
                    let delta = Delta {
                        role: (i == 0).then_some("assistant"),
                        content: Some(piece),
                        tool_calls: None,
                    };
                    self.push(&mut events, delta, None, null_usage)?;
                }
                *finish_reason
            }
            Answer::ToolCall {
                id,
                name,
                arguments: _,
            } => {
                let header = ToolCallDelta {
                    index: 0,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta {
                        name: Some(name),
                        arguments: "",
                    },
                };
                let delta = Delta {
                    role: Some("assistant"),
                    content: None,
                    tool_calls: Some([header]),
                };
                self.push(&mut events, delta, None, null_usage)?;
                for piece in pieces {
                    let fragment = ToolCallDelta {
                        index: 0,
                        id: None,
                        kind: None,
                        function: FunctionDelta {
                            name: None,
                            arguments: piece,
                        },
                    };
                    let delta = Delta {
                        tool_calls: Some([fragment]),
                        ..Delta::default()
                    };
                    self.push(&mut events, delta, None, null_usage)?;
                }
                "tool_calls"
            }
        };
        let finish_usage = match self.mode {
            UsageMode::FinishChunk => Some(Some(self.usage)),
            UsageMode::Final | UsageMode::None => null_usage,
        };
        self.push(
            &mut events,
            Delta::default(),
            Some(finish_reason),
            finish_usage,
        )?;
        if null_usage.is_some() {
            events.push_json(&self.chunk(&[], Some(Some(self.usage))))?;
        }
        events.push_raw("[DONE]");
        Ok(events)
    }

    fn push(
        &self,
        events: &mut SseEvents,
        delta: Delta<'_>,
        finish_reason: Option<&'static str>,
        usage: Option<Option<Usage>>,
    ) -> Result<(), serde_json::Error> {
        let choice = [ChunkChoice {
            index: 0,
            delta,
            logprobs: None,
            finish_reason,
        }];
        events.push_json(&self.chunk(&choice, usage))
    }

    fn chunk<'c>(
        &'c self,
        choices: &'c [ChunkChoice<'c>],
        usage: Option<Option<Usage>>,
    ) -> Chunk<'c> {
        Chunk {
            id: self.id,
            object: "chat.completion.chunk",
            created: CREATED,
            model: self.model,
            system_fingerprint: FINGERPRINT,
            choices,
            usage,
        }
    }
}
