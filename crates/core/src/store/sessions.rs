//! Sessions on the write side: which session a request joins (client-provided id, else the
//! client's active session for that model if it is recent enough, else a new one), running
//! totals kept in memory for the length of one batch, and closing, deleting and cleanup.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::events::LiveEvent;
use super::ingest::{Accounted, Recorded, add_usage};
use super::rows::{RequestStatus, SESSION_COLUMNS, SessionRow, SessionStatus};
use super::{DAY_MS, StoreError};
use crate::usage::Usage;

/// The session that requests from one (client, client model) join, while it is active.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ActiveSession {
    id: String,
    last_active_at: i64,
}

/// Active sessions by client, then client model; rebuilt from the database when the writer
/// starts. Nested rather than keyed by a pair so that a request's lookup borrows its strings.
#[derive(Debug, Default)]
pub(crate) struct SessionIndex {
    by_client: HashMap<String, HashMap<String, ActiveSession>>,
}

impl SessionIndex {
    pub(crate) fn load(conn: &Connection) -> rusqlite::Result<SessionIndex> {
        let mut index = SessionIndex::default();
        let mut stmt = conn.prepare(
            "SELECT id, client, client_model, last_active_at FROM sessions
             WHERE status = 'active' ORDER BY last_active_at, id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                ActiveSession {
                    id: row.get(0)?,
                    last_active_at: row.get(3)?,
                },
            ))
        })?;
        for row in rows {
            let (client, model, session) = row?;
            // Ordered by activity: the latest session of a key wins.
            index
                .by_client
                .entry(client)
                .or_default()
                .insert(model, session);
        }
        Ok(index)
    }

    fn get(&self, client: &str, model: &str) -> Option<&ActiveSession> {
        self.by_client.get(client)?.get(model)
    }

    /// Makes `id` the session that (client, model) joins next.
    fn set(&mut self, client: &str, model: &str, id: &str, last_active_at: i64) {
        if !self.by_client.contains_key(client) {
            self.by_client.insert(client.to_owned(), HashMap::new());
        }
        let Some(models) = self.by_client.get_mut(client) else {
            return;
        };
        match models.get_mut(model) {
            Some(active) => {
                if active.id != id {
                    id.clone_into(&mut active.id);
                }
                active.last_active_at = last_active_at;
            }
            None => {
                models.insert(
                    model.to_owned(),
                    ActiveSession {
                        id: id.to_owned(),
                        last_active_at,
                    },
                );
            }
        }
    }

    fn forget(&mut self, id: &str) {
        for models in self.by_client.values_mut() {
            models.retain(|_, s| s.id != id);
        }
        self.by_client.retain(|_, models| !models.is_empty());
    }
}

/// Session rows read or created by the current batch, written back once before it commits.
#[derive(Debug, Default)]
pub(crate) struct TouchedSessions {
    rows: HashMap<String, SessionRow>,
}

/// Which session a request joined, and whether that opened (or reopened) it.
pub(crate) struct Assigned {
    pub id: String,
    pub opened: bool,
}

impl TouchedSessions {
    fn get_or_load(
        &mut self,
        conn: &Connection,
        id: &str,
    ) -> rusqlite::Result<Option<&mut SessionRow>> {
        if !self.rows.contains_key(id) {
            let loaded = conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
                ))?
                .query_row([id], SessionRow::from_sql)
                .optional()?;
            match loaded {
                Some(row) => self.rows.insert(id.to_owned(), row),
                None => return Ok(None),
            };
        }
        Ok(self.rows.get_mut(id))
    }

    fn create(
        &mut self,
        conn: &Connection,
        id: &str,
        rec: &Recorded,
        client_model: &str,
        provider: &str,
    ) -> rusqlite::Result<()> {
        let row = SessionRow {
            id: id.to_owned(),
            client: rec.client.clone(),
            client_model: client_model.to_owned(),
            provider: provider.to_owned(),
            created_at: rec.started_at,
            last_active_at: rec.started_at,
            closed_at: None,
            status: SessionStatus::Active,
            request_count: 0,
            error_count: 0,
            usage: Usage::default(),
            cost_usd: 0.0,
            unpriced_requests: 0,
            last_input_tokens: 0,
            context_limit: None,
            context_fill: None,
        };
        // Inserted now so the request row's foreign key holds; totals follow in `write_back`.
        conn.prepare_cached(
            "INSERT INTO sessions (id, client, client_model, provider, created_at, last_active_at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active')",
        )?
        .execute(params![
            row.id,
            row.client,
            row.client_model,
            row.provider,
            row.created_at,
            row.last_active_at
        ])?;
        self.rows.insert(id.to_owned(), row);
        Ok(())
    }

    /// Picks the session for `rec` (creating or reopening it), or `None` for a request that was
    /// never routed. A stale session it replaces is closed as idle, with an event.
    pub(crate) fn assign(
        &mut self,
        conn: &Connection,
        index: &mut SessionIndex,
        rec: &Recorded,
        now: i64,
        idle_ms: i64,
        events: &mut Vec<LiveEvent>,
    ) -> rusqlite::Result<Option<Assigned>> {
        let (Some(model), Some(provider)) = (&rec.client_model, &rec.provider) else {
            return Ok(None);
        };
        if let Some(hint) = &rec.session_hint {
            // The client names its session: join it, whatever its age; reopen it if closed.
            let opened = match self.get_or_load(conn, hint)? {
                Some(row) if row.status == SessionStatus::Active => false,
                Some(row) => {
                    row.status = SessionStatus::Active;
                    row.closed_at = None;
                    true
                }
                None => {
                    self.create(conn, hint, rec, model, provider)?;
                    true
                }
            };
            return Ok(Some(Assigned {
                id: hint.clone(),
                opened,
            }));
        }
        if let Some(active) = index.get(&rec.client, model) {
            let fresh = rec.started_at.saturating_sub(active.last_active_at) <= idle_ms;
            match self.get_or_load(conn, &active.id)? {
                Some(row) if row.status == SessionStatus::Active && fresh => {
                    return Ok(Some(Assigned {
                        id: active.id.clone(),
                        opened: false,
                    }));
                }
                Some(row) if row.status == SessionStatus::Active => {
                    row.status = SessionStatus::IdleClosed;
                    row.closed_at = Some(now);
                    events.push(LiveEvent::SessionClosed(Box::new(row.clone())));
                }
                _ => {}
            }
            let stale = active.id.clone();
            index.forget(&stale);
        }
        let id = uuid::Uuid::new_v4().to_string();
        self.create(conn, &id, rec, model, provider)?;
        Ok(Some(Assigned { id, opened: true }))
    }

    /// Adds a stored request to its session's totals and makes the session the one its key
    /// joins next. Returns the updated row.
    pub(crate) fn add_request(
        &mut self,
        index: &mut SessionIndex,
        id: &str,
        rec: &Recorded,
        accounted: &Accounted,
    ) -> Option<&SessionRow> {
        let row = self.rows.get_mut(id)?;
        row.request_count += 1;
        if rec.status != RequestStatus::Ok {
            row.error_count += 1;
        }
        add_usage(&mut row.usage, &accounted.usage);
        match accounted.cost {
            Some(cost) => row.cost_usd += cost,
            None => row.unpriced_requests += 1,
        }
        // Requests finish out of order: a long stream may have started before the request
        // that opened the session.
        row.created_at = row.created_at.min(rec.started_at);
        row.last_active_at = row.last_active_at.max(rec.ended_at());
        if let Some(provider) = &rec.provider {
            row.provider.clone_from(provider);
        }
        if accounted.has_usage() {
            let input = accounted.usage.input_tokens;
            row.last_input_tokens = input;
            row.context_limit = accounted.context_limit;
            row.context_fill = accounted
                .context_limit
                .filter(|&limit| limit > 0)
                .map(|limit| input as f64 / limit as f64);
        }
        if let Some(model) = &rec.client_model {
            index.set(&rec.client, model, &row.id, row.last_active_at);
        }
        Some(row)
    }

    /// Writes every touched session back.
    pub(crate) fn write_back(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare_cached(
            "UPDATE sessions SET provider = ?2, last_active_at = ?3, closed_at = ?4, status = ?5,
                 created_at = ?18,
                 request_count = ?6, error_count = ?7, input_tokens = ?8, output_tokens = ?9,
                 cached_input_tokens = ?10, cache_write_tokens = ?11, reasoning_tokens = ?12,
                 cost_usd = ?13, unpriced_requests = ?14, last_input_tokens = ?15,
                 context_limit = ?16, context_fill = ?17
             WHERE id = ?1",
        )?;
        for row in self.rows.values() {
            stmt.execute(params![
                row.id,
                row.provider,
                row.last_active_at,
                row.closed_at,
                row.status,
                row.request_count,
                row.error_count,
                row.usage.input_tokens,
                row.usage.output_tokens,
                row.usage.cached_input_tokens,
                row.usage.cache_write_tokens,
                row.usage.reasoning_tokens,
                row.cost_usd,
                row.unpriced_requests,
                row.last_input_tokens,
                row.context_limit,
                row.context_fill,
                row.created_at,
            ])?;
        }
        Ok(())
    }
}

/// Closes a session on the user's request. Closing a closed session changes nothing.
pub(crate) fn close_by_user(
    conn: &Connection,
    index: &mut SessionIndex,
    id: &str,
    now: i64,
    events: &mut Vec<LiveEvent>,
) -> Result<SessionRow, StoreError> {
    let closed = conn
        .query_row(
            &format!(
                "UPDATE sessions SET status = 'closed_by_user', closed_at = ?2
                 WHERE id = ?1 AND status = 'active' RETURNING {SESSION_COLUMNS}"
            ),
            params![id, now],
            SessionRow::from_sql,
        )
        .optional()?;
    if let Some(row) = closed {
        index.forget(id);
        events.push(LiveEvent::SessionClosed(Box::new(row.clone())));
        return Ok(row);
    }
    conn.query_row(
        &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
        [id],
        SessionRow::from_sql,
    )
    .optional()?
    .ok_or_else(|| StoreError::SessionNotFound(id.to_owned()))
}

/// Deletes a session and its requests (their totals stay in the daily usage).
/// Returns how many requests went with it.
pub(crate) fn delete(
    conn: &Connection,
    index: &mut SessionIndex,
    id: &str,
) -> Result<u64, StoreError> {
    let requests: u64 = conn.query_row(
        "SELECT COUNT(*) FROM requests WHERE session_id = ?1",
        [id],
        |row| row.get(0),
    )?;
    if conn.execute("DELETE FROM sessions WHERE id = ?1", [id])? == 0 {
        return Err(StoreError::SessionNotFound(id.to_owned()));
    }
    index.forget(id);
    Ok(requests)
}

/// What a cleanup did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanupReport {
    pub closed_sessions: u64,
    pub deleted_sessions: u64,
    pub deleted_requests: u64,
}

/// Closes sessions idle for longer than `idle_ms` (when `close_idle`), then deletes sessions
/// closed more than `delete_older_than_days` ago with their requests, and requests without a
/// session that old. The daily usage table keeps their totals.
pub(crate) fn cleanup(
    conn: &Connection,
    index: &mut SessionIndex,
    now: i64,
    idle_ms: Option<i64>,
    delete_older_than_days: Option<u32>,
    events: &mut Vec<LiveEvent>,
) -> rusqlite::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    if let Some(idle_ms) = idle_ms {
        let mut stmt = conn.prepare_cached(&format!(
            "UPDATE sessions SET status = 'idle_closed', closed_at = ?1
             WHERE status = 'active' AND last_active_at < ?2 RETURNING {SESSION_COLUMNS}"
        ))?;
        let closed = stmt
            .query_map(
                params![now, now.saturating_sub(idle_ms)],
                SessionRow::from_sql,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        for row in closed {
            index.forget(&row.id);
            report.closed_sessions += 1;
            events.push(LiveEvent::SessionClosed(Box::new(row)));
        }
    }
    if let Some(days) = delete_older_than_days {
        // Inclusive: `older_than_days = 0` means everything closed up to now, including a session
        // closed in the same batch (one `now` for all its commands).
        let cutoff = now.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        report.deleted_requests = conn.query_row(
            "SELECT COUNT(*) FROM requests WHERE session_id IN
                 (SELECT id FROM sessions WHERE status <> 'active' AND closed_at <= ?1)",
            [cutoff],
            |row| row.get(0),
        )?;
        report.deleted_sessions = conn.execute(
            "DELETE FROM sessions WHERE status <> 'active' AND closed_at <= ?1",
            [cutoff],
        )? as u64;
        report.deleted_requests += conn.execute(
            "DELETE FROM requests WHERE session_id IS NULL AND started_at <= ?1",
            [cutoff],
        )? as u64;
    }
    Ok(report)
}
