//! What the mock saw: [`RecordedRequest`]s kept in arrival order, bounded, plus the [`Usage`] it reported.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use serde::{Deserialize, Serialize};

/// At most this many requests are kept; the oldest are dropped first.
pub const MAX_RECORDS: usize = 100_000;

/// Token usage in OpenAI's shape (other dialects map their own field names onto it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

impl Usage {
    /// Usage with `total_tokens` computed from its two parts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
        }
    }
}

/// The parts of [`Usage`] a dialect breaks out: each is already counted in `prompt_tokens` or
/// `completion_tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDetails {
    /// Prompt tokens read from the provider's cache (Anthropic `cache_read_input_tokens`,
    /// Gemini `cachedContentTokenCount`).
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: u64,
    /// Completion tokens spent thinking (Gemini `thoughtsTokenCount`; Anthropic bills them as
    /// `output_tokens` without a field of their own, so this is what the mock counted).
    pub reasoning_tokens: u64,
}

/// The usage recorded with a request: the totals, and the breakdown when the dialect has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SentUsage {
    pub usage: Usage,
    pub details: Option<UsageDetails>,
}

impl From<Usage> for SentUsage {
    fn from(usage: Usage) -> Self {
        Self {
            usage,
            details: None,
        }
    }
}

/// One request as received by the mock.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path including the query string, e.g. `/v1/chat/completions?x=1`.
    pub path: String,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The usage the mock reported (or would have reported, had the stream carried it), in OpenAI's
    /// terms: `prompt_tokens` includes cached tokens, `completion_tokens` includes reasoning.
    pub sent_usage: Option<Usage>,
    /// The breakdown of `sent_usage` for dialects that report one (Anthropic, Gemini); `None` for
    /// OpenAI replies.
    pub sent_usage_details: Option<UsageDetails>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON, or `Value::Null` when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub(crate) fn new(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Bytes,
        sent: Option<SentUsage>,
    ) -> Self {
        Self {
            method: method.as_str().to_owned(),
            path: uri
                .path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            headers: headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
            sent_usage: sent.map(|s| s.usage),
            sent_usage_details: sent.and_then(|s| s.details),
        }
    }
}

/// The JSON view served by `GET /_mock/requests`: the body as text, and as JSON when it is JSON.
#[derive(Serialize)]
pub(crate) struct RecordedRequestView<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(String, String)],
    body: std::borrow::Cow<'a, str>,
    json: Option<serde_json::Value>,
    sent_usage: Option<Usage>,
    sent_usage_details: Option<UsageDetails>,
}

impl<'a> From<&'a RecordedRequest> for RecordedRequestView<'a> {
    fn from(request: &'a RecordedRequest) -> Self {
        Self {
            method: &request.method,
            path: &request.path,
            headers: &request.headers,
            body: String::from_utf8_lossy(&request.body),
            json: serde_json::from_slice(&request.body).ok(),
            sent_usage: request.sent_usage,
            sent_usage_details: request.sent_usage_details,
        }
    }
}

/// The bounded, ordered store of recorded requests.
#[derive(Default)]
pub(crate) struct Recorder {
    records: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    pub fn push(&self, request: RecordedRequest) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= MAX_RECORDS {
            records.pop_front();
        }
        records.push_back(request);
    }

    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn records_path_query_and_lowercase_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Custom", HeaderValue::from_static("one"));
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        let uri: Uri = "/v1/models?limit=2".parse().unwrap();
        let request = RecordedRequest::new(
            &Method::GET,
            &uri,
            &headers,
            Bytes::from_static(b"{\"a\":1}"),
            None,
        );
        assert_eq!(request.path, "/v1/models?limit=2");
        assert_eq!(request.header("X-CUSTOM"), Some("one"));
        assert_eq!(request.header("accept"), Some("a"));
        assert_eq!(request.headers.len(), 3);
        assert_eq!(request.json()["a"], 1);
    }

    #[test]
    fn recorder_is_bounded() {
        let recorder = Recorder::default();
        let uri: Uri = "/x".parse().unwrap();
        for _ in 0..MAX_RECORDS + 3 {
            recorder.push(RecordedRequest::new(
                &Method::GET,
                &uri,
                &HeaderMap::new(),
                Bytes::new(),
                None,
            ));
        }
        assert_eq!(recorder.snapshot().len(), MAX_RECORDS);
        recorder.clear();
        assert!(recorder.snapshot().is_empty());
    }
}
