//! Unit tests of the store's parts that the public API cannot reach: schema upgrades from real
//! v1 and v2 files, refusals, and how one outcome is accounted and assigned to a session.

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

use super::batch::{self, WriterState};
use super::ingest::{PriceBook, Recorded, SOURCE_NONE, SOURCE_REPORTED};
use super::rows::{RequestStatus, SessionStatus};
use super::schema::{self, SCHEMA_VERSION, backup_path};
use super::{DB_FILE_NAME, Store, StoreError};
use crate::accounting::estimate::ResponseCapture;
use crate::accounting::pricing;
use crate::config::{Config, LoadOptions};
use crate::outcome::Capture;
use crate::usage::Usage;

const CONFIG: &str = r#"
[providers.openai]
preset = "openai"
api_key = "env:OPENAI_API_KEY"

[providers.local]
api = "openai"
base_url = "http://127.0.0.1:9/v1"

[models."gpt-4o-mini"]
provider = "openai"
model = "gpt-4o-mini"

[models."mystery"]
provider = "local"
model = "mystery-model"
max_context_size = 1000
"#;

fn config() -> Arc<Config> {
    let options = LoadOptions {
        resolve_secrets: false,
    };
    Arc::new(Config::from_toml(CONFIG, "test.toml", options).unwrap_or_else(|e| panic!("{e}")))
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        ..Usage::default()
    }
}

/// A routed, successful request to `model` at `started_at`.
fn recorded(uid: &str, model: &str, started_at: i64) -> Recorded {
    let provider = if model == "gpt-4o-mini" {
        "openai"
    } else {
        "local"
    };
    let upstream = if model == "gpt-4o-mini" {
        "gpt-4o-mini"
    } else {
        "mystery-model"
    };
    Recorded {
        uid: uid.to_owned(),
        client: "claude-cli/2.1.197".to_owned(),
        session_hint: None,
        started_at,
        endpoint: "/v1/chat/completions",
        client_model: Some(model.to_owned()),
        provider: Some(provider.to_owned()),
        upstream_model: Some(upstream.to_owned()),
        stream: true,
        status: RequestStatus::Ok,
        http_status: 200,
        error: None,
        ttfb_ms: Some(120),
        duration_ms: 900,
        reported: Some(usage(100, 20)),
        capture: None,
    }
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[test]
fn migrations_are_valid() {
    schema::MIGRATIONS.validate().unwrap();
    assert_eq!(SCHEMA_VERSION, 3);
}

#[test]
fn a_v1_database_with_data_is_backed_up_and_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    {
        let conn = schema::open_at_version(&path, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (id, client, client_model, provider, created_at, last_active_at,
                 status, request_count, input_tokens, output_tokens, cost_usd)
             VALUES ('s1', 'aider/0.86', 'fast', 'groq', 1000, 2000, 'active', 2, 30, 7, 0.5);
             INSERT INTO requests (request_uid, session_id, started_at, client, client_model,
                 provider, upstream_model, endpoint, stream, status, http_status, duration_ms,
                 input_tokens, output_tokens, usage_source, cost_usd)
             VALUES ('req_a', 's1', 1000, 'aider/0.86', 'fast', 'groq', 'llama', '/v1/chat/completions',
                     1, 'ok', 200, 10, 10, 3, 'reported', 0.5),
                    ('req_b', 's1', 86400000 + 5, 'aider/0.86', 'fast', 'groq', 'llama',
                     '/v1/chat/completions', 0, 'upstream_error', 500, 10, 20, 4, 'reported', NULL),
                    ('req_c', NULL, 1500, 'curl/8', NULL, NULL, NULL, '/v1/chat/completions',
                     0, 'gateway_error', 400, 1, 0, 0, 'none', 0);",
        )
        .unwrap();
        assert_eq!(count(&conn, "PRAGMA user_version"), 1);
    }

    let store = Store::open(dir.path()).unwrap();
    drop(store);

    let backup = backup_path(&path, 1);
    assert_eq!(backup.file_name().unwrap(), "switchboard.db.v1.bak");
    let old = Connection::open(&backup).unwrap();
    assert_eq!(count(&old, "PRAGMA user_version"), 1);
    assert_eq!(count(&old, "SELECT COUNT(*) FROM requests"), 3);
    assert_eq!(
        count(
            &old,
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'usage_daily'"
        ),
        0
    );

    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM requests"), 3);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM sessions"), 1);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND name = 'requests_by_time'"
        ),
        1
    );
    // The rollup is backfilled from the requests already there, one row per day/model/provider.
    let mut stmt = conn
        .prepare(
            "SELECT day, client_model, provider, requests, errors, input_tokens, output_tokens,
                 cost_usd, unpriced_requests FROM usage_daily ORDER BY day, client_model",
        )
        .unwrap();
    type RollupRow = (String, String, String, i64, i64, i64, i64, f64, i64);
    let rows: Vec<RollupRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "1970-01-01".into(),
                "".into(),
                "".into(),
                1,
                1,
                0,
                0,
                0.0,
                0
            ),
            (
                "1970-01-01".into(),
                "fast".into(),
                "groq".into(),
                1,
                0,
                10,
                3,
                0.5,
                0
            ),
            (
                "1970-01-02".into(),
                "fast".into(),
                "groq".into(),
                1,
                1,
                20,
                4,
                0.0,
                1
            ),
        ]
    );
    drop(stmt);
    drop(conn);

    // Opening an up-to-date database again takes no new backup and changes nothing.
    std::fs::remove_file(&backup).unwrap();
    drop(Store::open(dir.path()).unwrap());
    assert!(!backup.exists());
}

#[test]
fn a_v2_database_keeps_its_requests_and_their_status_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    let columns = "request_uid, session_id, started_at, client, client_model, provider,
        upstream_model, endpoint, stream, status, http_status, error, ttfb_ms, duration_ms,
        input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens,
        usage_source, cost_usd";
    let all_rows = |conn: &Connection| -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("SELECT id, {columns} FROM requests ORDER BY id"))
            .unwrap();
        stmt.query_map([], |row| {
            let values: Vec<rusqlite::types::Value> =
                (0..22).map(|i| row.get(i)).collect::<Result<_, _>>()?;
            Ok(format!("{values:?}"))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let before = {
        let conn = schema::open_at_version(&path, 2).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO sessions (id, client, client_model, provider, created_at, last_active_at,
                 status)
             VALUES ('s1', 'aider/0.86', 'fast', 'groq', 1000, 2000, 'active');
             INSERT INTO requests (id, {columns})
             VALUES (7, 'req_a', 's1', 1000, 'aider/0.86', 'fast', 'groq', 'llama',
                     '/v1/chat/completions', 1, 'ok', 200, NULL, 40, 900, 10, 3, 1, 2, 4,
                     'reported', 0.5),
                    (9, 'req_b', NULL, 1500, 'curl/8', NULL, NULL, NULL, '/v1/embeddings', 0,
                     'client_disconnected', 499, 'gone', NULL, 1, 0, 0, 0, 0, 0, 'none', NULL);"
        ))
        .unwrap();
        all_rows(&conn)
    };

    drop(Store::open(dir.path()).unwrap());

    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    assert_eq!(all_rows(&conn), before);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'requests'
                 AND name IN ('requests_by_session', 'requests_by_time', 'requests_by_model')"
        ),
        3
    );
    // The rule is the same: an unknown status is refused, and the session's cascade still holds.
    let bad = conn.execute(
        "INSERT INTO requests (request_uid, started_at, client, endpoint, stream, status,
             http_status, duration_ms, usage_source)
         VALUES ('req_c', 1, 'x', '/v1/chat/completions', 0, 'fine', 200, 1, 'none')",
        [],
    );
    assert!(
        bad.is_err_and(|e| e.to_string().contains("CHECK constraint failed")),
        "an unknown status must be refused"
    );
    conn.execute("DELETE FROM sessions WHERE id = 's1'", [])
        .unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM requests"), 1);
}

#[test]
fn storing_a_request_builds_no_temporary_table() {
    // `status IN (…)` in a CHECK made SQLite build a temporary B-tree for every inserted row.
    let dir = tempfile::tempdir().unwrap();
    let conn = schema::open_and_migrate(&dir.path().join(DB_FILE_NAME)).unwrap();
    let mut stmt = conn
        .prepare(&format!("EXPLAIN {}", batch::INSERT_REQUEST))
        .unwrap();
    let mut rows = stmt.raw_query();
    let mut opcodes = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        opcodes.push(row.get::<_, String>(1).unwrap());
    }
    assert!(opcodes.iter().any(|op| op == "Insert"), "{opcodes:?}");
    assert!(
        !opcodes.iter().any(|op| op == "OpenEphemeral"),
        "{opcodes:?}"
    );
}

#[test]
fn a_database_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    drop(Store::open(dir.path()).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();

    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(
        err,
        StoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
            ..
        } if found == SCHEMA_VERSION + 1
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "database `{}` was written by a newer Switchboard (schema v{}; this version knows up \
             to v{SCHEMA_VERSION}): upgrade Switchboard, or move the file away to start fresh",
            path.display(),
            SCHEMA_VERSION + 1
        )
    );
    let conn = Connection::open(&path).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION + 1);
}

#[test]
fn a_file_that_is_not_a_database_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open database `{}`: file is not a database",
            path.display()
        )
    );
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE_NAME);
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT)")
        .unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::ForeignDatabase { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn a_data_directory_that_cannot_be_created_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let err = Store::open(&file.join("data")).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot create the data directory `{}",
            file.display()
        )),
        "{err}"
    );
}

#[test]
fn usage_is_reported_estimated_or_none_and_cost_is_never_a_guessed_zero() {
    let config = config();
    let mut book = PriceBook::default();
    book.use_config(&config);
    let price = pricing::lookup(Some("openai"), "openai", "gpt-4o-mini", "gpt-4o-mini")
        .price
        .unwrap();

    let reported = book.account(&config, &recorded("r1", "gpt-4o-mini", 0));
    assert_eq!(reported.source, SOURCE_REPORTED);
    assert_eq!(reported.usage, usage(100, 20));
    assert_eq!(reported.cost, Some(pricing::cost(&usage(100, 20), &price)));
    assert_eq!(reported.context_limit, Some(128_000));

    // No usage reported, but the exchange was captured: estimated, and priced.
    let mut rec = recorded("r2", "gpt-4o-mini", 0);
    rec.reported = None;
    rec.status = RequestStatus::ClientDisconnected;
    rec.capture = Some(Capture::new(
        bytes::Bytes::from_static(
            br#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there"}]}"#,
        ),
        ResponseCapture::StreamEvents(
            b"{\"choices\":[{\"delta\":{\"content\":\"Hi! How can I help?\"}}]}\n".to_vec(),
        ),
    ));
    let estimated = book.account(&config, &rec);
    assert_eq!(estimated.source, "estimated:o200k_base");
    assert!(estimated.usage.input_tokens > 0);
    assert!(estimated.usage.output_tokens > 0);
    assert_eq!(
        estimated.cost,
        Some(pricing::cost(&estimated.usage, &price))
    );

    // Nothing reported, nothing captured, the client left: unknown, not zero.
    rec.capture = None;
    let unknown = book.account(&config, &rec);
    assert_eq!((unknown.source, unknown.cost), (SOURCE_NONE, None));

    // The provider refused it before any output: not billed.
    rec.status = RequestStatus::UpstreamError;
    rec.ttfb_ms = None;
    rec.http_status = 429;
    assert_eq!(book.account(&config, &rec).cost, Some(0.0));

    // An unknown model: usage kept, cost unknown; the context limit comes from the config.
    let mystery = book.account(&config, &recorded("r3", "mystery", 0));
    assert_eq!(mystery.usage, usage(100, 20));
    assert_eq!((mystery.cost, mystery.context_limit), (None, Some(1000)));

    // Never routed: no usage, nothing sent anywhere, so nothing owed.
    let mut unrouted = recorded("r4", "nope", 0);
    unrouted.provider = None;
    unrouted.upstream_model = None;
    let none = book.account(&config, &unrouted);
    assert_eq!((none.source, none.cost), (SOURCE_NONE, Some(0.0)));
}

fn writer_state(dir: &Path) -> WriterState {
    let store = Store::open(dir).unwrap();
    let conn = store.take_write_connection().unwrap();
    let sessions = super::sessions::SessionIndex::load(&conn).unwrap();
    WriterState::new(conn, sessions)
}

#[test]
fn client_session_ids_create_join_and_reopen_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = writer_state(dir.path());
    let config = config();
    let now = 10_000_000;

    let mut first = recorded("a", "gpt-4o-mini", now);
    first.session_hint = Some("client-session-1".into());
    let mut other_model = recorded("b", "mystery", now + 10);
    other_model.session_hint = Some("client-session-1".into());
    let out = batch::apply(
        &mut state,
        &config,
        vec![first, other_model],
        vec![],
        None,
        now,
    )
    .unwrap();
    assert_eq!(out.stored, 2);
    let (id, status, requests): (String, SessionStatus, i64) = state
        .conn
        .query_row("SELECT id, status, request_count FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (id.as_str(), status, requests),
        ("client-session-1", SessionStatus::Active, 2)
    );

    state
        .conn
        .execute_batch(
            "UPDATE sessions SET status = 'closed_by_user', closed_at = 1 WHERE id = 'client-session-1'",
        )
        .unwrap();
    let mut again = recorded("c", "gpt-4o-mini", now + 5_000_000);
    again.session_hint = Some("client-session-1".into());
    let out = batch::apply(&mut state, &config, vec![again], vec![], None, now).unwrap();
    let opened = out
        .events
        .iter()
        .filter(|e| matches!(e, super::LiveEvent::SessionOpened(_)))
        .count();
    assert_eq!(opened, 1, "reopening is announced");
    let (status, closed_at, requests): (SessionStatus, Option<i64>, i64) = state
        .conn
        .query_row(
            "SELECT status, closed_at, request_count FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (status, closed_at, requests),
        (SessionStatus::Active, None, 3)
    );
}

#[test]
fn a_repeated_request_id_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = writer_state(dir.path());
    let config = config();
    let rec = recorded("same", "gpt-4o-mini", 5_000);
    let out = batch::apply(
        &mut state,
        &config,
        vec![rec.clone(), rec.clone()],
        vec![],
        None,
        5_000,
    )
    .unwrap();
    assert_eq!(out.stored, 1);
    batch::apply(&mut state, &config, vec![rec], vec![], None, 5_000).unwrap();
    let conn = &state.conn;
    assert_eq!(count(conn, "SELECT COUNT(*) FROM requests"), 1);
    assert_eq!(count(conn, "SELECT request_count FROM sessions"), 1);
    assert_eq!(count(conn, "SELECT requests FROM usage_daily"), 1);
}

#[test]
fn context_fill_follows_the_latest_request_with_usage() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = writer_state(dir.path());
    let config = config();
    let mut big = recorded("a", "mystery", 1_000);
    big.reported = Some(usage(250, 5));
    let mut failed = recorded("b", "mystery", 2_000);
    failed.reported = None;
    failed.status = RequestStatus::UpstreamError;
    failed.ttfb_ms = None;
    batch::apply(&mut state, &config, vec![big, failed], vec![], None, 3_000).unwrap();
    let (last, limit, fill, errors): (i64, Option<i64>, Option<f64>, i64) = state
        .conn
        .query_row(
            "SELECT last_input_tokens, context_limit, context_fill, error_count FROM sessions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (last, limit, fill, errors),
        (250, Some(1000), Some(0.25), 1)
    );
}

#[test]
fn a_session_spans_its_earliest_start_to_its_latest_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = writer_state(dir.path());
    let config = config();
    // The short request finishes (and opens the session) before the long stream started first.
    let short = recorded("short", "gpt-4o-mini", 50_000);
    let mut long = recorded("long", "gpt-4o-mini", 20_000);
    long.duration_ms = 60_000;
    batch::apply(&mut state, &config, vec![short, long], vec![], None, 90_000).unwrap();
    let (created, last): (i64, i64) = state
        .conn
        .query_row("SELECT created_at, last_active_at FROM sessions", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((created, last), (20_000, 80_000));
}

#[test]
fn a_price_from_the_config_replaces_the_table_and_applies_after_a_reload() {
    let with_price = CONFIG.replace(
        "max_context_size = 1000",
        "max_context_size = 1000\nprice = { input = 2.0, output = 10.0 }",
    );
    let options = LoadOptions {
        resolve_secrets: false,
    };
    let priced = Arc::new(Config::from_toml(&with_price, "test.toml", options).unwrap());
    let plain = config();
    let rec = recorded("r", "mystery", 0); // 100 in, 20 out
    let mut book = PriceBook::default();
    book.use_config(&plain);
    assert_eq!(book.account(&plain, &rec).cost, None);
    book.use_config(&priced);
    let cost = book.account(&priced, &rec).cost.unwrap();
    assert!(
        (cost - (100.0 * 2.0 + 20.0 * 10.0) / 1e6).abs() < 1e-15,
        "{cost}"
    );
}
