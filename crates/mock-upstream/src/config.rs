//! Mock behaviour settings: the server-wide [`MockConfig`] and its per-request `x-mock-*` header overrides.

use std::str::FromStr;
use std::time::Duration;

use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::faults::Fault;

/// Header overriding [`MockConfig::chunks`] for one request.
pub const HEADER_CHUNKS: &str = "x-mock-chunks";
/// Header overriding [`MockConfig::usage`] for one request (`final`, `finish-chunk`, `none`).
pub const HEADER_USAGE: &str = "x-mock-usage";
/// Header overriding [`MockConfig::chunk_gap_ms`] for one request.
pub const HEADER_CHUNK_GAP_MS: &str = "x-mock-chunk-gap-ms";
/// Header carrying a JSON [`Fault`] for one request (takes precedence over the fault queue).
pub const HEADER_FAULT: &str = "x-mock-fault";

/// Server-wide behaviour; every field can be overridden per request by an `x-mock-*` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MockConfig {
    /// Content chunks per streamed reply (at least one is always sent).
    pub chunks: usize,
    /// Pause between two SSE events of a stream, in milliseconds.
    pub chunk_gap_ms: u64,
    /// How streams report token usage.
    pub usage: UsageMode,
    /// Whether requests are recorded (turn off for benchmarks).
    pub record: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            chunks: 5,
            chunk_gap_ms: 0,
            usage: UsageMode::Final,
            record: true,
        }
    }
}

/// How a streamed reply reports token usage. Anthropic streams ignore it: their usage is part of
/// `message_start` and `message_delta` whatever the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UsageMode {
    /// OpenAI: a last chunk with `"choices":[]` and the usage, only when the request sets
    /// `stream_options.include_usage`; every other chunk then carries `"usage":null`.
    /// Gemini: cumulative `usageMetadata` on every chunk (the last has the final counts).
    Final,
    /// DeepSeek style: usage on the chunk carrying `finish_reason`, whatever the request asked.
    /// Gemini: `usageMetadata` on the last chunk only.
    FinishChunk,
    /// Streams never report usage.
    None,
}

impl UsageMode {
    /// The spelling used by headers, the CLI and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Final => "final",
            Self::FinishChunk => "finish-chunk",
            Self::None => "none",
        }
    }
}

/// A usage mode spelled neither `final`, `finish-chunk` nor `none`.
#[derive(Debug, thiserror::Error)]
#[error("unknown usage mode `{0}`; known: `final`, `finish-chunk`, `none`")]
pub struct ParseUsageModeError(String);

impl FromStr for UsageMode {
    type Err = ParseUsageModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "final" => Ok(Self::Final),
            "finish-chunk" => Ok(Self::FinishChunk),
            "none" => Ok(Self::None),
            other => Err(ParseUsageModeError(other.to_owned())),
        }
    }
}

/// An `x-mock-*` header the mock could not understand.
#[derive(Debug, thiserror::Error)]
#[error("mock-upstream: invalid `{header}` header: {reason}")]
pub(crate) struct OverrideError {
    header: &'static str,
    reason: String,
}

/// The settings that apply to one request: the server config with its header overrides applied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestOptions {
    pub chunks: usize,
    pub chunk_gap: Duration,
    pub usage: UsageMode,
    pub record: bool,
    /// The reply stops early for safety ([`Fault::Refusal`]).
    pub refusal: bool,
}

impl RequestOptions {
    /// Applies the `x-mock-*` overrides in `headers` to `config`; also returns the header's fault.
    pub fn resolve(
        config: &MockConfig,
        headers: &HeaderMap,
    ) -> Result<(Self, Option<Fault>), OverrideError> {
        let mut options = Self {
            chunks: config.chunks,
            chunk_gap: Duration::from_millis(config.chunk_gap_ms),
            usage: config.usage,
            record: config.record,
            refusal: false,
        };
        if let Some(value) = header_str(headers, HEADER_CHUNKS)? {
            options.chunks = parse_number(HEADER_CHUNKS, value)?;
        }
        if let Some(value) = header_str(headers, HEADER_CHUNK_GAP_MS)? {
            options.chunk_gap = Duration::from_millis(parse_number(HEADER_CHUNK_GAP_MS, value)?);
        }
        if let Some(value) = header_str(headers, HEADER_USAGE)? {
            options.usage = value
                .parse()
                .map_err(|e: ParseUsageModeError| OverrideError {
                    header: HEADER_USAGE,
                    reason: e.to_string(),
                })?;
        }
        options.chunks = options.chunks.max(1);
        let fault = match header_str(headers, HEADER_FAULT)? {
            Some(value) => Some(serde_json::from_str(value).map_err(|e| OverrideError {
                header: HEADER_FAULT,
                reason: e.to_string(),
            })?),
            None => None,
        };
        Ok((options, fault))
    }
}

fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, OverrideError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(Some).map_err(|_| OverrideError {
            header: name,
            reason: "not visible ASCII".to_owned(),
        }),
    }
}

fn parse_number<T: FromStr>(header: &'static str, value: &str) -> Result<T, OverrideError> {
    value.trim().parse().map_err(|_| OverrideError {
        header,
        reason: format!("`{value}` is not a non-negative integer"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn headers_override_config() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_CHUNKS, HeaderValue::from_static("9"));
        headers.insert(HEADER_CHUNK_GAP_MS, HeaderValue::from_static("3"));
        headers.insert(HEADER_USAGE, HeaderValue::from_static("finish-chunk"));
        headers.insert(
            HEADER_FAULT,
            HeaderValue::from_static(r#"{"kind":"delay-first-byte","ms":1}"#),
        );
        let (options, fault) = RequestOptions::resolve(&MockConfig::default(), &headers).unwrap();
        assert_eq!(options.chunks, 9);
        assert_eq!(options.chunk_gap, Duration::from_millis(3));
        assert_eq!(options.usage, UsageMode::FinishChunk);
        assert!(matches!(fault, Some(Fault::DelayFirstByte { ms: 1 })));
    }

    #[test]
    fn bad_override_names_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_USAGE, HeaderValue::from_static("sometimes"));
        let err = RequestOptions::resolve(&MockConfig::default(), &headers).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mock-upstream: invalid `x-mock-usage` header: unknown usage mode `sometimes`; known: `final`, `finish-chunk`, `none`"
        );
    }

    #[test]
    fn zero_chunks_means_one() {
        let config = MockConfig {
            chunks: 0,
            ..MockConfig::default()
        };
        let (options, _) = RequestOptions::resolve(&config, &HeaderMap::new()).unwrap();
        assert_eq!(options.chunks, 1);
    }
}
