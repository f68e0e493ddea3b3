//! The canonical chat model every translation goes through (DESIGN §3): a client dialect decodes
//! its request into a `ChatRequest`, a provider dialect encodes that for the upstream, and the
//! answer comes back as a `ChatResponse` or as a sequence of `StreamEvent`s.

use serde::Serialize;
use serde_json::Value;

use crate::usage::Usage;

/// The wire formats Switchboard speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OpenAI chat completions (and every OpenAI-compatible vendor).
    OpenAiChat,
    /// Anthropic messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
    /// OpenAI responses (inbound only: Codex CLI).
    Responses,
}

/// One chat request, whatever dialect it arrived in.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The model id as the upstream knows it (set by the router before encoding).
    pub model: String,
    /// System and developer instructions, in order.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    /// The output limit the client asked for, if any.
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub stream: bool,
    pub reasoning: Option<Reasoning>,
    /// Structured output: OpenAI's `response_format` object, kept as sent.
    pub response_format: Option<Value>,
    /// An opaque end-user id (OpenAI `user`, Anthropic `metadata.user_id`).
    pub user: Option<String>,
}

/// How much the model should think. Dialects express it as an effort or a token budget;
/// encoders convert between the two.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reasoning {
    /// `minimal` | `low` | `medium` | `high` (OpenAI's words).
    pub effort: Option<String>,
    pub budget_tokens: Option<u64>,
    /// False when the client turned thinking off explicitly.
    pub enabled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// One turn. Tool results live in `User` messages as `Block::ToolResult` (Anthropic's layout);
/// the OpenAI encoder turns them into `tool` messages.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

impl Message {
    /// Adds a tool result to the conversation: consecutive results (one per call of the same
    /// assistant turn) share one user turn of tool results, as Anthropic requires.
    pub fn push_tool_result(messages: &mut Vec<Message>, result: Block) {
        match messages.last_mut() {
            Some(last)
                if last.role == Role::User
                    && last
                        .content
                        .iter()
                        .all(|b| matches!(b, Block::ToolResult { .. })) =>
            {
                last.content.push(result);
            }
            _ => messages.push(Message {
                role: Role::User,
                content: vec![result],
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolCall {
        id: String,
        name: String,
        /// The arguments as JSON text, exactly as the model produced them.
        arguments: String,
    },
    ToolResult {
        call_id: String,
        /// Text and image blocks.
        content: Vec<Block>,
        is_error: bool,
    },
    Thinking {
        text: String,
        /// Anthropic-style signature; only ever sent back to the dialect that produced it.
        signature: Option<Signature>,
    },
    /// Anthropic's encrypted `redacted_thinking`: meaningful to Anthropic only.
    RedactedThinking {
        data: String,
    },
    /// A block the decoder does not model (documents, search results…), kept for the same dialect.
    Unknown {
        dialect: Dialect,
        value: Value,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 { media_type: String, data: String },
    Url { url: String },
}

/// A reasoning signature and the dialect that issued it: Anthropic must never receive another
/// provider's signature (it rejects the request).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Signature {
    pub dialect: Dialect,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON schema of the arguments.
    pub parameters: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "mode", content = "name", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto,
    None,
    /// Some tool must be called (OpenAI `required`, Anthropic `any`, Gemini `ANY`).
    Required,
    Named(String),
}

/// A whole (non-streamed) answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChatResponse {
    pub id: String,
    pub model: String,
    pub content: Vec<Block>,
    pub finish: FinishReason,
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end (OpenAI `stop`, Anthropic `end_turn`, Gemini `STOP`).
    Stop,
    /// A stop sequence matched (Anthropic `stop_sequence`, which names it; OpenAI says `stop`).
    StopSequence(Option<String>),
    /// The output limit was reached.
    Length,
    ToolCalls,
    /// Refused or filtered (OpenAI `content_filter`, Anthropic `refusal`, Gemini `SAFETY`…).
    ContentFilter,
    /// Anything else, as the provider named it.
    Other(String),
}

/// One step of a streamed answer. Decoders emit these from provider events; encoders turn them
/// into the client's events, opening and closing blocks as the kind of content changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The response began. Sent once, before anything else.
    Start {
        id: String,
        model: String,
    },
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        text: String,
    },
    /// The signature of the thinking streamed so far (ends that thinking block).
    ThinkingSignature {
        signature: Signature,
    },
    RedactedThinking {
        data: String,
    },
    /// A tool call begins. `index` counts tool calls in this response from 0.
    ToolCallStart {
        index: usize,
        id: String,
        name: String,
    },
    /// More of a tool call's arguments (JSON text fragments, in order).
    ToolCallDelta {
        index: usize,
        arguments: String,
    },
    /// Why generation ended. Usage may still follow.
    Finish {
        reason: FinishReason,
    },
    /// The usage so far, complete: each `Usage` replaces the previous one.
    Usage {
        usage: Usage,
    },
}
