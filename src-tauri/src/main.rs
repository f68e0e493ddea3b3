//! The `switchboard-app` binary: runs the desktop app and reports a start-up failure.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    match switchboard_app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchboard-app: {err:#}");
            ExitCode::FAILURE
        }
    }
}
