//! The app's supervisor, headless, against a real gateway and the mock upstream on loopback:
//! start, stop (port closed, streams drained), start again on the same port, restart on a
//! `server.listen` edit, errors for an invalid config (with its line) and a port in use,
//! reload failures, and recovery when the file is fixed. No display is needed.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mock_upstream::MockUpstream;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
use switchboard_app::machine::{Intent, ProxyState};
use switchboard_app::supervisor::{Notice, Settings, Snapshot, Supervisor};
use tokio::sync::mpsc;

const SETTLE: Duration = Duration::from_secs(15);

struct Fixture {
    _dir: tempfile::TempDir,
    config: PathBuf,
    supervisor: Supervisor,
    notices: mpsc::Receiver<Notice>,
}

fn config_text(listen: &str, mock: &MockUpstream) -> String {
    format!(
        "[server]\nlisten = \"{listen}\"\n\n\
         [providers.mock]\napi = \"openai\"\nbase_url = \"http://{}/v1\"\n\n\
         [models.\"gpt-4o-mini\"]\nprovider = \"mock\"\nmodel = \"mock-small\"\n",
        mock.addr()
    )
}

fn fixture(text: &str) -> TestResult<Fixture> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text)?;
    let (supervisor, task, notices) = Supervisor::new(Settings {
        config_path: config.clone(),
        data_dir: dir.path().join("data"),
        grace: Duration::from_secs(10),
    });
    tokio::spawn(task.run());
    Ok(Fixture {
        _dir: dir,
        config,
        supervisor,
        notices,
    })
}

fn running_addr(snapshot: &Snapshot) -> TestResult<SocketAddr> {
    match &snapshot.state {
        ProxyState::Running { addr } => Ok(*addr),
        other => Err(format!("expected running, got {other:?}").into()),
    }
}

fn error_reason(snapshot: &Snapshot) -> TestResult<String> {
    match &snapshot.state {
        ProxyState::Error { reason } => Ok(reason.clone()),
        other => Err(format!("expected an error, got {other:?}").into()),
    }
}

/// A plain HTTP/1.1 GET over a fresh connection; returns the status line and body.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

async fn chat(
    addr: SocketAddr,
    stream: bool,
    extra: &[(&str, &str)],
) -> TestResult<reqwest::Response> {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(format!("http://{addr}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"model":"gpt-4o-mini","stream":{stream},"messages":[{{"role":"user","content":"hi"}}]}}"#
        ));
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    Ok(request.send().await?)
}

fn edit(path: &Path, text: &str) -> TestResult {
    // Replace by rename, as editors do.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

async fn next_notice(notices: &mut mpsc::Receiver<Notice>) -> TestResult<Notice> {
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .map_err(|_| "no notice within 10 s")?;
    Ok(notice.ok_or("the supervisor is gone")?)
}

/// Waits (10 s at most) for a snapshot that satisfies `ready`.
async fn wait_for(
    supervisor: &Supervisor,
    what: &str,
    ready: impl FnMut(&Snapshot) -> bool,
) -> TestResult<Snapshot> {
    let mut updates = supervisor.subscribe();
    let snapshot = tokio::time::timeout(Duration::from_secs(10), updates.wait_for(ready))
        .await
        .map_err(|_| format!("timed out waiting for {what}"))??
        .clone();
    Ok(snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_stops_and_starts_again_on_the_same_port() -> TestResult {
    let mock = MockUpstream::start().await?;
    let f = fixture(&config_text("127.0.0.1:0", &mock))?;
    assert_eq!(f.supervisor.snapshot().state, ProxyState::Stopped);

    let snapshot = f.supervisor.apply(Intent::Start, SETTLE).await;
    let addr = running_addr(&snapshot)?;
    let access = snapshot.access.as_ref().ok_or("no access while running")?;
    assert_eq!(access.base_url, format!("http://{addr}"));
    assert!(
        access.admin_token.is_some(),
        "the data dir gives an admin token"
    );
    assert!(http_get(addr, "/health")?.contains("\"status\":\"ok\""));

    let response = chat(addr, false, &[]).await?;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(mock.requests()[0].json()["model"], "mock-small");

    let stopping = Instant::now();
    let snapshot = f.supervisor.apply(Intent::Stop, SETTLE).await;
    assert_eq!(snapshot.state, ProxyState::Stopped);
    assert!(snapshot.access.is_none());
    // Far below the 10 s grace: with nothing in flight, a stop does not wait for it. (The
    // measured time, milliseconds, is in docs/benchmarks.md; tests assert behaviour, not speed.)
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "an idle gateway waited for the grace period: {:?}",
        stopping.elapsed()
    );
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(refused.is_err(), "the port still accepts connections");

    let snapshot = f.supervisor.apply(Intent::Start, SETTLE).await;
    assert_eq!(
        running_addr(&snapshot)?,
        addr,
        "a port the OS picked is kept"
    );
    assert!(http_get(addr, "/health")?.contains("200 OK"));
    f.supervisor.apply(Intent::Stop, SETTLE).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_the_port_at_once_and_drains_streams() -> TestResult {
    let mock = MockUpstream::start().await?;
    let f = fixture(&config_text("127.0.0.1:0", &mock))?;
    let addr = running_addr(&f.supervisor.apply(Intent::Start, SETTLE).await)?;

    // 40 chunks 100 ms apart: the stream is still going long after Stop is clicked.
    let mut response = chat(
        addr,
        true,
        &[("x-mock-chunks", "40"), ("x-mock-chunk-gap-ms", "100")],
    )
    .await?;
    assert_eq!(response.status(), 200);
    let first = response.chunk().await?.ok_or("the stream ended at once")?;
    assert!(!first.is_empty());

    f.supervisor.request(Intent::Stop).await;
    assert_eq!(f.supervisor.snapshot().state, ProxyState::Stopping);
    // The port closes while the stream is still in flight (it has seconds to go)...
    let deadline = Instant::now() + Duration::from_secs(3);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the port stayed open during the drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(f.supervisor.snapshot().state, ProxyState::Stopping);

    // ...and the stream still runs to its end.
    let mut rest = String::from_utf8_lossy(&first).into_owned();
    while let Some(chunk) = response.chunk().await? {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(rest.trim_end().ends_with("data: [DONE]"), "{rest}");
    let snapshot = f.supervisor.settled(SETTLE).await;
    assert_eq!(snapshot.state, ProxyState::Stopped);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_is_an_error_naming_the_line_and_fixing_it_starts() -> TestResult {
    let mock = MockUpstream::start().await?;
    let mut f = fixture("[server]\nlisten = \"nope\"\n")?;
    let reason = error_reason(&f.supervisor.apply(Intent::Start, SETTLE).await)?;
    assert!(reason.contains("server.listen (line 2)"), "{reason}");
    assert_eq!(
        next_notice(&mut f.notices).await?,
        Notice::StartFailed { reason }
    );

    // Saving a valid file starts the proxy without another click.
    edit(&f.config, &config_text("127.0.0.1:0", &mock))?;
    let running = wait_for(&f.supervisor, "a start after the fix", |s| {
        matches!(s.state, ProxyState::Running { .. })
    })
    .await?;
    assert!(http_get(running_addr(&running)?, "/health")?.contains("200 OK"));
    f.supervisor.apply(Intent::Stop, SETTLE).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_an_error_and_a_notice() -> TestResult {
    let mock = MockUpstream::start().await?;
    let taken = TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let mut f = fixture(&config_text(&format!("127.0.0.1:{port}"), &mock))?;
    let reason = error_reason(&f.supervisor.apply(Intent::Start, SETTLE).await)?;
    assert!(reason.contains("already in use"), "{reason}");
    assert!(matches!(
        next_notice(&mut f.notices).await?,
        Notice::StartFailed { .. }
    ));
    // Once the port is free, Start works (restart from the error state).
    drop(taken);
    let snapshot = f.supervisor.apply(Intent::Start, SETTLE).await;
    assert_eq!(running_addr(&snapshot)?.port(), port);
    f.supervisor.apply(Intent::Stop, SETTLE).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reload_or_restart_and_bad_edits_keep_the_running_config() -> TestResult {
    let mock = MockUpstream::start().await?;
    let mut f = fixture(&config_text("127.0.0.1:0", &mock))?;
    let addr = running_addr(&f.supervisor.apply(Intent::Start, SETTLE).await)?;

    // A broken edit: a notice, and the proxy keeps serving with the previous config.
    edit(&f.config, "[models.x]\nprovider = \"nobody\"\n")?;
    let notice = next_notice(&mut f.notices).await?;
    let Notice::ReloadFailed { reason } = notice else {
        return Err(format!("expected ReloadFailed, got {notice:?}").into());
    };
    assert!(reason.contains("(line 2)"), "{reason}");
    assert!(reason.contains("keeps running"), "{reason}");
    assert_eq!(chat(addr, false, &[]).await?.status(), 200);

    // A new listen address means a restart there.
    let free = TcpListener::bind("127.0.0.1:0")?;
    let port = free.local_addr()?.port();
    drop(free);
    edit(&f.config, &config_text(&format!("127.0.0.1:{port}"), &mock))?;
    let moved = wait_for(&f.supervisor, "a restart on the new port", |s| {
        s.state.addr().is_some_and(|a| a.port() == port)
    })
    .await?;
    assert!(http_get(running_addr(&moved)?, "/health")?.contains("200 OK"));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    f.supervisor.apply(Intent::Stop, SETTLE).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_clicked_during_start_up_wins() -> TestResult {
    let mock = MockUpstream::start().await?;
    let f = fixture(&config_text("127.0.0.1:0", &mock))?;
    f.supervisor.request(Intent::Start).await;
    f.supervisor.request(Intent::Stop).await;
    let snapshot = f.supervisor.settled(SETTLE).await;
    assert_eq!(snapshot.state, ProxyState::Stopped);
    Ok(())
}
