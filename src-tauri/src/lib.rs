//! Switchboard's desktop app: a thin Tauri shell that runs the same gateway as `switchboard
//! serve` in a background task and owns the OS side — tray, windows, notifications, start at
//! login, logs, keychain entry. No gateway logic lives here (DESIGN.md §2); the proxy's
//! lifecycle is the pure [`machine`], driven by the headless [`supervisor`].

pub mod admin;
mod commands;
pub mod error;
pub mod keys;
mod logging;
pub mod machine;
mod notices;
pub mod paths;
mod shell;
pub mod supervisor;
mod tray;
mod window;

use std::time::Duration;

use anyhow::Context as _;
use tauri::{AppHandle, Manager as _, RunEvent};
use tauri_plugin_autostart::MacosLauncher;

use crate::machine::Intent;
use crate::paths::Paths;
use crate::shell::Shell;
use crate::supervisor::{Settings, Supervisor};

/// Passed by the login item: start in the tray without showing the window.
pub const HIDDEN_FLAG: &str = "--hidden";

/// How long a stop (or quitting) waits for requests in flight, streams included.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// Builds and runs the app until "Quit".
pub fn run() -> anyhow::Result<()> {
    let hidden = std::env::args().any(|arg| arg == HIDDEN_FLAG);
    let app = tauri::Builder::default()
        // First: a second launch hands over to the running app and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: showing the running app");
            window::show_main(app);
        }))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![HIDDEN_FLAG]),
        ))
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(tauri::generate_handler![
            commands::proxy_status,
            commands::start_proxy,
            commands::stop_proxy,
            commands::gateway_stats,
            commands::recent_requests,
            commands::open_dashboard,
            commands::copy_base_url,
            commands::open_config,
            commands::open_logs,
            commands::get_autostart,
            commands::set_autostart,
            commands::list_keys,
            commands::set_key,
            commands::delete_key,
        ])
        .on_window_event(window::on_window_event)
        .setup(move |app| {
            // A tray app: no Dock icon on macOS (its windows still show when opened).
            #[cfg(target_os = "macos")]
            app.set_activation_policy(tauri::ActivationPolicy::Accessory);
            Ok(setup(app.handle(), hidden)?)
        })
        .build(tauri::generate_context!())
        .context("cannot start the desktop app")?;
    app.run(|_app, event| {
        // Closing the last window keeps the app in the tray; only "Quit" (an explicit exit
        // code) ends it.
        if let RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
    Ok(())
}

fn setup(app: &AppHandle, hidden: bool) -> anyhow::Result<()> {
    let log_dir = app
        .path()
        .app_log_dir()
        .context("cannot find the app's log dir")?;
    app.manage(logging::init(&log_dir));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        hidden,
        "Switchboard app starting"
    );

    let paths = Paths::from_env(|name| std::env::var_os(name))?;
    match paths.prepare() {
        Ok(true) => tracing::info!(path = %paths.config.display(), "wrote a default config"),
        Ok(false) => {}
        // The start below fails with the precise reason, which the tray and window then show.
        Err(err) => tracing::error!("{err}"),
    }
    tracing::info!(config = %paths.config.display(), data = %paths.data_dir.display(), "paths");

    let (supervisor, task, notices) = Supervisor::new(Settings {
        config_path: paths.config,
        data_dir: paths.data_dir,
        grace: STOP_GRACE,
    });
    tauri::async_runtime::spawn(task.run());
    notices::spawn(app.clone(), notices);
    let admin = admin::AdminClient::new()?;
    app.manage(Shell::new(supervisor, admin, log_dir));
    app.manage(tray::build(app).context("cannot create the tray icon")?);
    shell::spawn_renderer(app);
    shell::request(app, Intent::Start);
    spawn_signal_handler(app);
    if !hidden {
        window::show_main(app);
    }
    Ok(())
}

/// SIGTERM / SIGINT (a logout, `kill`, Ctrl-C in a terminal) quit as "Quit" does: the proxy
/// drains its streams first.
fn spawn_signal_handler(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::info!("signal received");
        shell::quit(&app);
    });
}
