//! The `switchboard-app` binary: runs the desktop app and reports a start-up failure.

// No console window next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

/// The allocator the headless gateway uses too (see `crates/cli/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match switchboard_app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("switchboard-app: {err:#}");
            ExitCode::FAILURE
        }
    }
}
