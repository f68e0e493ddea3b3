//! The read side: a `query_only` connection of its own that lists sessions and requests a page
//! at a time and sums usage — from the daily rollup for whole days, from request rows for the
//! partial days at the edges of a range. Blocking: call it off the async runtime.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::rows::{
    GroupBy, Page, REQUEST_COLUMN_COUNT, REQUEST_COLUMNS, RequestQuery, RequestRow,
    SESSION_COLUMNS, SessionQuery, SessionRow, UsageRow, page_limit,
};
use super::{DAY_MS, StoreError, schema};

/// A read-only connection to the store. Not `Sync`: one per thread (opening one is cheap).
#[derive(Debug)]
pub struct StoreReader {
    conn: Connection,
}

/// The totals columns of a usage query over `requests`, after the key.
const RAW_TOTALS: &str = "1 AS requests, status <> 'ok' AS errors, input_tokens, output_tokens, \
     cached_input_tokens, cache_write_tokens, reasoning_tokens, \
     COALESCE(cost_usd, 0) AS cost_usd, cost_usd IS NULL AS unpriced_requests";

/// The same totals from `usage_daily`.
const DAILY_TOTALS: &str = "requests, errors, input_tokens, output_tokens, cached_input_tokens, \
     cache_write_tokens, reasoning_tokens, cost_usd, unpriced_requests";

/// Sums of the totals columns, in `UsageRow::from_sql` order after the key.
const SUMS: &str = "SUM(requests), SUM(errors), SUM(input_tokens), SUM(output_tokens), \
     SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(reasoning_tokens), TOTAL(cost_usd), \
     SUM(unpriced_requests)";

impl StoreReader {
    pub(crate) fn open(path: &Path) -> Result<StoreReader, StoreError> {
        Ok(StoreReader {
            conn: schema::open_reader(path)?,
        })
    }

    /// Requests received today (UTC), failed ones included.
    pub fn requests_today(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE day = date('now')",
            [],
            |row| row.get(0),
        )?)
    }

    /// Sessions, most recently active first.
    pub fn sessions(&self, query: &SessionQuery) -> Result<Page<SessionRow>, StoreError> {
        let limit = page_limit(query.limit);
        let mut sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(status) = query.status {
            sql.push_str(" AND status = ?");
            args.push(status.as_str().to_owned().into());
        }
        if let Some(model) = &query.model {
            sql.push_str(" AND client_model = ?");
            args.push(model.clone().into());
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = parse_cursor(cursor)?;
            sql.push_str(" AND (last_active_at, id) < (?, ?)");
            args.push(time.into());
            args.push(id.to_owned().into());
        }
        sql.push_str(" ORDER BY last_active_at DESC, id DESC LIMIT ?");
        args.push(i64::from(limit + 1).into());
        let mut stmt = self.conn.prepare(&sql)?;
        let mut items = stmt
            .query_map(params_from_iter(args), SessionRow::from_sql)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_cursor =
            next_page(&mut items, limit).map(|last| format!("{}:{}", last.last_active_at, last.id));
        Ok(Page { items, next_cursor })
    }

    /// One session and all its requests, oldest first.
    pub fn session(&self, id: &str) -> Result<Option<(SessionRow, Vec<RequestRow>)>, StoreError> {
        let session = self
            .conn
            .query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id],
                SessionRow::from_sql,
            )
            .optional()?;
        let Some(session) = session else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE session_id = ?1 ORDER BY started_at, id"
        ))?;
        let requests = stmt
            .query_map([id], RequestRow::from_sql)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some((session, requests)))
    }

    /// Requests, newest first.
    pub fn requests(&self, query: &RequestQuery) -> Result<Page<RequestRow>, StoreError> {
        let limit = page_limit(query.limit);
        let mut sql = format!("SELECT {REQUEST_COLUMNS}, id FROM requests WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(session) = &query.session {
            sql.push_str(" AND session_id = ?");
            args.push(session.clone().into());
        }
        if let Some(model) = &query.model {
            sql.push_str(" AND client_model = ?");
            args.push(model.clone().into());
        }
        if let Some(status) = query.status {
            sql.push_str(" AND status = ?");
            args.push(status.as_str().to_owned().into());
        }
        if let Some(since) = query.since {
            sql.push_str(" AND started_at >= ?");
            args.push(since.into());
        }
        if let Some(cursor) = &query.cursor {
            let (time, id) = parse_cursor(cursor)?;
            let id: i64 = id
                .parse()
                .map_err(|_| StoreError::InvalidCursor(cursor.clone()))?;
            sql.push_str(" AND (started_at, id) < (?, ?)");
            args.push(time.into());
            args.push(id.into());
        }
        sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ?");
        args.push(i64::from(limit + 1).into());
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt
            .query_map(params_from_iter(args), |row| {
                Ok((
                    RequestRow::from_sql(row)?,
                    row.get::<_, i64>(REQUEST_COLUMN_COUNT)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_cursor =
            next_page(&mut rows, limit).map(|(last, rowid)| format!("{}:{rowid}", last.started_at));
        let items = rows.into_iter().map(|(row, _)| row).collect();
        Ok(Page { items, next_cursor })
    }

    /// Usage totals grouped by model, provider, UTC day or session, for requests started in
    /// `[since, until)` (Unix ms; `None` is unbounded). Model, provider and day totals survive
    /// the deletion of old requests; session totals go with their sessions.
    ///
    /// Order: days ascending; models and providers by cost, then requests, descending; sessions
    /// by latest activity, newest first.
    pub fn usage(
        &self,
        group_by: GroupBy,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Ok(Vec::new());
        }
        let (raw_key, daily_key, order) = match group_by {
            GroupBy::Session => return self.usage_by_session(since, until),
            GroupBy::Model => (
                "COALESCE(client_model, '')",
                "client_model",
                "9 DESC, 2 DESC, 1",
            ),
            GroupBy::Provider => ("COALESCE(provider, '')", "provider", "9 DESC, 2 DESC, 1"),
            GroupBy::Day => ("date(started_at / 1000, 'unixepoch')", "day", "1"),
        };
        let mut parts = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        let mut raw_range = |parts: &mut Vec<String>, from: Option<i64>, to: Option<i64>| {
            let mut part =
                format!("SELECT {raw_key} AS key, {RAW_TOTALS} FROM requests WHERE 1 = 1");
            if let Some(from) = from {
                part.push_str(" AND started_at >= ?");
                args.push(from.into());
            }
            if let Some(to) = to {
                part.push_str(" AND started_at < ?");
                args.push(to.into());
            }
            parts.push(part);
        };
        // Whole UTC days come from the rollup: day numbers [first_day, end_day).
        let first_day = since.map(|s| s.div_euclid(DAY_MS) + i64::from(s.rem_euclid(DAY_MS) > 0));
        let end_day = until.map(|u| u.div_euclid(DAY_MS));
        let mut daily_range = None;
        match (first_day, end_day) {
            (Some(first), Some(end)) if first >= end => raw_range(&mut parts, since, until),
            _ => {
                if let (Some(since), Some(first)) = (since, first_day)
                    && since < first * DAY_MS
                {
                    raw_range(&mut parts, Some(since), Some(first * DAY_MS));
                }
                if let (Some(until), Some(end)) = (until, end_day)
                    && end * DAY_MS < until
                {
                    raw_range(&mut parts, Some(end * DAY_MS), Some(until));
                }
                daily_range = Some((first_day, end_day));
            }
        }
        if let Some((first, end)) = daily_range {
            let mut part =
                format!("SELECT {daily_key} AS key, {DAILY_TOTALS} FROM usage_daily WHERE 1 = 1");
            if let Some(first) = first {
                part.push_str(" AND day >= date(? * 86400, 'unixepoch')");
                args.push(first.into());
            }
            if let Some(end) = end {
                part.push_str(" AND day < date(? * 86400, 'unixepoch')");
                args.push(end.into());
            }
            parts.push(part);
        }
        let sql = format!(
            "SELECT key, {SUMS} FROM ({}) GROUP BY key ORDER BY {order}",
            parts.join(" UNION ALL ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params_from_iter(args), UsageRow::from_sql)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Per session: from the sessions' running totals when the range is unbounded, else from
    /// their requests in the range.
    fn usage_by_session(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let rows = if since.is_none() && until.is_none() {
            self.conn
                .prepare(
                    "SELECT id, request_count, error_count, input_tokens, output_tokens,
                         cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_usd,
                         unpriced_requests
                     FROM sessions ORDER BY last_active_at DESC, id DESC",
                )?
                .query_map([], UsageRow::from_sql)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            let bounds = [since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX)];
            self.conn
                .prepare(
                    "SELECT session_id, COUNT(*), SUM(status <> 'ok'), SUM(input_tokens),
                         SUM(output_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
                         SUM(reasoning_tokens), TOTAL(cost_usd), SUM(cost_usd IS NULL)
                     FROM requests
                     WHERE session_id IS NOT NULL AND started_at >= ?1 AND started_at < ?2
                     GROUP BY session_id ORDER BY MAX(started_at) DESC, session_id DESC",
                )?
                .query_map(bounds, UsageRow::from_sql)?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        Ok(rows)
    }

    /// SQLite's `PRAGMA integrity_check`: `["ok"]` for a sound file, else the problems found.
    pub fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(lines)
    }
}

/// Keeps the first `limit` items; returns the last kept one when there are more.
fn next_page<T>(items: &mut Vec<T>, limit: u32) -> Option<&T> {
    let limit = limit as usize;
    if items.len() > limit {
        items.truncate(limit);
        items.last()
    } else {
        None
    }
}

/// `<unix ms>:<id>`.
fn parse_cursor(cursor: &str) -> Result<(i64, &str), StoreError> {
    cursor
        .split_once(':')
        .and_then(|(time, id)| Some((time.parse().ok()?, id)))
        .ok_or_else(|| StoreError::InvalidCursor(cursor.to_owned()))
}
