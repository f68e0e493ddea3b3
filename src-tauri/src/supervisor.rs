//! Runs the gateway for the app: one background task owns the [`Machine`], performs its effects
//! (load the config and `Gateway::start`, or `GatewayHandle::shutdown` with a grace period for
//! streams in flight), applies config-file edits, and publishes a [`Snapshot`] that the tray and
//! the window render. No Tauri here: the tests drive it headless against a real gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use switchboard_core::config::ConfigWatcher;
use switchboard_core::{Config, ConfigError, Gateway, GatewayOptions, LoadOptions, Reloader};
use switchboard_core::{GatewayHandle, StartError};
use tokio::sync::{mpsc, oneshot, watch};

use crate::machine::{Effect, Intent, Machine, Outcome, ProxyState};

/// Where the gateway's files are and how long a stop may take.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    /// How long a stop waits for requests in flight (streams) before closing them.
    pub grace: Duration,
}

/// How the app reaches a running gateway's admin API.
#[derive(Clone, Debug)]
pub struct Access {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub admin_token: Option<Arc<SecretString>>,
}

impl Access {
    /// The dashboard URL with the admin token in its fragment (never sent to the server).
    pub fn dashboard_url(&self) -> Option<SecretString> {
        self.admin_token.as_ref().map(|token| {
            SecretString::from(format!(
                "{}/ui/#token={}",
                self.base_url,
                token.expose_secret()
            ))
        })
    }
}

/// What the tray and the window show.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub state: ProxyState,
    /// Present while running.
    pub access: Option<Access>,
}

/// Worth telling the user about even when the window is hidden (a desktop notification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    StartFailed { reason: String },
    ReloadFailed { reason: String },
    Crashed { reason: String },
}

/// A handle on the supervisor task; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    requests: mpsc::Sender<(Intent, oneshot::Sender<()>)>,
    reloads: mpsc::Sender<Result<Config, ConfigError>>,
    snapshot: watch::Receiver<Snapshot>,
    settings: Arc<Settings>,
}

/// The supervisor's loop; spawn [`SupervisorTask::run`] on a tokio runtime.
pub struct SupervisorTask {
    settings: Arc<Settings>,
    machine: Machine,
    requests: mpsc::Receiver<(Intent, oneshot::Sender<()>)>,
    reports_tx: mpsc::Sender<Report>,
    reports: mpsc::Receiver<Report>,
    reloads: mpsc::Receiver<Result<Config, ConfigError>>,
    _watcher: Option<ConfigWatcher>,
    snapshot: watch::Sender<Snapshot>,
    notices: mpsc::Sender<Notice>,
    running: Option<RunningGateway>,
}

/// The supervisor's side of a running gateway; the gateway task owns the handle itself.
struct RunningGateway {
    stop: oneshot::Sender<()>,
    reloader: Reloader,
    access: Access,
    /// `server.listen` as configured when it started (an edit of it means a restart).
    configured: SocketAddr,
}

/// What a gateway task tells the supervisor.
enum Report {
    Started {
        addr: SocketAddr,
        running: RunningGateway,
    },
    StartFailed {
        reason: String,
    },
    Stopped,
    Crashed {
        reason: String,
    },
}

impl Supervisor {
    /// Creates the supervisor and starts watching the config file (before anything loads it, so
    /// no edit made during start-up is lost). Returns the handle, the task to spawn, and the
    /// notices to show the user.
    pub fn new(settings: Settings) -> (Supervisor, SupervisorTask, mpsc::Receiver<Notice>) {
        let settings = Arc::new(settings);
        let (requests_tx, requests) = mpsc::channel(16);
        let (reports_tx, reports) = mpsc::channel(16);
        let (reloads_tx, reloads) = mpsc::channel(4);
        let (notices_tx, notices) = mpsc::channel(16);
        let (snapshot_tx, snapshot) = watch::channel(Snapshot::default());
        let watched = reloads_tx.clone();
        let watcher = switchboard_core::config::watch(&settings.config_path, move |result| {
            let _ = watched.blocking_send(result);
        });
        let watcher = match watcher {
            Ok(watcher) => Some(watcher),
            Err(err) => {
                tracing::warn!(error = %err, "cannot watch the config file; edits apply after a restart");
                None
            }
        };
        let handle = Supervisor {
            requests: requests_tx,
            reloads: reloads_tx,
            snapshot,
            settings: settings.clone(),
        };
        let task = SupervisorTask {
            settings,
            machine: Machine::new(),
            requests,
            reports_tx,
            reports,
            reloads,
            _watcher: watcher,
            snapshot: snapshot_tx,
            notices: notices_tx,
            running: None,
        };
        (handle, task, notices)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.clone()
    }

    /// Hands `intent` to the supervisor and returns once it has been applied (the snapshot then
    /// shows the transition it started, e.g. `Starting`). Does not wait for the gateway.
    pub async fn request(&self, intent: Intent) {
        let (done_tx, done) = oneshot::channel();
        if self.requests.send((intent, done_tx)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Re-reads the config file now, as if it had been edited: a running proxy swaps it in, one
    /// that failed to start tries again. (E.g. after a key it references was stored.)
    pub async fn reload_from_disk(&self) {
        let path = self.settings.config_path.clone();
        let loaded =
            tokio::task::spawn_blocking(move || Config::load(&path, LoadOptions::default())).await;
        if let Ok(result) = loaded {
            let _ = self.reloads.send(result).await;
        }
    }

    /// Applies `intent` and waits (up to `timeout`) until the proxy has settled: running,
    /// stopped, or in error.
    pub async fn apply(&self, intent: Intent, timeout: Duration) -> Snapshot {
        self.request(intent).await;
        self.settled(timeout).await
    }

    /// The next settled snapshot, or the current one if `timeout` passes first.
    pub async fn settled(&self, timeout: Duration) -> Snapshot {
        let mut rx = self.snapshot.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|s| s.state.is_settled())).await;
        match waited {
            Ok(Ok(snapshot)) => snapshot.clone(),
            _ => self.snapshot(),
        }
    }
}

impl SupervisorTask {
    /// Runs until every [`Supervisor`] handle is dropped; then stops the gateway.
    pub async fn run(mut self) {
        loop {
            tokio::select! {
                request = self.requests.recv() => {
                    let Some((intent, done)) = request else { break };
                    let effect = self.machine.on_intent(intent);
                    self.perform(effect);
                    let _ = done.send(());
                }
                Some(report) = self.reports.recv() => self.on_report(report),
                Some(reload) = self.reloads.recv() => self.on_reload(reload),
            }
        }
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
        }
    }

    fn publish(&self) {
        let access = match self.machine.state() {
            ProxyState::Running { .. } => self.running.as_ref().map(|r| r.access.clone()),
            _ => None,
        };
        self.snapshot.send_replace(Snapshot {
            state: self.machine.state().clone(),
            access,
        });
    }

    fn notify(&self, notice: Notice) {
        // Never block the supervisor on the UI; a full queue drops the notice (it is logged).
        let _ = self.notices.try_send(notice);
    }

    fn perform(&mut self, effect: Effect) {
        match effect {
            Effect::None => {}
            Effect::Launch => {
                let settings = self.settings.clone();
                let last = self.machine.last_addr();
                tokio::spawn(gateway_task(settings, last, self.reports_tx.clone()));
            }
            Effect::Shutdown => match self.running.take() {
                Some(running) => {
                    let _ = running.stop.send(());
                }
                // Nothing to stop (cannot happen: Shutdown follows Running); settle at once.
                None => {
                    let effect = self.machine.on_outcome(Outcome::Stopped);
                    self.perform(effect);
                }
            },
        }
        self.publish();
    }

    fn on_report(&mut self, report: Report) {
        let outcome = match report {
            Report::Started { addr, running } => {
                tracing::info!(%addr, "proxy running");
                self.running = Some(running);
                Outcome::Started { addr }
            }
            Report::StartFailed { reason } => {
                tracing::error!("proxy could not start: {reason}");
                self.notify(Notice::StartFailed {
                    reason: reason.clone(),
                });
                Outcome::StartFailed { reason }
            }
            Report::Stopped => {
                tracing::info!("proxy stopped");
                Outcome::Stopped
            }
            Report::Crashed { reason } => {
                tracing::error!("proxy stopped unexpectedly: {reason}");
                self.running = None;
                self.notify(Notice::Crashed {
                    reason: reason.clone(),
                });
                Outcome::Crashed { reason }
            }
        };
        let effect = self.machine.on_outcome(outcome);
        self.perform(effect);
        // A gateway the machine does not consider running (a stale start) must not linger.
        if !matches!(self.machine.state(), ProxyState::Running { .. })
            && let Some(running) = self.running.take()
        {
            let _ = running.stop.send(());
        }
    }

    fn on_reload(&mut self, reload: Result<Config, ConfigError>) {
        let config = match reload {
            Ok(config) => config,
            Err(err) => {
                let reason = match self.machine.state() {
                    ProxyState::Running { .. } => {
                        format!("{err}\nThe proxy keeps running with the previous config.")
                    }
                    _ => err.to_string(),
                };
                tracing::error!("config not reloaded: {reason}");
                self.notify(Notice::ReloadFailed { reason });
                return;
            }
        };
        match (self.machine.state(), &self.running) {
            (ProxyState::Running { .. }, Some(running)) => {
                if config.server.listen != running.configured {
                    tracing::info!(listen = %config.server.listen, "`server.listen` changed; restarting the proxy");
                    let effect = self.machine.on_intent(Intent::Restart);
                    self.perform(effect);
                    return;
                }
                match running.reloader.reload(config) {
                    Ok(()) => tracing::info!("config reloaded"),
                    Err(err) => {
                        tracing::error!("config not reloaded: {err}");
                        self.notify(Notice::ReloadFailed {
                            reason: err.to_string(),
                        });
                    }
                }
            }
            // The file was fixed after a failed start: try again with it.
            (ProxyState::Error { .. }, _) => {
                tracing::info!("config changed and is valid; starting the proxy again");
                let effect = self.machine.on_intent(Intent::Start);
                self.perform(effect);
            }
            // Stopped (the next start reads the file) or mid-transition (a start reads it anyway;
            // a running gateway picks up later edits).
            _ => {}
        }
    }
}

/// Owns one gateway from start to shutdown and reports each step to the supervisor.
async fn gateway_task(
    settings: Arc<Settings>,
    last: Option<SocketAddr>,
    reports: mpsc::Sender<Report>,
) {
    let (mut handle, configured) = match start_gateway(&settings, last).await {
        Ok(started) => started,
        Err(reason) => {
            let _ = reports.send(Report::StartFailed { reason }).await;
            return;
        }
    };
    let (stop_tx, stop) = oneshot::channel();
    let running = RunningGateway {
        stop: stop_tx,
        reloader: handle.reloader(),
        access: Access {
            base_url: handle.base_url(),
            admin_token: handle.admin_token().cloned().map(Arc::new),
        },
        configured,
    };
    let addr = handle.local_addr();
    if reports
        .send(Report::Started { addr, running })
        .await
        .is_err()
    {
        handle.shutdown(settings.grace).await;
        return;
    }
    tokio::select! {
        // Asked to stop (or the supervisor is gone): close the port, drain, report.
        _ = stop => {
            handle.shutdown(settings.grace).await;
            let _ = reports.send(Report::Stopped).await;
        }
        () = handle.wait() => {
            handle.shutdown(Duration::from_secs(1)).await;
            let reason = "the gateway stopped unexpectedly; see the log".to_owned();
            let _ = reports.send(Report::Crashed { reason }).await;
        }
    }
}

/// Loads the config (off the runtime: secrets may come from the OS keychain) and starts the
/// gateway; returns it with the configured listen address. Errors are the user-facing message.
async fn start_gateway(
    settings: &Settings,
    last: Option<SocketAddr>,
) -> Result<(GatewayHandle, SocketAddr), String> {
    let path = settings.config_path.clone();
    let config = tokio::task::spawn_blocking(move || Config::load(&path, LoadOptions::default()))
        .await
        .map_err(|e| format!("loading the config stopped unexpectedly: {e}"))?
        .map_err(|e| e.to_string())?;
    let configured = config.server.listen;
    let listen = crate::machine::sticky_listen(configured, last);
    let options = |listen| GatewayOptions {
        listen: Some(listen),
        data_dir: Some(settings.data_dir.clone()),
        ..GatewayOptions::default()
    };
    let started = match Gateway::start(config.clone(), options(listen)).await {
        // The port the OS picked last time has been taken: let it pick another.
        Err(StartError::PortInUse { .. }) if listen != configured => {
            Gateway::start(config, options(configured)).await
        }
        other => other,
    };
    started
        .map(|handle| (handle, configured))
        .map_err(|e| e.to_string())
}
