//! Model prices: the bundled LiteLLM price table, looking a model up by provider and model id,
//! user price overrides, and the cost of one request.
//!
//! # Table
//!
//! `data/model-prices.json` (a trimmed LiteLLM snapshot, see `data/README.md`) is turned into
//! static arrays at build time (`build.rs`): the keys in order, one [`ModelInfo`] per key, and an
//! index for case-insensitive lookups, all searched by bisection, so nothing is parsed or
//! allocated at run time and a lookup reads a few pages of them. Only entries whose `mode` is
//! `chat`, `completion`, `embedding` or `responses` are kept; an entry that cannot be read is
//! skipped (a unit test insists the bundled file has none). An entry without an input price, or a
//! non-embedding entry without an output price, has no [`Price`]: its cost is unknown, never zero.
//!
//! # Match strategy
//!
//! A price must belong to the model *and the host that serves it*: the same open model costs very
//! different amounts at Groq, Together or DeepSeek, and a gateway that routes `claude-sonnet` to a
//! Kimi model must not bill Anthropic's price. So there is no fuzzy matching, and every known
//! preset has a *scope*: the LiteLLM key prefixes and `litellm_provider` values that are really
//! that provider (`groq` → `groq/…`, provider `groq`; `openai` → bare keys and `openai/…`,
//! providers `openai`/`text-completion-openai`; …). Candidate keys, first match wins:
//!
//! 1. `<prefix><upstream>` for each prefix of the preset's scope (`groq/openai/gpt-oss-120b`);
//! 2. the bare upstream id (`gpt-4o`, `deepseek-chat`);
//! 3. `<provider name>/<upstream>` (a provider the user named after a LiteLLM prefix);
//! 4. OpenRouter only: its ids are `vendor/model` and it passes vendor prices through, so
//!    `openai/gpt-4o` is also tried as the vendor's own entry (`gpt-4o`, scope `openai`);
//! 5. the client's model id, as in 1 and 2 — only for a known preset, whose scope makes sure the
//!    entry is that provider's (for a custom provider the client id says nothing about what the
//!    upstream actually runs);
//! 6. all of the above again, ignoring ASCII case.
//!
//! For a known preset every candidate must also be in the preset's scope. A custom provider
//! (`preset = None`) or a preset without a scope here has no such check: its upstream id is
//! taken at face value. Local presets (`ollama`, `lmstudio`) cost zero; their context limit still
//! comes from an `ollama/<model>` entry when there is one. Presets whose provider the table does
//! not cover (in this snapshot: `nvidia` → `nvidia_nim`, `siliconflow`, `openrouter`'s own keys)
//! find nothing and their cost stays unknown until the user sets a price override.

use std::cmp::Ordering;

use serde::Deserialize;

use crate::usage::Usage;

/// USD per token.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Input tokens read from the provider's prompt cache; `None` bills them at `input`.
    pub cached_input: Option<f64>,
    /// Input tokens written to the provider's prompt cache; `None` bills them at `input`.
    pub cache_write: Option<f64>,
    /// Reasoning tokens, when the provider prices them apart from other output; `None` bills
    /// them at `output` (they are part of `output_tokens`).
    pub reasoning: Option<f64>,
}

impl Price {
    /// What a model running on the user's own machine costs.
    pub const FREE: Price = Price {
        input: 0.0,
        output: 0.0,
        cached_input: None,
        cache_write: None,
        reasoning: None,
    };
}

/// What the table knows about one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModelInfo {
    /// `None`: the cost of this model is unknown (never read as zero).
    pub price: Option<Price>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

impl ModelInfo {
    /// A model the table does not know.
    pub const UNKNOWN: ModelInfo = ModelInfo {
        price: None,
        max_input_tokens: None,
        max_output_tokens: None,
    };
}

/// A user override from config, USD per MILLION tokens: `price = { input = 0.6, output = 2.5, cached_input = 0.06 }`.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
    pub cached_input: Option<f64>,
    pub cache_write: Option<f64>,
}

const TOKENS_PER_MILLION: f64 = 1_000_000.0;

impl From<PriceOverride> for Price {
    fn from(per_million: PriceOverride) -> Price {
        Price {
            input: per_million.input / TOKENS_PER_MILLION,
            output: per_million.output / TOKENS_PER_MILLION,
            cached_input: per_million.cached_input.map(|p| p / TOKENS_PER_MILLION),
            cache_write: per_million.cache_write.map(|p| p / TOKENS_PER_MILLION),
            reasoning: None,
        }
    }
}

/// Looks a model up by the provider's preset (e.g. `Some("nvidia")`, `Some("openai")`, `None` for
/// custom providers), the provider's configured name, the upstream model id and the client's model
/// id, most specific first (see the module doc). Local presets (`ollama`, `lmstudio`) cost zero.
/// Unknown → `ModelInfo { price: None, .. }` (cost unknown, never zero).
pub fn lookup(
    preset: Option<&str>,
    provider_name: &str,
    upstream_model: &str,
    client_model: &str,
) -> ModelInfo {
    BundledTable.lookup(preset, provider_name, upstream_model, client_model)
}

/// Cost of one request in USD, following LiteLLM's arithmetic.
///
/// `usage.input_tokens` is the whole prompt: it INCLUDES the cached tokens (`cached_input_tokens`,
/// billed at `cached_input` when known, else at `input`) and the tokens written to the cache
/// (`cache_write_tokens`, billed at `cache_write` when known, else at `input`); the rest is billed
/// at `input`. `reasoning_tokens` are part of `output_tokens`: when the price has a separate
/// `reasoning` rate they are billed at it and the rest of the output at `output` (LiteLLM's
/// `output_cost_per_reasoning_token`), otherwise all output is billed at `output`.
pub fn cost(usage: &Usage, price: &Price) -> f64 {
    let cached = usage.cached_input_tokens.min(usage.input_tokens);
    // Cache writes are always billed in full; inconsistent counts shrink the uncached part
    // rather than letting a request bill more tokens than it reported.
    let uncached = usage
        .input_tokens
        .saturating_sub(cached)
        .saturating_sub(usage.cache_write_tokens);
    let reasoning = match price.reasoning {
        Some(_) => usage.reasoning_tokens.min(usage.output_tokens),
        None => 0,
    };
    let plain_output = usage.output_tokens - reasoning;

    uncached as f64 * price.input
        + cached as f64 * price.cached_input.unwrap_or(price.input)
        + usage.cache_write_tokens as f64 * price.cache_write.unwrap_or(price.input)
        + plain_output as f64 * price.output
        + reasoning as f64 * price.reasoning.unwrap_or(price.output)
}

/// The bundled table, as generated by `build.rs`.
mod bundled {
    use super::{ModelInfo, Price};

    include!(concat!(env!("OUT_DIR"), "/model_prices.rs"));
}

/// Which LiteLLM entries are really one provider's.
struct ProviderScope {
    /// Key prefixes, most specific first; `""` means bare keys.
    prefixes: &'static [&'static str],
    /// Accepted `litellm_provider` values.
    litellm_providers: &'static [&'static str],
}

const fn scope(
    prefixes: &'static [&'static str],
    litellm_providers: &'static [&'static str],
) -> ProviderScope {
    ProviderScope {
        prefixes,
        litellm_providers,
    }
}

/// Scopes of the presets (and of a few obvious providers that may become presets).
fn preset_scope(preset: &str) -> Option<ProviderScope> {
    Some(match preset {
        "openai" => scope(&["", "openai/"], &["openai", "text-completion-openai"]),
        "nvidia" => scope(&["nvidia_nim/"], &["nvidia_nim"]),
        "groq" => scope(&["groq/"], &["groq"]),
        "siliconflow" => scope(&["siliconflow/"], &["siliconflow"]),
        "mistral" => scope(&["mistral/"], &["mistral"]),
        "openrouter" => scope(&["openrouter/"], &["openrouter"]),
        "deepseek" => scope(&["deepseek/", ""], &["deepseek"]),
        "moonshot" => scope(&["moonshot/"], &["moonshot"]),
        "together" => scope(&["together_ai/"], &["together_ai"]),
        "anthropic" => scope(&["", "anthropic/"], &["anthropic"]),
        "gemini" => scope(&["gemini/"], &["gemini"]),
        "xai" => scope(&["xai/"], &["xai"]),
        "fireworks" => scope(
            &["fireworks_ai/"],
            &["fireworks_ai", "fireworks_ai-embedding-models"],
        ),
        "cerebras" => scope(&["cerebras/"], &["cerebras"]),
        "deepinfra" => scope(&["deepinfra/"], &["deepinfra"]),
        "perplexity" => scope(&["perplexity/"], &["perplexity"]),
        "zai" => scope(&["zai/"], &["zai"]),
        _ => return None,
    })
}

/// The preset whose prices OpenRouter passes through for its `vendor/model` ids.
fn openrouter_vendor_preset(vendor: &str) -> Option<&'static str> {
    Some(match vendor {
        "openai" => "openai",
        "anthropic" => "anthropic",
        "google" => "gemini",
        "deepseek" => "deepseek",
        "mistralai" => "mistral",
        "moonshotai" => "moonshot",
        "x-ai" => "xai",
        "z-ai" => "zai",
        _ => return None,
    })
}

fn is_local_preset(preset: &str) -> bool {
    matches!(preset, "ollama" | "lmstudio")
}

/// One candidate key and the providers its entry may belong to (`None`: any).
struct Candidate {
    key: String,
    litellm_providers: Option<&'static [&'static str]>,
}

/// The bundled table (`bundled`): entry `i` has key `KEYS[KEY_ENDS[i - 1]..KEY_ENDS[i]]`,
/// provider `PROVIDERS[ENTRY_PROVIDERS[i]]` and info `INFOS[i]`; keys are sorted, and
/// `BY_LOWERCASE_KEY` lists the first entry of each lowercased key, sorted by lowercased key.
struct BundledTable;

impl BundledTable {
    fn len(&self) -> usize {
        bundled::KEY_ENDS.len()
    }

    fn key(&self, index: usize) -> &'static str {
        let start = match index.checked_sub(1) {
            Some(previous) => bundled::KEY_ENDS.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        let end = bundled::KEY_ENDS.get(index).copied().unwrap_or(start);
        bundled::KEYS
            .get(start as usize..end as usize)
            .unwrap_or("")
    }

    fn litellm_provider(&self, index: usize) -> &'static str {
        let provider = bundled::ENTRY_PROVIDERS.get(index).copied().unwrap_or(0);
        bundled::PROVIDERS
            .get(usize::from(provider))
            .copied()
            .unwrap_or("")
    }

    /// The entry with exactly this key.
    fn by_key(&self, key: &str) -> Option<usize> {
        bisect(self.len(), |index| self.key(index).cmp(key))
    }

    /// The first entry whose key is `lowercase` ignoring ASCII case (`lowercase` is lowercase).
    fn by_lowercase_key(&self, lowercase: &str) -> Option<usize> {
        let found = bisect(bundled::BY_LOWERCASE_KEY.len(), |position| {
            let index = bundled::BY_LOWERCASE_KEY
                .get(position)
                .map_or(0, |&i| usize::from(i));
            let key = self.key(index).bytes().map(|b| b.to_ascii_lowercase());
            key.cmp(lowercase.bytes())
        })?;
        bundled::BY_LOWERCASE_KEY
            .get(found)
            .map(|&i| usize::from(i))
    }

    fn lookup(
        &self,
        preset: Option<&str>,
        provider_name: &str,
        upstream_model: &str,
        client_model: &str,
    ) -> ModelInfo {
        if let Some(local) = preset.filter(|p| is_local_preset(p)) {
            let max_input_tokens = match local {
                "ollama" => self
                    .find(&[Candidate {
                        key: format!("ollama/{upstream_model}"),
                        litellm_providers: Some(&["ollama"]),
                    }])
                    .and_then(|info| info.max_input_tokens),
                _ => None,
            };
            return ModelInfo {
                price: Some(Price::FREE),
                max_input_tokens,
                max_output_tokens: None,
            };
        }
        let candidates = candidates(preset, provider_name, upstream_model, client_model);
        self.find(&candidates).unwrap_or(ModelInfo::UNKNOWN)
    }

    /// The first candidate found, by exact key, then ignoring ASCII case.
    fn find(&self, candidates: &[Candidate]) -> Option<ModelInfo> {
        let exact = candidates
            .iter()
            .find_map(|c| self.accept(self.by_key(&c.key), c));
        exact.or_else(|| {
            candidates.iter().find_map(|c| {
                let lowercase = c.key.to_ascii_lowercase();
                self.accept(self.by_lowercase_key(&lowercase), c)
            })
        })
    }

    fn accept(&self, index: Option<usize>, candidate: &Candidate) -> Option<ModelInfo> {
        let index = index?;
        let info = *bundled::INFOS.get(index)?;
        let provider = self.litellm_provider(index);
        let in_scope = candidate
            .litellm_providers
            .is_none_or(|allowed| allowed.contains(&provider));
        in_scope.then_some(info)
    }
}

/// The position in `0..len` where `compare` (of the item there with the one sought) is `Equal`,
/// in a range sorted by it.
fn bisect(len: usize, mut compare: impl FnMut(usize) -> Ordering) -> Option<usize> {
    let (mut low, mut high) = (0, len);
    while low < high {
        let middle = low + (high - low) / 2;
        match compare(middle) {
            Ordering::Less => low = middle + 1,
            Ordering::Greater => high = middle,
            Ordering::Equal => return Some(middle),
        }
    }
    None
}

/// Candidate keys, most specific first (see the module doc).
fn candidates(
    preset: Option<&str>,
    provider_name: &str,
    upstream_model: &str,
    client_model: &str,
) -> Vec<Candidate> {
    if upstream_model.is_empty() {
        return Vec::new();
    }
    let scope = preset.and_then(preset_scope);
    let allowed = scope.as_ref().map(|s| s.litellm_providers);
    let prefixes = scope.as_ref().map_or(&[][..], |s| s.prefixes);
    let mut out = Vec::new();
    let mut push = |key: String, litellm_providers: Option<&'static [&'static str]>| {
        if !out.iter().any(|c: &Candidate| c.key == key) {
            out.push(Candidate {
                key,
                litellm_providers,
            });
        }
    };

    for prefix in prefixes {
        push(format!("{prefix}{upstream_model}"), allowed);
    }
    push(upstream_model.to_owned(), allowed);
    if !provider_name.is_empty() {
        push(format!("{provider_name}/{upstream_model}"), allowed);
    }
    if preset == Some("openrouter") {
        let vendor_scope = upstream_model.split_once('/').and_then(|(vendor, model)| {
            let vendor_scope = preset_scope(openrouter_vendor_preset(vendor)?)?;
            Some((vendor_scope, model))
        });
        if let Some((vendor_scope, model)) = vendor_scope {
            for prefix in vendor_scope.prefixes {
                push(
                    format!("{prefix}{model}"),
                    Some(vendor_scope.litellm_providers),
                );
            }
        }
    }
    if scope.is_some() && !client_model.is_empty() {
        for prefix in prefixes {
            push(format!("{prefix}{client_model}"), allowed);
        }
        push(client_model.to_owned(), allowed);
    }
    out
}

#[cfg(test)]
mod tests;
