//! Shared setup for the store's integration tests: a config, a store in a temporary directory
//! with its writer running, and outcomes built field by field.
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use switchboard_core::config::{Config, LoadOptions};
use switchboard_core::store::{LiveEvent, Store, WriterHandle, spawn_writer};
use switchboard_core::{Endpoint, OutcomeStatus, RequestOutcome, Usage};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const CONFIG: &str = r#"
[providers.openai]
preset = "openai"
api_key = "env:OPENAI_API_KEY"

[providers.local]
api = "openai"
base_url = "http://127.0.0.1:9/v1"

[models."gpt-4o-mini"]
provider = "openai"
model = "gpt-4o-mini"

[models."mystery"]
provider = "local"
model = "mystery-model"
max_context_size = 1000
"#;

pub fn config() -> Config {
    let options = LoadOptions {
        resolve_secrets: false,
    };
    Config::from_toml(CONFIG, "test.toml", options).unwrap_or_else(|e| panic!("{e}"))
}

pub struct Running {
    pub store: Store,
    pub writer: WriterHandle,
    pub task: JoinHandle<()>,
    pub shutdown: CancellationToken,
    pub events: broadcast::Receiver<LiveEvent>,
    pub config: Arc<ArcSwap<Config>>,
}

impl Running {
    /// Stops the writer and waits until it has drained.
    pub async fn stop(self) -> Store {
        self.shutdown.cancel();
        self.task.await.unwrap();
        self.store
    }
}

pub fn start(dir: &Path, config: Config) -> Running {
    let store = Store::open(dir).unwrap();
    let config = Arc::new(ArcSwap::from_pointee(config));
    let (events_tx, events) = broadcast::channel(100_000);
    let shutdown = CancellationToken::new();
    let (writer, task) = spawn_writer(&store, config.clone(), events_tx, shutdown.clone()).unwrap();
    Running {
        store,
        writer,
        task,
        shutdown,
        events,
        config,
    }
}

pub fn request_id() -> String {
    format!("req_{}", uuid::Uuid::new_v4().simple())
}

pub fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

/// A successful, routed request from `client` to `model`, started at `started_at`.
pub fn outcome(client: &str, model: &str, started_at: SystemTime, usage: Usage) -> RequestOutcome {
    let (provider, upstream) = match model {
        "gpt-4o-mini" => ("openai", "gpt-4o-mini"),
        _ => ("local", "mystery-model"),
    };
    RequestOutcome {
        id: request_id(),
        client: client.to_owned(),
        session_hint: None,
        started_at,
        endpoint: Endpoint::ChatCompletions,
        client_model: Some(model.to_owned()),
        provider: Some(provider.to_owned()),
        upstream_model: Some(upstream.to_owned()),
        stream: true,
        status: OutcomeStatus::Ok,
        http_status: 200,
        error: None,
        time_to_first_byte: Some(Duration::from_millis(100)),
        duration: Duration::from_millis(500),
        usage: Some(usage),
        user_agent: Some(format!("{client} (linux)")),
        capture: None,
    }
}

/// A request the gateway could not route (unreadable body).
pub fn unrouted(started_at: SystemTime) -> RequestOutcome {
    RequestOutcome {
        id: request_id(),
        client: "unknown".to_owned(),
        session_hint: None,
        started_at,
        endpoint: Endpoint::ChatCompletions,
        client_model: None,
        provider: None,
        upstream_model: None,
        stream: false,
        status: OutcomeStatus::GatewayError,
        http_status: 400,
        error: Some("the request body is not JSON".into()),
        time_to_first_byte: None,
        duration: Duration::from_millis(1),
        usage: None,
        user_agent: None,
        capture: None,
    }
}

pub fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn at_ms(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
}
