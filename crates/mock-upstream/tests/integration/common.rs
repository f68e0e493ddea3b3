//! Helpers shared by the integration tests: request bodies and an SSE reader.

use serde_json::{Value, json};

/// A chat request body with one user message.
pub fn chat_body(stream: bool) -> Value {
    json!({
        "model": "mock-small",
        "stream": stream,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there"}
        ]
    })
}

/// A parsed SSE body: the JSON of each `data:` event, and whether `[DONE]` ended it.
pub struct Sse {
    pub chunks: Vec<Value>,
    pub done: bool,
}

/// Splits an SSE body into events; every event but `[DONE]` must be JSON, and `[DONE]` must be last.
pub fn parse_sse(text: &str) -> Sse {
    assert!(
        text.ends_with("\n\n"),
        "body must end with a blank line: {text:?}"
    );
    let mut sse = Sse {
        chunks: Vec::new(),
        done: false,
    };
    for event in text.split_terminator("\n\n") {
        assert!(!sse.done, "event after [DONE]: {event:?}");
        let data = event.strip_prefix("data: ");
        assert!(data.is_some(), "not a data event: {event:?}");
        let data = data.unwrap_or_default();
        if data == "[DONE]" {
            sse.done = true;
            continue;
        }
        let chunk: Result<Value, _> = serde_json::from_str(data);
        assert!(chunk.is_ok(), "not JSON: {data:?}");
        sse.chunks.push(chunk.unwrap_or_default());
    }
    sse
}

/// The concatenated `delta.content` of a stream's chunks.
pub fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}
