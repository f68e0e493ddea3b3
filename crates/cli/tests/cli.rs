//! The `switchboard` binary as a user runs it: `config check`, `models`, and `serve`'s first run
//! and its one-line failures (port in use, unreadable config, bad data dir).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn switchboard(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_DATA_DIR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("SWITCHBOARD_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

const VALID: &str = r#"
[providers.nvidia]
preset = "nvidia"
api_key = "env:PATH"
model_prefix = "nvidia/"

[providers.local]
base_url = "http://127.0.0.1:8080/v1"

[models."nvidia/kimi-k2-thinking"]
provider = "nvidia"
model = "moonshotai/kimi-k2-thinking"

[models."fast"]
provider = "local"
model = "llama-3.1-8b"
"#;

#[test]
fn config_check_reports_valid_and_every_problem() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("good.toml");
    std::fs::write(&good, VALID).unwrap();
    let (code, out, _) = run(switchboard(home.path())
        .args(["config", "check", "--config"])
        .arg(&good));
    assert_eq!(code, 0);
    assert_eq!(
        out,
        format!(
            "config `{}` is valid: 2 provider(s), 2 model mapping(s)\n",
            good.display()
        )
    );

    let bad = home.path().join("bad.toml");
    std::fs::write(
        &bad,
        VALID
            .replace("provider = \"local\"", "provider = \"locl\"")
            .replace("env:PATH", "env:SWITCHBOARD_TEST_UNSET_VAR_X"),
    )
    .unwrap();
    let (code, out, err) = run(switchboard(home.path())
        .args(["config", "check"])
        .env("SWITCHBOARD_CONFIG", &bad));
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "config `{}` has 2 problems:\n  providers.`nvidia`.api_key (line 4): environment variable `SWITCHBOARD_TEST_UNSET_VAR_X` is not set; export it before starting Switchboard, or store the key with `switchboard key set NAME` and write `keyring:NAME`\n  models.`fast`.provider (line 15): unknown provider `locl`; known: `local`, `nvidia`\n",
            bad.display()
        )
    );
}

#[test]
fn models_prints_the_routing_table_without_needing_secrets() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("c.toml");
    std::fs::write(
        &path,
        VALID.replace("env:PATH", "keyring:never-stored-here"),
    )
    .unwrap();
    let (code, out, err) = run(switchboard(home.path())
        .arg("models")
        .arg("--config")
        .arg(&path));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "CLIENT MODEL ID          PROVIDER  UPSTREAM MODEL ID\n\
         fast                     local     llama-3.1-8b\n\
         nvidia/kimi-k2-thinking  nvidia    moonshotai/kimi-k2-thinking\n\
         nvidia/*                 nvidia    *\n\
         local/*                  local     *\n"
    );
}

/// A running `switchboard serve`, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(mut cmd: Command) -> Server {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned by the guard from here on, so every path below kills and reaps it.
    let mut server = Server {
        child,
        url: String::new(),
    };
    let stdout = server.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            if let Some(url) = line.strip_prefix("Switchboard listening on ") {
                server.url = url.to_owned();
                return server;
            }
            seen.push(line);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("serve exited with {status}; stdout: {seen:?}");
        }
    }
    panic!("serve did not print its listening line; stdout: {seen:?}");
}

#[test]
fn first_run_writes_the_default_config_and_serves() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = switchboard(home.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let server = serve(cmd);
    let written = home.path().join("config/switchboard/config.toml");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.contains("[providers.ollama]"));
    assert!(home.path().join("data/switchboard").is_dir());
    let health = ureq_get(&format!("{}/health", server.url));
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let models = ureq_get(&format!("{}/v1/models", server.url));
    assert_eq!(models, "{\"data\":[],\"object\":\"list\"}");
}

#[test]
fn no_accounting_records_nothing_and_has_no_admin_api() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(&config, VALID).unwrap();
    let data = home.path().join("data");
    let mut cmd = switchboard(home.path());
    cmd.args([
        "serve",
        "--no-accounting",
        "--listen",
        "127.0.0.1:0",
        "--config",
    ])
    .arg(&config)
    .arg("--data-dir")
    .arg(&data);
    let server = serve(cmd);
    assert!(ureq_get(&format!("{}/health", server.url)).contains("ok"));
    assert!(!data.join("switchboard.db").exists());
    assert!(!data.join("admin-token").exists());
}

#[test]
fn edits_to_the_config_apply_without_restart_and_bad_ones_are_kept_out() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(&config, VALID).unwrap();
    let mut cmd = switchboard(home.path());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config);
    let server = serve(cmd);
    let models = || ureq_get(&format!("{}/v1/models", server.url));
    assert!(!models().contains("\"added\""));
    let edited = format!("{VALID}\n[models.\"added\"]\nprovider = \"local\"\n");
    std::fs::write(&config, &edited).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !models().contains("\"added\"") {
        assert!(
            Instant::now() < deadline,
            "the edit was not applied: {}",
            models()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken edit leaves the running config in place.
    std::fs::write(
        &config,
        format!("{edited}\n[models.\"broken\"]\nprovider = \"nope\"\n"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let listed = models();
    assert!(
        listed.contains("\"added\"") && !listed.contains("\"broken\""),
        "{listed}"
    );
}

#[test]
fn serve_failures_are_one_clear_line() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(&config, VALID).unwrap();

    // Port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (code, _, err) = run(switchboard(home.path())
        .args(["serve", "--listen", &addr.to_string(), "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: cannot listen on {addr}: the port is already in use (another Switchboard, or another program); choose another with `--listen` or `server.listen`\n"
        )
    );

    // An explicit config that does not exist is not silently created.
    let missing = home.path().join("nope.toml");
    let (code, _, err) = run(switchboard(home.path())
        .args(["serve", "--config"])
        .arg(&missing));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: cannot read config `{}`: No such file or directory (os error 2)\n",
            missing.display()
        )
    );

    // A data dir that is a file.
    let file = home.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let (code, _, err) = run(switchboard(home.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&file));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "error: cannot create the data dir `{}`: File exists (os error 17)\n",
            file.display()
        )
    );

    // Listening beyond loopback without a client token.
    let (code, _, err) = run(switchboard(home.path())
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: refusing to listen on 0.0.0.0:0: it is reachable from other machines and no `server.client_token` is set; set one, or listen on 127.0.0.1\n"
    );
}

/// A tiny blocking HTTP GET over loopback (keeps this test free of an HTTP client dependency).
fn ureq_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}
