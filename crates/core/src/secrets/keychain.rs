//! Provider keys in the OS keychain (service `switchboard`), plus the index that lets us list them.
//!
//! keyring 3 can read, write and delete one entry but cannot enumerate entries. So that
//! `switchboard key list` and the UI can show what is stored, the names (never the values) are
//! also kept in one extra keychain entry, user [`INDEX_USER`], as newline-separated sorted
//! names. `set` and `delete` update it under a lock (a process mutex plus an advisory lock file)
//! so concurrent writers — the CLI and the desktop app, or parallel tests — do not lose each
//! other's updates. Keys stored or removed behind our back (with a keychain GUI, `secret-tool`)
//! are not seen by `list` until the next `set`/`delete` of that name; `delete` of a name that is
//! indexed but gone removes the stale name.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use keyring::Entry;
use secrecy::{ExposeSecret as _, SecretString};

use super::{KEYCHAIN_SERVICE, SecretError, SecretRefError, validate_key_name};

/// Keychain user name of the index entry. `:` and spaces cannot occur in a key name, so the
/// index can never collide with a stored key.
pub(super) const INDEX_USER: &str = "switchboard:key-index";

/// Why the keychain can be unreachable, as said in [`SecretError::KeychainUnavailable`].
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
pub(super) const UNAVAILABLE_WHY: &str = "no D-Bus session / Secret Service is locked";
#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
pub(super) const UNAVAILABLE_WHY: &str = "it is locked or access was denied";

/// Serialises index updates within this process; the lock file covers other processes.
static INDEX_LOCK: Mutex<()> = Mutex::new(());

/// Provider keys stored under service [`KEYCHAIN_SERVICE`]. All calls block on the OS.
pub struct Keychain;

impl Keychain {
    /// Stores (or replaces) the key `name`.
    pub fn set(name: &str, secret: &SecretString) -> Result<(), SecretError> {
        check_name(name)?;
        if secret.expose_secret().trim().is_empty() {
            return Err(SecretError::Keychain {
                name: name.to_owned(),
                detail: "refusing to store an empty key".to_owned(),
            });
        }
        with_index_lock(|| {
            entry(name)?
                .set_password(secret.expose_secret())
                .map_err(|e| map_error(name, e))?;
            update_index(|names| names.insert(name.to_owned())).map_err(|e| SecretError::Keychain {
                name: name.to_owned(),
                detail: format!(
                    "the key was stored, but the list of stored names could not be updated \
                     ({e}); `switchboard key list` may not show it"
                ),
            })
        })
    }

    /// Fetches the key `name`; [`SecretError::KeychainMissing`] if there is none.
    pub fn get(name: &str) -> Result<SecretString, SecretError> {
        check_name(name)?;
        entry(name)?
            .get_password()
            .map(SecretString::from)
            .map_err(|e| map_error(name, e))
    }

    /// Removes the key `name`; [`SecretError::KeychainMissing`] if there is none.
    pub fn delete(name: &str) -> Result<(), SecretError> {
        check_name(name)?;
        with_index_lock(|| {
            let deleted = entry(name)?.delete_credential();
            match deleted {
                // Absent key: still drop a stale name from the index, then report it missing.
                Ok(()) | Err(keyring::Error::NoEntry) => {
                    update_index(|names| names.remove(name))?;
                    deleted.map_err(|e| map_error(name, e))
                }
                Err(e) => Err(map_error(name, e)),
            }
        })
    }

    /// Names of the stored keys, sorted. Never values.
    pub fn list() -> Result<Vec<String>, SecretError> {
        Ok(read_index()?.into_iter().collect())
    }
}

fn check_name(name: &str) -> Result<(), SecretError> {
    validate_key_name(name).map_err(|e| SecretError::InvalidKeyName {
        reason: match e {
            SecretRefError::Malformed { reason } => reason,
            literal @ SecretRefError::Literal => literal.to_string(),
        },
    })
}

fn entry(name: &str) -> Result<Entry, SecretError> {
    Entry::new(KEYCHAIN_SERVICE, name).map_err(|e| map_error(name, e))
}

fn read_index() -> Result<BTreeSet<String>, SecretError> {
    match entry(INDEX_USER)?.get_password() {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|name| validate_key_name(name).is_ok())
            .map(str::to_owned)
            .collect()),
        Err(keyring::Error::NoEntry) => Ok(BTreeSet::new()),
        Err(e) => Err(map_error(INDEX_USER, e)),
    }
}

/// Applies `change` to the index and writes it back if `change` reports a modification.
/// Callers hold the index lock.
fn update_index(change: impl FnOnce(&mut BTreeSet<String>) -> bool) -> Result<(), SecretError> {
    let mut names = read_index()?;
    if !change(&mut names) {
        return Ok(());
    }
    let index = entry(INDEX_USER)?;
    let written = if names.is_empty() {
        // Leave no empty bookkeeping entry behind once the last key is gone.
        match index.delete_credential() {
            Err(keyring::Error::NoEntry) => Ok(()),
            other => other,
        }
    } else {
        let text: Vec<&str> = names.iter().map(String::as_str).collect();
        index.set_password(&text.join("\n"))
    };
    written.map_err(|e| map_error(INDEX_USER, e))
}

/// Runs `f` holding the in-process index mutex and, where possible, an advisory lock file
/// shared with other Switchboard processes of this user.
fn with_index_lock<T>(f: impl FnOnce() -> T) -> T {
    let _process = INDEX_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(file) = open_lock_file() else {
        return f();
    };
    let mut lock = fd_lock::RwLock::new(file);
    match lock.write() {
        Ok(guard) => {
            let result = f();
            drop(guard);
            result
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not lock the keychain index; updating it unlocked");
            f()
        }
    }
}

fn open_lock_file() -> Option<File> {
    let dir: PathBuf = dirs::runtime_dir()
        .or_else(dirs::cache_dir)?
        .join("switchboard");
    let path = dir.join("keychain-index.lock");
    let opened = std::fs::create_dir_all(&dir).and_then(|()| {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    });
    match opened {
        Ok(file) => Some(file),
        Err(e) => {
            tracing::warn!(
                path = %path.display(),
                error = %e,
                "could not open the keychain index lock file; updating the index unlocked"
            );
            None
        }
    }
}

/// Maps a keyring error for entry `name` to a [`SecretError`] that never carries secret bytes.
pub(super) fn map_error(name: &str, err: keyring::Error) -> SecretError {
    let other = |detail: String| SecretError::Keychain {
        name: name.to_owned(),
        detail,
    };
    match err {
        keyring::Error::NoEntry => SecretError::KeychainMissing {
            name: name.to_owned(),
        },
        keyring::Error::NoStorageAccess(inner) => SecretError::KeychainUnavailable {
            detail: one_line(&inner.to_string()),
        },
        keyring::Error::PlatformFailure(inner) => {
            let detail = one_line(&inner.to_string());
            if means_unreachable(&detail) {
                SecretError::KeychainUnavailable { detail }
            } else {
                other(detail)
            }
        }
        // The payload is the stored bytes: never show them.
        keyring::Error::BadEncoding(_) => other(format!(
            "the stored value is not valid UTF-8; store the key again with \
             `switchboard key set {name}`"
        )),
        keyring::Error::Ambiguous(items) => other(format!(
            "{} keychain items match service `{KEYCHAIN_SERVICE}` and name `{name}`; delete the \
             duplicates with your keychain manager",
            items.len()
        )),
        keyring::Error::TooLong(attr, limit) => other(format!(
            "`{attr}` is longer than the keychain's limit of {limit} characters; use a shorter \
             key name"
        )),
        keyring::Error::Invalid(attr, reason) => other(format!("invalid `{attr}`: {reason}")),
        e => other(one_line(&e.to_string())),
    }
}

/// Whether a platform failure means there is no keychain to talk to (as opposed to the keychain
/// rejecting one request). On Linux every such failure comes from D-Bus: no session bus
/// ("Unable to autolaunch a dbus-daemon …"), no Secret Service provider, a dead daemon.
fn means_unreachable(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    ["dbus", "d-bus", "autolaunch", "no secret service"]
        .iter()
        .any(|needle| lower.contains(needle))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
