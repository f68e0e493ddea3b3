//! Provider keys entered in the window go straight to the OS keychain through the core's
//! [`Keychain`] (service `switchboard`, the same store `switchboard key set` writes), off the
//! async runtime because keychain calls block. Values never come back out: only names.

use secrecy::SecretString;
use switchboard_core::secrets::Keychain;

use crate::error::CommandError;

/// Stores `key` under `name` and returns the stored names.
pub async fn store(name: String, key: SecretString) -> Result<Vec<String>, CommandError> {
    blocking(move || {
        Keychain::set(name.trim(), &key)?;
        Keychain::list()
    })
    .await
}

/// Removes the key `name` and returns the stored names.
pub async fn remove(name: String) -> Result<Vec<String>, CommandError> {
    blocking(move || {
        Keychain::delete(name.trim())?;
        Keychain::list()
    })
    .await
}

/// The names of the stored keys, sorted.
pub async fn names() -> Result<Vec<String>, CommandError> {
    blocking(Keychain::list).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, switchboard_core::secrets::SecretError> + Send + 'static,
) -> Result<T, CommandError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            CommandError::internal(format!("the keychain call stopped unexpectedly: {e}"))
        })?
        .map_err(CommandError::from)
}
