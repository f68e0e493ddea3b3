use super::*;
use crate::config::{Config, LoadOptions};

fn router(toml: &str) -> Router {
    let config = Config::from_toml(
        toml,
        "test.toml",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Router::new(&config)
}

const TABLE: &str = r#"
[server]
default_provider = "ollama"

[providers.nvidia]
base_url = "https://integrate.api.nvidia.com/v1"
api_key = "env:NVIDIA_API_KEY"
model_prefix = "nvidia/"

[providers.nvidia-meta]
base_url = "https://meta.example.com/v1"
model_prefix = "nvidia/meta/"

[providers.groq]
base_url = "https://api.groq.com/openai/v1"

[providers.ollama]
preset = "ollama"

[models."nvidia/kimi-k2-thinking"]
provider = "nvidia"
model = "moonshotai/kimi-k2-thinking"

[models."fast"]
provider = "groq"
model = "llama-3.1-8b-instant"

[models."same-id"]
provider = "groq"
"#;

fn resolve(r: &Router, id: &str) -> (String, String, RouteRule) {
    let route = r.resolve(id).unwrap_or_else(|e| panic!("{e}"));
    (
        r.provider_names()[route.provider].clone(),
        route.upstream_model,
        route.rule,
    )
}

#[test]
fn exact_mapping_wins_over_prefix() {
    let r = router(TABLE);
    assert_eq!(
        resolve(&r, "nvidia/kimi-k2-thinking"),
        (
            "nvidia".into(),
            "moonshotai/kimi-k2-thinking".into(),
            RouteRule::Exact
        )
    );
}

#[test]
fn mapping_without_model_keeps_the_client_id() {
    let r = router(TABLE);
    assert_eq!(resolve(&r, "same-id").1, "same-id");
}

#[test]
fn longest_prefix_wins_and_later_slashes_are_kept() {
    let r = router(TABLE);
    assert_eq!(
        resolve(&r, "nvidia/deepseek-ai/deepseek-r1"),
        (
            "nvidia".into(),
            "deepseek-ai/deepseek-r1".into(),
            RouteRule::Prefix
        )
    );
    assert_eq!(
        resolve(&r, "nvidia/meta/llama-3.1-8b"),
        (
            "nvidia-meta".into(),
            "llama-3.1-8b".into(),
            RouteRule::Prefix
        )
    );
}

#[test]
fn provider_name_segment_routes_to_that_provider() {
    let r = router(TABLE);
    assert_eq!(
        resolve(&r, "groq/openai/gpt-oss-20b"),
        (
            "groq".into(),
            "openai/gpt-oss-20b".into(),
            RouteRule::ProviderName
        )
    );
}

#[test]
fn unknown_first_segment_falls_to_default_unchanged() {
    let r = router(TABLE);
    assert_eq!(
        resolve(&r, "meta-llama/llama-3.3-70b"),
        (
            "ollama".into(),
            "meta-llama/llama-3.3-70b".into(),
            RouteRule::Default
        )
    );
}

#[test]
fn bare_prefix_is_not_a_model() {
    let r = router(TABLE);
    // "nvidia/" alone has an empty rest: neither the prefix nor the provider-name rule applies.
    assert_eq!(resolve(&r, "nvidia/").2, RouteRule::Default);
}

#[test]
fn unknown_model_without_default_suggests_close_ids() {
    let r = router(&TABLE.replace("default_provider = \"ollama\"", ""));
    let err = r.resolve("nvidia-kimi-k2-thinking").err();
    let err = err.unwrap_or_else(|| panic!("expected an unknown model"));
    assert_eq!(err.suggestions, vec!["nvidia/kimi-k2-thinking".to_string()]);
    assert_eq!(
        err.to_string(),
        "model `nvidia-kimi-k2-thinking` is not configured in Switchboard; did you mean `nvidia/kimi-k2-thinking`?"
    );
    let err = r
        .resolve("zzz")
        .err()
        .unwrap_or_else(|| panic!("expected an unknown model"));
    assert!(err.suggestions.is_empty());
}
