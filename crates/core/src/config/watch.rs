//! Hot reload: watches the config file's directory (editors often replace a file by renaming a
//! new one over it) and hands each changed, re-validated config to the caller. A config that
//! fails validation is reported and never replaces the running one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::{Config, ConfigError, LoadOptions};

/// How long the file must stay quiet after an event before it is read: one save is often
/// several events (truncate, write, rename, attributes).
const SETTLE: Duration = Duration::from_millis(250);

/// Stops watching when dropped (the reload thread ends with it).
pub struct ConfigWatcher {
    _watcher: RecommendedWatcher,
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
    let (touched, touches) = mpsc::channel::<()>();
    let watched = path.clone();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if may_change_content(&event.kind) && event.paths.contains(&watched) => {
                let _ = touched.send(());
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "watching the config failed"),
        })?;
    // Editors touch a file several times per save; only a change of content is a new config.
    let last_text = std::fs::read_to_string(&path).ok();
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    std::thread::Builder::new()
        .name("switchboard-config".into())
        .spawn(move || reload_on_change(&path, last_text, &touches, on_change))
        .map_err(notify::Error::io)?;
    Ok(ConfigWatcher { _watcher: watcher })
}

/// Whether an event can mean new content. Opening and reading the file are events too (our own
/// reads included: counting them made the watcher re-read the file every few hundred
/// milliseconds, forever); a close after writing is kept, as some writers send nothing else.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// Waits for the file to be touched and to settle, then reloads it if its text changed; until
/// the watcher (the sender) is dropped.
fn reload_on_change(
    file: &Path,
    mut last_text: Option<String>,
    touches: &mpsc::Receiver<()>,
    on_change: impl Fn(Result<Config, ConfigError>),
) {
    while touches.recv().is_ok() {
        loop {
            match touches.recv_timeout(SETTLE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        let Some(text) = read_settled(file) else {
            continue; // mid-replace, or removed: the next event brings the new file
        };
        if last_text.as_deref() == Some(text.as_str()) {
            continue;
        }
        let origin = file.display().to_string();
        let result = Config::from_toml(&text, &origin, LoadOptions::default()).map(|mut config| {
            config.path = Some(file.to_owned());
            config
        });
        last_text = Some(text);
        on_change(result);
    }
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
    use notify::event::{CreateKind, ModifyKind, RemoveKind, RenameMode};

    use super::*;

    #[test]
    fn reads_of_the_file_are_not_changes() {
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert!(!may_change_content(&open));
        assert!(!may_change_content(&read));
        for change in [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Create(CreateKind::File),
            EventKind::Remove(RemoveKind::File),
        ] {
            assert!(may_change_content(&change), "{change:?}");
        }
    }

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
