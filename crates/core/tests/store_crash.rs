//! A writer killed with SIGKILL in the middle of its work: the database stays sound and holds
//! every outcome whose commit was announced. The test re-runs its own binary as the child.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod store_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use store_support::{config, outcome, start, usage};
use switchboard_core::store::{DB_FILE_NAME, LiveEvent, Store};

const TEST_NAME: &str = "store_a_killed_writer_loses_no_committed_outcome";
/// Set in the child: the data directory to write to.
const CHILD_DIR: &str = "SWITCHBOARD_STORE_CRASH_CHILD_DIR";

/// The child: writes outcomes as fast as it can and prints `ack <id>` for each one committed
/// (events are sent only after the commit), until it is killed.
fn child(dir: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let run = start(std::path::Path::new(dir), config());
        let mut events = run.events;
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(LiveEvent::RequestFinished(row)) => {
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ack {}", row.id).unwrap();
                        out.flush().unwrap();
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let tx = run.writer.outcomes();
        let clients = ["claude-cli/2.1.197", "aider/0.86.2", "curl/8.5.0"];
        for i in 0u64.. {
            let model = if i % 2 == 0 { "gpt-4o-mini" } else { "mystery" };
            let o = outcome(
                clients[(i % 3) as usize],
                model,
                SystemTime::now(),
                usage(i, 1),
            );
            tx.send(o).await.unwrap();
            if i % 64 == 0 {
                // Let the events out between bursts, so acks keep flowing.
                tokio::task::yield_now().await;
            }
        }
    });
}

#[test]
fn store_a_killed_writer_loses_no_committed_outcome() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked = HashSet::new();
    // Three lives on the same file: each one starts on what the previous one left behind.
    for kill_after in [300, 2_000, 5_000] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut this_life = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(id) = line.strip_prefix("ack ") {
                acked.insert(id.to_owned());
                this_life += 1;
                if this_life == kill_after {
                    child.kill().unwrap(); // SIGKILL: no destructor, no drain, no checkpoint
                    break;
                }
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed, it did not finish");
        assert_eq!(
            this_life, kill_after,
            "the child acknowledged enough writes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let store = Store::open(dir.path()).unwrap();
    let reader = store.reader().unwrap();
    assert_eq!(reader.integrity_check().unwrap(), vec!["ok"]);
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
    let mut stmt = conn.prepare("SELECT request_uid FROM requests").unwrap();
    let stored: HashSet<String> = stmt
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    eprintln!("acknowledged {}, stored {}", acked.len(), stored.len());
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged outcomes lost",
        missing.len()
    );
    assert!(stored.len() >= acked.len());
    // The rollup and the sessions were committed with the rows: the totals agree.
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    let rows = count("SELECT COUNT(*) FROM requests");
    assert_eq!(count("SELECT SUM(requests) FROM usage_daily"), rows);
    assert_eq!(count("SELECT SUM(request_count) FROM sessions"), rows);
    assert_eq!(
        count("SELECT SUM(input_tokens) FROM sessions"),
        count("SELECT SUM(input_tokens) FROM requests")
    );
}
