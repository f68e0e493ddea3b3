//! Gemini API: `generateContent` and `streamGenerateContent` shapes, function calls, thoughts,
//! round trips, usage, token counting, models, and the checks Gemini makes on requests.

use mock_upstream::{GEMINI_THOUGHT_SIGNATURE, MockConfig, MockUpstream, Usage, UsageMode};
use serde_json::{Value, json};

use crate::common::{Event, events};

pub fn action_url(mock: &MockUpstream, action: &str) -> String {
    let query = if action == "streamGenerateContent" {
        "?alt=sse"
    } else {
        ""
    };
    format!(
        "{}/v1beta/models/mock-small:{action}{query}",
        mock.root_url()
    )
}

pub fn post(url: &str, body: &Value) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .post(url)
        .header("x-goog-api-key", "AIza-test")
        .json(body)
}

pub fn generate_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]
    })
}

fn weather_tools() -> Value {
    json!([{"functionDeclarations": [{
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"]
        }
    }]}])
}

async fn generate(mock: &MockUpstream, body: &Value) -> Value {
    let response = post(&action_url(mock, "generateContent"), body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    response.json().await.unwrap()
}

async fn stream(mock: &MockUpstream, body: &Value) -> Vec<Event> {
    let response = post(&action_url(mock, "streamGenerateContent"), body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(response).await;
    for event in &events {
        assert_eq!(event.name, "message", "Gemini names no events");
        check_response_shape(&event.data);
    }
    events
}

/// The fields every `GenerateContentResponse` carries.
fn check_response_shape(response: &Value) {
    let candidates = response["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{response}");
    assert_eq!(candidates[0]["index"], 0);
    assert_eq!(candidates[0]["content"]["role"], "model");
    assert!(
        !candidates[0]["content"]["parts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(response["modelVersion"], "mock-small");
    assert!(response["responseId"].is_string());
}

fn parts(response: &Value) -> &Vec<Value> {
    response["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
}

/// The concatenated non-thought text of the chunks.
fn text_of(events: &[Event]) -> String {
    events
        .iter()
        .flat_map(|e| parts(&e.data).iter())
        .filter(|p| p.get("thought").is_none())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

#[tokio::test]
async fn generate_content_has_gemini_shape_and_is_recorded() {
    let mock = MockUpstream::start().await.unwrap();
    let body = generate_body();
    let response = generate(&mock, &body).await;
    check_response_shape(&response);
    assert_eq!(
        response["candidates"][0]["content"]["parts"],
        json!([{"text": "Mock reply to: Hello there"}])
    );
    assert_eq!(response["candidates"][0]["finishReason"], "STOP");
    // ceil((9 + 11) / 4) + 3 * 1 content; one token per chunk (default 5).
    assert_eq!(
        response["usageMetadata"],
        json!({"promptTokenCount": 8, "candidatesTokenCount": 5, "totalTokenCount": 13,
               "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}]})
    );
    let recorded = &mock.requests()[0];
    assert_eq!(recorded.path, "/v1beta/models/mock-small:generateContent");
    assert_eq!(recorded.header("x-goog-api-key"), Some("AIza-test"));
    assert_eq!(recorded.json(), body);
    assert_eq!(recorded.sent_usage, Some(Usage::new(8, 5)));
}

#[tokio::test]
async fn sse_stream_uses_crlf_framing_and_cumulative_usage() {
    let mock = MockUpstream::start().await.unwrap();
    let raw = post(
        &action_url(&mock, "streamGenerateContent"),
        &generate_body(),
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(raw.starts_with("data: {"));
    assert!(raw.ends_with("}\r\n\r\n"));
    assert_eq!(raw.matches("\r\n\r\n").count(), 5);
    assert!(!raw.contains("[DONE]"));

    let events = stream(&mock, &generate_body()).await;
    assert_eq!(events.len(), 5);
    assert_eq!(text_of(&events), "Mock reply to: Hello there");
    for (i, event) in events.iter().enumerate() {
        let usage = &event.data["usageMetadata"];
        assert_eq!(usage["promptTokenCount"], 8);
        assert_eq!(usage["candidatesTokenCount"], i + 1);
        assert_eq!(usage["totalTokenCount"], 8 + i + 1);
        let finish = &event.data["candidates"][0]["finishReason"];
        if i == 4 {
            assert_eq!(*finish, "STOP");
        } else {
            assert!(finish.is_null());
        }
    }
    // Without alt=sse: a JSON array of the same chunks.
    let url = action_url(&mock, "streamGenerateContent").replace("?alt=sse", "");
    let response = post(&url, &generate_body()).send().await.unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let array: Vec<Value> = response.json().await.unwrap();
    assert_eq!(array.len(), 5);
    assert_eq!(array[4], events[4].data);
}

#[tokio::test]
async fn usage_modes_shape_stream_usage() {
    let mock = MockUpstream::start().await.unwrap();
    mock.set_config(MockConfig {
        usage: UsageMode::FinishChunk,
        ..MockConfig::default()
    });
    let events = stream(&mock, &generate_body()).await;
    let with_usage: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].data.get("usageMetadata").is_some())
        .collect();
    assert_eq!(with_usage, [4]);
    assert_eq!(events[4].data["usageMetadata"]["totalTokenCount"], 13);
    mock.set_config(MockConfig {
        usage: UsageMode::None,
        ..MockConfig::default()
    });
    let events = stream(&mock, &generate_body()).await;
    assert!(events.iter().all(|e| e.data.get("usageMetadata").is_none()));
    // What the mock would have reported is still recorded.
    assert_eq!(mock.requests()[1].sent_usage, Some(Usage::new(8, 5)));
}

#[tokio::test]
async fn function_calls_come_whole_without_ids() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = generate_body();
    body["tools"] = weather_tools();
    let response = generate(&mock, &body).await;
    let call = json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}});
    assert_eq!(response["candidates"][0]["content"]["parts"], json!([call]));
    assert_eq!(response["candidates"][0]["finishReason"], "STOP");
    // `{"city":"Paris"}` in five fragments, plus one.
    assert_eq!(response["usageMetadata"]["candidatesTokenCount"], 6);

    let events = stream(&mock, &body).await;
    assert_eq!(events.len(), 1);
    assert_eq!(parts(&events[0].data), &vec![call]);
    assert_eq!(events[0].data["candidates"][0]["finishReason"], "STOP");

    // Mode NONE answers in text; ANY with allowed names picks the named function.
    body["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
    let response = generate(&mock, &body).await;
    assert!(parts(&response)[0]["text"].is_string());
    body["tools"][0]["functionDeclarations"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}));
    body["toolConfig"] =
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}});
    let response = generate(&mock, &body).await;
    assert_eq!(parts(&response)[0]["functionCall"]["name"], "get_time");
}

#[tokio::test]
async fn thoughts_are_parts_and_counted_apart_from_candidates() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = generate_body();
    body["generationConfig"] =
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}});
    let response = generate(&mock, &body).await;
    assert_eq!(
        parts(&response),
        &vec![
            json!({"text": "Mock thinking about: Hello there", "thought": true}),
            json!({"text": "Mock reply to: Hello there", "thoughtSignature": GEMINI_THOUGHT_SIGNATURE})
        ]
    );
    let usage = &response["usageMetadata"];
    assert_eq!(usage["candidatesTokenCount"], 5);
    assert_eq!(usage["thoughtsTokenCount"], 5);
    assert_eq!(usage["totalTokenCount"], 18);
    let recorded = &mock.requests()[0];
    assert_eq!(recorded.sent_usage, Some(Usage::new(8, 10)));
    assert_eq!(recorded.sent_usage_details.unwrap().reasoning_tokens, 5);

    let events = stream(&mock, &body).await;
    assert_eq!(events.len(), 10);
    let thoughts: String = events[..5]
        .iter()
        .map(|e| {
            assert_eq!(parts(&e.data)[0]["thought"], true);
            parts(&e.data)[0]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(thoughts, "Mock thinking about: Hello there");
    assert_eq!(text_of(&events), "Mock reply to: Hello there");
    assert_eq!(
        parts(&events[9].data)[0]["thoughtSignature"],
        GEMINI_THOUGHT_SIGNATURE
    );
    assert_eq!(events[9].data["usageMetadata"]["thoughtsTokenCount"], 5);

    // Thinking without includeThoughts: no thought parts, the tokens still counted.
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": -1}});
    let response = generate(&mock, &body).await;
    assert_eq!(parts(&response).len(), 1);
    assert_eq!(response["usageMetadata"]["thoughtsTokenCount"], 5);
    // A zero budget turns thinking off.
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let response = generate(&mock, &body).await;
    assert!(
        response["usageMetadata"]
            .get("thoughtsTokenCount")
            .is_none()
    );
}

#[tokio::test]
async fn function_response_round_trip() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = generate_body();
    body["tools"] = weather_tools();
    body["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 512}});
    let first = generate(&mock, &body).await;
    let call = parts(&first)[0].clone();
    assert_eq!(call["thoughtSignature"], GEMINI_THOUGHT_SIGNATURE);

    body["contents"] = json!([
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}}]}
    ]);
    let second = generate(&mock, &body).await;
    assert_eq!(parts(&second)[0]["text"], "Mock reply to tool result: 18C");
    let events = stream(&mock, &body).await;
    assert_eq!(text_of(&events), "Mock reply to tool result: 18C");

    // A foreign signature is rejected.
    body["contents"][1]["parts"][0]["thoughtSignature"] = json!("Zm9yZWlnbg==");
    let response = post(&action_url(&mock, "generateContent"), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // So is a response count that differs from the call count.
    body["contents"][1]["parts"][0]["thoughtSignature"] = json!(GEMINI_THOUGHT_SIGNATURE);
    body["contents"][2]["parts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"functionResponse": {"name": "get_weather", "response": {"result": "19C"}}}));
    let response = post(&action_url(&mock, "generateContent"), &body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("number of function response parts")
    );
}

#[tokio::test]
async fn max_output_tokens_cached_content_and_count_tokens() {
    let mock = MockUpstream::start().await.unwrap();
    let mut body = generate_body();
    body["generationConfig"] = json!({"maxOutputTokens": 2});
    let response = generate(&mock, &body).await;
    assert_eq!(response["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(parts(&response)[0]["text"], "Mock reply");
    let events = stream(&mock, &body).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].data["candidates"][0]["finishReason"],
        "MAX_TOKENS"
    );

    let mut body = generate_body();
    body["cachedContent"] = json!("cachedContents/abc");
    let response = generate(&mock, &body).await;
    assert_eq!(response["usageMetadata"]["cachedContentTokenCount"], 6);
    assert_eq!(response["usageMetadata"]["promptTokenCount"], 8);
    let recorded = mock.requests().pop().unwrap();
    assert_eq!(recorded.sent_usage_details.unwrap().cache_read_tokens, 6);

    let count: Value = post(&action_url(&mock, "countTokens"), &generate_body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["totalTokens"], 8);
    let wrapped = json!({"generateContentRequest": {"model": "models/mock-small", "contents": generate_body()["contents"]}});
    let count: Value = post(&action_url(&mock, "countTokens"), &wrapped)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["totalTokens"], 6);
}

#[tokio::test]
async fn models_are_listed_in_gemini_shape() {
    let mock = MockUpstream::start().await.unwrap();
    let client = reqwest::Client::new();
    let list: Value = client
        .get(format!("{}/v1beta/models", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let models = list["models"].as_array().unwrap();
    assert_eq!(models.len(), 3);
    assert_eq!(models[0]["name"], "models/mock-small");
    assert_eq!(
        models[0]["supportedGenerationMethods"],
        json!(["generateContent", "countTokens"])
    );
    let one: Value = client
        .get(format!("{}/v1beta/models/mock-large", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/mock-large");
    let missing = client
        .get(format!("{}/v1beta/models/nope", mock.root_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    let unknown = client
        .post(format!(
            "{}/v1beta/models/mock-small:explode",
            mock.root_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // Under `/v1`, a Google API key asks for Gemini's list (the google-genai SDK uses `/v1`).
    let list: Value = client
        .get(format!("{}/v1/models", mock.root_url()))
        .header("x-goog-api-key", "AIza-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["models"][1]["name"], "models/mock-large");
    let one: Value = client
        .get(format!("{}/v1/models/mock-small?key=AIza", mock.root_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/mock-small");
    // The stable `/v1` path serves model actions too.
    let response = post(
        &format!("{}/v1/models/mock-small:generateContent", mock.root_url()),
        &generate_body(),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_requests_get_gemini_errors() {
    let mock = MockUpstream::start().await.unwrap();
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "contents is not specified"),
        (json!({"contents": []}), "contents is not specified"),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            "Please use a valid role: user, model.",
        ),
        (
            json!({"contents": [{"role": "user", "parts": []}]}),
            "contents[0].parts: contents.parts must not be empty",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{
                "name": "f", "parameters": {"type": "object", "additionalProperties": false, "properties": {}}
            }]}]}),
            "Unknown name \"additionalProperties\" at 'tools[0].function_declarations[0].parameters': Cannot find field.",
        ),
        (
            json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{
                "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string", "$schema": "x"}}}
            }]}]}),
            "Unknown name \"$schema\"",
        ),
    ];
    for (body, expected) in cases {
        let response = post(&action_url(&mock, "generateContent"), &body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], 400);
        assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    let response = reqwest::Client::new()
        .post(action_url(&mock, "generateContent"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON payload received.")
    );
    // The full JSON Schema form is not checked.
    let body = json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{
        "name": "f", "parametersJsonSchema": {"type": "object", "additionalProperties": false}
    }]}]});
    let response = generate(&mock, &body).await;
    assert_eq!(parts(&response)[0]["functionCall"]["name"], "f");
}
