//! Hot reload: watches the config file's directory (editors often replace a file by renaming a
//! new one over it) and hands each changed, re-validated config to the caller. A config that
//! fails validation is reported and never replaces the running one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{self, RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::{Config, ConfigError, LoadOptions};

/// Stops watching when dropped.
pub struct ConfigWatcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

/// Calls `on_change` (on the watcher's own thread; blocking is fine there) with the result of
/// reloading `path` after each burst of changes to it.
pub fn watch(
    path: &Path,
    on_change: impl Fn(Result<Config, ConfigError>) + Send + 'static,
) -> Result<ConfigWatcher, notify::Error> {
    let path: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let dir = path
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let file = path.clone();
    // Editors touch a file several times per save; only a change of content is a new config.
    let mut last_text = std::fs::read_to_string(&path).ok();
    let mut debouncer = new_debouncer(
        Duration::from_millis(250),
        move |events: DebounceEventResult| match events {
            Ok(events) if events.iter().any(|e| e.path == file) => {
                let Some(text) = read_settled(&file) else {
                    return; // mid-replace, or removed: the next event brings the new file
                };
                if last_text.as_deref() == Some(text.as_str()) {
                    return;
                }
                let origin = file.display().to_string();
                let result =
                    Config::from_toml(&text, &origin, LoadOptions::default()).map(|mut config| {
                        config.path = Some(file.clone());
                        config
                    });
                last_text = Some(text);
                on_change(result);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "watching the config failed"),
        },
    )?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(ConfigWatcher {
        _debouncer: debouncer,
    })
}

/// The file's text once it stops changing: a save that truncates and then writes can be seen
/// half done (even empty), and must not be loaded as the new config.
fn read_settled(file: &Path) -> Option<String> {
    let mut text = std::fs::read_to_string(file).ok()?;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(25));
        let again = std::fs::read_to_string(file).ok()?;
        if again == text {
            return Some(text);
        }
        text = again;
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn reports_each_change_valid_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "").unwrap();
        let (tx, rx) = mpsc::channel();
        let _watcher = watch(&path, move |result| {
            let _ = tx.send(
                result
                    .map(|c| c.server.listen.port())
                    .map_err(|e| e.to_string()),
            );
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:5000\"\n").unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(5000));
        // Replaced by rename, as editors do; and invalid this time.
        let tmp = dir.path().join("config.toml.tmp");
        std::fs::write(&tmp, "[server]\nlisten = \"nope\"\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let err = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("server.listen (line 2)"), "{err}");
        // Other files in the directory, and saves that change nothing, are ignored.
        std::fs::write(dir.path().join("other.txt"), "x").unwrap();
        std::fs::write(&path, "[server]\nlisten = \"nope\"\n").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(800)).is_err());
    }
}
