//! A strict reader of our own Responses API SSE output: checks the framing and the protocol
//! invariants a Responses client relies on, and returns what the stream said.

use std::collections::HashMap;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::Value;

/// What a well-formed stream carried.
#[derive(Debug)]
pub struct CheckedStream {
    /// Every event's data, in order, with `created_at` zeroed (for snapshots).
    pub events: Vec<Value>,
    /// The items of `output_item.done`, by output index (`None`: never finished).
    pub done_items: Vec<Option<Value>>,
    /// `response.completed`, `response.incomplete` or `response.failed`.
    pub terminal: String,
    /// The terminal event's `response`.
    pub response: Value,
}

#[derive(Default)]
struct ItemState {
    added: Value,
    done: Option<Value>,
    text: String,
    text_done: Option<String>,
    part_added: bool,
    part_done: bool,
    summary: String,
    summary_added: bool,
    summary_done: Option<String>,
    summary_part_done: bool,
    arguments: String,
    arguments_done: Option<String>,
}

/// The item an event is about, checked to be added, still open, and named consistently.
fn item_of(items: &[ItemState], by_id: &HashMap<String, usize>, kind: &str, data: &Value) -> usize {
    let output_index = data["output_index"].as_u64().expect("output_index") as usize;
    let state = items.get(output_index).unwrap_or_else(|| {
        panic!("`{kind}` for output_index {output_index}, which was never added")
    });
    assert!(state.done.is_none(), "`{kind}` after output_item.done");
    if let Some(item_id) = data["item_id"].as_str() {
        assert_eq!(by_id.get(item_id), Some(&output_index), "item_id matches");
    }
    output_index
}

const TERMINALS: [&str; 3] = [
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// Checks `bytes` (a whole encoder output) and panics with a precise message on any violation.
pub fn check_stream(bytes: &[u8]) -> CheckedStream {
    let text = std::str::from_utf8(bytes).expect("the stream is UTF-8");
    // Framing exactly as promised: `event: <type>\ndata: <json>\n\n`, or a comment.
    assert!(
        text.ends_with("\n\n"),
        "the stream ends mid-frame: {text:?}"
    );
    for frame in text[..text.len() - 2].split("\n\n") {
        let lines: Vec<&str> = frame.split('\n').collect();
        match lines.as_slice() {
            [comment] if comment.starts_with(':') => {}
            [event, data] => {
                assert!(event.starts_with("event: "), "bad event line {event:?}");
                assert!(data.starts_with("data: {"), "bad data line {data:?}");
            }
            _ => panic!("bad frame {frame:?}"),
        }
    }

    let source = futures::stream::iter([Ok::<_, std::convert::Infallible>(
        Bytes::copy_from_slice(bytes),
    )]);
    let parsed: Vec<_> = futures::executor::block_on(source.eventsource().collect());
    let mut events = Vec::new();
    let mut items: Vec<ItemState> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut terminal: Option<(String, Value)> = None;

    for (position, event) in parsed.into_iter().enumerate() {
        let event = event.expect("SSE parses");
        let mut data: Value = serde_json::from_str(&event.data).expect("data is JSON");
        let kind = data["type"].as_str().expect("data has a type").to_owned();
        assert_eq!(kind, event.event, "the event name is the data's type");
        assert_eq!(
            data["sequence_number"].as_u64(),
            Some(position as u64),
            "sequence numbers count from 0 without gaps ({kind})"
        );
        assert!(terminal.is_none(), "`{kind}` after the terminal event");
        if position == 0 {
            assert_eq!(
                kind, "response.created",
                "the stream starts with response.created"
            );
        }
        if position == 1 {
            assert_eq!(kind, "response.in_progress");
        }

        match kind.as_str() {
            "response.created" | "response.in_progress" => {
                assert!(position < 2, "`{kind}` is sent once, at the start");
                assert_eq!(data["response"]["status"], "in_progress");
                assert_eq!(data["response"]["object"], "response");
                assert!(
                    data["response"]["id"]
                        .as_str()
                        .unwrap()
                        .starts_with("resp_")
                );
            }
            "response.output_item.added" => {
                let output_index = data["output_index"].as_u64().unwrap() as usize;
                assert_eq!(output_index, items.len(), "output_index counts items");
                let id = data["item"]["id"].as_str().expect("item id").to_owned();
                assert!(
                    by_id.insert(id, output_index).is_none(),
                    "item ids are unique"
                );
                items.push(ItemState {
                    added: data["item"].clone(),
                    ..ItemState::default()
                });
            }
            "response.content_part.added" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(state.added["type"], "message");
                assert!(!state.part_added);
                assert_eq!(data["content_index"], 0);
                state.part_added = true;
            }
            "response.output_text.delta" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert!(state.part_added && state.text_done.is_none());
                state.text.push_str(data["delta"].as_str().unwrap());
            }
            "response.output_text.done" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(data["text"].as_str().unwrap(), state.text);
                state.text_done = Some(state.text.clone());
            }
            "response.content_part.done" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert!(state.text_done.is_some(), "text.done before part.done");
                assert_eq!(data["part"]["text"].as_str().unwrap(), state.text);
                state.part_done = true;
            }
            "response.reasoning_summary_part.added" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(state.added["type"], "reasoning");
                assert!(!state.summary_added);
                assert_eq!(data["summary_index"], 0);
                state.summary_added = true;
            }
            "response.reasoning_summary_text.delta" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert!(state.summary_added && state.summary_done.is_none());
                state.summary.push_str(data["delta"].as_str().unwrap());
            }
            "response.reasoning_summary_text.done" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(data["text"].as_str().unwrap(), state.summary);
                state.summary_done = Some(state.summary.clone());
            }
            "response.reasoning_summary_part.done" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert!(state.summary_done.is_some());
                assert_eq!(data["part"]["text"].as_str().unwrap(), state.summary);
                state.summary_part_done = true;
            }
            "response.function_call_arguments.delta" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(state.added["type"], "function_call");
                assert!(state.arguments_done.is_none());
                state.arguments.push_str(data["delta"].as_str().unwrap());
            }
            "response.function_call_arguments.done" => {
                let index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[index];
                assert_eq!(data["arguments"].as_str().unwrap(), state.arguments);
                state.arguments_done = Some(state.arguments.clone());
            }
            "response.output_item.done" => {
                let output_index = item_of(&items, &by_id, &kind, &data);
                let state = &mut items[output_index];
                let item = data["item"].clone();
                assert_eq!(item["id"], state.added["id"]);
                assert_eq!(item["type"], state.added["type"]);
                match item["type"].as_str().unwrap() {
                    "message" => {
                        assert!(state.part_done, "a message closes its part first");
                        assert_eq!(item["content"][0]["text"].as_str().unwrap(), state.text);
                        assert_eq!(item["role"], "assistant");
                    }
                    "reasoning" => {
                        if state.summary_added {
                            assert!(state.summary_part_done);
                            assert_eq!(item["summary"][0]["text"].as_str().unwrap(), state.summary);
                        } else {
                            assert_eq!(item["summary"], serde_json::json!([]));
                        }
                    }
                    "function_call" => {
                        assert_eq!(
                            state.arguments_done.as_deref(),
                            Some(state.arguments.as_str())
                        );
                        assert_eq!(item["arguments"].as_str().unwrap(), state.arguments);
                        assert_eq!(item["call_id"], state.added["call_id"]);
                        assert_eq!(item["name"], state.added["name"]);
                        assert_eq!(state.added["arguments"], "");
                    }
                    other => panic!("unexpected item type {other}"),
                }
                assert_ne!(item["status"], "in_progress");
                state.done = Some(item);
            }
            kind if TERMINALS.contains(&kind) => {
                terminal = Some((kind.to_owned(), data["response"].clone()));
            }
            other => panic!("unexpected event `{other}`"),
        }
        if let Some(response) = data.get_mut("response") {
            response["created_at"] = Value::from(0);
        }
        events.push(data);
    }

    let (terminal, response) = terminal.expect("the stream ends with a terminal event");
    let done_items: Vec<Option<Value>> = items.into_iter().map(|s| s.done).collect();
    let finished: Vec<Value> = done_items.iter().flatten().cloned().collect();
    assert_eq!(
        response["output"],
        Value::Array(finished),
        "the final output lists every finished item in order"
    );
    match terminal.as_str() {
        "response.failed" => {
            assert_eq!(response["status"], "failed");
            assert!(response["error"]["code"].is_string());
            assert!(response["error"]["message"].is_string());
        }
        _ => {
            assert!(
                done_items.iter().all(Option::is_some),
                "a finished stream closes every item"
            );
            assert!(matches!(
                response["status"].as_str(),
                Some("completed" | "incomplete")
            ));
        }
    }
    CheckedStream {
        events,
        done_items,
        terminal,
        response,
    }
}
