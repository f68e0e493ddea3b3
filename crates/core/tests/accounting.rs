//! Usage accounting through the whole gateway: each stream shape leaves exactly one request row
//! with the provider's numbers (or an estimate, marked so), sessions group requests, totals stay
//! exact under load, and the admin API serves it all behind its token, live events included.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::{Setup, chat, setup_with_accounting, sse_data};
use futures::StreamExt;
use mock_upstream::Fault;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchboard_core::accounting::estimate;

/// Waits until the writer has committed everything, then lists the stored requests, oldest first.
async fn stored_requests(s: &Setup) -> Vec<Value> {
    s.gateway
        .accounting()
        .unwrap()
        .writer
        .flush()
        .await
        .unwrap();
    let mut rows = admin_get(s, "/admin/api/requests?limit=500").await["items"]
        .as_array()
        .unwrap()
        .clone();
    rows.reverse();
    rows
}

async fn admin_get(s: &Setup, path: &str) -> Value {
    let token = s.gateway.admin_token().unwrap().expose_secret().to_owned();
    let response = s
        .http
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The text of the content deltas in an SSE body, as the client received it.
fn streamed_text(body: &str) -> String {
    sse_data(body)
        .iter()
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn usage(row: &Value) -> (u64, u64) {
    (
        row["usage"]["input_tokens"].as_u64().unwrap(),
        row["usage"]["output_tokens"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn reported_usage_is_stored_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let mut body = chat("gpt-4o-mini", true);
    body["stream_options"] = json!({"include_usage": true});
    let response = s
        .post("/v1/chat/completions", &body)
        .header("user-agent", "OpenAI/Python 2.20.0")
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-switchboard-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.text().await.unwrap();
    s.chat_text(true, &[("x-mock-usage", "finish-chunk")]).await;
    s.chat_text(false, &[]).await;

    let sent: Vec<_> = s
        .mock
        .requests()
        .iter()
        .map(|r| r.sent_usage.unwrap())
        .collect();
    let rows = stored_requests(&s).await;
    assert_eq!(rows.len(), 3);
    let first = &rows[0];
    assert_eq!(first["id"], request_id.as_str());
    assert_eq!(first["client"], "OpenAI/Python");
    assert_eq!(first["client_model"], "gpt-4o-mini");
    assert_eq!(first["provider"], "mock");
    assert_eq!(first["upstream_model"], "mock-small");
    assert_eq!(first["endpoint"], "/v1/chat/completions");
    assert_eq!(first["stream"], true);
    assert_eq!(first["status"], "ok");
    assert_eq!(first["http_status"], 200);
    assert_eq!(first["error"], Value::Null);
    assert!(first["ttfb_ms"].as_u64().is_some());
    assert!(first["session_id"].as_str().is_some());
    for (row, sent) in rows.iter().zip(&sent) {
        assert_eq!(row["usage_source"], "reported");
        assert_eq!(
            usage(row),
            (sent.prompt_tokens, sent.completion_tokens),
            "{row}"
        );
    }
    assert_eq!(rows[2]["stream"], false);
    // The mock's model is in no price table: its cost is unknown, not zero.
    assert!(rows.iter().all(|r| r["cost_usd"].is_null()));
}

#[tokio::test]
async fn a_configured_price_gives_the_cost() {
    let dir = tempfile::tempdir().unwrap();
    let extra = "[models.\"priced\"]\nprovider = \"mock\"\nmodel = \"mock-small\"\nprice = { input = 1.5, output = 6.0 }\n";
    let s = setup_with_accounting(extra, dir.path()).await;
    let response = s
        .post("/v1/chat/completions", &chat("priced", false))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap();
    let sent = s.mock.requests()[0].sent_usage.unwrap();
    let row = &stored_requests(&s).await[0];
    let expected = (sent.prompt_tokens as f64 * 1.5 + sent.completion_tokens as f64 * 6.0) / 1e6;
    let cost = row["cost_usd"].as_f64().unwrap();
    assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");
    let session = &admin_get(&s, "/admin/api/sessions").await["items"][0];
    assert_eq!(session["unpriced_requests"], 0);
    assert!((session["cost_usd"].as_f64().unwrap() - expected).abs() < 1e-12);
}

#[tokio::test]
async fn a_stream_without_usage_is_estimated_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let body = s.chat_text(true, &[("x-mock-usage", "none")]).await;
    let rows = stored_requests(&s).await;
    let row = &rows[0];
    assert_eq!(row["status"], "ok");
    assert_eq!(
        row["usage_source"],
        format!("estimated:{}", estimate::TOKENIZER)
    );
    let client_body = chat("gpt-4o-mini", true).to_string();
    assert_eq!(
        usage(row),
        (
            estimate::input_tokens(client_body.as_bytes()),
            estimate::count(&streamed_text(&body))
        )
    );
    assert_eq!(streamed_text(&body), "Mock reply to: hello there");
}

#[tokio::test]
async fn interrupted_streams_count_what_was_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let client_body = chat("gpt-4o-mini", true).to_string();

    // The provider drops the connection after three chunks.
    s.mock.push_fault(Fault::DisconnectAfter { chunks: 3 });
    let body = s.chat_text(true, &[("x-mock-chunks", "8")]).await;
    let received = streamed_text(&body);
    assert!(!received.is_empty());

    // The client walks away after the first chunk of a slow stream.
    let response = s
        .post("/v1/chat/completions", &chat("gpt-4o-mini", true))
        .header("x-mock-chunks", "40")
        .header("x-mock-chunk-gap-ms", "25")
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rows = stored_requests(&s).await;
    assert_eq!(rows.len(), 2);
    let upstream_cut = &rows[0];
    assert_eq!(upstream_cut["status"], "upstream_error");
    assert_eq!(upstream_cut["http_status"], 200);
    assert!(
        upstream_cut["error"]
            .as_str()
            .unwrap()
            .contains("broke off"),
        "{upstream_cut}"
    );
    assert_eq!(
        upstream_cut["usage_source"],
        format!("estimated:{}", estimate::TOKENIZER)
    );
    assert_eq!(
        usage(upstream_cut),
        (
            estimate::input_tokens(client_body.as_bytes()),
            estimate::count(&received)
        )
    );

    let client_gone = &rows[1];
    assert_eq!(client_gone["status"], "client_disconnected");
    assert_eq!(
        client_gone["usage_source"],
        format!("estimated:{}", estimate::TOKENIZER)
    );
    let (input, output) = usage(client_gone);
    assert_eq!(input, estimate::input_tokens(client_body.as_bytes()));
    let whole_reply = s.mock.requests()[1].sent_usage.unwrap().completion_tokens;
    assert!(
        output >= 1 && output < whole_reply,
        "partial output {output} of {whole_reply}"
    );
}

#[tokio::test]
async fn sessions_group_by_client_and_model_and_honour_client_ids() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting(
        "[models.\"other\"]\nprovider = \"mock\"\nmodel = \"mock-large\"\n",
        dir.path(),
    )
    .await;
    let send = |model: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let mut request = s.post("/v1/chat/completions", &chat(model, false));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    send("gpt-4o-mini", vec![("user-agent", "aider/0.86")]).await;
    send("gpt-4o-mini", vec![("user-agent", "aider/0.86")]).await;
    send("other", vec![("user-agent", "aider/0.86")]).await;
    send(
        "gpt-4o-mini",
        vec![
            ("user-agent", "claude-cli/2.1.197"),
            ("x-claude-code-session-id", "cc-session-1"),
        ],
    )
    .await;
    send(
        "gpt-4o-mini",
        vec![
            ("user-agent", "codex_exec/0.169.0"),
            ("session-id", "cc-session-1"),
        ],
    )
    .await;
    stored_requests(&s).await;
    let sessions = admin_get(&s, "/admin/api/sessions").await;
    let mut summary: Vec<(String, String, u64)> = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["client"].as_str().unwrap().to_owned(),
                x["client_model"].as_str().unwrap().to_owned(),
                x["request_count"].as_u64().unwrap(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            ("aider/0.86".into(), "gpt-4o-mini".into(), 2),
            ("aider/0.86".into(), "other".into(), 1),
            ("claude-cli/2.1.197".into(), "gpt-4o-mini".into(), 2),
        ]
    );
    let detail = admin_get(&s, "/admin/api/sessions/cc-session-1").await;
    assert_eq!(detail["session"]["id"], "cc-session-1");
    assert_eq!(detail["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_stay_exact_under_a_thousand_concurrent_streams() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let results: Vec<String> = futures::stream::iter(0..1000)
        .map(|i| {
            let mut body = chat("gpt-4o-mini", true);
            body["messages"][0]["content"] =
                json!(format!("request number {i} {}", "x".repeat(i % 37)));
            let request = s.post("/v1/chat/completions", &body);
            async move { request.send().await.unwrap().text().await.unwrap() }
        })
        .buffer_unordered(1000)
        .collect()
        .await;
    assert!(results.iter().all(|r| r.ends_with("data: [DONE]\n\n")));
    let (mut sent_in, mut sent_out) = (0, 0);
    for request in s.mock.requests() {
        let usage = request.sent_usage.unwrap();
        sent_in += usage.prompt_tokens;
        sent_out += usage.completion_tokens;
    }
    stored_requests(&s).await;
    let totals = admin_get(&s, "/admin/api/usage?group_by=model").await;
    let row = &totals["rows"][0];
    assert_eq!(row["key"], "gpt-4o-mini");
    assert_eq!(row["requests"], 1000);
    assert_eq!(row["errors"], 0);
    assert_eq!(
        (
            row["input_tokens"].as_u64().unwrap(),
            row["output_tokens"].as_u64().unwrap()
        ),
        (sent_in, sent_out)
    );
    let sessions = admin_get(&s, "/admin/api/usage?group_by=session").await;
    let session_total: u64 = sessions["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["input_tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(session_total, sent_in);
}

#[tokio::test]
async fn admin_api_needs_its_token_a_local_host_and_no_foreign_origin() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let token = s.gateway.admin_token().unwrap().expose_secret().to_owned();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("admin-token"))
            .unwrap()
            .trim(),
        token
    );
    let status = |request: reqwest::RequestBuilder| async move {
        request.send().await.unwrap().status().as_u16()
    };
    let url = s.url("/admin/api/status");
    assert_eq!(status(s.http.get(&url)).await, 401);
    assert_eq!(status(s.http.get(&url).bearer_auth("wrong")).await, 401);
    assert_eq!(status(s.http.get(&url).bearer_auth(&token)).await, 200);
    assert_eq!(
        status(s.http.get(format!("{url}?token={token}"))).await,
        200
    );
    assert_eq!(
        status(
            s.http
                .get(&url)
                .bearer_auth(&token)
                .header("host", "evil.example")
        )
        .await,
        403
    );
    assert_eq!(
        status(
            s.http
                .get(&url)
                .bearer_auth(&token)
                .header("origin", "https://evil.example")
        )
        .await,
        403
    );
    assert_eq!(
        status(
            s.http
                .get(&url)
                .bearer_auth(&token)
                .header("origin", "http://127.0.0.1:4141")
        )
        .await,
        200
    );

    let bad = s
        .http
        .get(s.url("/admin/api/usage?group_by=week"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = serde_json::from_slice(&bad.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body["error"]["message"],
        "`group_by` must be one of `model`, `provider`, `day`, `session`, not `week`"
    );
    let missing = s
        .http
        .get(s.url("/admin/api/sessions/nope"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let closing = s
        .http
        .post(s.url("/admin/api/sessions/nope/close"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(closing.status(), 404);
}

/// Reads SSE event names off a live response.
struct EventReader {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl EventReader {
    /// Subscribes to `/admin/api/events` and reads its `ready` event.
    async fn open(s: &Setup) -> EventReader {
        let token = s.gateway.admin_token().unwrap().expose_secret().to_owned();
        let response = s
            .http
            .get(s.url(&format!("/admin/api/events?token={token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut events = EventReader {
            stream: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        };
        assert_eq!(events.names(1).await, vec!["ready"]);
        events
    }

    async fn names(&mut self, count: usize) -> Vec<String> {
        let mut names = Vec::new();
        while names.len() < count {
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.stream.next())
                .await
                .expect("an event within 5 s")
                .unwrap()
                .unwrap();
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if let Some(name) = event.lines().find_map(|l| l.strip_prefix("event: ")) {
                    names.push(name.to_owned());
                }
            }
        }
        names
    }
}

#[tokio::test]
async fn live_events_follow_a_request_and_manual_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let token = s.gateway.admin_token().unwrap().expose_secret().to_owned();
    let mut events = EventReader::open(&s).await;
    s.chat_text(false, &[]).await;
    let names = events.names(3).await;
    assert_eq!(
        names,
        vec!["request.started", "session.opened", "request.finished"]
    );

    let session = admin_get(&s, "/admin/api/sessions").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let closed = s
        .http
        .post(s.url(&format!("/admin/api/sessions/{session}/close")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    let closed: Value = serde_json::from_slice(&closed.bytes().await.unwrap()).unwrap();
    assert_eq!(closed["session"]["status"], "closed_by_user");
    let cleanup = s
        .http
        .post(s.url("/admin/api/sessions/cleanup?older_than_days=0"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let cleanup: Value = serde_json::from_slice(&cleanup.bytes().await.unwrap()).unwrap();
    assert_eq!(cleanup["deleted_sessions"], 1);
    assert_eq!(cleanup["deleted_requests"], 1);
    // History survives the cleanup.
    let usage = admin_get(&s, "/admin/api/usage?group_by=day").await;
    assert_eq!(usage["rows"][0]["requests"], 1);
}

#[tokio::test]
async fn an_open_event_stream_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup_with_accounting("", dir.path()).await;
    let mut events = EventReader::open(&s).await;
    let Setup { gateway, .. } = s;
    // A generous grace: if the stream kept the server open, shutdown would take all of it.
    let shutdown = tokio::spawn(gateway.shutdown(Duration::from_secs(30)));
    let end = tokio::time::timeout(Duration::from_secs(10), events.stream.next()).await;
    assert!(
        matches!(end, Ok(None) | Ok(Some(Err(_)))),
        "the event stream did not end"
    );
    tokio::time::timeout(Duration::from_secs(10), shutdown)
        .await
        .unwrap()
        .unwrap();
}
