//! Desktop notifications for what the user must know even with the window hidden: the proxy
//! could not start (port in use, invalid config with its line), a config reload failed, or the
//! proxy stopped unexpectedly.

use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt as _;
use tokio::sync::mpsc;

use crate::supervisor::Notice;

/// Notification bodies are shown in a small bubble; longer texts are cut (the log has it all).
const MAX_BODY_CHARS: usize = 400;

/// Title and body of the notification for `notice`.
pub fn content(notice: &Notice) -> (&'static str, String) {
    let (title, reason) = match notice {
        Notice::StartFailed { reason } => ("Switchboard could not start the proxy", reason),
        Notice::ReloadFailed { reason } => ("Switchboard did not apply the config change", reason),
        Notice::Crashed { reason } => ("Switchboard's proxy stopped unexpectedly", reason),
    };
    (title, shorten(reason, MAX_BODY_CHARS))
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Shows each notice as it comes, until the supervisor goes away.
pub fn spawn(app: AppHandle, mut notices: mpsc::Receiver<Notice>) {
    tauri::async_runtime::spawn(async move {
        while let Some(notice) = notices.recv().await {
            let (title, body) = content(&notice);
            let shown = app.notification().builder().title(title).body(&body).show();
            match shown {
                Ok(()) => tracing::info!(title, "notification shown"),
                // No notification daemon (a bare X session): the log and the tray still say it.
                Err(err) => tracing::warn!(title, "cannot show a notification: {err}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_config_names_the_line() {
        let reason = "config `/home/u/.config/switchboard/config.toml` has 1 problem:\n  \
                      server.listen (line 2): invalid socket address"
            .to_owned();
        let (title, body) = content(&Notice::StartFailed { reason });
        assert_eq!(title, "Switchboard could not start the proxy");
        assert!(body.contains("(line 2)"), "{body}");
    }

    #[test]
    fn long_bodies_are_cut() {
        let (_, body) = content(&Notice::ReloadFailed {
            reason: "y".repeat(1000),
        });
        assert_eq!(body.chars().count(), MAX_BODY_CHARS);
        assert!(body.ends_with('…'));
    }
}
