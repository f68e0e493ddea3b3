//! What happened to each request (`RequestOutcome`), recorded by a drop guard so that failed and
//! interrupted requests are reported too. Outcomes go to a bounded queue; the request path never
//! waits for whoever consumes them (accounting, live views).

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::usage::Usage;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Embeddings => "/v1/embeddings",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeStatus {
    Ok,
    UpstreamError,
    ClientDisconnected,
    GatewayError,
}

#[derive(Clone, Debug)]
pub struct RequestOutcome {
    pub started_at: SystemTime,
    pub endpoint: Endpoint,
    /// The model id the client asked for, when the body could be read.
    pub client_model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: OutcomeStatus,
    pub http_status: u16,
    /// Never contains secrets: built from our own messages and the provider's error text.
    pub error: Option<String>,
    pub time_to_first_byte: Option<Duration>,
    pub duration: Duration,
    /// Usage as the provider reported it; `None` when it reported none.
    pub usage: Option<Usage>,
    pub user_agent: Option<String>,
}

/// Where outcomes go. Cloning shares the queue.
#[derive(Clone, Debug, Default)]
pub struct OutcomeSink {
    tx: Option<mpsc::Sender<RequestOutcome>>,
}

impl OutcomeSink {
    pub fn new(tx: mpsc::Sender<RequestOutcome>) -> Self {
        OutcomeSink { tx: Some(tx) }
    }

    fn send(&self, outcome: RequestOutcome) {
        if let Some(tx) = &self.tx
            && let Err(err) = tx.try_send(outcome)
        {
            // A full queue means the consumer is far behind; dropping beats stalling requests.
            tracing::warn!(error = %err, "request outcome queue is full; an outcome was dropped");
        }
    }
}

/// Drop guard for one request: fills in as the request proceeds, reports exactly once.
#[derive(Debug)]
pub struct RequestRecorder {
    outcome: Option<RequestOutcome>,
    started: Instant,
    sink: OutcomeSink,
}

impl RequestRecorder {
    pub fn start(sink: OutcomeSink, endpoint: Endpoint, user_agent: Option<String>) -> Self {
        RequestRecorder {
            outcome: Some(RequestOutcome {
                started_at: SystemTime::now(),
                endpoint,
                client_model: None,
                provider: None,
                upstream_model: None,
                stream: false,
                // Until told otherwise, a request that stops is one the client walked away from.
                status: OutcomeStatus::ClientDisconnected,
                http_status: 499,
                error: None,
                time_to_first_byte: None,
                duration: Duration::ZERO,
                usage: None,
                user_agent,
            }),
            started: Instant::now(),
            sink,
        }
    }

    /// A recorder that reports nothing: what stays behind when the real one moves into a stream.
    pub fn detached() -> Self {
        RequestRecorder {
            outcome: None,
            started: Instant::now(),
            sink: OutcomeSink::default(),
        }
    }

    fn with(&mut self, f: impl FnOnce(&mut RequestOutcome)) {
        if let Some(outcome) = self.outcome.as_mut() {
            f(outcome);
        }
    }

    pub fn set_request(&mut self, client_model: &str, stream: bool) {
        self.with(|o| {
            o.client_model = Some(client_model.to_owned());
            o.stream = stream;
        });
    }

    pub fn set_route(&mut self, provider: &str, upstream_model: &str) {
        self.with(|o| {
            o.provider = Some(provider.to_owned());
            o.upstream_model = Some(upstream_model.to_owned());
        });
    }

    pub fn first_byte(&mut self, http_status: u16) {
        let elapsed = self.started.elapsed();
        self.with(|o| {
            o.time_to_first_byte = Some(elapsed);
            o.http_status = http_status;
        });
    }

    /// Keeps the latest usage the provider reported; a later report replaces an earlier one
    /// (providers send cumulative totals), so nothing is counted twice.
    pub fn set_usage(&mut self, usage: Usage) {
        self.with(|o| o.usage = Some(usage));
    }

    /// Marks the stream as broken without finishing: the error is kept even if the client leaves.
    pub fn set_error(&mut self, status: OutcomeStatus, message: String) {
        self.with(|o| {
            o.status = status;
            o.error = Some(message);
        });
    }

    pub fn finish_ok(&mut self, http_status: u16) {
        self.with(|o| {
            o.status = OutcomeStatus::Ok;
            o.http_status = http_status;
        });
        self.report();
    }

    pub fn finish_err(&mut self, status: OutcomeStatus, http_status: u16, message: String) {
        self.with(|o| {
            o.status = status;
            o.http_status = http_status;
            o.error = Some(message);
        });
        self.report();
    }

    /// Reports what is known now; later calls do nothing.
    pub fn report(&mut self) {
        if let Some(mut outcome) = self.outcome.take() {
            outcome.duration = self.started.elapsed();
            tracing::info!(
                endpoint = outcome.endpoint.as_str(),
                model = outcome.client_model.as_deref().unwrap_or("-"),
                provider = outcome.provider.as_deref().unwrap_or("-"),
                status = outcome.http_status,
                ms = outcome.duration.as_millis() as u64,
                input_tokens = outcome.usage.map(|u| u.input_tokens),
                output_tokens = outcome.usage.map(|u| u.output_tokens),
                "request {:?}",
                outcome.status
            );
            self.sink.send(outcome);
        }
    }
}

impl Drop for RequestRecorder {
    fn drop(&mut self) {
        self.report();
    }
}
