//! The single writer: a task that owns the write connection, takes outcomes from a bounded
//! queue and commands from a second one, and commits them in batches — everything queued (up to
//! `MAX_BATCH` outcomes) in one transaction off the async runtime: a small batch on the writer's
//! niced background thread (`thread.rs`), so that requests sharing its core come first, a large
//! one (the writer is behind) or a cleanup on the blocking pool. Outcomes are committed at once,
//! except that a batch of outcomes starts at most every `MIN_COMMIT_INTERVAL`: under load the
//! outcomes arriving meanwhile join the next batch, so the cost of a commit (the WAL frames of
//! every touched page, the session and rollup updates, a thread hand-off) is shared by
//! many requests instead of a few. That cost ran on the gateway's own CPU and, unbatched, was
//! about as large as the whole proxying of a small request.
//!
//! Commit window: an outcome is durable once its batch commits. Under light load a batch is one
//! outcome and commits within a millisecond or two of `try_send` (WAL with `synchronous=NORMAL`
//! appends to the log without an fsync; about 0.3 ms from `try_send` to committed in
//! `benches/store.rs`); under heavy load the window is `MIN_COMMIT_INTERVAL` plus the time to
//! commit one batch (about 35 ms for a full batch of 2,000 rows on a busy 2-core machine, where
//! the writer sustains ≈ 60,000 rows/s). The request path never waits: it only `try_send`s, and
//! a full queue drops the outcome with a warning rather than stall a request.
//!
//! Events are broadcast only after their batch committed. Every `min(idle_timeout / 4, 60 s)`
//! the writer closes idle sessions and deletes history past `sessions.retention_days`. On
//! shutdown (the token, or every sender dropped) it drains both queues and commits first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::batch::{self, CleanupArgs, WriterState};
use super::events::LiveEvent;
use super::ingest::Recorded;
use super::rows::SessionRow;
use super::sessions::SessionIndex;
use super::thread::{BackgroundThread, JobFailed};
use super::{Store, StoreError, unix_ms};
use crate::config::Config;
use crate::outcome::RequestOutcome;

pub use super::sessions::CleanupReport;

/// Outcomes the queue holds before `try_send` fails (and the outcome is dropped with a warning).
pub const QUEUE_CAPACITY: usize = 4096;
/// The most outcomes committed in one transaction.
pub const MAX_BATCH: usize = 2000;
/// The shortest time between the starts of two batches of outcomes (commands do not wait).
pub const MIN_COMMIT_INTERVAL: Duration = Duration::from_millis(10);
/// Batches of fewer outcomes (and no cleanup) run on the niced background thread. At 1,000 req/s
/// a batch holds about 10; a saturated gateway makes them ten times larger than this, and those
/// run at normal priority so that the writer keeps up.
pub const BACKGROUND_BATCH: usize = 128;
const COMMAND_CAPACITY: usize = 64;
const MAX_CLEANUP_INTERVAL: Duration = Duration::from_secs(60);
const MIN_CLEANUP_INTERVAL: Duration = Duration::from_millis(20);

/// What the writer can be asked to do besides storing outcomes. A command runs after every
/// outcome that was queued before it was sent, in the same transaction as the last of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriterCommand {
    /// Replies once everything queued before it is committed.
    Flush,
    /// Closes a session as `closed_by_user` (a closed session stays as it is).
    CloseSession(String),
    /// Deletes a session and its requests; the daily usage keeps their totals.
    DeleteSession(String),
    /// What the writer also runs periodically (with `close_idle` and the configured retention).
    Cleanup {
        close_idle: bool,
        delete_closed_older_than_days: Option<u32>,
    },
}

/// The answer to a `WriterCommand`, sent after its transaction committed.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandReply {
    Flushed,
    SessionClosed(Box<SessionRow>),
    SessionDeleted { deleted_requests: u64 },
    Cleanup(CleanupReport),
}

#[derive(Debug)]
struct Envelope {
    command: WriterCommand,
    reply: oneshot::Sender<Result<CommandReply, StoreError>>,
}

/// The way into the writer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    outcomes: mpsc::Sender<RequestOutcome>,
    commands: mpsc::Sender<Envelope>,
}

impl WriterHandle {
    /// The outcome queue, for the request path (`GatewayOptions::outcomes`): it only ever
    /// `try_send`s, so a request never waits for the database.
    pub fn outcomes(&self) -> mpsc::Sender<RequestOutcome> {
        self.outcomes.clone()
    }

    /// Sends a command and waits until it is committed (or failed).
    pub async fn command(&self, command: WriterCommand) -> Result<CommandReply, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Envelope { command, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Waits until every outcome queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.command(WriterCommand::Flush).await.map(|_| ())
    }
}

/// Starts the writer on the current Tokio runtime with the store's write connection (once per
/// store). `config` is read afresh for every batch, so reloads apply to the next one; `events`
/// receives each committed request and session change. The task ends after `shutdown` fires
/// (or every handle and outcome sender is dropped) and the queues are drained and committed.
pub fn spawn_writer(
    store: &Store,
    config: Arc<ArcSwap<Config>>,
    events: broadcast::Sender<LiveEvent>,
    shutdown: CancellationToken,
) -> Result<(WriterHandle, JoinHandle<()>), StoreError> {
    // `tokio::spawn` would panic outside a runtime; say so instead.
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
    let background = BackgroundThread::spawn().map_err(StoreError::Thread)?;
    let conn = store.take_write_connection()?;
    let sessions = match SessionIndex::load(&conn) {
        Ok(sessions) => sessions,
        Err(err) => {
            // Nothing started: the next attempt may have the connection.
            store.return_write_connection(conn);
            return Err(err.into());
        }
    };
    let state = WriterState::new(conn, sessions);
    let (outcomes_tx, outcomes) = mpsc::channel(QUEUE_CAPACITY);
    let (commands_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let writer = Writer {
        path: store.path().to_owned(),
        background,
        state: Some(state),
        config,
        events,
        outcomes,
        commands,
        waiting: Vec::new(),
        taken: 0,
    };
    let task = runtime.spawn(writer.run(shutdown));
    let handle = WriterHandle {
        outcomes: outcomes_tx,
        commands: commands_tx,
    };
    Ok((handle, task))
}

struct Writer {
    path: PathBuf,
    /// Where small batches run.
    background: BackgroundThread,
    /// `None` while a batch runs, and after an unrecoverable failure.
    state: Option<WriterState>,
    config: Arc<ArcSwap<Config>>,
    events: broadcast::Sender<LiveEvent>,
    outcomes: mpsc::Receiver<RequestOutcome>,
    commands: mpsc::Receiver<Envelope>,
    /// Commands waiting for the outcomes queued before them: (outcomes to take first, command).
    waiting: Vec<(u64, Envelope)>,
    /// Outcomes taken from the queue since the start.
    taken: u64,
}

impl Writer {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut next_cleanup = Instant::now() + self.cleanup_interval();
        let (mut outcomes_open, mut commands_open) = (true, true);
        // When the last batch of outcomes started: the next one waits for the interval to pass.
        let mut last_batch: Option<Instant> = None;
        loop {
            let mut outcomes = Vec::new();
            let mut periodic = false;
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                envelope = self.commands.recv(), if commands_open => match envelope {
                    Some(envelope) => self.hold(envelope),
                    None => commands_open = false,
                },
                outcome = self.outcomes.recv(), if outcomes_open => match outcome {
                    Some(outcome) => {
                        outcomes.push(outcome);
                        self.taken += 1;
                    }
                    None => outcomes_open = false,
                },
                () = tokio::time::sleep_until(next_cleanup) => periodic = true,
            }
            if !outcomes_open && !commands_open {
                break;
            }
            if !outcomes.is_empty()
                && self.waiting.is_empty()
                && let Some(last) = last_batch
                && last.elapsed() < MIN_COMMIT_INTERVAL
            {
                // Under load: let the outcomes of the next few milliseconds join this batch. A
                // command or the shutdown ends the wait early.
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {}
                    envelope = self.commands.recv(), if commands_open => match envelope {
                        Some(envelope) => self.hold(envelope),
                        None => commands_open = false,
                    },
                    () = tokio::time::sleep_until(last + MIN_COMMIT_INTERVAL) => {}
                }
            }
            self.take_queued(&mut outcomes);
            if !outcomes.is_empty() {
                last_batch = Some(Instant::now());
            }
            if periodic {
                next_cleanup = Instant::now() + self.cleanup_interval();
            }
            let ready = self.ready_commands();
            if (!outcomes.is_empty() || !ready.is_empty() || periodic)
                && !self.run_batch(outcomes, ready, periodic).await
            {
                return;
            }
        }
        self.drain().await;
    }

    fn cleanup_interval(&self) -> Duration {
        let idle = self.config.load().sessions.idle_timeout;
        (idle / 4).clamp(MIN_CLEANUP_INTERVAL, MAX_CLEANUP_INTERVAL)
    }

    /// Queues a command behind the outcomes already in the queue.
    fn hold(&mut self, envelope: Envelope) {
        let due = self.taken + self.outcomes.len() as u64;
        self.waiting.push((due, envelope));
    }

    /// Takes what is queued now, without waiting: all commands, and outcomes up to a batch.
    fn take_queued(&mut self, outcomes: &mut Vec<RequestOutcome>) {
        while let Ok(envelope) = self.commands.try_recv() {
            self.hold(envelope);
        }
        while outcomes.len() < MAX_BATCH {
            match self.outcomes.try_recv() {
                Ok(outcome) => {
                    outcomes.push(outcome);
                    self.taken += 1;
                }
                Err(_) => break,
            }
        }
    }

    /// The waiting commands whose earlier outcomes are all taken, in order.
    fn ready_commands(&mut self) -> Vec<Envelope> {
        let taken = self.taken;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(due, _)| *due <= taken);
        self.waiting = waiting;
        ready.into_iter().map(|(_, envelope)| envelope).collect()
    }

    /// Stops taking new work, then commits everything still queued, commands last.
    async fn drain(mut self) {
        self.outcomes.close();
        self.commands.close();
        while let Some(envelope) = self.commands.recv().await {
            self.waiting.push((0, envelope));
        }
        loop {
            let mut outcomes = Vec::new();
            while outcomes.len() < MAX_BATCH {
                match self.outcomes.recv().await {
                    Some(outcome) => outcomes.push(outcome),
                    None => break,
                }
            }
            let last = outcomes.len() < MAX_BATCH;
            let ready = if last {
                std::mem::take(&mut self.waiting)
                    .into_iter()
                    .map(|(_, envelope)| envelope)
                    .collect()
            } else {
                Vec::new()
            };
            if (!outcomes.is_empty() || !ready.is_empty())
                && !self.run_batch(outcomes, ready, false).await
            {
                return;
            }
            if last {
                return;
            }
        }
    }

    /// Commits one batch, then sends its events and replies. `false` when the writer cannot go on.
    async fn run_batch(
        &mut self,
        outcomes: Vec<RequestOutcome>,
        envelopes: Vec<Envelope>,
        periodic: bool,
    ) -> bool {
        let Some(mut state) = self.state.take() else {
            return false;
        };
        let config = self.config.load_full();
        let (commands, replies): (Vec<_>, Vec<_>) = envelopes
            .into_iter()
            .map(|envelope| (envelope.command, envelope.reply))
            .unzip();
        let periodic = periodic.then_some(CleanupArgs {
            close_idle: true,
            delete_closed_older_than_days: Some(config.sessions.retention_days),
        });
        let count = outcomes.len();
        let routine = count < BACKGROUND_BATCH && periodic.is_none();
        let job = move || {
            let now = unix_ms(SystemTime::now());
            let recorded = outcomes.into_iter().map(Recorded::from_outcome).collect();
            let result = batch::apply(&mut state, &config, recorded, commands, periodic, now);
            if result.is_err() {
                // Rolled back: the in-memory session index may name sessions that never were.
                match SessionIndex::load(&state.conn) {
                    Ok(index) => state.sessions = index,
                    Err(err) => tracing::error!(error = %err, "cannot reload the session index"),
                }
            }
            (state, result)
        };
        let joined = if routine {
            self.background.run(job).await
        } else {
            tokio::task::spawn_blocking(job)
                .await
                .map_err(|_| JobFailed)
        };
        match joined {
            Ok((state, Ok(output))) => {
                self.state = Some(state);
                for event in output.events {
                    // No subscriber is fine: events are for whoever is watching.
                    let _ = self.events.send(event);
                }
                for (reply, result) in replies.into_iter().zip(output.replies) {
                    let _ = reply.send(result);
                }
                true
            }
            Ok((state, Err(err))) => {
                self.state = Some(state);
                tracing::error!(error = %err, lost = count, "cannot commit request outcomes");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Commit(err.to_string())));
                }
                true
            }
            Err(JobFailed) => {
                // The connection went down with the job (it panicked): open a new one, carry on.
                tracing::error!(lost = count, "the store writer's batch failed");
                let path = self.path.clone();
                match tokio::task::spawn_blocking(move || WriterState::reopen(&path)).await {
                    Ok(Ok(state)) => {
                        self.state = Some(state);
                        true
                    }
                    Ok(Err(err)) => {
                        tracing::error!(error = %err, "the store writer stopped");
                        false
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "the store writer stopped");
                        false
                    }
                }
            }
        }
    }
}
