//! The app's windows: the main status window and the dashboard window, which loads the gateway's
//! own `/ui/` with the admin token in the URL fragment.
//!
//! The main window is described in `tauri.conf.json` with `"create": false` and built when first
//! shown (from the tray, a normal launch, or a second launch). Closing it puts the app back in the
//! tray: the window and its web view are released rather than kept hidden, so an app idling in
//! the tray carries no WebKit processes (a hidden web view costs well over 100 MiB), and showing
//! it again builds a fresh one in a fraction of a second.

use secrecy::{ExposeSecret as _, SecretString};
use tauri::{
    AppHandle, Manager as _, WebviewUrl, WebviewWindow, WebviewWindowBuilder, Window, WindowEvent,
};

use crate::error::CommandError;

pub const MAIN: &str = "main";
pub const DASHBOARD: &str = "dashboard";

/// Shows (building it if needed), unminimizes and focuses the main window.
pub fn show_main(app: &AppHandle) {
    let window = match app.get_webview_window(MAIN) {
        Some(window) => window,
        None => match build_main(app) {
            Ok(window) => window,
            Err(err) => {
                tracing::error!("cannot open the main window: {err}");
                return;
            }
        },
    };
    let shown = window
        .show()
        .and_then(|()| window.unminimize())
        .and_then(|()| window.set_focus());
    if let Err(err) = shown {
        tracing::warn!("cannot show the main window: {err}");
    }
}

fn build_main(app: &AppHandle) -> Result<WebviewWindow, String> {
    let config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or_else(|| format!("no window `{MAIN}` in tauri.conf.json"))?;
    WebviewWindowBuilder::from_config(app, &config)
        .and_then(WebviewWindowBuilder::build)
        .map_err(|e| e.to_string())
}

/// Closing the main window leaves the app running in the tray until "Quit" (the run loop keeps
/// the app alive when its last window is gone).
pub fn on_window_event(window: &Window, event: &WindowEvent) {
    if let WindowEvent::Destroyed = event
        && window.label() == MAIN
    {
        tracing::info!("window closed; Switchboard keeps running in the tray");
    }
}

/// Opens (or refocuses, on the current address) the dashboard window. The page is the gateway's
/// own: it talks to the admin API same-origin and has no access to the app's commands.
pub fn open_dashboard(app: &AppHandle, url: &SecretString) -> Result<(), CommandError> {
    let url: tauri::Url = url
        .expose_secret()
        .parse()
        .map_err(|e| CommandError::internal(format!("bad dashboard URL: {e}")))?;
    if let Some(window) = app.get_webview_window(DASHBOARD) {
        // The gateway may have restarted on another port since the window was opened.
        let same_origin = window
            .url()
            .is_ok_and(|current| current.origin() == url.origin());
        if !same_origin {
            window.navigate(url)?;
        }
        window.show()?;
        window.unminimize()?;
        window.set_focus()?;
        return Ok(());
    }
    WebviewWindowBuilder::new(app, DASHBOARD, WebviewUrl::External(url))
        .title("Switchboard — dashboard")
        .inner_size(1200.0, 800.0)
        .min_inner_size(640.0, 420.0)
        .build()?;
    Ok(())
}
