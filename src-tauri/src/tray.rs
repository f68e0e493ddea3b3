//! The tray icon and its menu: a status line, Start/Stop proxy, Open dashboard, Copy base URL,
//! Show window, Open config file, Open logs, Start at login, Quit. The icon, tooltip, status
//! line and enabled items are re-rendered from each [`ProxyState`].

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Wry};
use tauri_plugin_autostart::ManagerExt as _;

use crate::machine::{Intent, ProxyState, TrayIconKind};
use crate::shell;

const ICON_RUNNING: &[u8] = include_bytes!("../../icons/tray-running.png");
const ICON_STOPPED: &[u8] = include_bytes!("../../icons/tray-stopped.png");
const ICON_ERROR: &[u8] = include_bytes!("../../icons/tray-error.png");

/// Menu item ids (also what the tray test clicks through, by position).
pub mod ids {
    pub const STATUS: &str = "status";
    pub const START: &str = "start";
    pub const STOP: &str = "stop";
    pub const DASHBOARD: &str = "dashboard";
    pub const COPY_URL: &str = "copy-base-url";
    pub const SHOW: &str = "show";
    pub const CONFIG: &str = "open-config";
    pub const LOGS: &str = "open-logs";
    pub const AUTOSTART: &str = "autostart";
    pub const QUIT: &str = "quit";
}

/// The tray and the menu items that change with the state.
pub struct Tray {
    icon: TrayIcon,
    status: MenuItem<Wry>,
    start: MenuItem<Wry>,
    stop: MenuItem<Wry>,
    dashboard: MenuItem<Wry>,
    copy_url: MenuItem<Wry>,
    autostart: CheckMenuItem<Wry>,
    icons: [Image<'static>; 3],
}

pub fn build(app: &AppHandle) -> tauri::Result<Tray> {
    let state = ProxyState::Stopped;
    let status = MenuItem::with_id(app, ids::STATUS, state.status_line(), false, None::<&str>)?;
    let start = MenuItem::with_id(app, ids::START, "Start proxy", true, None::<&str>)?;
    let stop = MenuItem::with_id(app, ids::STOP, "Stop proxy", false, None::<&str>)?;
    let dashboard = MenuItem::with_id(app, ids::DASHBOARD, "Open dashboard", false, None::<&str>)?;
    let copy_url = MenuItem::with_id(app, ids::COPY_URL, "Copy base URL", false, None::<&str>)?;
    let show = MenuItem::with_id(app, ids::SHOW, "Show window", true, None::<&str>)?;
    let config = MenuItem::with_id(app, ids::CONFIG, "Open config file", true, None::<&str>)?;
    let logs = MenuItem::with_id(app, ids::LOGS, "Open logs", true, None::<&str>)?;
    let autostart_on = app.autolaunch().is_enabled().unwrap_or(false);
    let autostart = CheckMenuItem::with_id(
        app,
        ids::AUTOSTART,
        "Start at login",
        true,
        autostart_on,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, ids::QUIT, "Quit Switchboard", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &start,
            &stop,
            &PredefinedMenuItem::separator(app)?,
            &dashboard,
            &copy_url,
            &show,
            &PredefinedMenuItem::separator(app)?,
            &config,
            &logs,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let icons = [
        Image::from_bytes(ICON_RUNNING)?,
        Image::from_bytes(ICON_STOPPED)?,
        Image::from_bytes(ICON_ERROR)?,
    ];
    let icon = TrayIconBuilder::with_id("switchboard")
        .icon(icons[1].clone())
        .tooltip(state.tooltip())
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(Tray {
        icon,
        status,
        start,
        stop,
        dashboard,
        copy_url,
        autostart,
        icons,
    })
}

impl Tray {
    /// Makes the icon, tooltip and menu show `state`.
    pub fn render(&self, state: &ProxyState) -> tauri::Result<()> {
        let icon = match state.icon() {
            TrayIconKind::Running => &self.icons[0],
            TrayIconKind::Stopped => &self.icons[1],
            TrayIconKind::Error => &self.icons[2],
        };
        self.icon.set_icon(Some(icon.clone()))?;
        self.icon.set_tooltip(Some(state.tooltip()))?;
        self.status.set_text(state.status_line())?;
        self.start.set_enabled(state.can_start())?;
        self.stop.set_enabled(state.can_stop())?;
        let running = state.addr().is_some();
        self.dashboard.set_enabled(running)?;
        self.copy_url.set_enabled(running)?;
        Ok(())
    }

    /// Shows whether the app starts at login.
    pub fn set_autostart_checked(&self, on: bool) {
        if let Err(err) = self.autostart.set_checked(on) {
            tracing::warn!("cannot update the tray menu: {err}");
        }
    }
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref();
    tracing::info!(item = id, "tray menu");
    match id {
        ids::START => shell::request(app, Intent::Start),
        ids::STOP => shell::request(app, Intent::Stop),
        ids::DASHBOARD => shell::report(shell::open_dashboard(app)),
        ids::COPY_URL => shell::report(shell::copy_base_url(app).map(|_| ())),
        ids::SHOW => crate::window::show_main(app),
        ids::CONFIG => shell::report(shell::open_config(app)),
        ids::LOGS => shell::report(shell::open_logs(app)),
        ids::AUTOSTART => toggle_autostart(app),
        ids::QUIT => shell::quit(app),
        _ => {}
    }
}

fn toggle_autostart(app: &AppHandle) {
    let enabled = app.autolaunch().is_enabled().unwrap_or(false);
    shell::report(shell::set_autostart(app, !enabled).map(|_| ()));
}
