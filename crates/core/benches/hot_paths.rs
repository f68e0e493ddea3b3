//! Micro-benchmarks of the per-request and per-chunk hot paths: reading and rewriting a client's
//! chat body, inspecting stream events, and resolving a model id to a route. The whole-request
//! overhead is measured by `scripts/bench.sh`; these say which function it comes from.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmarks")]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use switchboard_core::config::{Config, LoadOptions};
use switchboard_core::proxy::{ClientBody, inspect};
use switchboard_core::routing::Router;

/// A typical first turn from an IDE agent: system prompt, one user message, a couple of options.
fn small_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful coding assistant. Answer concisely and show code when it helps."},
            {"role": "user", "content": "How do I reverse a string in Rust, taking grapheme clusters into account?"}
        ],
        "temperature": 0.2,
        "max_tokens": 1024,
        "stream": true
    }))
    .unwrap()
}

/// A long conversation (~50 KB): many turns with code, escapes and non-ASCII text, plus tools.
fn large_body() -> Vec<u8> {
    let mut messages = vec![json!({
        "role": "system",
        "content": "You are an expert software engineer working in the user's repository. \
                    Use the tools to read files before editing them."
    })];
    let code = "fn main() {\n    let s = \"h\u{e9}llo w\u{f6}rld\";\n    println!(\"{}\", s.chars().rev().collect::<String>());\n}\n";
    let mut turn = 0;
    while serde_json::to_vec(&messages).unwrap().len() < 50_000 {
        messages.push(json!({
            "role": "user",
            "content": format!("Step {turn}: please look at this and explain the \"tricky\" part:\n```rust\n{code}```\n\u{2014} thanks!")
        }));
        messages.push(json!({
            "role": "assistant",
            "content": format!("In step {turn} the string is reversed by `char`, which splits combining marks; \
                                use the `unicode-segmentation` crate for graphemes.\n```rust\n{code}```"),
        }));
        turn += 1;
    }
    serde_json::to_vec(&json!({
        "model": "gpt-4o-mini",
        "messages": messages,
        "tools": [{
            "type": "function",
            "function": {
                "name": "read_file",
                "description": "Read a file from the workspace",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
            }
        }],
        "temperature": 0.2,
        "stream": true,
        "stream_options": {"include_usage": false}
    }))
    .unwrap()
}

fn client_body(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_body");
    for (name, body) in [("small", small_body()), ("50KB", large_body())] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("parse", name), &body, |b, body| {
            b.iter(|| ClientBody::parse(black_box(body)).unwrap());
        });
        // What `proxy::forward` does to every chat request before sending it upstream.
        group.bench_with_input(
            BenchmarkId::new("parse_rewrite_encode", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut request = ClientBody::parse(black_box(body)).unwrap();
                    request.set_model("mock-small").unwrap();
                    if request.stream && !request.wants_stream_usage() {
                        request.request_stream_usage().unwrap();
                    }
                    request.to_bytes().unwrap()
                });
            },
        );
        let parsed = ClientBody::parse(&body).unwrap();
        group.bench_with_input(BenchmarkId::new("to_bytes", name), &parsed, |b, parsed| {
            b.iter(|| black_box(parsed).to_bytes().unwrap());
        });
    }
    group.finish();
}

const CONTENT_DELTA: &str = r#"{"id":"chatcmpl-9x2Kp","object":"chat.completion.chunk","created":1732147200,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" switch"},"logprobs":null,"finish_reason":null}]}"#;
/// OpenAI sends `"usage": null` in every chunk once `include_usage` is set, which the gateway
/// always sets for streams.
const CONTENT_DELTA_NULL_USAGE: &str = r#"{"id":"chatcmpl-9x2Kp","object":"chat.completion.chunk","created":1732147200,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" switch"},"logprobs":null,"finish_reason":null}],"usage":null}"#;
const FINISH: &str = r#"{"id":"chatcmpl-9x2Kp","object":"chat.completion.chunk","created":1732147200,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#;
const USAGE: &str = r#"{"id":"chatcmpl-9x2Kp","object":"chat.completion.chunk","created":1732147200,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0ba0d124f1","choices":[],"usage":{"prompt_tokens":1184,"completion_tokens":312,"total_tokens":1496,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#;

fn inspect_chunks(c: &mut Criterion) {
    let mut group = c.benchmark_group("inspect");
    for (name, data) in [
        ("content_delta", CONTENT_DELTA),
        ("content_delta_usage_null", CONTENT_DELTA_NULL_USAGE),
        ("finish", FINISH),
        ("usage", USAGE),
        ("done", "[DONE]"),
    ] {
        group.bench_function(name, |b| b.iter(|| inspect(black_box(data))));
    }
    group.finish();
}

const ROUTES: &str = r#"
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

[providers.openrouter]
base_url = "https://openrouter.ai/api/v1"
model_prefix = "or:"

[providers.ollama]
preset = "ollama"

[models."gpt-4o-mini"]
provider = "groq"
model = "llama-3.1-8b-instant"

[models."nvidia/kimi-k2-thinking"]
provider = "nvidia"
model = "moonshotai/kimi-k2-thinking"

[models."fast"]
provider = "groq"
model = "llama-3.1-8b-instant"

[models."smart"]
provider = "openrouter"
model = "anthropic/claude-sonnet-4"
"#;

fn router_resolve(c: &mut Criterion) {
    let config = Config::from_toml(
        ROUTES,
        "bench",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap();
    let router = Router::new(&config);
    let mut group = c.benchmark_group("router_resolve");
    for (name, model) in [
        ("exact", "gpt-4o-mini"),
        ("prefix", "nvidia/meta/llama-3.3-70b-instruct"),
        ("provider_name", "groq/llama-3.3-70b-versatile"),
        ("default", "qwen2.5-coder:7b"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| router.resolve(black_box(model)).unwrap())
        });
    }
    // Only reached on a misconfigured client; computes suggestions, so it is slower by design.
    let unknown = Router::new(
        &Config::from_toml(
            "[providers.groq]\nbase_url = \"https://api.groq.com/openai/v1\"\n[models.\"fast\"]\nprovider = \"groq\"\n",
            "bench",
            LoadOptions {
                resolve_secrets: false,
            },
        )
        .unwrap(),
    );
    group.bench_function("unknown_with_suggestions", |b| {
        b.iter(|| unknown.resolve(black_box("fsat")).unwrap_err())
    });
    group.finish();
}

criterion_group!(benches, client_body, inspect_chunks, router_resolve);
criterion_main!(benches);
