//! The glue shared by the tray menu and the window's commands: the app's managed [`Shell`]
//! state, the actions both offer (start/stop, open dashboard, copy the base URL, open the config
//! file or the logs, start at login, quit), and the task that re-renders the tray and tells the
//! window whenever the proxy's state changes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Emitter as _, Manager as _};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::admin::AdminClient;
use crate::error::CommandError;
use crate::machine::{Intent, ProxyState};
use crate::supervisor::{Snapshot, Supervisor};
use crate::tray::Tray;

/// The event the window listens to; its payload is a [`StatusView`].
pub const STATE_EVENT: &str = "proxy-state";

/// How long a start or stop requested from the window may take before it answers anyway.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);

/// The app's state, managed by Tauri.
pub struct Shell {
    pub supervisor: Supervisor,
    pub admin: AdminClient,
    pub log_dir: PathBuf,
    quitting: AtomicBool,
}

impl Shell {
    pub fn new(supervisor: Supervisor, admin: AdminClient, log_dir: PathBuf) -> Shell {
        Shell {
            supervisor,
            admin,
            log_dir,
            quitting: AtomicBool::new(false),
        }
    }

    pub fn status_view(&self, snapshot: &Snapshot) -> StatusView {
        let settings = self.supervisor.settings();
        let base_url = snapshot.access.as_ref().map(|a| a.base_url.clone());
        StatusView {
            status_line: snapshot.state.status_line(),
            can_start: snapshot.state.can_start(),
            can_stop: snapshot.state.can_stop(),
            openai_base_url: base_url.as_ref().map(|url| format!("{url}/v1")),
            base_url,
            proxy: snapshot.state.clone(),
            config_path: settings.config_path.display().to_string(),
            data_dir: settings.data_dir.display().to_string(),
            log_dir: self.log_dir.display().to_string(),
        }
    }
}

/// What the window shows about the proxy (never the admin token).
#[derive(Clone, Debug, Serialize)]
pub struct StatusView {
    /// `state` plus `addr` (running) or `reason` (error).
    #[serde(flatten)]
    pub proxy: ProxyState,
    pub status_line: String,
    pub can_start: bool,
    pub can_stop: bool,
    /// `http://127.0.0.1:PORT` while running.
    pub base_url: Option<String>,
    /// `http://127.0.0.1:PORT/v1`, what OpenAI-style clients are given.
    pub openai_base_url: Option<String>,
    pub config_path: String,
    pub data_dir: String,
    pub log_dir: String,
}

fn shell(app: &AppHandle) -> tauri::State<'_, Shell> {
    app.state::<Shell>()
}

/// Logs a failed tray action (the tray has nowhere else to show it).
pub fn report(result: Result<(), CommandError>) {
    if let Err(err) = result {
        tracing::warn!(code = err.code, "{}", err.message);
    }
}

/// Hands `intent` to the supervisor without waiting (the tray's Start/Stop).
pub fn request(app: &AppHandle, intent: Intent) {
    let supervisor = shell(app).supervisor.clone();
    tauri::async_runtime::spawn(async move { supervisor.request(intent).await });
}

pub fn open_dashboard(app: &AppHandle) -> Result<(), CommandError> {
    let access = shell(app)
        .supervisor
        .snapshot()
        .access
        .ok_or_else(CommandError::not_running)?;
    let url = access.dashboard_url().ok_or_else(|| {
        CommandError::new(
            "admin_unavailable",
            "the dashboard needs the data dir, and the gateway has none",
        )
    })?;
    crate::window::open_dashboard(app, &url)
}

/// Copies the OpenAI-style base URL (`http://127.0.0.1:PORT/v1`) and returns it.
pub fn copy_base_url(app: &AppHandle) -> Result<String, CommandError> {
    let access = shell(app)
        .supervisor
        .snapshot()
        .access
        .ok_or_else(CommandError::not_running)?;
    let url = format!("{}/v1", access.base_url);
    app.clipboard()
        .write_text(url.clone())
        .map_err(|e| CommandError::new("clipboard", format!("cannot copy the base URL: {e}")))?;
    tracing::info!(%url, "base URL copied");
    Ok(url)
}

pub fn open_config(app: &AppHandle) -> Result<(), CommandError> {
    let path = shell(app).supervisor.settings().config_path.clone();
    open_path(app, path)
}

pub fn open_logs(app: &AppHandle) -> Result<(), CommandError> {
    let dir = shell(app).log_dir.clone();
    open_path(app, dir)
}

fn open_path(app: &AppHandle, path: PathBuf) -> Result<(), CommandError> {
    app.opener()
        .open_path(path.display().to_string(), None::<&str>)
        .map_err(|e| {
            CommandError::new(
                "open_failed",
                format!("cannot open `{}`: {e}", path.display()),
            )
        })
}

pub fn autostart_enabled(app: &AppHandle) -> Result<bool, CommandError> {
    app.autolaunch()
        .is_enabled()
        .map_err(|e| CommandError::new("autostart", format!("cannot read the login item: {e}")))
}

/// Turns start-at-login on or off; returns what the OS now has and updates the tray's check.
pub fn set_autostart(app: &AppHandle, on: bool) -> Result<bool, CommandError> {
    let changed = if on {
        app.autolaunch().enable()
    } else {
        app.autolaunch().disable()
    };
    let now = autostart_enabled(app);
    if let Some(tray) = app.try_state::<Tray>() {
        tray.set_autostart_checked(*now.as_ref().unwrap_or(&on));
    }
    changed.map_err(|e| {
        CommandError::new("autostart", format!("cannot change the login item: {e}"))
    })?;
    tracing::info!(on, "start at login changed");
    now
}

/// Stops the proxy (draining streams within the grace period), then exits. Idempotent.
pub fn quit(app: &AppHandle) {
    let shell = shell(app);
    if shell.quitting.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::info!("quitting: stopping the proxy");
    let supervisor = shell.supervisor.clone();
    let timeout = supervisor.settings().grace + Duration::from_secs(2);
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        supervisor.apply(Intent::Stop, timeout).await;
        app.exit(0);
    });
}

/// Re-renders the tray and notifies the window on every state change, for the app's lifetime.
pub fn spawn_renderer(app: &AppHandle) {
    let mut updates = shell(app).supervisor.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let snapshot = updates.borrow_and_update().clone();
            render(&app, &snapshot);
            if updates.changed().await.is_err() {
                break;
            }
        }
    });
}

fn render(app: &AppHandle, snapshot: &Snapshot) {
    if let Some(tray) = app.try_state::<Tray>()
        && let Err(err) = tray.render(&snapshot.state)
    {
        tracing::warn!("cannot update the tray: {err}");
    }
    let view = shell(app).status_view(snapshot);
    if let Err(err) = app.emit(STATE_EVENT, view) {
        tracing::warn!("cannot notify the window: {err}");
    }
}
