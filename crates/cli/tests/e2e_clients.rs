//! Real clients end to end: the official `openai` Python SDK and the Continue CLI (`cn`) talk to a
//! real `switchboard serve` process, which talks to the in-process mock upstream; each test checks
//! what the client saw AND what the mock received.
//!
//! The clients are pinned and installed outside the clone by `scripts/setup-test-deps.sh`, which
//! prints the two variables these tests read. To run just these tests:
//!
//! ```text
//! eval "$(./scripts/setup-test-deps.sh)"   # exports SWITCHBOARD_E2E_PYTHON and SWITCHBOARD_E2E_CN
//! cargo nextest run -p switchboard-cli --test e2e_clients --no-capture
//! # or: cargo test -p switchboard-cli --test e2e_clients -- --nocapture
//! ```
//!
//! Without those variables each test prints one `SKIPPED …` line and passes; `./scripts/test.sh`
//! (and so CI) always sets them. Everything binds 127.0.0.1:0; no fixed ports, no network.

// Unix only: process groups, `sh`, signals.
#![cfg(unix)]

#[path = "e2e/harness.rs"]
mod harness;

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use harness::{Checks, Gateway, client_from_env, e2e_file, gateway_config, run_client};
use mock_upstream::{MockUpstream, RecordedRequest};
use serde_json::Value;

/// The id clients ask for, and the id the gateway must send upstream instead.
const CLIENT_MODEL: &str = "gpt-4o-mini";
const UPSTREAM_MODEL: &str = "mock-small";
/// Generous: cold Python/Node start-up on a busy 2-core CI machine.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk() -> Result<()> {
    let Some(python) = client_from_env(
        "SWITCHBOARD_E2E_PYTHON",
        "openai_python_sdk",
        "a python with the `openai` package",
    )?
    else {
        return Ok(());
    };
    let mock = MockUpstream::start().await?;
    let gateway = Gateway::start(&gateway_config(&mock.base_url())).await?;

    let mut command = Command::new(&python);
    command
        .arg(e2e_file("openai_sdk.py"))
        .arg(gateway.v1())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = mock.requests();
    let context = || {
        format!(
            "{}\n{}\n{}",
            output.describe(),
            describe_requests(&requests),
            gateway.logs()
        )
    };
    anyhow::ensure!(
        output.status.success(),
        "the openai SDK script failed.\n{}",
        context()
    );
    let report: Value = serde_json::from_str(&output.stdout)
        .with_context(|| format!("the script's stdout is not JSON.\n{}", context()))?;

    let mut checks = Checks::default();
    check_sdk_report(&mut checks, &report, &requests);
    checks.finish(context)?;
    println!(
        "openai {} via the gateway: 6 scenarios ok; the mock received {} chat request(s); \
         non-stream response model: {}",
        report["sdk_version"],
        chat_requests(&requests).len(),
        report["chat"]["model"]
    );
    gateway.shutdown().await
}

/// Expectations on what the SDK saw (`report`, printed by openai_sdk.py) and what the mock received.
fn check_sdk_report(c: &mut Checks, report: &Value, requests: &[RecordedRequest]) {
    for step in [
        "models",
        "chat",
        "stream_usage",
        "stream_no_usage",
        "tool_call",
        "tool_result",
    ] {
        let error = &report[step]["error"];
        c.check(error.is_null(), || {
            format!("{step}: the SDK raised {error}")
        });
    }
    let prompt = |step: &str| {
        report["prompts"][step]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let client_key = report["client_api_key"]
        .as_str()
        .unwrap_or("sk-e2e-client-key");
    let chats = chat_requests(requests);

    // GET /v1/models lists the client-facing id.
    let ids = &report["models"]["ids"];
    c.check(
        ids.as_array()
            .is_some_and(|ids| ids.iter().any(|id| id == CLIENT_MODEL)),
        || format!("models: `{CLIENT_MODEL}` not listed in {ids}"),
    );

    // Non-streaming chat.
    let chat = &report["chat"];
    c.eq(
        "chat.content",
        chat["content"].as_str(),
        Some(format!("Mock reply to: {}", prompt("chat")).as_str()),
    );
    c.eq(
        "chat.finish_reason",
        chat["finish_reason"].as_str(),
        Some("stop"),
    );
    let upstream = find_by_prompt(&chats, &prompt("chat"));
    c.check(upstream.is_some(), || {
        "chat: the mock never received it".to_owned()
    });
    if let Some(up) = upstream {
        c.eq(
            "chat.usage (vs the mock's)",
            usage_of(&chat["usage"]),
            up.sent_usage.map(usage_tuple),
        );
    }

    // Streaming with include_usage: usage exactly once, last, equal to what the mock reported.
    let s = &report["stream_usage"];
    c.eq(
        "stream_usage.content",
        s["content"].as_str(),
        Some(format!("Mock reply to: {}", prompt("stream_usage")).as_str()),
    );
    c.eq(
        "stream_usage.finish_reasons",
        &s["finish_reasons"],
        &serde_json::json!(["stop"]),
    );
    let usages = s["usages"].as_array().cloned().unwrap_or_default();
    c.eq("stream_usage: number of chunks with usage", usages.len(), 1);
    c.eq(
        "stream_usage: chunks after the usage chunk",
        s["chunks_after_usage"].as_u64(),
        Some(0),
    );
    let upstream = find_by_prompt(&chats, &prompt("stream_usage"));
    c.check(upstream.is_some(), || {
        "stream_usage: the mock never received it".to_owned()
    });
    if let (Some(up), Some(usage)) = (upstream, usages.first()) {
        c.check(up.sent_usage.is_some(), || {
            "stream_usage: the mock recorded no usage".to_owned()
        });
        c.eq(
            "stream_usage.usage (vs the mock's)",
            usage_of(usage),
            up.sent_usage.map(usage_tuple),
        );
    }

    // Streaming without include_usage: the gateway asked for usage upstream but must not leak it.
    let s = &report["stream_no_usage"];
    c.eq(
        "stream_no_usage.content",
        s["content"].as_str(),
        Some(format!("Mock reply to: {}", prompt("stream_no_usage")).as_str()),
    );
    c.eq(
        "stream_no_usage.finish_reasons",
        &s["finish_reasons"],
        &serde_json::json!(["stop"]),
    );
    c.eq(
        "stream_no_usage.usages",
        &s["usages"],
        &serde_json::json!([]),
    );

    // Streamed tool call, reassembled from argument deltas.
    let t = &report["tool_call"];
    c.eq(
        "tool_call.finish_reasons",
        &t["finish_reasons"],
        &serde_json::json!(["tool_calls"]),
    );
    let calls = t["tool_calls"].as_array().cloned().unwrap_or_default();
    c.eq("tool_call: number of tool calls", calls.len(), 1);
    if let Some(call) = calls.first() {
        c.eq("tool_call.name", call["name"].as_str(), Some("get_weather"));
        c.check(call["id"].as_str().is_some_and(|id| !id.is_empty()), || {
            format!("tool_call: missing id in {call}")
        });
        c.check(call["arguments_valid_json"] == true, || {
            format!("tool_call: arguments are not valid JSON: {call}")
        });
    }
    let upstream = find_by_prompt(&chats, &prompt("tool_call"));
    c.check(upstream.is_some(), || {
        "tool_call: the mock never received it".to_owned()
    });
    if let Some(up) = upstream {
        let body = up.json();
        c.eq(
            "tool_call: upstream tools[0].function.name",
            body["tools"][0]["function"]["name"].as_str(),
            Some("get_weather"),
        );
    }

    // Tool result round trip: the final answer includes the tool's output.
    let r = &report["tool_result"];
    let expected = r["expected_tool_result"].as_str().unwrap_or("<missing>");
    c.check(
        r["content"]
            .as_str()
            .is_some_and(|text| text.contains(expected)),
        || {
            format!(
                "tool_result.content {} does not include the tool result {expected}",
                r["content"]
            )
        },
    );
    c.eq(
        "tool_result.finish_reason",
        r["finish_reason"].as_str(),
        Some("stop"),
    );
    let with_tool_message = chats.iter().find(|req| {
        req.json()["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["role"] == "tool"))
    });
    c.check(with_tool_message.is_some(), || {
        "tool_result: the mock never received a `tool` message".to_owned()
    });
    if let (Some(up), Some(call)) = (with_tool_message, calls.first()) {
        let body = up.json();
        let tool_msg = body["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["role"] == "tool"))
            .cloned()
            .unwrap_or_default();
        c.eq(
            "tool_result: upstream tool_call_id",
            &tool_msg["tool_call_id"],
            &call["id"],
        );
        c.eq(
            "tool_result: upstream tool content",
            text_of(&tool_msg["content"]).as_deref(),
            Some(expected),
        );
    }

    // Upstream side, every chat request: mapped model id, no client key, usage always requested.
    c.eq(
        "number of upstream chat requests (no retries)",
        chats.len(),
        5,
    );
    check_upstream_chats(c, &chats, client_key);
}

/// What every chat request the mock received must look like.
fn check_upstream_chats(c: &mut Checks, chats: &[&RecordedRequest], client_key: &str) {
    for (i, req) in chats.iter().enumerate() {
        let body = req.json();
        c.eq(
            &format!("upstream chat #{i}: model"),
            body["model"].as_str(),
            Some(UPSTREAM_MODEL),
        );
        c.check(req.header("authorization").is_none(), || {
            format!(
                "upstream chat #{i}: Authorization forwarded to a keyless provider: {:?}",
                req.header("authorization")
            )
        });
        c.check(
            !req.headers.iter().any(|(_, v)| v.contains(client_key)),
            || format!("upstream chat #{i}: the client's API key reached the upstream in a header"),
        );
        if body["stream"] == true {
            c.eq(
                &format!("upstream chat #{i}: stream_options.include_usage"),
                &body["stream_options"]["include_usage"],
                &Value::Bool(true),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_cli() -> Result<()> {
    let Some(cn) = client_from_env(
        "SWITCHBOARD_E2E_CN",
        "continue_cli",
        "the Continue CLI `cn` executable",
    )?
    else {
        return Ok(());
    };
    let mock = MockUpstream::start().await?;
    let gateway = Gateway::start(&gateway_config(&mock.base_url())).await?;

    // cn reads and writes ~/.continue (sessions, logs, permissions): give it a private HOME, and a
    // private working directory (its tools act there: the mock's tool call makes cn run one).
    let home = tempfile::tempdir().context("creating cn's HOME")?;
    let work = home.path().join("work");
    std::fs::create_dir_all(&work).context("creating cn's working dir")?;
    let template = std::fs::read_to_string(e2e_file("continue-config.yaml"))
        .context("reading tests/e2e/continue-config.yaml")?;
    let config_path = home.path().join("config.yaml");
    std::fs::write(
        &config_path,
        template.replace("{{API_BASE}}", &gateway.v1()),
    )
    .context("writing cn's config.yaml")?;
    // The `apiKey` in the template.
    let client_key = "sk-e2e-continue-key-must-not-be-forwarded";
    anyhow::ensure!(
        template.contains(client_key),
        "tests/e2e/continue-config.yaml must use apiKey {client_key}"
    );

    let mut command = Command::new(&cn);
    command
        .args(["-p", "Say hi", "--config"])
        .arg(&config_path)
        .current_dir(&work)
        .env("HOME", home.path())
        .env("CONTINUE_GLOBAL_DIR", home.path().join(".continue"))
        // Telemetry off (cn 1.5.x reads both variables). cn also asks api.continue.dev/cn/info for
        // updates whatever these say, but without waiting for it: checked with that host
        // black-holed (accepting, never answering), the test takes the same ~3 s.
        .env("CONTINUE_CLI_ENABLE_TELEMETRY", "0")
        .env("CONTINUE_METRICS_ENABLED", "0")
        .env("NO_COLOR", "1")
        .env_remove("CONTINUE_API_KEY")
        .env_remove("OPENAI_API_KEY");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = mock.requests();
    let context = || {
        format!(
            "{}\n{}\n{}",
            output.describe(),
            describe_requests(&requests),
            gateway.logs()
        )
    };
    let chats = chat_requests(&requests);

    let mut c = Checks::default();
    c.check(output.status.success(), || {
        format!("cn exited with {}", output.status)
    });
    c.check(!chats.is_empty(), || {
        "the mock received no chat request".to_owned()
    });
    check_upstream_chats(&mut c, &chats, client_key);
    if let Some(first) = chats.first() {
        let body = first.json();
        c.eq(
            "first upstream request: stream",
            &body["stream"],
            &Value::Bool(true),
        );
        c.eq(
            "first upstream request: last user message",
            last_user_text(&body).as_deref(),
            Some("Say hi"),
        );
    }
    // cn sends its tools with every request, so the mock first answers with a tool call, cn runs
    // the tool and sends the result back, and the mock's final text answer is what cn prints.
    let printed = output.stdout.trim();
    c.check(!printed.is_empty(), || {
        "cn printed nothing on stdout".to_owned()
    });
    let last_has_tool_result = chats.last().is_some_and(|req| {
        req.json()["messages"]
            .as_array()
            .and_then(|m| m.last())
            .is_some_and(|m| m["role"] == "tool")
    });
    if last_has_tool_result {
        c.check(chats.len() >= 2, || {
            "tool round trip in a single request?".to_owned()
        });
        let tool_text = chats
            .last()
            .and_then(|req| {
                req.json()["messages"]
                    .as_array()
                    .and_then(|m| m.last().cloned())
            })
            .and_then(|m| text_of(&m["content"]))
            .unwrap_or_default();
        c.check(!tool_text.is_empty() && printed.contains(tool_text.trim()), || {
            format!("cn's output {printed:?} does not include the tool result {tool_text:?} the mock echoes")
        });
    } else {
        c.check(printed.contains("Mock reply to: Say hi"), || {
            format!("cn's output {printed:?} is not the mock's reply")
        });
    }
    c.finish(context)?;
    println!(
        "cn via the gateway: printed {printed:?}; the mock received {} chat request(s)",
        chats.len()
    );
    gateway.shutdown().await
}

/// POST …/chat/completions requests, in arrival order.
fn chat_requests(requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    requests
        .iter()
        .filter(|r| {
            r.method == "POST"
                && r.path
                    .split('?')
                    .next()
                    .is_some_and(|p| p.ends_with("/chat/completions"))
        })
        .collect()
}

/// The chat request whose last user message is `prompt`.
fn find_by_prompt<'a>(chats: &[&'a RecordedRequest], prompt: &str) -> Option<&'a RecordedRequest> {
    chats
        .iter()
        .copied()
        .find(|r| last_user_text(&r.json()).as_deref() == Some(prompt))
}

fn last_user_text(body: &Value) -> Option<String> {
    body["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| text_of(&m["content"]))
}

/// Text of an OpenAI message content: a string, or an array of `{type: "text", text}` parts.
fn text_of(content: &Value) -> Option<String> {
    match content {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join(""),
        ),
        _ => None,
    }
}

type UsageTuple = (u64, u64, u64);

fn usage_tuple(u: mock_upstream::Usage) -> UsageTuple {
    (u.prompt_tokens, u.completion_tokens, u.total_tokens)
}

fn usage_of(v: &Value) -> Option<UsageTuple> {
    Some((
        v["prompt_tokens"].as_u64()?,
        v["completion_tokens"].as_u64()?,
        v["total_tokens"].as_u64()?,
    ))
}

/// A compact listing of what the mock received, for failure messages.
fn describe_requests(requests: &[RecordedRequest]) -> String {
    let mut out = format!(
        "--- the mock upstream received {} request(s) ---\n",
        requests.len()
    );
    for r in requests {
        let body = r.json();
        let summary = if body.is_null() {
            String::new()
        } else {
            let roles: Vec<&str> = body["messages"]
                .as_array()
                .map(|m| m.iter().filter_map(|m| m["role"].as_str()).collect())
                .unwrap_or_default();
            format!(
                " model={} stream={} stream_options={} tools={} roles={:?} authorization={:?}",
                body["model"],
                body["stream"],
                body["stream_options"],
                body["tools"].as_array().map_or(0, Vec::len),
                roles,
                r.header("authorization"),
            )
        };
        out.push_str(&format!("{} {}{}\n", r.method, r.path, summary));
    }
    out
}
