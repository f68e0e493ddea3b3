//! Shared setup for the gateway's integration tests: a mock upstream, a gateway in front of it on
//! 127.0.0.1:0, and the queue of request outcomes it reports.
#![allow(dead_code)] // each test file uses a different part of this module

use std::time::Duration;

use mock_upstream::MockUpstream;
use secrecy::SecretString;
use switchboard_core::config::{Config, LoadOptions};
use switchboard_core::{Gateway, GatewayHandle, GatewayOptions, RequestOutcome};
use tokio::sync::mpsc;

pub const UPSTREAM_KEY: &str = "sk-upstream-test-0123456789";

pub struct Setup {
    pub mock: MockUpstream,
    pub gateway: GatewayHandle,
    pub outcomes: mpsc::Receiver<RequestOutcome>,
    pub http: reqwest::Client,
}

/// `extra` is appended to a config whose provider `mock` points at the mock upstream, with the
/// provider key `UPSTREAM_KEY` and the mapping `gpt-4o-mini` → `mock-small`.
pub async fn setup(extra: &str) -> Setup {
    setup_with(extra, |_| {}).await
}

/// Like `setup`, then lets the test adjust the resolved config (e.g. put a secret in place).
pub async fn setup_with(extra: &str, adjust: impl FnOnce(&mut Config)) -> Setup {
    let mock = MockUpstream::start().await.expect("mock upstream starts");
    let mut config = mock_config(&mock, extra);
    adjust(&mut config);
    start(mock, config).await
}

/// Like `setup`, with extra config that may name the mock's address (more providers on the same
/// mock, in other dialects); every provider gets the key `UPSTREAM_KEY`.
pub async fn setup_for_mock(extra: impl FnOnce(&MockUpstream) -> String) -> Setup {
    let mock = MockUpstream::start().await.expect("mock upstream starts");
    let mut config = mock_config(&mock, &extra(&mock));
    for provider in config.providers.values_mut() {
        provider.api_key = Some(SecretString::from(UPSTREAM_KEY));
    }
    start(mock, config).await
}

fn mock_config(mock: &MockUpstream, extra: &str) -> Config {
    let toml = format!(
        r#"
[providers.mock]
api = "openai"
base_url = "{base}"
api_key = "env:SWITCHBOARD_TEST_KEY_SET_BELOW"
model_prefix = "mock/"
headers = {{ "X-Title" = "Switchboard" }}

[models."gpt-4o-mini"]
provider = "mock"
model = "mock-small"
{extra}
"#,
        base = mock.base_url()
    );
    let mut config = Config::from_toml(
        &toml,
        "test.toml",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Setting environment variables races other test threads, so the key is put in place directly.
    if let Some(p) = config.providers.get_mut("mock") {
        p.api_key = Some(SecretString::from(UPSTREAM_KEY));
    }
    config
}

pub async fn start(mock: MockUpstream, config: Config) -> Setup {
    start_with_data_dir(mock, config, None).await
}

/// A gateway with accounting: its usage database and admin token live in `data_dir`.
pub async fn setup_with_accounting(extra: &str, data_dir: &std::path::Path) -> Setup {
    let mock = MockUpstream::start().await.expect("mock upstream starts");
    let config = mock_config(&mock, extra);
    start_with_data_dir(mock, config, Some(data_dir.to_owned())).await
}

async fn start_with_data_dir(
    mock: MockUpstream,
    config: Config,
    data_dir: Option<std::path::PathBuf>,
) -> Setup {
    let (tx, outcomes) = mpsc::channel(4096);
    let gateway = Gateway::start(
        config,
        GatewayOptions {
            listen: Some("127.0.0.1:0".parse().expect("addr")),
            outcomes: Some(tx),
            data_dir,
        },
    )
    .await
    .expect("gateway starts");
    Setup {
        mock,
        gateway,
        outcomes,
        http: reqwest::Client::new(),
    }
}

impl Setup {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.base_url())
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// The next reported outcome (waits up to 5 s).
    pub async fn outcome(&mut self) -> RequestOutcome {
        tokio::time::timeout(Duration::from_secs(5), self.outcomes.recv())
            .await
            .expect("an outcome is reported within 5 s")
            .expect("the outcome queue is open")
    }
}

pub fn chat(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "hello there"}],
        "stream": stream,
    })
}

/// The `data:` payloads of an SSE body, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            (!data.is_empty()).then(|| data.join("\n"))
        })
        .collect()
}

impl Setup {
    /// POSTs `chat("gpt-4o-mini", stream)` with extra headers.
    pub async fn chat(&self, stream: bool, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.post("/v1/chat/completions", &chat("gpt-4o-mini", stream));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("the gateway answers")
    }

    pub async fn chat_text(&self, stream: bool, headers: &[(&str, &str)]) -> String {
        self.chat(stream, headers)
            .await
            .text()
            .await
            .expect("a readable body")
    }
}

/// The gateway recorded exactly the usage the mock reported.
pub fn assert_same_usage(usage: switchboard_core::Usage, sent: mock_upstream::Usage) {
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (sent.prompt_tokens, sent.completion_tokens)
    );
}

/// Status and JSON body of an error response.
pub async fn error_body(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (status, response.json_body().await)
}

/// `response.json()` needs reqwest's `json` feature, which the gateway does not use.
pub trait JsonBody {
    async fn json_body(self) -> serde_json::Value;
}

impl JsonBody for reqwest::Response {
    async fn json_body(self) -> serde_json::Value {
        let bytes = self.bytes().await.expect("a readable body");
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)))
    }
}
