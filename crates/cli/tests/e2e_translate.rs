//! Real clients through the gateway's protocol translation: Claude Code (Anthropic Messages in),
//! the Codex CLI (OpenAI Responses in), the Continue CLI and Aider (OpenAI chat in), and the
//! official `openai` and `anthropic` Python SDKs, each against an OpenAI-compatible, an Anthropic
//! and a Gemini upstream (all three dialects of the in-process mock). Every test checks what the
//! client printed AND what the mock received: the mapped model, the provider's key in that
//! dialect's header (never the client's), the declared tools, and the tool result of a full tool
//! round trip.
//!
//! The clients are pinned and installed outside the clone by `scripts/setup-test-deps.sh`, which
//! prints the `SWITCHBOARD_E2E_*` variables these tests read (a test whose client variable is unset
//! prints `SKIPPED …` and passes). To run just these tests:
//!
//! ```text
//! eval "$(./scripts/setup-test-deps.sh)"
//! cargo nextest run -p switchboard-cli --test e2e_translate --no-capture
//! ```
//!
//! Everything binds 127.0.0.1:0. Clients run with a temporary HOME (and CODEX_HOME etc.), no
//! proxy variables, and only harmless tools: Claude Code and `cn` read a file named `Paris` (the
//! argument the mock synthesizes) in a temporary directory, Codex runs a command `Paris` from a
//! temporary PATH directory inside its read-only sandbox.

// Unix only: process groups, `sh`, signals.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

#[path = "e2e/harness.rs"]
#[allow(
    dead_code,
    reason = "shared with e2e_clients.rs; each test binary uses a part"
)]
mod harness;
#[path = "e2e/sdk_report.rs"]
mod sdk_report;
#[path = "e2e/upstreams.rs"]
mod upstreams;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use harness::{Checks, ClientOutput, Gateway, client_from_env, e2e_file, run_client};
use mock_upstream::{MockUpstream, RecordedRequest};
use serde_json::Value;
use upstreams::{Upstream, clip, describe_requests, gateway_config, gateway_env};

/// Generous: cold Node/Python start-up on a busy 2-core machine, and agent loops of two turns.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);
/// The file the clients' Read tools open: the mock fills a tool's first required string argument
/// with "Paris", so a Read tool asks for the file `Paris` in the client's working directory.
const TOOL_FILE: &str = "Paris";
/// What that file (and Codex's `Paris` command) print: it must come back in the tool result.
const MARKER: &str = "e2e-tool-output-marker-5b1e";

/// The mock and the gateway in front of it.
struct Setup {
    mock: MockUpstream,
    gateway: Gateway,
}

impl Setup {
    async fn start() -> Result<Self> {
        let mock = MockUpstream::start().await?;
        let gateway = Gateway::start_with_env(&gateway_config(&mock), &gateway_env()).await?;
        Ok(Self { mock, gateway })
    }

    /// Both sides' output, for failure messages.
    fn context(&self, output: &ClientOutput, requests: &[RecordedRequest]) -> String {
        format!(
            "{}\n{}\n{}",
            output.describe(),
            describe_requests(requests),
            self.gateway.logs()
        )
    }
}

/// A temporary HOME with a working directory `work` holding the [`TOOL_FILE`].
fn client_home() -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    client_home_in(&std::env::temp_dir())
}

/// [`client_home`] under `parent`.
fn client_home_in(parent: &Path) -> Result<(tempfile::TempDir, std::path::PathBuf)> {
    let home = tempfile::tempdir_in(parent).context("creating the client's HOME")?;
    let work = home.path().join("work");
    std::fs::create_dir_all(&work).context("creating the client's working dir")?;
    std::fs::write(work.join(TOOL_FILE), format!("{MARKER}\n")).context("writing the tool file")?;
    Ok((home, work))
}

/// A directory for Codex's home that is not under the system temporary directory: cargo's
/// per-target temporary directory, unless the target dir itself lives in /tmp, then the test
/// dependencies' cache (`SWITCHBOARD_CACHE`, default ~/.cache/switchboard).
fn outside_system_temp() -> Result<std::path::PathBuf> {
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let system_tmp = std::env::temp_dir();
    if !target_tmp.starts_with(&system_tmp) && !target_tmp.starts_with("/tmp") {
        return Ok(target_tmp.to_owned());
    }
    let cache = match std::env::var_os("SWITCHBOARD_CACHE") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
            .join(".cache/switchboard"),
    };
    let dir = cache.join("e2e-tmp");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The generation requests that carried a tool result containing `needle`.
fn with_tool_result<'a>(
    kind: Upstream,
    gens: &[&'a RecordedRequest],
    needle: &str,
) -> Vec<&'a RecordedRequest> {
    gens.iter()
        .copied()
        .filter(|r| kind.tool_results(r).iter().any(|t| t.contains(needle)))
        .collect()
}

/// Defines one `#[tokio::test]` per upstream kind calling `$runner(kind)`.
macro_rules! per_upstream {
    ($runner:ident: $($name:ident => $kind:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> Result<()> {
                $runner(Upstream::$kind, stringify!($name)).await
            }
        )+
    };
}

// ---- Claude Code: Anthropic Messages in ----------------------------------------------------------

per_upstream!(claude_code:
    claude_code_openai => OpenAi,
    claude_code_anthropic => Anthropic,
    claude_code_gemini => Gemini,
);

const CLAUDE_TOKEN: &str = "sk-e2e-claude-token-must-not-be-forwarded";

/// `claude -p` twice: a plain answer without tools, then a Read tool round trip.
async fn claude_code(kind: Upstream, test: &str) -> Result<()> {
    let Some(claude) = client_from_env("SWITCHBOARD_E2E_CLAUDE", test, "Claude Code (`claude`)")?
    else {
        return Ok(());
    };
    let setup = Setup::start().await?;
    let (home, work) = client_home()?;
    let command = |prompt: &str, tools: &[&str]| {
        let mut command = Command::new(&claude);
        command
            .args([
                "-p",
                prompt,
                "--output-format",
                "json",
                "--model",
                kind.model(),
            ])
            .arg("--tools")
            .arg(tools.join(","))
            .current_dir(&work)
            .env("HOME", home.path())
            .env("CLAUDE_CONFIG_DIR", home.path().join(".claude"))
            .env("ANTHROPIC_BASE_URL", &setup.gateway.url)
            .env("ANTHROPIC_AUTH_TOKEN", CLAUDE_TOKEN)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            // Background calls (titles, summaries) go to the "small fast" model: ours too.
            .env("ANTHROPIC_SMALL_FAST_MODEL", kind.model())
            .env("ANTHROPIC_DEFAULT_HAIKU_MODEL", kind.model())
            .env_remove("ANTHROPIC_API_KEY");
        if !tools.is_empty() {
            command.arg("--allowedTools").arg(tools.join(","));
        }
        command
    };

    // 1. Plain text, no tools.
    let prompt = "Say hi to the e2e test";
    let output = run_client(command(prompt, &[]), CLIENT_TIMEOUT).await?;
    let requests = setup.mock.requests();
    let gens = kind.generations(&requests);
    let mut c = Checks::default();
    let result = claude_result(&mut c, &output);
    let text = result["result"].as_str().unwrap_or_default();
    c.check(
        text.starts_with("Mock reply to: ") && text.contains(prompt),
        || format!("plain: claude printed {text:?}, not the mock's reply to {prompt:?}"),
    );
    kind.check_requests(&mut c, &gens, &[CLAUDE_TOKEN]);
    c.check(
        gens.iter()
            .any(|r| kind.last_user_text(r).is_some_and(|t| t.contains(prompt))),
        || format!("plain: no upstream request carried the prompt {prompt:?}"),
    );
    c.finish(|| {
        format!(
            "Claude Code, plain answer:\n{}",
            setup.context(&output, &requests)
        )
    })?;
    println!("claude → {kind:?}: plain: printed {:?}", clip(text, 80));

    // 2. A Read tool round trip.
    setup.mock.clear_requests();
    let output = run_client(
        command("Read the file named Paris", &["Read"]),
        CLIENT_TIMEOUT,
    )
    .await?;
    let requests = setup.mock.requests();
    let gens = kind.generations(&requests);
    let mut c = Checks::default();
    let result = claude_result(&mut c, &output);
    let text = result["result"].as_str().unwrap_or_default();
    c.check(
        text.starts_with("Mock reply to tool result:") && text.contains(MARKER),
        || format!("tool: claude printed {text:?}, not the mock's reply quoting {MARKER:?}"),
    );
    c.check(result["num_turns"].as_u64() >= Some(2), || {
        format!(
            "tool: num_turns = {}, expected at least 2",
            result["num_turns"]
        )
    });
    kind.check_requests(&mut c, &gens, &[CLAUDE_TOKEN]);
    c.check(
        gens.first()
            .is_some_and(|r| kind.declared_tools(r) == ["Read"]),
        || "tool: the first upstream request did not declare exactly the tool `Read`".to_owned(),
    );
    c.check(!with_tool_result(kind, &gens, MARKER).is_empty(), || {
        format!("tool: no upstream request carried a tool result containing {MARKER:?}")
    });
    c.finish(|| {
        format!(
            "Claude Code, Read round trip:\n{}",
            setup.context(&output, &requests)
        )
    })?;
    println!(
        "claude → {kind:?}: tool: printed {:?}; the mock received {} generation request(s)",
        clip(text, 80),
        gens.len()
    );
    setup.gateway.shutdown().await
}

/// The JSON object `claude -p --output-format json` printed, after checking it reports success.
fn claude_result(c: &mut Checks, output: &ClientOutput) -> Value {
    c.check(output.status.success(), || {
        format!("claude exited with {}", output.status)
    });
    let result: Value = serde_json::from_str(output.stdout.trim()).unwrap_or_default();
    c.eq(
        "claude: result.type",
        result["type"].as_str(),
        Some("result"),
    );
    c.eq(
        "claude: result.is_error",
        result["is_error"].as_bool(),
        Some(false),
    );
    result
}

// ---- Codex CLI: OpenAI Responses in --------------------------------------------------------------

per_upstream!(codex:
    codex_openai => OpenAi,
    codex_anthropic => Anthropic,
    codex_gemini => Gemini,
);

const CODEX_KEY: &str = "sk-e2e-codex-key-must-not-be-forwarded";

/// `codex exec`: the mock calls Codex's first tool (its shell tool) with the command `Paris`, which
/// is a script on PATH printing the marker; Codex sends the output back and prints the final answer.
async fn codex(kind: Upstream, test: &str) -> Result<()> {
    let Some(codex) = client_from_env("SWITCHBOARD_E2E_CODEX", test, "the Codex CLI (`codex`)")?
    else {
        return Ok(());
    };
    let setup = Setup::start().await?;
    // Not under /tmp: Codex refuses to create its sandbox helper (`codex-linux-sandbox`, an alias
    // of itself in CODEX_HOME) under the system temporary directory, and without it every
    // sandboxed command fails with `bwrap: execvp codex-linux-sandbox: No such file or directory`.
    let (home, work) = client_home_in(&outside_system_temp()?)?;
    let codex_home = home.path().join(".codex");
    std::fs::create_dir_all(&codex_home)?;
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            r#"model = "{model}"
model_provider = "sb"
approval_policy = "never"
sandbox_mode = "read-only"

[model_providers.sb]
name = "Switchboard"
base_url = "{base}"
wire_api = "responses"
env_key = "SB_E2E_CODEX_KEY"
# One request per turn: a retry would blur what the mock recorded.
request_max_retries = 0
stream_max_retries = 0
"#,
            model = kind.model(),
            base = setup.gateway.v1(),
        ),
    )?;
    let bin = home.path().join("bin");
    write_script(&bin.join(TOOL_FILE), &format!("#!/bin/sh\necho {MARKER}\n"))?;
    // Codex runs commands in a login shell (`bash -lc`), and Debian's /etc/profile resets PATH;
    // the user's profile, read after it, puts the `Paris` command back.
    std::fs::write(
        home.path().join(".bash_profile"),
        format!("export PATH=\"{}:$PATH\"\n", bin.display()),
    )?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let last_message = home.path().join("last-message.txt");

    let prompt = "Run the command Paris";
    let mut command = Command::new(&codex);
    command
        .args(["exec", "--skip-git-repo-check", "--sandbox", "read-only"])
        .args(["--ephemeral", "--color", "never", "-o"])
        .arg(&last_message)
        .arg(prompt)
        .current_dir(&work)
        .env("HOME", home.path())
        .env("CODEX_HOME", &codex_home)
        .env("SB_E2E_CODEX_KEY", CODEX_KEY)
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = setup.mock.requests();
    let gens = kind.generations(&requests);
    let printed = std::fs::read_to_string(&last_message).unwrap_or_default();

    let mut c = Checks::default();
    c.check(output.status.success(), || {
        format!("codex exited with {}", output.status)
    });
    c.check(printed.contains("Mock reply to tool result:"), || {
        format!("codex's last message {printed:?} is not the mock's reply to a tool result")
    });
    c.check(output.stdout.contains("Mock reply to tool result:"), || {
        "codex did not print the final answer on stdout".to_owned()
    });
    kind.check_requests(&mut c, &gens, &[CODEX_KEY]);
    c.check(gens.len() >= 2, || {
        format!(
            "expected a tool round trip (2+ generation requests), the mock received {}",
            gens.len()
        )
    });
    let declared = gens
        .first()
        .map(|r| kind.declared_tools(r))
        .unwrap_or_default();
    c.check(!declared.is_empty(), || {
        "the first upstream request declared no tools (Codex always sends its shell tool)"
            .to_owned()
    });
    let tool_results: Vec<String> = gens.iter().flat_map(|r| kind.tool_results(r)).collect();
    c.check(tool_results.iter().any(|t| !t.trim().is_empty()), || {
        "no upstream request carried a (non-empty) tool result".to_owned()
    });
    // The command's output, through Codex's read-only sandbox, back upstream and back to Codex.
    let ran = tool_results.iter().any(|t| t.contains(MARKER));
    c.check(ran, || {
        format!(
            "no upstream tool result contains the `Paris` command's output {MARKER:?} (did the \
             command run? a sandbox failure shows up in the tool result above)"
        )
    });
    c.check(printed.contains(MARKER), || {
        format!("codex's last message {printed:?} does not quote {MARKER:?}")
    });
    c.finish(|| format!("Codex CLI:\n{}", setup.context(&output, &requests)))?;
    println!(
        "codex → {kind:?}: printed {:?}; {} generation request(s); first of {} tools: {:?}",
        clip(printed.trim(), 100),
        gens.len(),
        declared.len(),
        declared.first(),
    );
    setup.gateway.shutdown().await
}

fn write_script(path: &Path, body: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, body)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

// ---- Continue CLI and Aider: OpenAI chat in, every upstream -----------------------------------

per_upstream!(continue_cli:
    continue_cli_openai => OpenAi,
    continue_cli_anthropic => Anthropic,
    continue_cli_gemini => Gemini,
);

/// `cn -p`: cn sends its tools, the mock calls the first (Read, of the file `Paris`), cn reads it
/// and sends the content back, and prints the mock's final answer quoting it.
async fn continue_cli(kind: Upstream, test: &str) -> Result<()> {
    let Some(cn) = client_from_env("SWITCHBOARD_E2E_CN", test, "the Continue CLI `cn`")? else {
        return Ok(());
    };
    let setup = Setup::start().await?;
    let (home, work) = client_home()?;
    let template = std::fs::read_to_string(e2e_file("continue-config.yaml"))?;
    let client_key = "sk-e2e-continue-key-must-not-be-forwarded";
    let config = template
        .replace("{{API_BASE}}", &setup.gateway.v1())
        .replace("model: gpt-4o-mini", &format!("model: {}", kind.model()));
    anyhow::ensure!(
        config.contains(client_key) && config.contains(kind.model()),
        "tests/e2e/continue-config.yaml changed: expected `model: gpt-4o-mini` and apiKey {client_key}"
    );
    let config_path = home.path().join("config.yaml");
    std::fs::write(&config_path, config)?;

    let mut command = Command::new(&cn);
    command
        .args(["-p", "Say hi", "--config"])
        .arg(&config_path)
        .current_dir(&work)
        .env("HOME", home.path())
        .env("CONTINUE_GLOBAL_DIR", home.path().join(".continue"))
        .env("CONTINUE_CLI_ENABLE_TELEMETRY", "0")
        .env("CONTINUE_METRICS_ENABLED", "0")
        .env("NO_COLOR", "1")
        .env_remove("CONTINUE_API_KEY")
        .env_remove("OPENAI_API_KEY");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = setup.mock.requests();
    let gens = kind.generations(&requests);
    let printed = output.stdout.trim();

    let mut c = Checks::default();
    c.check(output.status.success(), || {
        format!("cn exited with {}", output.status)
    });
    kind.check_requests(&mut c, &gens, &[client_key]);
    c.check(
        gens.first()
            .is_some_and(|r| kind.last_user_text(r).as_deref() == Some("Say hi")),
        || "the first upstream request's user text is not \"Say hi\"".to_owned(),
    );
    c.check(
        gens.first()
            .is_some_and(|r| kind.declared_tools(r).iter().any(|t| t == "Read")),
        || "the first upstream request did not declare cn's `Read` tool".to_owned(),
    );
    c.check(!with_tool_result(kind, &gens, MARKER).is_empty(), || {
        format!("no upstream request carried a tool result containing {MARKER:?}")
    });
    c.check(
        printed.contains("Mock reply to tool result:") && printed.contains(MARKER),
        || format!("cn printed {printed:?}, not the mock's reply quoting {MARKER:?}"),
    );
    c.finish(|| format!("Continue CLI:\n{}", setup.context(&output, &requests)))?;
    println!(
        "cn → {kind:?}: printed {:?}; {} generation request(s)",
        clip(printed, 100),
        gens.len()
    );
    setup.gateway.shutdown().await
}

per_upstream!(aider:
    aider_openai => OpenAi,
    aider_anthropic => Anthropic,
    aider_gemini => Gemini,
);

/// `aider --message`: one streamed chat turn, no tools.
async fn aider(kind: Upstream, test: &str) -> Result<()> {
    let Some(aider) = client_from_env("SWITCHBOARD_E2E_AIDER", test, "Aider (`aider`)")? else {
        return Ok(());
    };
    let setup = Setup::start().await?;
    let (home, work) = client_home()?;
    let client_key = "sk-e2e-aider-key-must-not-be-forwarded";
    let mut command = Command::new(&aider);
    command
        .arg("--model")
        .arg(format!("openai/{}", kind.model()))
        .args([
            "--message",
            "Say hi",
            "--no-git",
            "--yes-always",
            "--no-check-update",
        ])
        .args([
            "--no-analytics",
            "--no-show-model-warnings",
            "--no-pretty",
            "--dry-run",
        ])
        .current_dir(&work)
        .env("HOME", home.path())
        .env("OPENAI_API_BASE", setup.gateway.v1())
        .env("OPENAI_API_KEY", client_key)
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("OPENAI_BASE_URL");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = setup.mock.requests();
    let gens = kind.generations(&requests);

    let mut c = Checks::default();
    c.check(output.status.success(), || {
        format!("aider exited with {}", output.status)
    });
    c.check(output.stdout.contains("Mock reply to: Say hi"), || {
        "aider did not print the mock's reply to \"Say hi\"".to_owned()
    });
    kind.check_requests(&mut c, &gens, &[client_key]);
    c.check(
        gens.first().is_some_and(|r| {
            kind.is_stream(r)
                && kind
                    .last_user_text(r)
                    .is_some_and(|t| t.starts_with("Say hi"))
        }),
        || {
            "the first upstream request is not a stream whose user text starts with \"Say hi\""
                .to_owned()
        },
    );
    c.finish(|| format!("Aider:\n{}", setup.context(&output, &requests)))?;
    println!(
        "aider → {kind:?}: {} generation request(s); printed the mock's reply",
        gens.len()
    );
    setup.gateway.shutdown().await
}

// ---- the official SDKs: streams with tools ---------------------------------------------------------

per_upstream!(openai_sdk:
    openai_sdk_openai => OpenAi,
    openai_sdk_anthropic => Anthropic,
    openai_sdk_gemini => Gemini,
);
per_upstream!(anthropic_sdk:
    anthropic_sdk_openai => OpenAi,
    anthropic_sdk_anthropic => Anthropic,
    anthropic_sdk_gemini => Gemini,
);

async fn openai_sdk(kind: Upstream, test: &str) -> Result<()> {
    sdk(kind, test, "openai", "SWITCHBOARD_E2E_PYTHON").await
}

async fn anthropic_sdk(kind: Upstream, test: &str) -> Result<()> {
    sdk(kind, test, "anthropic", "SWITCHBOARD_E2E_ANTHROPIC_PYTHON").await
}

/// Runs tests/e2e/sdk_tools.py with `sdk` and checks its report and the mock's recording.
async fn sdk(kind: Upstream, test: &str, sdk: &str, python_var: &str) -> Result<()> {
    let what = format!("a python with the `{sdk}` package");
    let Some(python) = client_from_env(python_var, test, &what)? else {
        return Ok(());
    };
    let setup = Setup::start().await?;
    let mut command = Command::new(&python);
    command
        .arg(e2e_file("sdk_tools.py"))
        .args([sdk, &setup.gateway.url, kind.model()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL");
    let output = run_client(command, CLIENT_TIMEOUT).await?;
    let requests = setup.mock.requests();
    let context = || format!("{sdk} SDK:\n{}", setup.context(&output, &requests));
    anyhow::ensure!(
        output.status.success(),
        "sdk_tools.py failed.\n{}",
        context()
    );
    let report: Value = serde_json::from_str(&output.stdout)
        .with_context(|| format!("sdk_tools.py printed no JSON.\n{}", context()))?;

    let mut c = Checks::default();
    sdk_report::check(&mut c, kind, &report, &requests);
    c.finish(context)?;
    println!(
        "{sdk} SDK {} → {kind:?}: text, streamed tool call and tool result ok",
        report["sdk_version"]
    );
    setup.gateway.shutdown().await
}
