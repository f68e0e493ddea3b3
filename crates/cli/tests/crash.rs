//! `kill -9` of a gateway under load: the usage database is not corrupted, and every request that
//! finished before the writer's commit window is there after a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use mock_upstream::MockUpstream;
use switchboard_core::store::Store;

/// Longer than the documented commit window (docs/benchmarks.md): a request that finished this
/// long before the kill must have been committed.
const COMMIT_WINDOW: Duration = Duration::from_millis(250);

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(config: &Path, data_dir: &Path) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SWITCHBOARD_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let serve = Serve(child);
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("Switchboard listening on ")
                .map(str::to_owned)
        })
        .expect("serve prints its address");
    // Keep draining stdout so the child never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    (serve, url)
}

async fn chat(http: &reqwest::Client, url: &str, n: usize) -> Option<String> {
    let body = format!(
        r#"{{"model":"gpt-4o-mini","stream":{},"messages":[{{"role":"user","content":"request {n}"}}]}}"#,
        n.is_multiple_of(2)
    );
    let response = http
        .post(format!("{url}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .ok()?;
    let id = response
        .headers()
        .get("x-switchboard-request-id")?
        .to_str()
        .ok()?
        .to_owned();
    response.bytes().await.ok()?;
    Some(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_that_finished_before_the_commit_window() {
    let mock = MockUpstream::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.mock]\napi = \"openai\"\nbase_url = \"{}\"\n\n[models.\"gpt-4o-mini\"]\nprovider = \"mock\"\nmodel = \"mock-small\"\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let (gateway, url) = serve(&config, &data);
    let http = reqwest::Client::new();

    // Finished requests: 300 over 16 connections.
    let finished: Vec<String> = futures::stream::iter(0..300)
        .map(|n| chat(&http, &url, n))
        .buffer_unordered(16)
        .filter_map(|id| async move { id })
        .collect()
        .await;
    assert_eq!(finished.len(), 300);
    // Load in flight at the moment of the kill: slow streams that will never finish.
    let slow = http.clone();
    let slow_url = url.clone();
    let in_flight = tokio::spawn(async move {
        futures::stream::iter(0..50)
            .for_each_concurrent(50, |n| {
                let http = slow.clone();
                let url = slow_url.clone();
                async move {
                    let _ = http
                        .post(format!("{url}/v1/chat/completions"))
                        .header("x-mock-chunks", "100")
                        .header("x-mock-chunk-gap-ms", "50")
                        .body(format!(r#"{{"model":"gpt-4o-mini","stream":true,"messages":[{{"role":"user","content":"slow {n}"}}]}}"#))
                        .send()
                        .await
                        .map(|r| r.bytes());
                }
            })
            .await;
    });
    tokio::time::sleep(COMMIT_WINDOW).await;
    drop(gateway); // SIGKILL: no shutdown, no drain
    in_flight.abort();

    let store = Store::open(&data).unwrap();
    let reader = store.reader().unwrap();
    assert_eq!(reader.integrity_check().unwrap(), vec!["ok".to_string()]);
    let page = reader
        .requests(&switchboard_core::store::RequestQuery {
            limit: 500,
            ..Default::default()
        })
        .unwrap();
    let stored: std::collections::HashSet<String> =
        page.items.iter().map(|r| r.id.clone()).collect();
    let missing: Vec<&String> = finished.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} finished requests were lost: {missing:?}",
        missing.len()
    );
    drop(reader);
    drop(store);

    // And the gateway starts again on the same database.
    let (_gateway, url) = serve(&config, &data);
    assert!(chat(&http, &url, 1).await.is_some());
}
