//! What happened to each request (`RequestOutcome`), recorded by a drop guard so that failed and
//! interrupted requests are reported too. Outcomes go to a bounded queue; the request path never
//! waits for whoever consumes them (accounting, live views).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, header};
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::accounting::estimate::ResponseCapture;
use crate::store::{LiveEvent, RequestStarted};
use crate::usage::Usage;

/// Headers in which clients name their own session: ours, Claude Code's, Codex's.
pub const SESSION_HEADERS: &[&str] = &[
    "x-switchboard-session",
    "x-claude-code-session-id",
    "session-id",
];

/// The longest stream capture kept for estimating; beyond it the estimate counts what was kept.
const MAX_CAPTURE_BYTES: usize = 16 * 1024 * 1024;
/// All stream captures held at once (in flight or queued for the writer). A flood of streams
/// without usage cannot hold more memory than this; past it, captures stop growing.
const CAPTURE_BUDGET: usize = 256 * 1024 * 1024;
static CAPTURED_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Bytes of `CAPTURE_BUDGET` held by one request's capture; given back when dropped.
#[derive(Debug, Default)]
struct CaptureReservation(usize);

impl CaptureReservation {
    /// Takes `n` more bytes of the budget, if they are there.
    fn grow(&mut self, n: usize) -> bool {
        let before = CAPTURED_BYTES.fetch_add(n, Ordering::Relaxed);
        if before + n > CAPTURE_BUDGET {
            CAPTURED_BYTES.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        self.0 += n;
        true
    }
}

impl Drop for CaptureReservation {
    fn drop(&mut self) {
        CAPTURED_BYTES.fetch_sub(self.0, Ordering::Relaxed);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
    /// Anthropic messages.
    Messages,
    /// Anthropic `count_tokens`.
    CountTokens,
    /// OpenAI responses.
    Responses,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Messages => "/v1/messages",
            Endpoint::CountTokens => "/v1/messages/count_tokens",
            Endpoint::Responses => "/v1/responses",
        }
    }

    /// The dialect clients of this endpoint speak.
    pub fn dialect(self) -> crate::translate::Dialect {
        use crate::translate::Dialect;
        match self {
            Endpoint::ChatCompletions | Endpoint::Embeddings => Dialect::OpenAiChat,
            Endpoint::Messages | Endpoint::CountTokens => Dialect::Anthropic,
            Endpoint::Responses => Dialect::Responses,
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

/// What the gateway kept of a request whose usage the provider did not report, so that the
/// accounting side can estimate it off the request path.
#[derive(Clone, Debug)]
pub struct Capture {
    pub request: Bytes,
    pub response: ResponseCapture,
    /// Holds the capture's share of the memory budget until the last clone is gone.
    _reservation: Arc<CaptureReservation>,
}

impl Capture {
    pub fn new(request: Bytes, response: ResponseCapture) -> Capture {
        Capture {
            request,
            response,
            _reservation: Arc::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RequestOutcome {
    /// `req_…`, unique per request; also sent to the client as `x-switchboard-request-id`.
    pub id: String,
    /// The client program: the first word of its User-Agent (`claude-cli/2.1.197`), or `unknown`.
    pub client: String,
    /// The session id the client sent, if any (see `SESSION_HEADERS`).
    pub session_hint: Option<String>,
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
    /// Present only when `usage` is `None` and there is something to estimate from.
    pub capture: Option<Capture>,
}

/// Where outcomes go (the usage writer, an embedding program's observer), and where a request's
/// start is announced. Cloning shares the queues.
#[derive(Clone, Debug, Default)]
pub struct OutcomeSink {
    queues: Vec<mpsc::Sender<RequestOutcome>>,
    events: Option<broadcast::Sender<LiveEvent>>,
}

impl OutcomeSink {
    pub fn new(
        queues: Vec<mpsc::Sender<RequestOutcome>>,
        events: Option<broadcast::Sender<LiveEvent>>,
    ) -> Self {
        OutcomeSink { queues, events }
    }

    fn send(&self, outcome: RequestOutcome) {
        let Some((last, rest)) = self.queues.split_last() else {
            return;
        };
        for queue in rest {
            Self::try_send(queue, outcome.clone());
        }
        Self::try_send(last, outcome);
    }

    fn try_send(queue: &mpsc::Sender<RequestOutcome>, outcome: RequestOutcome) {
        // A full queue means the consumer is far behind; dropping beats stalling requests.
        let Err(err) = queue.try_send(outcome) else {
            return;
        };
        if let Some(dropped) = DROPPED.record(Instant::now()) {
            let reason = match err {
                mpsc::error::TrySendError::Full(_) => "its queue is full",
                mpsc::error::TrySendError::Closed(_) => "it has stopped",
            };
            tracing::warn!(
                dropped,
                "request outcomes dropped (their usage is not recorded): the usage writer is \
                 behind, {reason}; warned at most once a second"
            );
        }
    }

    fn announce(&self, outcome: &RequestOutcome) {
        if let Some(events) = &self.events
            && events.receiver_count() > 0
        {
            let started = outcome
                .started_at
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or_default();
            let _ = events.send(LiveEvent::RequestStarted(Box::new(RequestStarted {
                id: outcome.id.clone(),
                time: started,
                client: outcome.client.clone(),
                client_model: outcome.client_model.clone(),
                endpoint: outcome.endpoint.as_str().to_owned(),
                stream: outcome.stream,
            })));
        }
    }
}

/// Dropped outcomes of the whole process, for [`OutcomeSink::try_send`]'s warning.
static DROPPED: DropCounter = DropCounter::new();

/// Counts dropped outcomes and says when to warn: at the first drop, then at most once every
/// [`DROP_WARNING_INTERVAL`] with how many were dropped since, so that a writer far behind a
/// busy gateway cannot flood the log with a line per request.
#[derive(Debug)]
struct DropCounter {
    /// Dropped since the last warning, and when that warning was.
    state: Mutex<(u64, Option<Instant>)>,
}

const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(1);

impl DropCounter {
    const fn new() -> Self {
        DropCounter {
            state: Mutex::new((0, None)),
        }
    }

    /// Counts one drop; `Some(dropped since the last warning)` when it is time to warn.
    fn record(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (dropped, warned_at) = &mut *state;
        *dropped += 1;
        if warned_at.is_some_and(|at| now.saturating_duration_since(at) < DROP_WARNING_INTERVAL) {
            return None;
        }
        *warned_at = Some(now);
        Some(std::mem::take(dropped))
    }
}

/// Drop guard for one request: fills in as the request proceeds, reports exactly once.
#[derive(Debug)]
pub struct RequestRecorder {
    outcome: Option<RequestOutcome>,
    started: Instant,
    sink: OutcomeSink,
    request_body: Option<Bytes>,
    response: ResponseCapture,
    reservation: CaptureReservation,
}

/// Process-unique request ids: a random start, then a counter (no syscall per request).
fn next_request_id() -> String {
    format!("req_{:016x}", crate::ids::next_u64())
}

/// The first word of a User-Agent (`claude-cli/2.1.197 (external, cli)` → `claude-cli/2.1.197`).
fn client_name(user_agent: Option<&str>) -> String {
    user_agent
        .and_then(|ua| ua.split_whitespace().next())
        .map(|name| name.chars().take(100).collect())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn session_hint(headers: &HeaderMap) -> Option<String> {
    SESSION_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty() && value.len() <= 200).then(|| value.to_owned())
    })
}

impl RequestRecorder {
    pub fn start(sink: OutcomeSink, endpoint: Endpoint, headers: &HeaderMap) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        RequestRecorder {
            outcome: Some(RequestOutcome {
                id: next_request_id(),
                client: client_name(user_agent.as_deref()),
                session_hint: session_hint(headers),
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
                capture: None,
            }),
            started: Instant::now(),
            sink,
            request_body: None,
            response: ResponseCapture::None,
            reservation: CaptureReservation::default(),
        }
    }

    /// The id given to this request (empty once reported).
    pub fn id(&self) -> &str {
        self.outcome
            .as_ref()
            .map(|o| o.id.as_str())
            .unwrap_or_default()
    }

    /// Keeps the request body, for an estimate if the provider reports no usage.
    pub fn set_request_body(&mut self, body: Bytes) {
        self.request_body = Some(body);
    }

    /// Keeps a whole response body when it carried no usage.
    pub fn capture_whole_response(&mut self, body: Bytes) {
        self.response = ResponseCapture::Whole(body);
    }

    /// Whether stream events are still worth keeping: no usage was reported yet.
    pub fn wants_stream_capture(&self) -> bool {
        self.outcome.as_ref().is_some_and(|o| o.usage.is_none())
    }

    /// Keeps one stream event's data until the provider reports usage (then it is not needed).
    pub fn capture_stream_event(&mut self, data: &str) {
        if self.outcome.as_ref().is_some_and(|o| o.usage.is_some()) {
            return;
        }
        if !matches!(self.response, ResponseCapture::StreamEvents(_)) {
            self.response = ResponseCapture::StreamEvents(Vec::new());
        }
        if let ResponseCapture::StreamEvents(events) = &mut self.response
            && events.len() + data.len() < MAX_CAPTURE_BYTES
            && self.reservation.grow(data.len() + 1)
        {
            events.extend_from_slice(data.as_bytes());
            events.push(b'\n');
        }
    }

    /// A recorder that reports nothing: what stays behind when the real one moves into a stream.
    pub fn detached() -> Self {
        RequestRecorder {
            outcome: None,
            started: Instant::now(),
            sink: OutcomeSink::default(),
            request_body: None,
            response: ResponseCapture::None,
            reservation: CaptureReservation::default(),
        }
    }

    fn with(&mut self, f: impl FnOnce(&mut RequestOutcome)) {
        if let Some(outcome) = self.outcome.as_mut() {
            f(outcome);
        }
    }

    /// Records what the client asked for and announces the request to live viewers.
    pub fn set_request(&mut self, client_model: &str, stream: bool) {
        self.with(|o| {
            o.client_model = Some(client_model.to_owned());
            o.stream = stream;
        });
        if let Some(outcome) = &self.outcome {
            self.sink.announce(outcome);
        }
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
            // Only a request that reached a provider can have used tokens.
            if outcome.usage.is_none()
                && outcome.provider.is_some()
                && let Some(request) = self.request_body.take()
            {
                outcome.capture = Some(Capture {
                    request,
                    response: std::mem::take(&mut self.response),
                    _reservation: Arc::new(std::mem::take(&mut self.reservation)),
                });
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_outcomes_are_warned_about_at_most_once_a_second_with_a_count() {
        let drops = DropCounter::new();
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(drops.record(at(0)), Some(1));
        assert_eq!(drops.record(at(10)), None);
        assert_eq!(drops.record(at(999)), None);
        assert_eq!(drops.record(at(1_000)), Some(3));
        assert_eq!(drops.record(at(1_500)), None);
        assert_eq!(drops.record(at(5_000)), Some(2));
    }
}
