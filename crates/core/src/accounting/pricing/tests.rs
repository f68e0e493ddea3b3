//! Tests of the price table, lookups and cost arithmetic.

use std::collections::HashMap;

use super::*;

fn price_of(preset: Option<&str>, provider: &str, upstream: &str, client: &str) -> Price {
    lookup(preset, provider, upstream, client)
        .price
        .unwrap_or_else(|| panic!("no price for {preset:?} {provider} {upstream} {client}"))
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= expected.abs() * 1e-9 + 1e-15,
        "{actual} != {expected}"
    );
}

const BUNDLED_JSON: &str = include_str!("../../../data/model-prices.json");

/// What an entry of the JSON table should become (see the module doc), read independently of
/// `build.rs`.
fn expected_info(entry: &serde_json::Value) -> ModelInfo {
    let float = |field: &str| entry.get(field).map(|v| v.as_f64().unwrap());
    let int = |field: &str| entry.get(field).map(|v| v.as_u64().unwrap());
    let output = match (float("output_cost_per_token"), entry["mode"].as_str()) {
        (Some(output), _) => Some(output),
        (None, Some("embedding")) => Some(0.0),
        (None, _) => None,
    };
    let price = match (float("input_cost_per_token"), output) {
        (Some(input), Some(output)) => Some(Price {
            input,
            output,
            cached_input: float("cache_read_input_token_cost"),
            cache_write: float("cache_creation_input_token_cost"),
            reasoning: float("output_cost_per_reasoning_token"),
        }),
        _ => None,
    };
    ModelInfo {
        price,
        max_input_tokens: int("max_input_tokens"),
        max_output_tokens: int("max_output_tokens"),
    }
}

#[test]
fn every_bundled_entry_is_in_the_table_as_it_reads() {
    let raw: HashMap<&str, serde_json::Value> = serde_json::from_str(BUNDLED_JSON).unwrap();
    let known = [
        "litellm_provider",
        "mode",
        "max_input_tokens",
        "max_output_tokens",
        "input_cost_per_token",
        "output_cost_per_token",
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
        "output_cost_per_reasoning_token",
    ];
    for (key, value) in &raw {
        let fields = value.as_object().unwrap();
        assert!(
            fields.keys().all(|f| known.contains(&f.as_str())),
            "entry `{key}` has fields the table does not read: {:?}",
            fields.keys().collect::<Vec<_>>()
        );
        assert!(
            matches!(
                value["mode"].as_str(),
                Some("chat" | "completion" | "embedding" | "responses")
            ),
            "entry `{key}` has mode {:?}",
            value["mode"]
        );
        let index = BundledTable
            .by_key(key)
            .unwrap_or_else(|| panic!("entry `{key}` is not in the table"));
        assert_eq!(BundledTable.key(index), *key);
        assert_eq!(
            BundledTable.litellm_provider(index),
            value["litellm_provider"].as_str().unwrap(),
            "{key}"
        );
        assert_eq!(bundled::INFOS[index], expected_info(value), "{key}");
    }
    assert_eq!(BundledTable.len(), raw.len());
    assert!(raw.len() > 3000, "the bundled table looks truncated");
    let priced = bundled::INFOS.iter().filter(|i| i.price.is_some()).count();
    assert!(priced > 3000, "only {priced} entries have a price");
}

#[test]
fn keys_are_found_ignoring_case_first_key_first() {
    let mut first: HashMap<String, &str> = HashMap::new();
    for index in 0..BundledTable.len() {
        let key = BundledTable.key(index);
        if index > 0 {
            assert!(
                BundledTable.key(index - 1) < key,
                "keys out of order at `{key}`"
            );
        }
        first.entry(key.to_ascii_lowercase()).or_insert(key);
    }
    for (lowercase, key) in &first {
        let index = BundledTable.by_lowercase_key(lowercase).unwrap();
        assert_eq!(BundledTable.key(index), *key);
    }
    assert_eq!(BundledTable.by_lowercase_key("gpt-4o-ultra"), None);
    assert_eq!(BundledTable.by_key("GPT-4o"), None);
}

#[test]
fn openai_preset_finds_bare_keys() {
    let gpt4o = lookup(Some("openai"), "openai", "gpt-4o", "gpt-4o");
    assert_eq!(gpt4o.max_input_tokens, Some(128_000));
    let price = gpt4o.price.unwrap();
    assert_close(price.input, 2.5e-6);
    assert_close(price.output, 1e-5);
    assert_eq!(price.cached_input, Some(1.25e-6));
    // Case is forgiven; whole ids are still required.
    assert_eq!(lookup(Some("openai"), "openai", "GPT-4o", "x"), gpt4o);
    assert_eq!(
        lookup(Some("openai"), "openai", "gpt-4", "x")
            .price
            .map(|p| p.input),
        Some(3e-5)
    );
    assert_eq!(
        lookup(Some("openai"), "openai", "gpt-4o-ultra", "x"),
        ModelInfo::UNKNOWN
    );
    // Embeddings have no output price in the table; their output costs nothing.
    let embedding = price_of(Some("openai"), "openai", "text-embedding-3-small", "e");
    assert_eq!((embedding.input, embedding.output), (2e-8, 0.0));
}

#[test]
fn vendor_presets_use_their_own_entries() {
    let groq = price_of(Some("groq"), "groq", "openai/gpt-oss-120b", "gpt-oss");
    assert_close(groq.input, 1.5e-7);
    assert_eq!(groq.cached_input, Some(7.5e-8));

    let deepseek = price_of(Some("deepseek"), "deepseek", "deepseek-chat", "ds");
    assert_close(deepseek.input, 2.8e-7);
    assert_close(deepseek.output, 4.2e-7);
    assert_eq!(deepseek.cached_input, Some(2.8e-8));

    let kimi = lookup(Some("moonshot"), "kimi", "kimi-k2.5", "kimi");
    assert_eq!(kimi.max_input_tokens, Some(262_144));
    assert_close(kimi.price.unwrap().output, 3e-6);

    let mistral = lookup(Some("mistral"), "mistral", "codestral-latest", "c");
    assert!(mistral.price.is_some());

    // The table has no `nvidia_nim/` entries: NVIDIA-hosted models are unknown, not guessed
    // from another host's price for the same open model.
    assert_eq!(
        lookup(
            Some("nvidia"),
            "nvidia",
            "openai/gpt-oss-120b",
            "gpt-oss-120b"
        ),
        ModelInfo::UNKNOWN
    );
    assert_eq!(
        lookup(Some("siliconflow"), "sf", "deepseek-ai/DeepSeek-V3", "ds"),
        ModelInfo::UNKNOWN
    );
}

#[test]
fn a_client_alias_never_borrows_another_providers_price() {
    // Claude Code asks for a Claude model; the route sends it to Kimi on NVIDIA.
    assert_eq!(
        lookup(
            Some("nvidia"),
            "nvidia",
            "moonshotai/kimi-k2-instruct",
            "claude-sonnet-4-5"
        ),
        ModelInfo::UNKNOWN
    );
    // Custom providers do not use the client id at all.
    assert_eq!(
        lookup(None, "my-vllm", "local-finetune", "gpt-4o"),
        ModelInfo::UNKNOWN
    );
    // A bare key of another provider is out of a preset's scope.
    assert_eq!(
        lookup(Some("groq"), "groq", "gpt-4o", "gpt-4o"),
        ModelInfo::UNKNOWN
    );
    // Within the scope, the client id is the last resort.
    let by_client = lookup(Some("openai"), "openai", "my-deployment", "gpt-4o-mini");
    assert_close(by_client.price.unwrap().input, 1.5e-7);
}

#[test]
fn custom_providers_match_by_upstream_id_and_provider_name() {
    assert_close(price_of(None, "corp-proxy", "gpt-4o", "fast").input, 2.5e-6);
    let cerebras = price_of(None, "cerebras", "llama3.1-8b", "fast");
    assert_eq!(
        cerebras,
        price_of(Some("cerebras"), "c", "llama3.1-8b", "x")
    );
}

#[test]
fn openrouter_passes_vendor_prices_through() {
    let via_openrouter = price_of(Some("openrouter"), "or", "openai/gpt-4o", "gpt-4o");
    assert_eq!(
        via_openrouter,
        price_of(Some("openai"), "openai", "gpt-4o", "x")
    );
    let deepseek = price_of(Some("openrouter"), "or", "deepseek/deepseek-chat", "ds");
    assert_close(deepseek.input, 2.8e-7);
    assert_eq!(
        lookup(
            Some("openrouter"),
            "or",
            "meta-llama/llama-3.3-70b-instruct",
            "l"
        ),
        ModelInfo::UNKNOWN
    );
}

#[test]
fn local_presets_cost_zero() {
    let ollama = lookup(Some("ollama"), "ollama", "llama3.1", "llama");
    assert_eq!(ollama.price, Some(Price::FREE));
    assert_eq!(ollama.max_input_tokens, Some(8192));
    let lmstudio = lookup(Some("lmstudio"), "lms", "qwen2.5-coder-7b", "q");
    assert_eq!(lmstudio.price, Some(Price::FREE));
    assert_eq!(lmstudio.max_input_tokens, None);
}

#[test]
fn unknown_models_have_no_price() {
    assert_eq!(
        lookup(None, "x", "no-such-model", "no-such-model"),
        ModelInfo::UNKNOWN
    );
    assert_eq!(lookup(Some("openai"), "openai", "", ""), ModelInfo::UNKNOWN);
    assert_eq!(
        lookup(Some("brand-new"), "b", "model", "model"),
        ModelInfo::UNKNOWN
    );
}

#[test]
fn override_converts_per_million_to_per_token() {
    let raw: PriceOverride =
        toml::from_str("input = 0.6\noutput = 2.5\ncached_input = 0.06\n").unwrap();
    let price = Price::from(raw);
    assert_close(price.input, 6e-7);
    assert_close(price.output, 2.5e-6);
    assert_close(price.cached_input.unwrap(), 6e-8);
    assert_eq!((price.cache_write, price.reasoning), (None, None));
    assert!(toml::from_str::<PriceOverride>("input = 1\noutput = 2\nreasoning = 3").is_err());
}

#[test]
fn cost_bills_cached_and_written_input_apart() {
    let price = Price {
        input: 2.5e-6,
        output: 1e-5,
        cached_input: Some(1.25e-6),
        cache_write: Some(3e-6),
        reasoning: None,
    };
    let usage = Usage {
        input_tokens: 1000,
        output_tokens: 200,
        cached_input_tokens: 600,
        cache_write_tokens: 100,
        reasoning_tokens: 50,
    };
    // 300 uncached + 600 cached + 100 written; reasoning is ordinary output here.
    let expected = 300.0 * 2.5e-6 + 600.0 * 1.25e-6 + 100.0 * 3e-6 + 200.0 * 1e-5;
    assert_close(cost(&usage, &price), expected);

    let no_cache_prices = Price {
        cached_input: None,
        cache_write: None,
        ..price
    };
    assert_close(
        cost(&usage, &no_cache_prices),
        1000.0 * 2.5e-6 + 200.0 * 1e-5,
    );
    assert_eq!(cost(&Usage::default(), &price), 0.0);
    assert_eq!(cost(&usage, &Price::FREE), 0.0);
}

#[test]
fn cost_bills_reasoning_at_its_own_rate_when_the_table_has_one() {
    // Qwen Turbo at DashScope: reasoning costs 2.5x other output.
    let price = price_of(None, "dashscope", "qwen-turbo", "qwen");
    let reasoning_rate = price.reasoning.unwrap();
    assert_close(reasoning_rate, 5e-7);
    assert_close(price.output, 2e-7);
    let usage = Usage {
        input_tokens: 100,
        output_tokens: 80,
        reasoning_tokens: 30,
        ..Usage::default()
    };
    let expected = 100.0 * price.input + 50.0 * price.output + 30.0 * reasoning_rate;
    assert_close(cost(&usage, &price), expected);
    // More reasoning than output (a provider bug) never bills negative output.
    let odd = Usage {
        reasoning_tokens: 500,
        ..usage
    };
    assert_close(
        cost(&odd, &price),
        100.0 * price.input + 80.0 * reasoning_rate,
    );
}
