//! The SQLite schema as versioned migrations (`user_version`), and opening a database file
//! safely: pragmas, refusing a file from a newer build or another program, and a backup copy
//! before an upgrade.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

use super::StoreError;

/// v1: sessions and requests.
const V1_CORE: &str = "
CREATE TABLE sessions (
    id                  TEXT PRIMARY KEY NOT NULL,
    client              TEXT NOT NULL,
    client_model        TEXT NOT NULL,
    provider            TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    last_active_at      INTEGER NOT NULL,
    closed_at           INTEGER,
    status              TEXT NOT NULL
                        CHECK (status IN ('active', 'idle_closed', 'closed_by_user')),
    request_count       INTEGER NOT NULL DEFAULT 0,
    error_count         INTEGER NOT NULL DEFAULT 0,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    cost_usd            REAL NOT NULL DEFAULT 0,
    unpriced_requests   INTEGER NOT NULL DEFAULT 0,
    last_input_tokens   INTEGER NOT NULL DEFAULT 0,
    context_limit       INTEGER,
    context_fill        REAL
);

CREATE TABLE requests (
    id                  INTEGER PRIMARY KEY,
    request_uid         TEXT NOT NULL UNIQUE,
    session_id          TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    started_at          INTEGER NOT NULL,
    client              TEXT NOT NULL,
    client_model        TEXT,
    provider            TEXT,
    upstream_model      TEXT,
    endpoint            TEXT NOT NULL,
    stream              INTEGER NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status IN ('ok', 'upstream_error', 'client_disconnected', 'gateway_error')),
    http_status         INTEGER NOT NULL,
    error               TEXT,
    ttfb_ms             INTEGER,
    duration_ms         INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    usage_source        TEXT NOT NULL,
    cost_usd            REAL
);

-- The foreign key's index: cascading deletes and a session's request list.
CREATE INDEX requests_by_session ON requests (session_id, started_at);
";

/// v2: the daily rollup, backfilled from the requests already stored, and the read indexes.
const V2_ROLLUP: &str = "
CREATE TABLE usage_daily (
    day                 TEXT NOT NULL,
    client_model        TEXT NOT NULL,
    provider            TEXT NOT NULL,
    requests            INTEGER NOT NULL DEFAULT 0,
    errors              INTEGER NOT NULL DEFAULT 0,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    cost_usd            REAL NOT NULL DEFAULT 0,
    unpriced_requests   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, client_model, provider)
) WITHOUT ROWID;

INSERT INTO usage_daily
SELECT date(started_at / 1000, 'unixepoch'), COALESCE(client_model, ''), COALESCE(provider, ''),
       COUNT(*), SUM(status <> 'ok'),
       SUM(input_tokens), SUM(output_tokens), SUM(cached_input_tokens),
       SUM(cache_write_tokens), SUM(reasoning_tokens),
       COALESCE(SUM(cost_usd), 0), SUM(cost_usd IS NULL)
FROM requests
GROUP BY 1, 2, 3;

CREATE INDEX requests_by_time ON requests (started_at);
CREATE INDEX requests_by_model ON requests (client_model, started_at);
CREATE INDEX sessions_by_activity ON sessions (last_active_at, id);
CREATE INDEX sessions_by_status ON sessions (status, last_active_at, id);
";

/// v3: `requests` rebuilt with its status check written as comparisons (the table as in v1
/// otherwise: migrations are history, so v1 above stays as it was shipped). The same rule, but
/// SQLite evaluates `status IN (…)` in a CHECK by building a temporary B-tree for every row
/// inserted, which was a quarter of the cost of storing a request.
const V3_REQUESTS_CHECK: &str = "
CREATE TABLE requests_v3 (
    id                  INTEGER PRIMARY KEY,
    request_uid         TEXT NOT NULL UNIQUE,
    session_id          TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    started_at          INTEGER NOT NULL,
    client              TEXT NOT NULL,
    client_model        TEXT,
    provider            TEXT,
    upstream_model      TEXT,
    endpoint            TEXT NOT NULL,
    stream              INTEGER NOT NULL,
    status              TEXT NOT NULL
                        CHECK (status = 'ok' OR status = 'upstream_error'
                               OR status = 'client_disconnected' OR status = 'gateway_error'),
    http_status         INTEGER NOT NULL,
    error               TEXT,
    ttfb_ms             INTEGER,
    duration_ms         INTEGER NOT NULL,
    input_tokens        INTEGER NOT NULL DEFAULT 0,
    output_tokens       INTEGER NOT NULL DEFAULT 0,
    cached_input_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens  INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens    INTEGER NOT NULL DEFAULT 0,
    usage_source        TEXT NOT NULL,
    cost_usd            REAL
);

INSERT INTO requests_v3 SELECT * FROM requests;
DROP TABLE requests;
ALTER TABLE requests_v3 RENAME TO requests;

CREATE INDEX requests_by_session ON requests (session_id, started_at);
CREATE INDEX requests_by_time ON requests (started_at);
CREATE INDEX requests_by_model ON requests (client_model, started_at);
";

const MIGRATION_LIST: &[M<'static>] = &[M::up(V1_CORE), M::up(V2_ROLLUP), M::up(V3_REQUESTS_CHECK)];

/// The migrations in order; version N is the database after the N-th.
pub(crate) const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_LIST);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATION_LIST.len() as i64;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens `path` (creating it), checks whose and which version it is, backs an older one up, and
/// migrates it to `SCHEMA_VERSION`. Returns the connection, ready for writing.
pub(crate) fn open_and_migrate(path: &Path) -> Result<Connection, StoreError> {
    open_at_version(path, MIGRATIONS_TARGET_LATEST)
}

const MIGRATIONS_TARGET_LATEST: usize = MIGRATION_LIST.len();

/// `open_and_migrate`, stopping at `target` (tests build old databases with it).
pub(crate) fn open_at_version(path: &Path, target: usize) -> Result<Connection, StoreError> {
    let open_err = |error| StoreError::Open {
        path: path.to_owned(),
        error,
    };
    let mut conn = Connection::open(path).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // The first statement that reads the file: a file that is not a database fails here.
    let found = user_version(&conn).map_err(open_err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == 0 && has_tables(&conn).map_err(open_err)? {
        return Err(StoreError::ForeignDatabase {
            path: path.to_owned(),
        });
    }
    set_write_pragmas(&conn).map_err(open_err)?;
    let target_version = i64::try_from(target).unwrap_or(SCHEMA_VERSION);
    if found > 0 && found < target_version {
        back_up(&conn, path, found)?;
    }
    if found < target_version {
        MIGRATIONS
            .to_version(&mut conn, target)
            .map_err(|error| StoreError::Migrate {
                path: path.to_owned(),
                to: target_version,
                error,
            })?;
        tracing::info!(path = %path.display(), from = found, to = target_version, "database schema upgraded");
    }
    Ok(conn)
}

/// A connection for reading only, to an existing, migrated database.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |error| StoreError::Open {
        path: path.to_owned(),
        error,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Read-write at the file level (a WAL reader may need to create the `-shm` index), but
    // `query_only` refuses every write on this connection.
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_err)?;
    Ok(conn)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn has_tables(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%')",
        [],
        |row| row.get(0),
    )
}

/// WAL: readers never block the writer, and with `synchronous=NORMAL` a commit is one append to
/// the log without an fsync — a killed process loses nothing committed; only a power cut can
/// lose the last commits, and never corrupts the file.
fn set_write_pragmas(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            mode,
            "SQLite refused WAL mode; using its journal mode instead"
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// The backup of a database at schema `version`, taken before it is upgraded.
pub(crate) fn backup_path(path: &Path, version: i64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".v{version}.bak"));
    path.with_file_name(name)
}

/// Copies the database with `VACUUM INTO` (a consistent snapshot, WAL included) to a temporary
/// name, then renames it into place, so a backup file is always complete.
fn back_up(conn: &Connection, path: &Path, version: i64) -> Result<(), StoreError> {
    let backup = backup_path(path, version);
    let mut tmp_name = backup.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = backup.with_file_name(tmp_name);
    let fail = |error: String| StoreError::Backup {
        path: path.to_owned(),
        backup: backup.clone(),
        error,
    };
    // `VACUUM INTO` refuses an existing target: a leftover from an interrupted attempt goes.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    let tmp_text = tmp.to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", [&tmp_text])
        .map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, &backup).map_err(|e| fail(e.to_string()))?;
    tracing::info!(backup = %backup.display(), "database backed up before upgrade");
    Ok(())
}
