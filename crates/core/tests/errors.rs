//! Every way a request can go wrong, as the client sees it and as the outcome records it:
//! bad input, provider errors, unreachable and slow providers, broken streams, the guards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::{chat, error_body, setup, setup_with, sse_data};
use futures::StreamExt;
use mock_upstream::Fault;
use serde_json::{Value, json};
use switchboard_core::OutcomeStatus;

#[tokio::test]
async fn malformed_json_is_400_saying_what_is_wrong() {
    let mut s = setup("").await;
    let response = s
        .http
        .post(s.url("/v1/chat/completions"))
        .body("{\"model\": \"gpt-4o-mini\", \"messages\": [")
        .send()
        .await
        .unwrap();
    let (status, body) = error_body(response).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "the request body is not valid JSON: EOF while parsing a list at line 1 column 38"
    );
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(s.outcome().await.http_status, 400);
    assert!(s.mock.requests().is_empty());
}

#[tokio::test]
async fn provider_errors_keep_status_message_and_retry_after() {
    let mut s = setup("").await;
    s.mock.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(7),
        message: Some("Rate limit reached for requests".into()),
    });
    let response = s.chat(true, &[]).await;
    assert_eq!(response.headers()["retry-after"], "7");
    let (status, body) = error_body(response).await;
    assert_eq!(status, 429);
    let message = body["error"]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "provider `mock` answered 429 Too Many Requests: Rate limit reached for requests"
    );
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::UpstreamError);
    assert_eq!(outcome.http_status, 429);
    assert_eq!(outcome.provider.as_deref(), Some("mock"));
}

#[tokio::test]
async fn unreachable_provider_is_502() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = setup(&format!(
        "[providers.down]\napi = \"openai\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\n"
    ))
    .await;
    let (status, body) = error_body(
        s.post("/v1/chat/completions", &chat("down/m", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 502);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "cannot connect to provider `down` at http://127.0.0.1:{port}: "
        )),
        "{message}"
    );
    assert_eq!(body["error"]["code"], "upstream_unreachable");
}

#[tokio::test]
async fn slow_first_byte_is_504() {
    let mut s = setup("[timeouts]\nfirst_byte = 0.3\n").await;
    s.mock.push_fault(Fault::Hang);
    let (status, body) = error_body(s.chat(false, &[]).await).await;
    assert_eq!(status, 504);
    assert_eq!(
        body["error"]["message"],
        "provider `mock` did not answer within 0.3 s (`timeouts.first_byte`)"
    );
    assert_eq!(s.outcome().await.status, OutcomeStatus::UpstreamError);
}

#[tokio::test]
async fn wrong_content_type_on_a_stream_is_502() {
    let s = setup("").await;
    s.mock.push_fault(Fault::WrongContentType);
    let (status, body) = error_body(s.chat(true, &[]).await).await;
    assert_eq!(status, 502);
    assert_eq!(
        body["error"]["message"],
        "provider `mock` answered a streaming request with content type `text/html; charset=utf-8` instead of `text/event-stream`"
    );
}

#[tokio::test]
async fn a_non_json_answer_to_a_whole_request_is_502() {
    let mut s = setup("").await;
    s.mock.push_fault(Fault::WrongContentType);
    let (status, body) = error_body(s.chat(false, &[]).await).await;
    assert_eq!(status, 502);
    assert_eq!(
        body["error"]["message"],
        "provider `mock` answered with content type `text/html; charset=utf-8` instead of JSON"
    );
    assert_eq!(s.outcome().await.status, OutcomeStatus::UpstreamError);
}

#[tokio::test]
async fn upstream_disconnect_mid_stream_ends_with_one_error_event() {
    let mut s = setup("").await;
    s.mock.push_fault(Fault::DisconnectAfter { chunks: 2 });
    let response = s.chat(true, &[]).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(&response.text().await.unwrap());
    assert_eq!(events.len(), 3, "{events:?}");
    let last: Value = serde_json::from_str(&events[2]).unwrap();
    assert_eq!(last["error"]["code"], "stream_interrupted");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the stream from provider `mock` "),
        "{last}"
    );
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::UpstreamError);
    assert_eq!(outcome.http_status, 200);
}

#[tokio::test]
async fn a_malformed_chunk_ends_the_stream_with_one_error_event() {
    let mut s = setup("").await;
    s.mock.push_fault(Fault::MalformedChunk { after: 1 });
    let text = s.chat_text(true, &[]).await;
    // Clients would choke on it: it is not relayed; one error event ends the stream instead.
    assert!(!text.contains("not json"), "{text}");
    let events = sse_data(&text);
    assert_eq!(events.len(), 2, "{text}");
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["code"], "malformed_event", "{text}");
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::UpstreamError);
    assert!(outcome.error.unwrap().contains("not valid JSON"));
}

#[tokio::test]
async fn client_disconnect_mid_stream_is_recorded_and_closes_upstream() {
    let mut s = setup("").await;
    let response = s
        .chat(
            true,
            &[("x-mock-chunks", "50"), ("x-mock-chunk-gap-ms", "50")],
        )
        .await;
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(body);
    let outcome = s.outcome().await;
    assert_eq!(outcome.status, OutcomeStatus::ClientDisconnected);
    assert!(outcome.time_to_first_byte.is_some());
    // Well under the 2.5 s the whole stream would take: the upstream was dropped with the client.
    assert!(
        outcome.duration < Duration::from_secs(2),
        "{:?}",
        outcome.duration
    );
}

#[tokio::test]
async fn silent_provider_gets_keepalives_then_an_idle_timeout_event() {
    let mut s = setup("[timeouts]\nkeepalive = 0.05\nidle = 0.4\n").await;
    let text = s
        .chat_text(
            true,
            &[("x-mock-chunks", "3"), ("x-mock-chunk-gap-ms", "1000")],
        )
        .await;
    assert!(text.contains(": keep-alive\n\n"), "{text}");
    let events = sse_data(&text);
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], "upstream_timeout");
    assert_eq!(
        last["error"]["message"],
        "provider `mock` sent nothing for 0.4 s (`timeouts.idle`)"
    );
    assert_eq!(s.outcome().await.status, OutcomeStatus::UpstreamError);
}

#[tokio::test]
async fn host_origin_and_token_guards() {
    let token = "client-token-for-tests".to_string();
    let s = setup_with(
        "[server]\nallowed_hosts = [\"devbox.local\"]\nallowed_origins = [\"https://app.example.com\"]\n",
        |config| config.server.client_token = Some(token.clone().into()),
    )
    .await;
    let models = |host: &'static str| {
        s.http
            .get(s.url("/v1/models"))
            .header("host", host)
            .bearer_auth(&token)
    };
    assert_eq!(models("evil.example").send().await.unwrap().status(), 403);
    assert_eq!(
        models("localhost.evil.example:4141")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        models("devbox.local:4141").send().await.unwrap().status(),
        200
    );
    assert_eq!(models("localhost:4141").send().await.unwrap().status(), 200);

    let (status, body) = error_body(
        models("localhost")
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.allowed_origins")
    );
    let allowed = models("localhost")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let preflight = s
        .http
        .request(reqwest::Method::OPTIONS, s.url("/v1/chat/completions"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert!(
        preflight
            .headers()
            .contains_key("access-control-allow-methods")
    );
    // A same-machine page needs no CORS headers.
    let local = models("localhost")
        .header("origin", "http://127.0.0.1:4141")
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
    assert!(!local.headers().contains_key("access-control-allow-origin"));

    let (status, body) = error_body(s.http.get(s.url("/v1/models")).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "authentication_error");
    let wrong = s
        .http
        .get(s.url("/v1/models"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let via_x_api_key = s
        .http
        .get(s.url("/v1/models"))
        .header("x-api-key", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(via_x_api_key.status(), 200);
    assert_eq!(
        s.http.get(s.url("/health")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn oversized_body_is_413_and_unknown_paths_404() {
    let mut s = setup("[server]\nmax_request_bytes = 1000\n").await;
    let mut body = chat("gpt-4o-mini", false);
    body["messages"][0]["content"] = json!("x".repeat(2000));
    let (status, body) =
        error_body(s.post("/v1/chat/completions", &body).send().await.unwrap()).await;
    assert_eq!(status, 413);
    assert_eq!(
        body["error"]["message"],
        "request body is larger than the limit of 1000 bytes (`server.max_request_bytes`)"
    );
    assert_eq!(s.outcome().await.http_status, 413);
    let (status, body) = error_body(s.http.post(s.url("/v1/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no such endpoint: POST /v1/nope")
    );
    let (status, _) = error_body(
        s.http
            .get(s.url("/v1/chat/completions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 405);
}
