//! Anthropic's stream grammar, checked event by event, and the message a stream assembles.

use serde_json::{Value, json};

use crate::common::Event;

/// A stream checked against Anthropic's event grammar, and the message it assembles.
pub struct Assembled {
    /// The `message` of `message_start`.
    pub start: Value,
    /// The content blocks, rebuilt from their deltas (`input` parsed from the JSON fragments).
    pub content: Vec<Value>,
    /// The `delta` and `usage` of `message_delta`.
    pub delta: Value,
    pub usage: Value,
    pub pings: usize,
    /// `input_json_delta` fragments per block.
    pub json_fragments: Vec<usize>,
}

/// Exactly one `message_start`, first; blocks opened, filled and closed in order with matching
/// indices and delta types; `message_delta` then `message_stop` last; every event named by its type.
pub fn assemble(events: &[Event]) -> Assembled {
    assert!(events.len() >= 4, "{events:?}");
    for event in events {
        assert_eq!(event.data["type"], event.name.as_str(), "{event:?}");
    }
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names.iter().filter(|n| **n == "message_start").count(), 1);
    assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(names.iter().filter(|n| **n == "message_delta").count(), 1);
    let start = events[0].data["message"].clone();
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);

    let mut content: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut json_fragments: Vec<usize> = Vec::new();
    let mut open: Option<usize> = None;
    let mut pings = 0;
    for event in &events[1..events.len() - 2] {
        let data = &event.data;
        match event.name.as_str() {
            "ping" => pings += 1,
            "content_block_start" => {
                assert_eq!(open, None, "block started inside another");
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(index, content.len());
                content.push(data["content_block"].clone());
                partial.push(String::new());
                json_fragments.push(0);
                open = Some(index);
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(open, Some(index), "delta outside its block");
                let block = &mut content[index];
                let delta = &data["delta"];
                match (
                    block["type"].as_str().unwrap(),
                    delta["type"].as_str().unwrap(),
                ) {
                    ("text", "text_delta") => {
                        let text = block["text"].as_str().unwrap().to_owned();
                        block["text"] = json!(text + delta["text"].as_str().unwrap());
                    }
                    ("thinking", "thinking_delta") => {
                        let text = block["thinking"].as_str().unwrap().to_owned();
                        block["thinking"] = json!(text + delta["thinking"].as_str().unwrap());
                    }
                    ("thinking", "signature_delta") => {
                        block["signature"] = delta["signature"].clone()
                    }
                    ("tool_use", "input_json_delta") => {
                        let fragment = delta["partial_json"].as_str().unwrap();
                        partial[index].push_str(fragment);
                        if !fragment.is_empty() {
                            json_fragments[index] += 1;
                        }
                    }
                    other => panic!("delta {other:?} does not fit its block"),
                }
            }
            "content_block_stop" => {
                let index = data["index"].as_u64().unwrap() as usize;
                assert_eq!(open, Some(index));
                if content[index]["type"] == "tool_use" {
                    content[index]["input"] = serde_json::from_str(&partial[index]).unwrap();
                }
                open = None;
            }
            other => panic!("unexpected event `{other}`"),
        }
    }
    assert_eq!(open, None, "a block was never stopped");
    let message_delta = &events[events.len() - 2].data;
    Assembled {
        start,
        content,
        delta: message_delta["delta"].clone(),
        usage: message_delta["usage"].clone(),
        pings,
        json_fragments,
    }
}
