//! The Tauri commands the window calls. Each is thin: it reads the managed [`Shell`], calls the
//! supervisor, the admin client, the keychain or a shell action, and returns its result or a
//! `{code, message}` [`CommandError`].

use secrecy::SecretString;
use serde_json::Value;
use tauri::{AppHandle, State};

use crate::error::CommandError;
use crate::machine::Intent;
use crate::shell::{self, SETTLE_TIMEOUT, Shell, StatusView};

/// The current state; the window asks once when its page loads, then follows the events.
#[tauri::command]
pub fn proxy_status(shell: State<'_, Shell>) -> StatusView {
    tracing::info!("window page loaded");
    shell.status_view(&shell.supervisor.snapshot())
}

/// Starts the proxy and answers once it runs (or failed: the view then carries the reason).
#[tauri::command]
pub async fn start_proxy(shell: State<'_, Shell>) -> Result<StatusView, CommandError> {
    let snapshot = shell.supervisor.apply(Intent::Start, SETTLE_TIMEOUT).await;
    Ok(shell.status_view(&snapshot))
}

/// Stops the proxy and answers once the port is closed and the streams are drained.
#[tauri::command]
pub async fn stop_proxy(shell: State<'_, Shell>) -> Result<StatusView, CommandError> {
    let snapshot = shell.supervisor.apply(Intent::Stop, SETTLE_TIMEOUT).await;
    Ok(shell.status_view(&snapshot))
}

/// The gateway's `/admin/api/status` (version, uptime, providers, models, requests today).
#[tauri::command]
pub async fn gateway_stats(shell: State<'_, Shell>) -> Result<Value, CommandError> {
    let access = shell
        .supervisor
        .snapshot()
        .access
        .ok_or_else(CommandError::not_running)?;
    shell.admin.status(&access).await
}

/// The latest requests from `/admin/api/requests`, newest first.
#[tauri::command]
pub async fn recent_requests(
    shell: State<'_, Shell>,
    limit: Option<u32>,
) -> Result<Value, CommandError> {
    let access = shell
        .supervisor
        .snapshot()
        .access
        .ok_or_else(CommandError::not_running)?;
    shell
        .admin
        .recent_requests(&access, limit.unwrap_or(20))
        .await
}

#[tauri::command]
pub fn open_dashboard(app: AppHandle) -> Result<(), CommandError> {
    shell::open_dashboard(&app)
}

#[tauri::command]
pub fn copy_base_url(app: AppHandle) -> Result<String, CommandError> {
    shell::copy_base_url(&app)
}

#[tauri::command]
pub fn open_config(app: AppHandle) -> Result<(), CommandError> {
    shell::open_config(&app)
}

#[tauri::command]
pub fn open_logs(app: AppHandle) -> Result<(), CommandError> {
    shell::open_logs(&app)
}

#[tauri::command]
pub fn get_autostart(app: AppHandle) -> Result<bool, CommandError> {
    shell::autostart_enabled(&app)
}

#[tauri::command]
pub fn set_autostart(app: AppHandle, enabled: bool) -> Result<bool, CommandError> {
    shell::set_autostart(&app, enabled)
}

/// Names of the keys in the OS keychain (never values).
#[tauri::command]
pub async fn list_keys() -> Result<Vec<String>, CommandError> {
    crate::keys::names().await
}

/// Stores a provider key in the OS keychain, then re-reads the config so a `keyring:NAME` that
/// was missing takes effect (a proxy that failed to start for want of it starts).
#[tauri::command]
pub async fn set_key(
    shell: State<'_, Shell>,
    name: String,
    key: String,
) -> Result<Vec<String>, CommandError> {
    let names = crate::keys::store(name, SecretString::from(key)).await?;
    shell.supervisor.reload_from_disk().await;
    Ok(names)
}

#[tauri::command]
pub async fn delete_key(name: String) -> Result<Vec<String>, CommandError> {
    crate::keys::remove(name).await
}
