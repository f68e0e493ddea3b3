//! `:generateContent` (one `GenerateContentResponse`) and `:streamGenerateContent` (with
//! `alt=sse`, `data: <chunk>\r\n\r\n` events; without, a JSON array of the same chunks).

use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::request::{self, Valid};
use super::{ModalityTokenCount, THOUGHT_SIGNATURE, internal_error, invalid_argument, json_reply};
use crate::config::{RequestOptions, UsageMode};
use crate::recording::{Usage, UsageDetails};
use crate::reply::{Outcome, Reply, SseEvents};
use crate::server::Incoming;
use crate::synth;
use crate::turn::{self, Stop, Turn, TurnBody, TurnRequest};

/// Content type of `alt=sse` streams (Google sends no charset).
const EVENT_STREAM: &str = "text/event-stream";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse<'a> {
    candidates: [Candidate<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_metadata: Option<UsageMetadata>,
    model_version: &'a str,
    response_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    content: CandidateContent<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<&'static str>,
    /// Only on a candidate stopped for `SAFETY`: the rating that blocked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    safety_ratings: Option<[SafetyRating; 1]>,
    index: u32,
}

#[derive(Serialize)]
struct SafetyRating {
    category: &'static str,
    probability: &'static str,
    blocked: bool,
}

#[derive(Serialize)]
struct CandidateContent<'a> {
    parts: &'a [Part<'a>],
    role: &'static str,
}

/// A text, thought or function-call part.
#[derive(Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<&'static str>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    name: &'a str,
    args: &'a Value,
}

/// Gemini's `usageMetadata`: `promptTokenCount` includes cached tokens; `candidatesTokenCount`
/// excludes thoughts, which `totalTokenCount` adds.
#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: u64,
    candidates_token_count: u64,
    total_token_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cached_content_token_count: Option<u64>,
    prompt_tokens_details: [ModalityTokenCount; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    thoughts_token_count: Option<u64>,
}

/// One response or stream chunk before serialization.
struct Chunk<'a> {
    parts: Vec<Part<'a>>,
    finish_reason: Option<&'static str>,
    usage: Option<UsageMetadata>,
}

/// What every response of one request shares.
struct Encoder<'a> {
    model: &'a str,
    response_id: &'a str,
    prompt_tokens: u64,
    cached_tokens: Option<u64>,
    thinking: bool,
    include_thoughts: bool,
}

/// Handles `:generateContent` and `:streamGenerateContent` for `model`.
pub(super) fn generate(
    model: &str,
    stream: bool,
    incoming: &Incoming,
    options: &RequestOptions,
) -> Outcome {
    let request = match request::parse(&incoming.body) {
        Ok(request) => request,
        Err(message) => return invalid_argument(&message),
    };
    let valid = match request::validate(&request) {
        Ok(valid) => valid,
        Err(message) => return invalid_argument(&message),
    };
    let stop_sequences = valid.stop_sequences();
    let turn = turn::plan(TurnRequest {
        seed: valid.seed(),
        tool: valid.tool(),
        thinking: valid.thinking(),
        max_tokens: valid.max_tokens(),
        stop_sequences: &stop_sequences,
        chunks: options.chunks,
        refusal: options.refusal,
    });
    let response_id = format!("mock{:016x}", synth::fnv1a(&incoming.body));
    let encoder = Encoder::new(model, &response_id, &valid);
    let encoded = if stream {
        let chunks = encoder.stream_chunks(&turn, options.usage);
        if incoming
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "alt=sse"))
        {
            encoder.sse(&chunks).map(Reply::Sse)
        } else {
            encoder
                .json_array(&chunks)
                .map(|body| json_reply(StatusCode::OK, body))
        }
    } else {
        let thinking = turn.thinking_text().unwrap_or_default();
        encoder
            .encode(&encoder.whole(&turn, &thinking))
            .map(|body| json_reply(StatusCode::OK, Bytes::from(body)))
    };
    let usage = Usage::new(
        encoder.prompt_tokens,
        turn.body_tokens() + turn.thinking_tokens(),
    );
    let details = UsageDetails {
        cache_read_tokens: encoder.cached_tokens.unwrap_or(0),
        cache_write_tokens: 0,
        reasoning_tokens: turn.thinking_tokens(),
    };
    match encoded {
        Ok(reply) => Outcome::with_details(reply, usage, details),
        Err(e) => internal_error(&e),
    }
}

fn finish_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::MaxTokens => "MAX_TOKENS",
        Stop::Refusal => "SAFETY",
        Stop::EndTurn | Stop::ToolUse | Stop::Sequence(_) => "STOP",
    }
}

impl<'a> Encoder<'a> {
    fn new(model: &'a str, response_id: &'a str, valid: &Valid<'_>) -> Self {
        Self {
            model,
            response_id,
            prompt_tokens: valid.prompt_tokens(),
            cached_tokens: valid.cached_tokens(),
            thinking: valid.thinking(),
            include_thoughts: valid.include_thoughts(),
        }
    }

    fn usage(&self, candidates: u64, thoughts: u64) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: self.prompt_tokens,
            candidates_token_count: candidates,
            total_token_count: self.prompt_tokens + candidates + thoughts,
            cached_content_token_count: self.cached_tokens,
            prompt_tokens_details: [ModalityTokenCount::text(self.prompt_tokens)],
            thoughts_token_count: self.thinking.then_some(thoughts),
        }
    }

    /// The signature on the first part after the thoughts.
    fn signature(&self) -> Option<&'static str> {
        self.thinking.then_some(THOUGHT_SIGNATURE)
    }

    /// The non-streamed response: the thoughts in one part (`thinking`, when included), then the
    /// text or the call.
    fn whole<'t>(&self, turn: &'t Turn<'_>, thinking: &'t str) -> Chunk<'t> {
        let mut parts = Vec::with_capacity(2);
        if self.include_thoughts && turn.thinking.is_some() {
            parts.push(Part {
                thought: Some(true),
                ..Part::of_text(thinking)
            });
        }
        parts.push(match &turn.body {
            TurnBody::Text { text, .. } => Part {
                text: Some(text),
                thought_signature: self.signature(),
                ..Part::default()
            },
            TurnBody::ToolCall {
                name, arguments, ..
            } => Part {
                function_call: Some(FunctionCall {
                    name,
                    args: arguments,
                }),
                thought_signature: self.signature(),
                ..Part::default()
            },
        });
        Chunk {
            parts,
            finish_reason: Some(finish_reason(&turn.stop)),
            usage: Some(self.usage(turn.body_tokens(), turn.thinking_tokens())),
        }
    }

    /// The stream: one chunk per thought fragment (when included) and per text fragment, or one
    /// for a whole function call; the last carries the finish reason. Usage: cumulative on every
    /// chunk (`final`, Gemini's way), on the last only (`finish-chunk`), or nowhere (`none`).
    fn stream_chunks<'t>(&self, turn: &'t Turn<'_>, mode: UsageMode) -> Vec<Chunk<'t>> {
        let thoughts = turn.thinking_tokens();
        let mut chunks = Vec::new();
        if self.include_thoughts {
            for (i, piece) in turn.thinking.iter().flatten().enumerate() {
                chunks.push(Chunk {
                    parts: vec![Part {
                        thought: Some(true),
                        ..Part::of_text(piece)
                    }],
                    finish_reason: None,
                    usage: Some(self.usage(0, i as u64 + 1)),
                });
            }
        }
        match &turn.body {
            TurnBody::Text { pieces, .. } => {
                // A reply cut to nothing still ends with a (empty) text part.
                let pieces: Vec<&str> = if pieces.is_empty() {
                    vec![""]
                } else {
                    pieces.iter().map(String::as_str).collect()
                };
                for (i, piece) in pieces.iter().enumerate() {
                    let last = i + 1 == pieces.len();
                    chunks.push(Chunk {
                        parts: vec![Part {
                            thought_signature: self.signature().filter(|_| last),
                            ..Part::of_text(piece)
                        }],
                        finish_reason: last.then(|| finish_reason(&turn.stop)),
                        usage: Some(self.usage((i as u64 + 1).min(turn.body_tokens()), thoughts)),
                    });
                }
            }
            TurnBody::ToolCall {
                name, arguments, ..
            } => chunks.push(Chunk {
                parts: vec![Part {
                    function_call: Some(FunctionCall {
                        name,
                        args: arguments,
                    }),
                    thought_signature: self.signature(),
                    ..Part::default()
                }],
                finish_reason: Some(finish_reason(&turn.stop)),
                usage: Some(self.usage(turn.body_tokens(), thoughts)),
            }),
        }
        let count = chunks.len();
        for (i, chunk) in chunks.iter_mut().enumerate() {
            let keep = match mode {
                UsageMode::Final => true,
                UsageMode::FinishChunk => i + 1 == count,
                UsageMode::None => false,
            };
            if !keep {
                chunk.usage = None;
            }
        }
        chunks
    }

    fn encode(&self, chunk: &Chunk<'_>) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.response(chunk))
    }

    fn response<'c>(&'c self, chunk: &'c Chunk<'c>) -> GenerateResponse<'c> {
        GenerateResponse {
            candidates: [Candidate {
                content: CandidateContent {
                    parts: &chunk.parts,
                    role: "model",
                },
                finish_reason: chunk.finish_reason,
                safety_ratings: (chunk.finish_reason == Some("SAFETY")).then_some([SafetyRating {
                    category: "HARM_CATEGORY_DANGEROUS_CONTENT",
                    probability: "HIGH",
                    blocked: true,
                }]),
                index: 0,
            }],
            usage_metadata: chunk.usage,
            model_version: self.model,
            response_id: self.response_id,
        }
    }

    /// `data: <chunk>\r\n\r\n` per chunk.
    fn sse(&self, chunks: &[Chunk<'_>]) -> Result<SseEvents, serde_json::Error> {
        let mut events = SseEvents::with_capacity(chunks.len() * 400, chunks.len())
            .crlf()
            .content_type(EVENT_STREAM);
        for chunk in chunks {
            events.push_json(&self.response(chunk))?;
        }
        Ok(events)
    }

    /// `[<chunk>,\r\n<chunk>]`, what `streamGenerateContent` sends without `alt=sse`.
    fn json_array(&self, chunks: &[Chunk<'_>]) -> Result<Bytes, serde_json::Error> {
        let mut body = Vec::with_capacity(chunks.len() * 400 + 2);
        body.push(b'[');
        for (i, chunk) in chunks.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(b",\r\n");
            }
            serde_json::to_writer(&mut body, &self.response(chunk))?;
        }
        body.push(b']');
        Ok(Bytes::from(body))
    }
}

impl<'a> Part<'a> {
    fn of_text(text: &'a str) -> Self {
        Self {
            text: Some(text),
            ..Self::default()
        }
    }
}
