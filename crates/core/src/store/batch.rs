//! One writer batch as one transaction: each outcome becomes a request row, its session's
//! totals and its day's rollup; then the batch's commands run; then it commits. Runs on a
//! blocking thread; the events it returns are sent only after the commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior, params};

use super::events::LiveEvent;
use super::ingest::{Accounted, PriceBook, Recorded, add_usage};
use super::rows::{RequestRow, RequestStatus};
use super::sessions::{self, CleanupReport, SessionIndex, TouchedSessions};
use super::writer::{CommandReply, WriterCommand};
use super::{DAY_MS, StoreError, schema};
use crate::config::Config;
use crate::usage::Usage;

/// Everything the writer keeps between batches. Moved onto a blocking thread for each batch.
#[derive(Debug)]
pub(crate) struct WriterState {
    pub conn: Connection,
    pub sessions: SessionIndex,
    pub prices: PriceBook,
}

impl WriterState {
    pub(crate) fn new(conn: Connection, sessions: SessionIndex) -> WriterState {
        WriterState {
            conn,
            sessions,
            prices: PriceBook::default(),
        }
    }

    /// A fresh connection and index, after a batch failed in a way that may have left them
    /// out of step with the database.
    pub(crate) fn reopen(path: &Path) -> Result<WriterState, StoreError> {
        let conn = schema::open_and_migrate(path)?;
        let sessions = SessionIndex::load(&conn)?;
        Ok(WriterState::new(conn, sessions))
    }
}

/// A periodic or requested cleanup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CleanupArgs {
    pub close_idle: bool,
    pub delete_closed_older_than_days: Option<u32>,
}

/// What a committed batch produced.
#[derive(Debug, Default)]
pub(crate) struct BatchOutput {
    pub events: Vec<LiveEvent>,
    /// One reply per command, in order.
    pub replies: Vec<Result<CommandReply, StoreError>>,
    pub stored: usize,
}

/// Rollup deltas of one batch by UTC day number, client model and provider (nested, so that a
/// request's lookup borrows its strings).
type Rollup = HashMap<i64, HashMap<String, HashMap<String, Totals>>>;

#[derive(Debug, Default)]
struct Totals {
    requests: u64,
    errors: u64,
    usage: Usage,
    cost_usd: f64,
    unpriced_requests: u64,
}

/// Runs one batch in one transaction. An error means nothing of it was committed.
pub(crate) fn apply(
    state: &mut WriterState,
    config: &Arc<Config>,
    outcomes: Vec<Recorded>,
    commands: Vec<WriterCommand>,
    periodic: Option<CleanupArgs>,
    now: i64,
) -> Result<BatchOutput, rusqlite::Error> {
    let idle_ms = i64::try_from(config.sessions.idle_timeout.as_millis()).unwrap_or(i64::MAX);
    state.prices.use_config(config);
    let tx = state
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = BatchOutput::default();
    let mut touched = TouchedSessions::default();
    let mut rollup = Rollup::new();
    for rec in outcomes {
        let accounted = state.prices.account(config, &rec);
        let assigned = touched.assign(
            &tx,
            &mut state.sessions,
            &rec,
            now,
            idle_ms,
            &mut out.events,
        )?;
        let session_id = assigned.as_ref().map(|a| a.id.as_str());
        match insert_request(&tx, &rec, session_id, &accounted) {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(id = %rec.uid, "request id already stored; outcome ignored");
                continue;
            }
            Err(err) => {
                tracing::error!(id = %rec.uid, error = %err, "cannot store a request outcome");
                continue;
            }
        }
        if let Some(assigned) = &assigned
            && let Some(session) =
                touched.add_request(&mut state.sessions, &assigned.id, &rec, &accounted)
            && assigned.opened
        {
            out.events
                .push(LiveEvent::SessionOpened(Box::new(session.clone())));
        }
        let row = request_row(rec, assigned.map(|a| a.id), &accounted);
        add_to_rollup(&mut rollup, &row);
        out.events.push(LiveEvent::RequestFinished(Box::new(row)));
        out.stored += 1;
    }
    touched.write_back(&tx)?;
    write_rollup(&tx, rollup)?;
    for command in commands {
        // A command that fails leaves no trace: its statements and events are undone.
        let events_before = out.events.len();
        tx.execute_batch("SAVEPOINT command")?;
        let reply = run_command(
            &tx,
            &mut state.sessions,
            config,
            command,
            now,
            &mut out.events,
        );
        if reply.is_err() {
            tx.execute_batch("ROLLBACK TO command")?;
            out.events.truncate(events_before);
        }
        tx.execute_batch("RELEASE command")?;
        out.replies.push(reply);
    }
    if let Some(args) = periodic {
        let report = run_cleanup(&tx, &mut state.sessions, config, args, now, &mut out.events)?;
        if report != CleanupReport::default() {
            tracing::info!(?report, "store cleanup");
        }
    }
    tx.commit()?;
    Ok(out)
}

/// The stored row of an outcome, as sent to live viewers (the outcome's strings move into it).
fn request_row(rec: Recorded, session_id: Option<String>, accounted: &Accounted) -> RequestRow {
    RequestRow {
        id: rec.uid,
        session_id,
        started_at: rec.started_at,
        client: rec.client,
        client_model: rec.client_model,
        provider: rec.provider,
        upstream_model: rec.upstream_model,
        endpoint: rec.endpoint.to_owned(),
        stream: rec.stream,
        status: rec.status,
        http_status: rec.http_status,
        error: rec.error,
        ttfb_ms: rec.ttfb_ms,
        duration_ms: rec.duration_ms,
        usage: accounted.usage,
        usage_source: accounted.source.to_owned(),
        cost_usd: accounted.cost,
    }
}

/// The statement that stores one request: once per request, so its cost is the writer's.
pub(crate) const INSERT_REQUEST: &str = "INSERT INTO requests (request_uid, session_id,
        started_at, client, client_model, provider, upstream_model, endpoint, stream, status,
        http_status, error, ttfb_ms, duration_ms, input_tokens, output_tokens,
        cached_input_tokens, cache_write_tokens, reasoning_tokens, usage_source, cost_usd)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
        ?20, ?21)
    ON CONFLICT (request_uid) DO NOTHING";

/// Inserts a request row; `false` if its id is already stored (it is never counted twice).
fn insert_request(
    conn: &Connection,
    rec: &Recorded,
    session_id: Option<&str>,
    accounted: &Accounted,
) -> rusqlite::Result<bool> {
    let changed = conn.prepare_cached(INSERT_REQUEST)?.execute(params![
        rec.uid,
        session_id,
        rec.started_at,
        rec.client,
        rec.client_model,
        rec.provider,
        rec.upstream_model,
        rec.endpoint,
        rec.stream,
        rec.status,
        rec.http_status,
        rec.error,
        rec.ttfb_ms,
        rec.duration_ms,
        accounted.usage.input_tokens,
        accounted.usage.output_tokens,
        accounted.usage.cached_input_tokens,
        accounted.usage.cache_write_tokens,
        accounted.usage.reasoning_tokens,
        accounted.source,
        accounted.cost,
    ])?;
    Ok(changed == 1)
}

/// Adds a stored request to its day's rollup (allocating a key only for a new one).
fn add_to_rollup(rollup: &mut Rollup, row: &RequestRow) {
    let day = row.started_at.div_euclid(DAY_MS);
    let model = row.client_model.as_deref().unwrap_or_default();
    let provider = row.provider.as_deref().unwrap_or_default();
    let models = rollup.entry(day).or_default();
    if !models.contains_key(model) {
        models.insert(model.to_owned(), HashMap::new());
    }
    let Some(providers) = models.get_mut(model) else {
        return;
    };
    if !providers.contains_key(provider) {
        providers.insert(provider.to_owned(), Totals::default());
    }
    let Some(totals) = providers.get_mut(provider) else {
        return;
    };
    totals.requests += 1;
    if row.status != RequestStatus::Ok {
        totals.errors += 1;
    }
    add_usage(&mut totals.usage, &row.usage);
    match row.cost_usd {
        Some(cost) => totals.cost_usd += cost,
        None => totals.unpriced_requests += 1,
    }
}

fn write_rollup(conn: &Connection, rollup: Rollup) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO usage_daily (day, client_model, provider, requests, errors, input_tokens,
             output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, cost_usd,
             unpriced_requests)
         VALUES (date(?1 * 86400, 'unixepoch'), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (day, client_model, provider) DO UPDATE SET
             requests = requests + excluded.requests,
             errors = errors + excluded.errors,
             input_tokens = input_tokens + excluded.input_tokens,
             output_tokens = output_tokens + excluded.output_tokens,
             cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
             cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
             reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
             cost_usd = cost_usd + excluded.cost_usd,
             unpriced_requests = unpriced_requests + excluded.unpriced_requests",
    )?;
    let keyed = rollup.into_iter().flat_map(|(day, models)| {
        models.into_iter().flat_map(move |(model, providers)| {
            providers
                .into_iter()
                .map(move |(provider, t)| (day, model.clone(), provider, t))
        })
    });
    for (day, model, provider, t) in keyed {
        stmt.execute(params![
            day,
            model,
            provider,
            t.requests,
            t.errors,
            t.usage.input_tokens,
            t.usage.output_tokens,
            t.usage.cached_input_tokens,
            t.usage.cache_write_tokens,
            t.usage.reasoning_tokens,
            t.cost_usd,
            t.unpriced_requests,
        ])?;
    }
    Ok(())
}

fn run_command(
    conn: &Connection,
    index: &mut SessionIndex,
    config: &Config,
    command: WriterCommand,
    now: i64,
    events: &mut Vec<LiveEvent>,
) -> Result<CommandReply, StoreError> {
    match command {
        WriterCommand::Flush => Ok(CommandReply::Flushed),
        WriterCommand::CloseSession(id) => sessions::close_by_user(conn, index, &id, now, events)
            .map(|row| CommandReply::SessionClosed(Box::new(row))),
        WriterCommand::DeleteSession(id) => sessions::delete(conn, index, &id)
            .map(|deleted_requests| CommandReply::SessionDeleted { deleted_requests }),
        WriterCommand::Cleanup {
            close_idle,
            delete_closed_older_than_days,
        } => {
            let args = CleanupArgs {
                close_idle,
                delete_closed_older_than_days,
            };
            Ok(CommandReply::Cleanup(run_cleanup(
                conn, index, config, args, now, events,
            )?))
        }
    }
}

fn run_cleanup(
    conn: &Connection,
    index: &mut SessionIndex,
    config: &Config,
    args: CleanupArgs,
    now: i64,
    events: &mut Vec<LiveEvent>,
) -> rusqlite::Result<CleanupReport> {
    let idle_ms = args
        .close_idle
        .then(|| i64::try_from(config.sessions.idle_timeout.as_millis()).unwrap_or(i64::MAX));
    sessions::cleanup(
        conn,
        index,
        now,
        idle_ms,
        args.delete_closed_older_than_days,
        events,
    )
}
