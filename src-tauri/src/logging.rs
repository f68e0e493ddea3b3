//! Logging for the app: daily files in the app's log dir (what "Open logs" shows, kept a week)
//! and stderr. `SWITCHBOARD_LOG` sets the level as for the headless binary. Request bodies and
//! keys are never logged (the core guarantees it; the shell logs states and messages only).

use std::io::IsTerminal as _;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{InitError, RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Keeps the background log writer alive; dropping it flushes the file.
pub struct LogGuard {
    _file: Option<WorkerGuard>,
}

/// The default filter: our messages at `info`, the webview stack only when it warns.
const DEFAULT_FILTER: &str = "info,tao=warn,wry=warn,tauri=warn,notify=warn";

/// Starts logging to `dir` (created if needed) and stderr. If the directory cannot be used, logs
/// go to stderr only and the reason is logged there.
pub fn init(dir: &Path) -> LogGuard {
    let filter = EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let (file, guard, failure) = match file_appender(dir) {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false);
            (Some(layer), Some(guard), None)
        }
        Err(err) => (None, None, Some(err)),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    match failure {
        None => tracing::info!(dir = %dir.display(), "logging to the app's log dir"),
        Some(err) => tracing::warn!(
            dir = %dir.display(),
            "cannot log to the log dir ({err}); logging to stderr only"
        ),
    }
    LogGuard { _file: guard }
}

fn file_appender(dir: &Path) -> Result<RollingFileAppender, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("switchboard")
        .filename_suffix("log")
        .max_log_files(7)
        .build(dir)
        .map_err(|e: InitError| e.to_string())
}
