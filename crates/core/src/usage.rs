//! Token usage: the canonical `Usage` and how it is read from provider payloads.

use serde::{Deserialize, Serialize};

/// Tokens one request used. `input_tokens` counts the whole prompt, cached part included;
/// `cached_input_tokens` says how much of it was read from the provider's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
}

/// OpenAI's `usage` object (chat completions and embeddings).
#[derive(Debug, Default, Deserialize)]
pub struct OpenAiUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionDetails>,
    /// DeepSeek reports cache hits here instead of `prompt_tokens_details`.
    #[serde(default)]
    pub prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

impl From<OpenAiUsage> for Usage {
    fn from(u: OpenAiUsage) -> Usage {
        let cached = u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .or(u.prompt_cache_hit_tokens)
            .unwrap_or(0);
        Usage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cached_input_tokens: cached,
            cache_write_tokens: 0,
            reasoning_tokens: u
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }
}

/// The parts of an OpenAI response body or stream chunk the gateway looks at.
#[derive(Debug, Deserialize)]
pub struct OpenAiProbe {
    #[serde(default)]
    pub usage: Option<OpenAiUsage>,
    #[serde(default)]
    pub choices: Option<Vec<serde::de::IgnoredAny>>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

/// Usage from a full (non-streamed) OpenAI response body, if it reports any.
pub fn from_openai_body(body: &[u8]) -> Option<Usage> {
    serde_json::from_slice::<OpenAiProbe>(body)
        .ok()?
        .usage
        .map(Usage::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cached_and_reasoning_details() {
        let body = br#"{"id":"x","choices":[],"usage":{"prompt_tokens":120,"completion_tokens":30,
            "total_tokens":150,"prompt_tokens_details":{"cached_tokens":100},
            "completion_tokens_details":{"reasoning_tokens":12}}}"#;
        assert_eq!(
            from_openai_body(body),
            Some(Usage {
                input_tokens: 120,
                output_tokens: 30,
                cached_input_tokens: 100,
                cache_write_tokens: 0,
                reasoning_tokens: 12
            })
        );
    }

    #[test]
    fn reads_deepseek_cache_hits_and_embeddings_usage() {
        let deepseek =
            br#"{"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_cache_hit_tokens":8}}"#;
        assert_eq!(
            from_openai_body(deepseek).map(|u| u.cached_input_tokens),
            Some(8)
        );
        let embeddings =
            br#"{"object":"list","data":[],"usage":{"prompt_tokens":7,"total_tokens":7}}"#;
        assert_eq!(
            from_openai_body(embeddings).map(|u| (u.input_tokens, u.output_tokens)),
            Some((7, 0))
        );
        assert_eq!(from_openai_body(br#"{"usage":null}"#), None);
        assert_eq!(from_openai_body(b"not json"), None);
    }
}
