//! `AnthropicStreamEncoder`: Anthropic's protocol invariants for any canonical event sequence,
//! and what decoding its output gives back.

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::translate::anthropic::AnthropicStreamEncoder;
use switchboard_core::translate::{
    Dialect, FinishReason, Signature, StreamEncoder, StreamError, StreamEvent,
};
use switchboard_core::usage::Usage;

use super::decode_stream;
use crate::translate_support::split_at;

/// One SSE event of the encoder's output: its name and its JSON.
fn parse_sse(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).unwrap();
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "events end with a blank line"
    );
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event, data) = frame.split_once('\n').unwrap();
            let name = event.strip_prefix("event: ").unwrap().to_owned();
            let value: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(
                value["type"],
                name.as_str(),
                "event name is the payload's type"
            );
            (name, value)
        })
        .collect()
}

/// Anthropic's protocol: one `message_start` first, balanced blocks with indices 0, 1, 2…,
/// deltas only inside their open block, `message_delta` then `message_stop` last.
fn assert_well_formed(events: &[(String, Value)]) {
    assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
    let starts = events.iter().filter(|e| e.0 == "message_start").count();
    assert_eq!(starts, 1, "exactly one message_start");
    let n = events.len();
    assert!(n >= 3);
    assert_eq!(events[n - 2].0, "message_delta");
    assert_eq!(events[n - 1].0, "message_stop");
    let mut open: Option<u64> = None;
    let mut next = 0u64;
    for (name, value) in &events[1..n - 2] {
        let index = value["index"].as_u64();
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block starts while another is open");
                assert_eq!(index, Some(next), "indices increase by one");
                open = index;
                next += 1;
            }
            "content_block_delta" => assert_eq!(index, open, "delta outside its block"),
            "content_block_stop" => {
                assert_eq!(index, open, "stop of a block that is not open");
                open = None;
            }
            other => panic!("unexpected `{other}` among content events"),
        }
    }
    assert_eq!(open, None, "every block is closed");
}

#[derive(Clone, Debug)]
enum Item {
    Text(String),
    Thinking(String),
    Signature(Dialect, String),
    Redacted(String),
    Tool(String, String, Vec<String>),
}

fn item() -> impl Strategy<Value = Item> {
    let words = "[a-zé日👋 {}\":,]{1,12}";
    let dialect = prop_oneof![
        Just(Dialect::Anthropic),
        Just(Dialect::OpenAiChat),
        Just(Dialect::Gemini)
    ];
    prop_oneof![
        words.prop_map(Item::Text),
        words.prop_map(Item::Thinking),
        (dialect, "[A-Za-z0-9+/=]{0,16}").prop_map(|(d, s)| Item::Signature(d, s)),
        "[A-Za-z0-9+/=]{1,16}".prop_map(Item::Redacted),
        (
            "[a-z_.]{1,10}",
            "[a-z_]{1,10}",
            proptest::collection::vec(words, 0..4)
        )
            .prop_map(|(id, name, args)| Item::Tool(id, name, args)),
    ]
}

fn finish() -> impl Strategy<Value = FinishReason> {
    prop_oneof![
        Just(FinishReason::Stop),
        Just(FinishReason::Length),
        Just(FinishReason::ToolCalls),
        Just(FinishReason::ContentFilter),
        "[a-z]{1,5}".prop_map(|s| FinishReason::StopSequence(Some(s))),
        Just(FinishReason::Other("pause_turn".to_owned())),
    ]
}

fn usage() -> impl Strategy<Value = Usage> {
    (0u64..1000, 0u64..1000, 0u64..1000, 0u64..1000).prop_map(|(fresh, read, write, out)| Usage {
        input_tokens: fresh + read + write,
        output_tokens: out,
        cached_input_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: 0,
    })
}

/// What a client ends up with: text, thinking text, signatures, tool calls, finish and usage.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    text: String,
    thinking: String,
    signatures: Vec<String>,
    redacted: Vec<String>,
    tools: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

fn summarize(events: &[StreamEvent]) -> Summary {
    let mut summary = Summary::default();
    for event in events {
        match event {
            StreamEvent::TextDelta { text } => summary.text.push_str(text),
            StreamEvent::ThinkingDelta { text } => summary.thinking.push_str(text),
            StreamEvent::ThinkingSignature { signature } => {
                summary.signatures.push(signature.value.clone());
            }
            StreamEvent::RedactedThinking { data } => summary.redacted.push(data.clone()),
            StreamEvent::ToolCallStart { index, id, name } => {
                assert_eq!(*index, summary.tools.len());
                summary
                    .tools
                    .push((id.clone(), name.clone(), String::new()));
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                summary.tools[*index].2.push_str(arguments);
            }
            StreamEvent::Finish { reason } => summary.finish = Some(reason.clone()),
            StreamEvent::Usage { usage } => summary.usage = Some(*usage),
            StreamEvent::Start { .. } => {}
        }
    }
    summary
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encoder_output_is_well_formed_and_decodes_back(
        items in proptest::collection::vec(item(), 0..10),
        early_usage in proptest::option::of(usage()),
        final_usage in usage(),
        reason in finish(),
        cuts in proptest::collection::vec(0usize..2048, 0..6),
    ) {
        let mut events = vec![StreamEvent::Start { id: "chatcmpl-1".to_owned(), model: "up".to_owned() }];
        if let Some(usage) = early_usage {
            events.push(StreamEvent::Usage { usage });
        }
        let mut expected = Summary::default();
        for item in &items {
            match item {
                Item::Text(text) => {
                    expected.text.push_str(text);
                    events.push(StreamEvent::TextDelta { text: text.clone() });
                }
                Item::Thinking(text) => {
                    expected.thinking.push_str(text);
                    events.push(StreamEvent::ThinkingDelta { text: text.clone() });
                }
                Item::Signature(dialect, value) => {
                    let signature = Signature { dialect: *dialect, value: value.clone() };
                    events.push(StreamEvent::ThinkingSignature { signature });
                }
                Item::Redacted(data) => {
                    expected.redacted.push(data.clone());
                    events.push(StreamEvent::RedactedThinking { data: data.clone() });
                }
                Item::Tool(id, name, args) => {
                    let index = expected.tools.len();
                    let sanitized = id.replace('.', "_");
                    expected.tools.push((sanitized, name.clone(), args.concat()));
                    events.push(StreamEvent::ToolCallStart { index, id: id.clone(), name: name.clone() });
                    for arguments in args {
                        events.push(StreamEvent::ToolCallDelta { index, arguments: arguments.clone() });
                    }
                }
            }
        }
        events.push(StreamEvent::Finish { reason: reason.clone() });
        events.push(StreamEvent::Usage { usage: final_usage });
        expected.finish = Some(reason);
        expected.usage = Some(final_usage);

        let mut encoder = AnthropicStreamEncoder::new("client-model".to_owned());
        let mut out = BytesMut::new();
        for event in events {
            encoder.encode(event, &mut out);
        }
        encoder.finish(&mut out);
        // Nothing is written after the end.
        let len = out.len();
        encoder.encode(StreamEvent::TextDelta { text: "late".to_owned() }, &mut out);
        encoder.finish(&mut out);
        prop_assert_eq!(out.len(), len);

        let parsed = parse_sse(&out);
        assert_well_formed(&parsed);
        prop_assert_eq!(&parsed[0].1["message"]["model"], "client-model");
        prop_assert!(parsed[0].1["message"]["id"].as_str().unwrap().starts_with("msg_"));

        let decoded = decode_stream(split_at(&out, &cuts));
        prop_assert!(decoded.complete);
        prop_assert_eq!(decoded.error, None);
        let mut summary = summarize(&decoded.events);
        // Every signature the client sees is either one we sent (in client form) or invented
        // for unsigned foreign thinking; the order of the ones we sent is kept.
        let sent: Vec<String> = items.iter().filter_map(|item| match item {
            Item::Signature(dialect, value) => Some(match dialect {
                Dialect::Anthropic => value.clone(),
                Dialect::Gemini if !value.is_empty() => format!("swb:gemini:{value}"),
                Dialect::Gemini => "swb:gemini".to_owned(),
                _ if !value.is_empty() => format!("swb:openai_chat:{value}"),
                _ => "swb:openai_chat".to_owned(),
            }),
            _ => None,
        }).collect();
        let mut remaining = sent.iter();
        let mut next = remaining.next();
        for seen in &summary.signatures {
            if Some(seen) == next {
                next = remaining.next();
            } else {
                prop_assert!(seen == "swb:openai_chat" || seen == "swb:gemini", "unexpected signature {}", seen);
            }
        }
        prop_assert_eq!(next, None, "every signature reached the client");
        summary.signatures.clear();
        prop_assert_eq!(summary, expected);
    }
}

#[test]
fn encoder_signs_foreign_thinking_and_fails_in_anthropic_shape() {
    let mut encoder = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::Start {
            id: "msg_abc".to_owned(),
            model: "x".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::ThinkingDelta {
            text: "hmm".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::TextDelta {
            text: "Hi".to_owned(),
        },
        &mut out,
    );
    encoder.fail(
        &StreamError::new("overloaded_error", "Overloaded"),
        &mut out,
    );
    encoder.fail(&StreamError::new("x", "twice"), &mut out);
    let events = parse_sse(&out);
    let names: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(events[0].1["message"]["id"], "msg_abc");
    assert_eq!(
        events[3].1["delta"],
        json!({"type": "signature_delta", "signature": "swb:openai_chat"})
    );
    assert_eq!(
        events[7].1,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
    let mut other = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    other.fail(&StreamError::new("malformed_event", "bad"), &mut out);
    assert_eq!(parse_sse(&out)[0].1["error"]["type"], "api_error");
    assert_eq!(
        other.keepalive(),
        b"event: ping\ndata: {\"type\": \"ping\"}\n\n"
    );
}

#[test]
fn encoder_reports_usage_in_message_start_and_message_delta() {
    let usage = Usage {
        input_tokens: 130,
        output_tokens: 5,
        cached_input_tokens: 100,
        cache_write_tokens: 20,
        reasoning_tokens: 0,
    };
    let mut encoder = AnthropicStreamEncoder::new("m".to_owned());
    let mut out = BytesMut::new();
    encoder.encode(
        StreamEvent::Start {
            id: "x".to_owned(),
            model: "x".to_owned(),
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::Usage {
            usage: Usage {
                output_tokens: 0,
                ..usage
            },
        },
        &mut out,
    );
    encoder.encode(
        StreamEvent::TextDelta {
            text: "ok".to_owned(),
        },
        &mut out,
    );
    encoder.encode(StreamEvent::Usage { usage }, &mut out);
    encoder.finish(&mut out);
    let events = parse_sse(&out);
    let wire = json!({"input_tokens": 10, "cache_creation_input_tokens": 20,
                      "cache_read_input_tokens": 100, "output_tokens": 5});
    assert_eq!(events[0].1["message"]["usage"]["input_tokens"], 10);
    assert_eq!(
        events[0].1["message"]["usage"]["cache_read_input_tokens"],
        100
    );
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["usage"], wire);
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
}
