//! Mock LLM provider APIs for tests and benchmarks: the OpenAI, Anthropic Messages and Gemini wire
//! formats, request recording, fault injection.
//!
//! - OpenAI (base URL [`MockUpstream::base_url`]): `POST /v1/chat/completions`, `/v1/embeddings`,
//!   `GET /v1/models[/{id}]`.
//! - Anthropic (base URL [`MockUpstream::root_url`]): `POST /v1/messages` (`?beta=true` too),
//!   `/v1/messages/count_tokens`; `GET /v1/models[/{id}]` with an `anthropic-version` header.
//! - Gemini (base URL [`MockUpstream::root_url`]): `POST /v1beta/models/{model}:generateContent`,
//!   `:streamGenerateContent` (`?alt=sse` for SSE, else a JSON array), `:countTokens`;
//!   `GET /v1beta/models[/{model}]`. The same under `/v1` (listing needs a Google API key there).
//!
//! Every endpoint records its requests and takes the queued [`Fault`]s, answering errors in its
//! dialect's shape.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mock_upstream::{Fault, MockUpstream};
//! let mock = MockUpstream::start().await?;
//! mock.push_fault(Fault::Status { status: 429, retry_after: Some(1), message: None });
//! // point a client at `mock.base_url()`, then inspect `mock.requests()`
//! # Ok(()) }
//! ```

mod anthropic;
mod config;
mod control;
mod faults;
mod gemini;
mod openai;
mod recording;
mod reply;
mod server;
mod synth;
mod turn;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use anthropic::THINKING_SIGNATURE as ANTHROPIC_THINKING_SIGNATURE;
pub use config::{
    HEADER_CHUNK_GAP_MS, HEADER_CHUNKS, HEADER_FAULT, HEADER_USAGE, MockConfig,
    ParseUsageModeError, UsageMode,
};
pub use faults::Fault;
pub use gemini::THOUGHT_SIGNATURE as GEMINI_THOUGHT_SIGNATURE;
pub use openai::MODEL_IDS;
pub use recording::{MAX_RECORDS, RecordedRequest, Usage, UsageDetails};

use server::Shared;

/// A running mock server. Dropping it shuts the server down.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl MockUpstream {
    /// Starts on `127.0.0.1:0` (a free port) with the default [`MockConfig`].
    pub async fn start() -> std::io::Result<MockUpstream> {
        Self::start_with(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            MockConfig::default(),
        )
        .await
    }

    /// Starts on `addr` with `config`.
    pub async fn start_with(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = server::router(Arc::clone(&shared));
        let listener = listener.tap_io(|tcp| {
            // Small SSE writes must not wait for Nagle; failure only costs latency.
            let _ = tcp.set_nodelay(true);
        });
        let shutdown = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            // axum's serve only returns once shutdown completes; it reports no errors worth keeping.
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
        });
        Ok(MockUpstream {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, what a client uses as its OpenAI base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://ADDR`, what Anthropic and Gemini clients use as their base URL (they append
    /// `/v1/messages` and `/v1beta/models/…` themselves).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.snapshot()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Queues a fault: each next request (outside `/_mock/*`) takes the oldest one.
    pub fn push_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// The current server-wide configuration.
    pub fn config(&self) -> MockConfig {
        MockConfig::clone(&self.shared.config.load())
    }

    /// Replaces the server-wide configuration (requests in flight keep theirs).
    pub fn set_config(&self, config: MockConfig) {
        self.shared.config.store(Arc::new(config));
    }

    /// Stops accepting, ends hanging requests, and waits for open connections to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            // A panicked or cancelled server task has nothing left to drain.
            let _ = task.await;
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl std::fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockUpstream")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
