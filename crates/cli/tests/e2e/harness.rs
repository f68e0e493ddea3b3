//! Process plumbing for the real-client end-to-end tests: the `switchboard serve` child process,
//! client processes with timeouts, and the opt-in environment variables that locate the clients.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

/// How long `switchboard serve` may take to print its listening line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the gateway may take to exit after SIGTERM.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often child processes are polled.
const POLL: Duration = Duration::from_millis(25);

/// Proxy variables are removed from every child: the tests talk to 127.0.0.1 only, and an
/// inherited proxy (CI machines have them) would route loopback traffic elsewhere.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// The path named by the environment variable `var`, or `None` after printing one line saying the
/// test is skipped. A variable that is set but names no file is an error, not a skip.
pub fn client_from_env(var: &str, test: &str, what: &str) -> Result<Option<PathBuf>> {
    match std::env::var_os(var) {
        Some(value) if !value.is_empty() => {
            let path = PathBuf::from(value);
            if !path.exists() {
                bail!(
                    "{var}={} does not exist (run ./scripts/setup-test-deps.sh)",
                    path.display()
                );
            }
            Ok(Some(path))
        }
        _ => {
            println!(
                "SKIPPED {test}: {var} is not set (it names {what}); \
                 run ./scripts/test.sh, or eval \"$(./scripts/setup-test-deps.sh)\" first"
            );
            Ok(None)
        }
    }
}

/// The gateway config used by the end-to-end tests: one keyless OpenAI-compatible provider
/// (the mock) and one client model id mapped onto a different upstream id.
pub fn gateway_config(mock_base_url: &str) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[providers.mock]
api = "openai"
base_url = "{mock_base_url}"

[models."gpt-4o-mini"]
provider = "mock"
model = "mock-small"
"#
    )
}

/// A running `switchboard serve`; killed (SIGKILL) on drop unless [`Gateway::shutdown`] ran.
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:PORT`, as printed by the gateway.
    pub url: String,
    stderr_path: PathBuf,
    stdout: Arc<Mutex<String>>,
    // Config, data dir and logs; removed last.
    _dir: TempDir,
}

impl Gateway {
    /// Writes `config_toml` into a temporary directory and starts the real binary on it.
    pub async fn start(config_toml: &str) -> Result<Self> {
        Self::start_with_env(config_toml, &[]).await
    }

    /// [`Gateway::start`] with extra environment variables (e.g. provider keys the config reads
    /// with `api_key = "env:VAR"`).
    pub async fn start_with_env(config_toml: &str, env: &[(&str, &str)]) -> Result<Self> {
        let dir = tempfile::tempdir().context("creating the gateway's temporary directory")?;
        let config_path = dir.path().join("switchboard.toml");
        std::fs::write(&config_path, config_toml).context("writing the gateway config")?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir).context("creating the gateway's data dir")?;
        let stderr_path = dir.path().join("gateway.stderr");
        let stderr_file =
            std::fs::File::create(&stderr_path).context("creating the gateway's stderr log")?;

        let bin = env!("CARGO_BIN_EXE_switchboard");
        let mut command = Command::new(bin);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr_file));
        for var in PROXY_VARS {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {bin} serve"))?;

        let stdout_pipe = child
            .stdout
            .take()
            .context("the gateway's stdout was not piped")?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
        let stdout_copy = Arc::clone(&stdout);
        // Reads stdout for the whole life of the process, so the gateway never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut url_tx = Some(url_tx);
            for line in BufReader::new(stdout_pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = listening_url(&line)
                    && let Some(tx) = url_tx.take()
                {
                    let _ = tx.send(url);
                }
                let mut all = stdout_copy.lock().unwrap_or_else(PoisonError::into_inner);
                all.push_str(&line);
                all.push('\n');
            }
        });

        let mut gateway = Self {
            child,
            url: String::new(),
            stderr_path,
            stdout,
            _dir: dir,
        };
        match tokio::time::timeout(STARTUP_TIMEOUT, url_rx).await {
            Ok(Ok(url)) => {
                gateway.url = url;
                Ok(gateway)
            }
            Ok(Err(_closed)) => {
                // stdout closed without the line: the process exited (or closed stdout).
                let status = wait_for_exit(&mut gateway.child, Duration::from_secs(5)).await;
                bail!(
                    "`switchboard serve` stopped before printing `listening on http://…` \
                     (exit: {}).\n{}",
                    describe_status(status),
                    gateway.logs()
                )
            }
            Err(_elapsed) => bail!(
                "`switchboard serve` did not print `listening on http://…` within {:?}.\n{}",
                STARTUP_TIMEOUT,
                gateway.logs()
            ),
        }
    }

    /// The gateway's base URL for OpenAI clients.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.url)
    }

    /// Everything the gateway printed so far, for failure messages.
    pub fn logs(&self) -> String {
        let stderr = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let stdout = self
            .stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        format!(
            "--- gateway stdout ---\n{}--- gateway stderr ---\n{}--- end of gateway output ---",
            stdout, stderr
        )
    }

    /// Sends SIGTERM and waits for a clean exit (the CLI contract: serve until SIGTERM/SIGINT).
    pub async fn shutdown(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh", &pid])
            .status()
            .context("running `kill -TERM`")?;
        if !sent.success() {
            bail!("`kill -TERM {pid}` failed: {sent}");
        }
        match wait_for_exit(&mut self.child, SHUTDOWN_TIMEOUT).await {
            Some(status) if status.success() => Ok(()),
            Some(status) => bail!(
                "the gateway exited with {} after SIGTERM (expected a clean exit).\n{}",
                describe_status(Some(status)),
                self.logs()
            ),
            None => bail!(
                "the gateway did not exit within {SHUTDOWN_TIMEOUT:?} after SIGTERM.\n{}",
                self.logs()
            ),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The URL in a line like `Switchboard listening on http://127.0.0.1:PORT`
/// (the equivalent of the regex `listening on (http://\S+)`).
pub fn listening_url(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on ")?;
    let url: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    url.starts_with("http://")
        .then(|| url.trim_end_matches('/').to_owned())
}

/// What a client process did.
pub struct ClientOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    /// All of it, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "exit: {}\n--- client stdout ---\n{}\n--- client stderr ---\n{}\n--- end of client output ---",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` to completion with piped output, killing it after `timeout`.
/// Polls instead of blocking so the in-process mock upstream keeps being served.
pub async fn run_client(mut command: Command, timeout: Duration) -> Result<ClientOutput> {
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group, so the client and anything it started can be killed together.
        .process_group(0);
    let program = format!("{:?}", command.get_program());
    let mut child = command
        .spawn()
        .with_context(|| format!("spawning {program}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_for_exit(&mut child, timeout).await;
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Leftover grandchildren would hold the output pipes open (and the drains below with them).
    kill_process_group(child.id());
    let (stdout, stderr) = (join_drain(stdout), join_drain(stderr));
    let Some(status) = status else {
        bail!(
            "{program} did not finish within {timeout:?} (killed).\n--- client stdout ---\n{stdout}\n--- client stderr ---\n{stderr}"
        );
    };
    Ok(ClientOutput {
        status,
        stdout,
        stderr,
    })
}

/// SIGKILL to every process left in group `pgid` (errors ignored: usually the group is gone).
fn kill_process_group(pgid: u32) {
    let _ = Command::new("sh")
        .args([
            "-c",
            "kill -KILL -- \"-$1\" 2>/dev/null",
            "sh",
            &pgid.to_string(),
        ])
        .status();
}

type Drain = Option<std::thread::JoinHandle<String>>;

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Drain {
    pipe.map(|mut pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

fn join_drain(drain: Drain) -> String {
    drain
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default()
}

/// Polls `child` until it exits or `timeout` passes (`None`).
async fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            Ok(None) | Err(_) => return None,
        }
    }
}

fn describe_status(status: Option<ExitStatus>) -> String {
    status.map_or_else(|| "still running".to_owned(), |s| s.to_string())
}

/// A file next to this one (`tests/e2e/NAME`).
pub fn e2e_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("e2e")
        .join(name)
}

/// Collects every failed expectation, so one run shows all of them.
#[derive(Default)]
pub struct Checks {
    failures: Vec<String>,
}

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(what());
        }
    }

    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.failures
                .push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    /// Fails with every collected message and `context` (outputs of both sides).
    pub fn finish(self, context: impl FnOnce() -> String) -> Result<()> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = self.failures.iter().map(|f| format!("  - {f}")).collect();
        bail!(
            "{} expectation(s) failed:\n{}\n\n{}",
            self.failures.len(),
            list.join("\n"),
            context()
        )
    }
}
