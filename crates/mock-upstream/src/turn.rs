//! The dialect-neutral plan of one assistant turn for the Anthropic and Gemini mocks: optional
//! thinking, then text or one tool call, already cut into the chunks a stream sends.

use serde_json::Value;

use crate::synth;

/// What the last user turn gave the mock to answer.
pub(crate) enum Seed {
    /// The text of the last user message.
    UserText(String),
    /// The tool results the last user message carries, joined by newlines.
    ToolResult(String),
}

impl Seed {
    fn text(&self) -> &str {
        match self {
            Self::UserText(text) | Self::ToolResult(text) => text,
        }
    }
}

/// Everything a dialect extracted from its request that shapes the answer.
pub(crate) struct TurnRequest<'r> {
    pub seed: Seed,
    /// The tool to call (name, JSON schema of its input), when the mock should call one.
    pub tool: Option<(&'r str, Option<&'r Value>)>,
    pub thinking: bool,
    /// Output token limit (thinking included).
    pub max_tokens: Option<u64>,
    pub stop_sequences: &'r [String],
    /// Content chunks per streamed reply.
    pub chunks: usize,
    /// Stop early for safety: half of the text, no tool call.
    pub refusal: bool,
}

/// Why the turn ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    EndTurn,
    ToolUse,
    MaxTokens,
    /// The text reached this stop sequence (not included in the text).
    Sequence(String),
    /// A safety filter cut the text.
    Refusal,
}

/// The answer after the thinking.
pub(crate) enum TurnBody<'r> {
    Text {
        text: String,
        pieces: Vec<String>,
    },
    ToolCall {
        name: &'r str,
        /// The arguments as one JSON object.
        arguments: Value,
        /// The arguments' JSON text, cut into stream fragments.
        pieces: Vec<String>,
    },
}

/// One planned assistant turn.
pub(crate) struct Turn<'r> {
    /// Thinking text cut into stream fragments, when thinking is on.
    pub thinking: Option<Vec<String>>,
    pub body: TurnBody<'r>,
    pub stop: Stop,
}

impl Turn<'_> {
    /// The whole thinking text.
    pub fn thinking_text(&self) -> Option<String> {
        self.thinking.as_ref().map(|pieces| pieces.concat())
    }

    /// Output tokens spent thinking: one per fragment.
    pub fn thinking_tokens(&self) -> u64 {
        self.thinking.as_ref().map_or(0, Vec::len) as u64
    }

    /// Output tokens of the answer: one per fragment, plus one for a tool call's name.
    pub fn body_tokens(&self) -> u64 {
        match &self.body {
            TurnBody::Text { pieces, .. } => pieces.len() as u64,
            TurnBody::ToolCall { pieces, .. } => pieces.len() as u64 + 1,
        }
    }

    /// All output tokens, thinking included.
    pub fn output_tokens(&self) -> u64 {
        self.thinking_tokens() + self.body_tokens()
    }
}

/// Plans the turn: thinking about the seed, then the tool call or the reply text, cut short by a
/// stop sequence or the output limit.
pub(crate) fn plan(request: TurnRequest<'_>) -> Turn<'_> {
    let chunks = request.chunks.max(1);
    let thinking = request.thinking.then(|| {
        let text = synth::pad_for_chunks(synth::thinking_text(request.seed.text()), chunks);
        owned_pieces(&text, chunks)
    });
    let thinking_tokens = thinking.as_ref().map_or(0, Vec::len) as u64;
    if let Some((name, schema)) = request.tool.filter(|_| !request.refusal) {
        let arguments = synth::tool_input(schema);
        let json = arguments.to_string();
        let pieces = owned_pieces(&json, chunks.min(json.chars().count()));
        return Turn {
            thinking,
            body: TurnBody::ToolCall {
                name,
                arguments,
                pieces,
            },
            stop: Stop::ToolUse,
        };
    }
    let reply = match &request.seed {
        Seed::UserText(text) => synth::reply_text(text),
        Seed::ToolResult(content) => synth::tool_result_reply(content),
    };
    let mut text = synth::pad_for_chunks(reply, chunks);
    let mut stop = Stop::EndTurn;
    if request.refusal {
        text = synth::first_half(&text).to_owned();
        stop = Stop::Refusal;
    }
    if let Some((at, sequence)) = first_stop(&text, request.stop_sequences) {
        text.truncate(at);
        stop = Stop::Sequence(sequence.to_owned());
    }
    let mut pieces = owned_pieces(&text, chunks.min(text.chars().count()));
    if let Some(limit) = request.max_tokens {
        let budget = usize::try_from(limit.saturating_sub(thinking_tokens)).unwrap_or(usize::MAX);
        if pieces.len() > budget {
            pieces.truncate(budget);
            text = pieces.concat();
            stop = Stop::MaxTokens;
        }
    }
    Turn {
        thinking,
        body: TurnBody::Text { text, pieces },
        stop,
    }
}

/// The earliest stop sequence in `text`: its byte offset and the sequence.
fn first_stop<'s>(text: &str, sequences: &'s [String]) -> Option<(usize, &'s str)> {
    sequences
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()).map(|at| (at, s.as_str())))
        .min_by_key(|(at, _)| *at)
}

fn owned_pieces(text: &str, pieces: usize) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    synth::split_even(text, pieces)
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seed: Seed) -> TurnRequest<'static> {
        TurnRequest {
            seed,
            tool: None,
            thinking: false,
            max_tokens: None,
            stop_sequences: &[],
            chunks: 4,
            refusal: false,
        }
    }

    #[test]
    fn text_turn_with_thinking() {
        let turn = plan(TurnRequest {
            thinking: true,
            ..request(Seed::UserText("hi".to_owned()))
        });
        assert_eq!(
            turn.thinking_text().as_deref(),
            Some("Mock thinking about: hi")
        );
        let TurnBody::Text { text, pieces } = &turn.body else {
            panic!("expected text");
        };
        assert_eq!(text, "Mock reply to: hi");
        assert_eq!(pieces.len(), 4);
        assert_eq!(turn.output_tokens(), 8);
        assert_eq!(turn.stop, Stop::EndTurn);
    }

    #[test]
    fn tool_call_turn() {
        let schema = serde_json::json!({"properties": {"city": {"type": "string"}}});
        let turn = plan(TurnRequest {
            tool: Some(("weather", Some(&schema))),
            ..request(Seed::UserText("hi".to_owned()))
        });
        let TurnBody::ToolCall {
            name,
            arguments,
            pieces,
        } = &turn.body
        else {
            panic!("expected a tool call");
        };
        assert_eq!(*name, "weather");
        assert_eq!(arguments, &serde_json::json!({"city": "Paris"}));
        assert_eq!(pieces.concat(), r#"{"city":"Paris"}"#);
        assert_eq!(turn.output_tokens(), 5);
        assert_eq!(turn.stop, Stop::ToolUse);
    }

    #[test]
    fn stop_sequence_and_max_tokens_cut_the_text() {
        let stops = ["reply".to_owned(), "to".to_owned()];
        let turn = plan(TurnRequest {
            stop_sequences: &stops,
            ..request(Seed::ToolResult("18C".to_owned()))
        });
        let TurnBody::Text { text, .. } = &turn.body else {
            panic!("expected text");
        };
        assert_eq!(text, "Mock ");
        assert_eq!(turn.stop, Stop::Sequence("reply".to_owned()));

        let turn = plan(TurnRequest {
            max_tokens: Some(2),
            ..request(Seed::UserText("hello".to_owned()))
        });
        assert_eq!(turn.body_tokens(), 2);
        assert_eq!(turn.stop, Stop::MaxTokens);
    }
}
