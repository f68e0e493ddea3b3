//! The OpenAI-compatible proxy path over real loopback HTTP, against the mock upstream: routing,
//! key injection, header hygiene, byte-exact streaming, usage extraction.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::{JsonBody, UPSTREAM_KEY, assert_same_usage, chat, setup, sse_data};
use serde_json::{Value, json};
use switchboard_core::OutcomeStatus;

#[tokio::test]
async fn routes_each_rule_to_the_right_upstream_id() {
    let extra = r#"
[providers.second]
api = "openai"
base_url = "http://127.0.0.1:9/v1"

[server]
default_provider = "mock"
"#;
    let s = setup(extra).await;
    let cases = [
        ("gpt-4o-mini", "mock-small"),                   // exact mapping
        ("mock/meta/llama-3.1-8b", "meta/llama-3.1-8b"), // prefix, later slashes kept
        ("mock/x", "x"),                                 // provider name == prefix here
        ("moonshotai/kimi-k2", "moonshotai/kimi-k2"),    // default provider, unchanged
    ];
    for (client_id, upstream_id) in cases {
        let response = s
            .post("/v1/chat/completions", &chat(client_id, false))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{client_id}");
        assert_eq!(response.headers()["x-switchboard-provider"], "mock");
        let seen = s.mock.requests().last().unwrap().json();
        assert_eq!(seen["model"], upstream_id, "{client_id}");
    }
    // Paths without /v1 work too, and the query string is ignored.
    let response = s
        .post("/chat/completions?foo=bar", &chat("gpt-4o-mini", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn provider_name_segment_routes_without_a_prefix() {
    let s = setup(
        "[providers.local]\napi = \"openai\"\nbase_url = \"http://placeholder.invalid/v1\"\n",
    )
    .await;
    // Point `local` at the same mock by reloading with its URL.
    let mut config = (*s.gateway.config()).clone();
    if let Some(local) = config.providers.get_mut("local") {
        local.base_url = s.mock.base_url();
    }
    s.gateway.reload(config).unwrap();
    let response = s
        .post("/v1/chat/completions", &chat("local/org/model-1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-switchboard-provider"], "local");
    assert_eq!(
        s.mock.requests().last().unwrap().json()["model"],
        "org/model-1"
    );
}

#[tokio::test]
async fn unknown_model_is_404_in_openai_shape_with_suggestions() {
    let mut s = setup("").await;
    let response = s
        .post("/v1/chat/completions", &chat("gpt-4o-mni", false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json_body().await;
    assert_eq!(
        body,
        json!({"error": {
            "message": "model `gpt-4o-mni` is not configured in Switchboard; did you mean `gpt-4o-mini`?",
            "type": "not_found_error", "param": "model", "code": "model_not_found"}})
    );
    assert!(s.mock.requests().is_empty());
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::GatewayError);
    assert_eq!(outcome.http_status, 404);
    assert_eq!(outcome.client_model.as_deref(), Some("gpt-4o-mni"));
}

#[tokio::test]
async fn injects_the_provider_key_and_strips_client_credentials_and_hop_headers() {
    let s = setup("").await;
    let response = s
        .chat(
            false,
            &[
                ("authorization", "Bearer client-secret-token"),
                ("x-api-key", "client-secret-token"),
                ("cookie", "session=abc"),
                ("connection", "keep-alive, x-hop-custom"),
                ("x-hop-custom", "1"),
                ("proxy-authorization", "Basic Zm9vOmJhcg=="),
                ("x-forwarded-for", "10.0.0.1"),
                ("openai-organization", "org-client"),
                ("x-end-to-end", "kept"),
                ("user-agent", "OpenAI/Python 1.0"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let seen = s.mock.requests().pop().unwrap();
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {UPSTREAM_KEY}").as_str())
    );
    assert_eq!(seen.header("x-title"), Some("Switchboard"));
    assert_eq!(seen.header("x-end-to-end"), Some("kept"));
    assert_eq!(seen.header("user-agent"), Some("OpenAI/Python 1.0"));
    for dropped in [
        "x-api-key",
        "cookie",
        "x-hop-custom",
        "proxy-authorization",
        "x-forwarded-for",
        "openai-organization",
    ] {
        assert_eq!(
            seen.header(dropped),
            None,
            "{dropped} must not reach the provider"
        );
    }
    let all_headers = format!("{:?}", seen.headers);
    assert!(!all_headers.contains("client-secret-token"));
    // And the key never comes back to the client.
    let text = response.text().await.unwrap();
    assert!(!text.contains(UPSTREAM_KEY));
}

#[tokio::test]
async fn stream_with_include_usage_is_byte_exact() {
    let mut s = setup("").await;
    let mut body = chat("gpt-4o-mini", true);
    body["stream_options"] = json!({"include_usage": true});
    let through_gateway = s.post("/v1/chat/completions", &body).send().await.unwrap();
    assert_eq!(through_gateway.status(), 200);
    assert_eq!(
        through_gateway.headers()["content-type"],
        "text/event-stream"
    );
    let through_gateway = through_gateway.bytes().await.unwrap();
    // Replay exactly what the gateway sent upstream straight to the mock: same bytes back.
    let forwarded = s.mock.requests().pop().unwrap();
    let direct = s
        .http
        .post(format!("{}/chat/completions", s.mock.base_url()))
        .header("content-type", "application/json")
        .body(forwarded.body.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&through_gateway),
        String::from_utf8_lossy(&direct)
    );
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::Ok);
    assert!(outcome.stream);
    let sent = forwarded.sent_usage.unwrap();
    let usage = outcome.usage.unwrap();
    assert_same_usage(usage, sent);
}

#[tokio::test]
async fn stream_without_include_usage_hides_the_usage_chunk_but_counts_it() {
    let mut s = setup("").await;
    let text = s.chat_text(true, &[]).await;
    let events = sse_data(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    for event in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(event).unwrap();
        assert!(
            !chunk["choices"].as_array().unwrap().is_empty(),
            "usage-only chunk leaked: {event}"
        );
    }
    let forwarded = s.mock.requests().pop().unwrap();
    assert_eq!(forwarded.json()["stream_options"]["include_usage"], true);
    let sent = forwarded.sent_usage.unwrap();
    let usage = s.outcome().await.usage.unwrap();
    assert_same_usage(usage, sent);
}

#[tokio::test]
async fn usage_in_the_finish_chunk_is_counted_once() {
    let mut s = setup("").await;
    let text = s.chat_text(true, &[("x-mock-usage", "finish-chunk")]).await;
    assert!(
        text.contains("\"usage\":{"),
        "the finish chunk keeps its usage: {text}"
    );
    let sent = s.mock.requests().pop().unwrap().sent_usage.unwrap();
    let usage = s.outcome().await.usage.unwrap();
    assert_same_usage(usage, sent);
}

#[tokio::test]
async fn a_stream_without_usage_reports_none() {
    let mut s = setup("").await;
    let response = s.chat(true, &[("x-mock-usage", "none")]).await;
    assert!(response.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::Ok);
    assert_eq!(outcome.usage, None);
}

#[tokio::test]
async fn non_stream_usage_and_embeddings() {
    let mut s = setup("").await;
    let body: Value = s.chat(false, &[]).await.json_body().await;
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Mock reply to: hello there"
    );
    let outcome = s.outcome().await;
    assert_eq!(
        outcome.usage.unwrap().input_tokens,
        body["usage"]["prompt_tokens"].as_u64().unwrap()
    );
    assert!(!outcome.stream);

    let response = s
        .post(
            "/v1/embeddings",
            &json!({"model": "gpt-4o-mini", "input": ["a", "b"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json_body().await;
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    let seen = s.mock.requests().pop().unwrap();
    assert_eq!(seen.path, "/v1/embeddings");
    assert_eq!(seen.json()["model"], "mock-small");
    let outcome = s.outcome().await;
    assert_eq!(outcome.endpoint, switchboard_core::Endpoint::Embeddings);
    assert_eq!(
        outcome.usage.unwrap().input_tokens,
        body["usage"]["prompt_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn models_lists_every_configured_client_id() {
    let s = setup("[models.\"fast\"]\nprovider = \"mock\"\nmodel = \"mock-large\"\n").await;
    for path in ["/v1/models", "/models"] {
        let body: Value = s
            .http
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json_body()
            .await;
        assert_eq!(body["object"], "list");
        let ids: Vec<(&str, &str)> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["id"].as_str().unwrap(), m["owned_by"].as_str().unwrap()))
            .collect();
        assert_eq!(ids, vec![("fast", "mock"), ("gpt-4o-mini", "mock")]);
    }
    let health: Value = s
        .http
        .get(s.url("/health"))
        .send()
        .await
        .unwrap()
        .json_body()
        .await;
    assert_eq!(health["status"], "ok");
}
