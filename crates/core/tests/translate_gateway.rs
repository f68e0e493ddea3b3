#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! Translation through the real gateway: every client dialect (OpenAI chat, Anthropic messages,
//! OpenAI responses) against every upstream kind (OpenAI, Anthropic, Gemini) of the mock, checking
//! what the client got, what the provider received, and what was accounted.

mod common;

use common::{Setup, setup_for_mock, sse_data};
use serde_json::{Value, json};
use switchboard_core::OutcomeStatus;

/// Besides `mock` (OpenAI API, model `gpt-4o-mini`), providers `anth` (Anthropic API, model
/// `claude-x`) and `gem` (Gemini API, model `gemini-x`) on the same mock.
async fn setup() -> Setup {
    setup_for_mock(|mock| {
        let root = mock.root_url();
        format!(
            r#"
[providers.anth]
api = "anthropic"
base_url = "{root}"
api_key = "env:UNUSED_IN_TESTS"

[providers.gem]
api = "gemini"
base_url = "{root}/v1beta"
api_key = "env:UNUSED_IN_TESTS"

[models."claude-x"]
provider = "anth"
model = "claude-sonnet-4-5"

[models."gemini-x"]
provider = "gem"
model = "gemini-2.5-flash"
"#
        )
    })
    .await
}

const MODELS: [&str; 3] = ["gpt-4o-mini", "claude-x", "gemini-x"];

fn weather_tool_openai() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    }}])
}

/// `(event name, data)` pairs of an SSE body.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::new();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push(d);
                }
            }
            let data = data.join("\n");
            (!data.is_empty()).then(|| {
                (
                    name,
                    serde_json::from_str(&data).unwrap_or(Value::String(data)),
                )
            })
        })
        .collect()
}

#[tokio::test]
async fn openai_clients_reach_every_upstream_streamed_and_whole() {
    let mut s = setup().await;
    for model in MODELS {
        for stream in [false, true] {
            let body = json!({"model": model, "stream": stream,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]});
            let response = s.post("/v1/chat/completions", &body).send().await.unwrap();
            assert_eq!(response.status(), 200, "{model} stream={stream}");
            let text = response.text().await.unwrap();
            let content: String = if stream {
                let data = sse_data(&text);
                assert_eq!(
                    data.last().map(String::as_str),
                    Some("[DONE]"),
                    "{model}: {text}"
                );
                data.iter()
                    .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                    .filter_map(|c| {
                        c["choices"][0]["delta"]["content"]
                            .as_str()
                            .map(str::to_owned)
                    })
                    .collect()
            } else {
                let v: Value = serde_json::from_str(&text).unwrap();
                // Translated answers name the client's model; passthrough keeps the provider's bytes.
                if model != "gpt-4o-mini" {
                    assert_eq!(v["model"], model, "{text}");
                }
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            };
            assert!(
                content.contains("Mock reply to: hello there"),
                "{model} stream={stream}: {content}"
            );
            let outcome = s.outcome().await;
            assert_eq!(
                outcome.status,
                OutcomeStatus::Ok,
                "{model}: {:?}",
                outcome.error
            );
            let sent = s.mock.requests().last().unwrap().sent_usage.unwrap();
            let usage = outcome.usage.expect("usage reported");
            assert_eq!(
                usage.input_tokens, sent.prompt_tokens,
                "{model} stream={stream}"
            );
            assert_eq!(
                usage.output_tokens, sent.completion_tokens,
                "{model} stream={stream}"
            );
        }
    }
}

#[tokio::test]
async fn openai_tool_calls_come_back_from_anthropic_and_gemini_with_their_arguments() {
    let s = setup().await;
    for model in ["claude-x", "gemini-x"] {
        let body = json!({"model": model, "stream": true, "tools": weather_tool_openai(),
            "messages": [{"role": "user", "content": "weather in Paris?"}]});
        let text = s
            .post("/v1/chat/completions", &body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let chunks: Vec<Value> = sse_data(&text)
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect();
        let mut name = String::new();
        let mut arguments = String::new();
        let mut finish = None;
        for chunk in &chunks {
            if let Some(calls) = chunk["choices"][0]["delta"]["tool_calls"].as_array() {
                for call in calls {
                    name.push_str(call["function"]["name"].as_str().unwrap_or_default());
                    arguments.push_str(call["function"]["arguments"].as_str().unwrap_or_default());
                }
            }
            if let Some(reason) = chunk["choices"][0]["finish_reason"].as_str() {
                finish = Some(reason.to_owned());
            }
        }
        assert_eq!(name, "get_weather", "{model}: {text}");
        let args: Value = serde_json::from_str(&arguments)
            .unwrap_or_else(|e| panic!("{model}: {e}: {arguments}"));
        assert!(args["city"].is_string(), "{model}: {args}");
        assert_eq!(finish.as_deref(), Some("tool_calls"), "{model}");
        // What the provider received: the tool, in its own dialect.
        let sent: Value = serde_json::from_slice(&s.mock.requests().last().unwrap().body).unwrap();
        match model {
            "claude-x" => {
                assert_eq!(sent["tools"][0]["name"], "get_weather");
                assert!(
                    sent["max_tokens"].as_u64().unwrap() > 0,
                    "max_tokens filled: {sent}"
                );
            }
            _ => assert_eq!(
                sent["tools"][0]["functionDeclarations"][0]["name"],
                "get_weather"
            ),
        }
    }
}

#[tokio::test]
async fn anthropic_clients_get_well_formed_streams_from_every_upstream() {
    let mut s = setup().await;
    for model in MODELS {
        let body = json!({"model": model, "max_tokens": 1024, "stream": true,
            "system": [{"type": "text", "text": "Be brief."}],
            "messages": [{"role": "user", "content": "hello there"}]});
        let response = s
            .post("/v1/messages", &body)
            .header("anthropic-version", "2023-06-01")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{model}");
        let text = response.text().await.unwrap();
        let events = sse_events(&text);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names.iter().filter(|n| **n == "message_start").count(),
            1,
            "{model}: {names:?}"
        );
        assert_eq!(names.first(), Some(&"message_start"), "{model}");
        assert_eq!(names.last(), Some(&"message_stop"), "{model}: {names:?}");
        let starts = names
            .iter()
            .filter(|n| **n == "content_block_start")
            .count();
        let stops = names.iter().filter(|n| **n == "content_block_stop").count();
        assert_eq!(starts, stops, "{model}: {names:?}");
        let delta = events
            .iter()
            .find(|(n, _)| n == "message_delta")
            .expect("message_delta");
        assert_eq!(delta.1["delta"]["stop_reason"], "end_turn", "{model}");
        assert!(
            delta.1["usage"]["output_tokens"].as_u64().unwrap() > 0,
            "{model}: {}",
            delta.1
        );
        let content: String = events
            .iter()
            .filter(|(n, _)| n == "content_block_delta")
            .filter_map(|(_, d)| d["delta"]["text"].as_str())
            .collect();
        assert!(
            content.contains("Mock reply to: hello there"),
            "{model}: {content}"
        );
        let outcome = s.outcome().await;
        assert_eq!(
            outcome.status,
            OutcomeStatus::Ok,
            "{model}: {:?}",
            outcome.error
        );
        assert!(outcome.usage.is_some(), "{model}");
    }
}

#[tokio::test]
async fn anthropic_to_anthropic_passes_the_body_through_with_only_the_model_changed() {
    let s = setup().await;
    let body = r#"{"model":"claude-x","max_tokens":1024,"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hello there"}]}"#;
    let response = s
        .http
        .post(s.url("/v1/messages?beta=true"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "prompt-caching-2024-07-31")
        .header("x-api-key", "client-key-never-forwarded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(answer["type"], "message");
    let received = s.mock.requests().last().unwrap().clone();
    assert_eq!(
        std::str::from_utf8(&received.body).unwrap(),
        body.replace("\"claude-x\"", "\"claude-sonnet-4-5\"")
    );
    let header = |name: &str| {
        received
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("anthropic-beta").as_deref(),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(header("x-api-key").as_deref(), Some(common::UPSTREAM_KEY));
}

#[tokio::test]
async fn responses_clients_get_codex_events_from_every_upstream() {
    let mut s = setup().await;
    for model in MODELS {
        let body = json!({"model": model, "stream": true, "store": false,
            "instructions": "Be brief.",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]}]});
        let response = s.post("/v1/responses", &body).send().await.unwrap();
        assert_eq!(response.status(), 200, "{model}");
        let text = response.text().await.unwrap();
        let events = sse_events(&text);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names.first(),
            Some(&"response.created"),
            "{model}: {names:?}"
        );
        assert_eq!(
            names.last(),
            Some(&"response.completed"),
            "{model}: {names:?}"
        );
        let content: String = events
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .filter_map(|(_, d)| d["delta"].as_str())
            .collect();
        assert!(
            content.contains("Mock reply to: hello there"),
            "{model}: {content}"
        );
        let completed = &events.last().unwrap().1;
        assert!(
            completed["response"]["usage"]["output_tokens"]
                .as_u64()
                .unwrap()
                > 0,
            "{completed}"
        );
        let outcome = s.outcome().await;
        assert_eq!(
            outcome.status,
            OutcomeStatus::Ok,
            "{model}: {:?}",
            outcome.error
        );
    }
}

#[tokio::test]
async fn a_cut_stream_ends_with_one_error_in_the_clients_dialect() {
    let s = setup().await;
    let fault = r#"{"kind":"disconnect-after","chunks":2}"#;
    let anthropic = s
        .post(
            "/v1/messages",
            &json!({"model": "gpt-4o-mini", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "hello there"}]}),
        )
        .header("x-mock-fault", fault)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&anthropic);
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("error"),
        "{anthropic}"
    );
    assert_eq!(events.iter().filter(|(n, _)| n == "error").count(), 1);
    let responses = s
        .post(
            "/v1/responses",
            &json!({"model": "claude-x", "stream": true, "input": "hello there"}),
        )
        .header("x-mock-fault", fault)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&responses);
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("response.failed"),
        "{responses}"
    );
}

#[tokio::test]
async fn count_tokens_asks_anthropic_and_estimates_for_others() {
    let s = setup().await;
    let body = |model: &str| {
        json!({"model": model, "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello there, how are you today?"}]})
    };
    let asked = s
        .post("/v1/messages/count_tokens", &body("claude-x"))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 200);
    assert!(asked.headers().get("x-switchboard-token-count").is_none());
    assert!(
        asked
            .text()
            .await
            .map(|t| serde_json::from_str::<Value>(&t).unwrap())
            .unwrap()["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        s.mock
            .requests()
            .last()
            .unwrap()
            .path
            .ends_with("/v1/messages/count_tokens")
    );
    let local = s
        .post("/v1/messages/count_tokens", &body("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    assert_eq!(
        local.headers()["x-switchboard-token-count"],
        "estimate; tokenizer=o200k_base"
    );
    let tokens = local
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap()["input_tokens"]
        .as_u64()
        .unwrap();
    assert!((8..40).contains(&tokens), "{tokens}");
}

#[tokio::test]
async fn anthropic_clients_get_anthropic_shapes_for_models_and_errors() {
    let s = setup().await;
    let models: Value = s
        .http
        .get(s.url("/v1/models"))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str::<Value>(&t).unwrap())
        .unwrap();
    assert_eq!(models["has_more"], false);
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "claude-x" && m["type"] == "model")
    );
    let unknown = s
        .post(
            "/v1/messages",
            &json!({"model": "nope", "max_tokens": 10, "messages": []}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let error: Value = serde_json::from_str(&unknown.text().await.unwrap()).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "not_found_error");
    assert!(error["error"]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn an_openai_tool_round_trip_reaches_anthropic_and_gemini() {
    let s = setup().await;
    for model in ["claude-x", "gemini-x"] {
        let user = json!({"role": "user", "content": "weather in Paris?"});
        let first = json!({"model": model, "tools": weather_tool_openai(), "messages": [user]});
        let text = s
            .post("/v1/chat/completions", &first)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap();
        let message = &answer["choices"][0]["message"];
        let call = &message["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather", "{model}: {text}");
        let second = json!({"model": model, "tools": weather_tool_openai(), "messages": [
            user,
            {"role": "assistant", "content": null, "tool_calls": message["tool_calls"]},
            {"role": "tool", "tool_call_id": call["id"], "content": "18 °C and sunny"},
        ]});
        let response = s
            .post("/v1/chat/completions", &second)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{model}: {text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        let content = answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(content.contains("18 °C and sunny"), "{model}: {content}");
        assert_eq!(answer["choices"][0]["finish_reason"], "stop", "{model}");
    }
}

#[tokio::test]
async fn anthropic_clients_without_the_client_token_get_an_anthropic_401() {
    let s = common::setup_with("", |config| {
        config.server.client_token = Some("client-token-for-tests".to_string().into());
    })
    .await;
    let body = json!({"model": "gpt-4o-mini", "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}]});
    let refused = s
        .post("/v1/messages", &body)
        .header("x-api-key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let error: Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "authentication_error");
    let accepted = s
        .post("/v1/messages", &body)
        .header("x-api-key", "client-token-for-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn a_malformed_event_from_an_anthropic_upstream_is_not_passed_to_anthropic_clients() {
    let mut s = setup().await;
    let body = json!({"model": "claude-x", "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "hello there"}]});
    let text = s
        .post("/v1/messages", &body)
        .header("x-mock-fault", r#"{"kind":"malformed-chunk","after":2}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("not json"), "{text}");
    let events = sse_events(&text);
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("error"),
        "{text}"
    );
    assert_eq!(
        events.iter().filter(|(n, _)| n == "error").count(),
        1,
        "{text}"
    );
    assert_eq!(s.outcome().await.status, OutcomeStatus::UpstreamError);
}
