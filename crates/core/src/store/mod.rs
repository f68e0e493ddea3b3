//! Durable usage accounting in SQLite: the schema and its migrations, the single writer task
//! that turns `RequestOutcome`s into request, session and daily-usage rows, the read side the
//! admin API queries, and the live events sent after each commit.
//!
//! One file, `<data_dir>/switchboard.db`, in WAL mode with `synchronous=NORMAL`: a killed process
//! loses no committed transaction (a power cut may lose the last few, but never corrupts).
//! Exactly one writer owns the write connection ([`spawn_writer`]); readers open their own
//! connections ([`Store::reader`]) and never block it.

mod batch;
mod events;
mod ingest;
mod reader;
mod rows;
mod schema;
mod sessions;
mod thread;
mod writer;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

pub use events::{LiveEvent, RequestStarted};
pub use reader::StoreReader;
pub use rows::{
    GroupBy, Page, RequestQuery, RequestRow, RequestStatus, SessionQuery, SessionRow,
    SessionStatus, UsageRow,
};
pub use schema::SCHEMA_VERSION;
pub use writer::{
    CleanupReport, CommandReply, MAX_BATCH, QUEUE_CAPACITY, WriterCommand, WriterHandle,
    spawn_writer,
};

/// The database file inside the data directory.
pub const DB_FILE_NAME: &str = "switchboard.db";

/// Errors of the store. Messages name the file or the row they are about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Underlying errors are part of the message rather than a `source`, so they print once.
    #[error("cannot create the data directory `{}`: {io}", path.display())]
    CreateDir { path: PathBuf, io: std::io::Error },
    #[error("cannot open database `{}`: {error}", path.display())]
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error(
        "database `{}` was written by a newer Switchboard (schema v{found}; this version knows up \
         to v{known}): upgrade Switchboard, or move the file away to start fresh",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "`{}` is not a Switchboard database (it holds another program's tables): move it away, \
         or choose another data directory",
        path.display()
    )]
    ForeignDatabase { path: PathBuf },
    #[error("cannot back up database `{}` to `{}` before upgrading it: {error}", path.display(), backup.display())]
    Backup {
        path: PathBuf,
        backup: PathBuf,
        error: String,
    },
    #[error("cannot upgrade database `{}` to schema v{to}: {error}", path.display())]
    Migrate {
        path: PathBuf,
        to: i64,
        error: rusqlite_migration::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("unknown session `{0}`")]
    SessionNotFound(String),
    #[error("invalid page cursor `{0}`")]
    InvalidCursor(String),
    #[error("the store writer is already running for `{}`", path.display())]
    WriterAlreadyRunning { path: PathBuf },
    #[error("the store writer has stopped")]
    WriterStopped,
    #[error("cannot commit to the usage database: {0}")]
    Commit(String),
    #[error("the store writer must be started inside a Tokio runtime")]
    NoRuntime,
    #[error("cannot start the store writer's thread: {0}")]
    Thread(std::io::Error),
}

/// An open, migrated database. Hands its write connection to one writer and opens readers.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// The migrated connection, until `spawn_writer` takes it.
    write_conn: Mutex<Option<Connection>>,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/switchboard.db` and brings its schema up to date:
    /// a database from a newer build is refused; an older one is first copied to
    /// `switchboard.db.v{N}.bak`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|io| StoreError::CreateDir {
            path: data_dir.to_owned(),
            io,
        })?;
        let path = data_dir.join(DB_FILE_NAME);
        let conn = schema::open_and_migrate(&path)?;
        Ok(Store {
            path,
            write_conn: Mutex::new(Some(conn)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read-only connection of its own (`query_only`). Blocking: call it, and its methods, off
    /// the async runtime (`spawn_blocking`). Cheap enough to open one per request.
    pub fn reader(&self) -> Result<StoreReader, StoreError> {
        StoreReader::open(&self.path)
    }

    fn take_write_connection(&self) -> Result<Connection, StoreError> {
        let taken = match self.write_conn.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        taken.ok_or_else(|| StoreError::WriterAlreadyRunning {
            path: self.path.clone(),
        })
    }

    fn return_write_connection(&self, conn: Connection) {
        match self.write_conn.lock() {
            Ok(mut slot) => *slot = Some(conn),
            Err(poisoned) => *poisoned.into_inner() = Some(conn),
        }
    }
}

/// Unix time in milliseconds.
pub(crate) fn unix_ms(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Milliseconds in a UTC day (Unix time has no leap seconds).
pub(crate) const DAY_MS: i64 = 86_400_000;
