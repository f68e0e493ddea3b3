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

/// One SSE event as a real client frames it (`eventsource-stream`): its `event:` name (`message`
/// when absent) and its data parsed as JSON.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// Reads a streamed body through a real SSE parser until it ends or fails. Every event's data must
/// be JSON, unless `allow_bad_json`; events whose data is not JSON are kept with `Value::Null`.
/// Returns the events and whether the body failed.
pub async fn read_events(response: reqwest::Response, allow_bad_json: bool) -> (Vec<Event>, bool) {
    use eventsource_stream::Eventsource as _;
    use futures::StreamExt as _;

    let mut stream = response.bytes_stream().eventsource();
    let mut events = Vec::new();
    while let Some(next) = stream.next().await {
        match next {
            Ok(event) => {
                let data = serde_json::from_str(&event.data);
                assert!(
                    allow_bad_json || data.is_ok(),
                    "event `{}` has non-JSON data: {:?}",
                    event.event,
                    event.data
                );
                events.push(Event {
                    name: event.event,
                    data: data.unwrap_or(Value::Null),
                });
            }
            Err(_) => return (events, true),
        }
    }
    (events, false)
}

/// Reads a whole, well-formed SSE body.
pub async fn events(response: reqwest::Response) -> Vec<Event> {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let (events, failed) = read_events(response, false).await;
    assert!(!failed, "the stream broke");
    events
}
