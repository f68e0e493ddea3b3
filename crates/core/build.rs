//! Compiles the bundled price table (`data/model-prices.json`) into static arrays
//! (`$OUT_DIR/model_prices.rs`, included by `src/accounting/pricing.rs`). Parsing the 750 KB of
//! JSON at run time read every page of it and left about a megabyte of maps on the heap of every
//! gateway that priced one request; the arrays are read-only data of which a lookup touches a few
//! pages.
//!
//! What is kept, and how an entry becomes a price, is described in `pricing.rs`: entries are
//! sorted by key, an unreadable entry or one whose `mode` is not priced is skipped, an embedding
//! without an output price has output price 0, an entry without input (or output) price has none.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::value::RawValue;

const SOURCE: &str = "data/model-prices.json";

/// One entry as LiteLLM writes it; other fields are ignored.
#[derive(Deserialize)]
struct RawEntry {
    litellm_provider: String,
    mode: Option<String>,
    max_input_tokens: Option<u64>,
    max_output_tokens: Option<u64>,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    output_cost_per_reasoning_token: Option<f64>,
}

impl RawEntry {
    fn is_priced_mode(&self) -> bool {
        matches!(
            self.mode.as_deref(),
            Some("chat" | "completion" | "embedding" | "responses")
        )
    }

    /// The entry as a `ModelInfo` expression.
    fn model_info(&self) -> String {
        // Embeddings produce no output tokens, so LiteLLM often leaves their output price out.
        let output = match (self.output_cost_per_token, self.mode.as_deref()) {
            (Some(output), _) => Some(output),
            (None, Some("embedding")) => Some(0.0),
            (None, _) => None,
        };
        let price = match (self.input_cost_per_token, output) {
            (Some(input), Some(output)) => format!(
                "Some(Price {{ input: {}, output: {}, cached_input: {}, cache_write: {}, reasoning: {} }})",
                float(input),
                float(output),
                optional_float(self.cache_read_input_token_cost),
                optional_float(self.cache_creation_input_token_cost),
                optional_float(self.output_cost_per_reasoning_token),
            ),
            _ => "None".to_owned(),
        };
        format!(
            "ModelInfo {{ price: {price}, max_input_tokens: {:?}, max_output_tokens: {:?} }}",
            self.max_input_tokens, self.max_output_tokens
        )
    }
}

/// The exact value as read by serde_json (its bits), not a decimal that might round differently.
fn float(value: f64) -> String {
    format!("f64::from_bits({:#x})", value.to_bits())
}

fn optional_float(value: Option<f64>) -> String {
    value.map_or_else(|| "None".to_owned(), |v| format!("Some({})", float(v)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed={SOURCE}");
    let json = std::fs::read_to_string(SOURCE)?;
    // Sorted by key; of two equal keys the later one counts, as in any JSON object reader.
    let raw: BTreeMap<String, Box<RawValue>> = serde_json::from_str(&json)
        .map_err(|e| format!("{SOURCE} is not a JSON object of entries: {e}"))?;

    let mut keys = String::new();
    let mut key_ends = Vec::new();
    let mut providers: Vec<String> = Vec::new();
    let mut entry_providers = Vec::new();
    let mut infos = Vec::new();
    for (key, value) in &raw {
        let Ok(entry) = serde_json::from_str::<RawEntry>(value.get()) else {
            continue;
        };
        if !entry.is_priced_mode() {
            continue;
        }
        keys.push_str(key);
        key_ends.push(u32::try_from(keys.len())?);
        let provider = match providers.iter().position(|p| *p == entry.litellm_provider) {
            Some(index) => index,
            None => {
                providers.push(entry.litellm_provider.clone());
                providers.len() - 1
            }
        };
        entry_providers.push(u16::try_from(provider)?);
        infos.push(entry.model_info());
    }
    let count = key_ends.len();
    u16::try_from(count)?;

    // The case-insensitive index: the first entry (in key order) of each lowercased key, sorted
    // by lowercased key.
    let mut starts = Vec::with_capacity(count);
    let mut start = 0;
    for &end in &key_ends {
        starts.push((start, end as usize));
        start = end as usize;
    }
    let lowercase_key = |index: usize| {
        let (start, end) = starts[index];
        keys[start..end].to_ascii_lowercase()
    };
    let mut seen = HashSet::new();
    let mut lowercase: Vec<usize> = (0..count)
        .filter(|&index| seen.insert(lowercase_key(index)))
        .collect();
    lowercase.sort_by_cached_key(|&index| lowercase_key(index));

    let mut out = String::new();
    writeln!(out, "// Generated by build.rs from {SOURCE}; do not edit.")?;
    writeln!(out, "pub(super) static KEYS: &str = {keys:?};")?;
    writeln!(
        out,
        "pub(super) static KEY_ENDS: [u32; {count}] = {key_ends:?};"
    )?;
    writeln!(
        out,
        "pub(super) static PROVIDERS: [&str; {}] = {providers:?};",
        providers.len()
    )?;
    writeln!(
        out,
        "pub(super) static ENTRY_PROVIDERS: [u16; {count}] = {entry_providers:?};"
    )?;
    writeln!(
        out,
        "pub(super) static BY_LOWERCASE_KEY: [u16; {}] = {lowercase:?};",
        lowercase.len()
    )?;
    writeln!(out, "pub(super) static INFOS: [ModelInfo; {count}] = [")?;
    for info in &infos {
        writeln!(out, "    {info},")?;
    }
    writeln!(out, "];")?;

    let path = PathBuf::from(std::env::var("OUT_DIR")?).join("model_prices.rs");
    std::fs::write(path, out)?;
    Ok(())
}
