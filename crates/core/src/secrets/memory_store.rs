//! An in-memory keychain shared by every `keyring::Entry`, for unit tests anywhere in the crate.
//!
//! keyring's own `mock` keeps a secret inside one `Entry` only (a second `Entry::new` for the same
//! name sees nothing), so it cannot stand in for a store. keyring's default builder is
//! process-global and can be set but not scoped, so every test in this crate that needs a
//! keychain calls [`install`] (idempotent) and uses key names unique to that test.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

type Map = Arc<Mutex<HashMap<(String, String), Vec<u8>>>>;

static STORE: OnceLock<MemoryStore> = OnceLock::new();

/// Handle on the shared in-memory store, for tests that want to look underneath `Keychain`.
#[derive(Clone)]
pub(crate) struct MemoryStore {
    map: Map,
}

/// Installs the shared in-memory store as keyring's default (once per process) and returns it.
pub(crate) fn install() -> &'static MemoryStore {
    STORE.get_or_init(|| {
        let store = MemoryStore {
            map: Map::default(),
        };
        keyring::set_default_credential_builder(Box::new(store.clone()));
        store
    })
}

impl MemoryStore {
    /// The raw bytes stored for (`service`, `user`), bypassing `Keychain`.
    pub(crate) fn raw(&self, service: &str, user: &str) -> Option<Vec<u8>> {
        lock(&self.map)
            .get(&(service.to_owned(), user.to_owned()))
            .cloned()
    }

    /// Writes raw bytes for (`service`, `user`), bypassing `Keychain` (and its index).
    pub(crate) fn put_raw(&self, service: &str, user: &str, bytes: &[u8]) {
        lock(&self.map).insert((service.to_owned(), user.to_owned()), bytes.to_vec());
    }
}

fn lock(map: &Map) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<u8>>> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CredentialBuilderApi for MemoryStore {
    fn build(
        &self,
        _target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(MemoryCredential {
            map: Arc::clone(&self.map),
            key: (service.to_owned(), user.to_owned()),
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct MemoryCredential {
    map: Map,
    key: (String, String),
}

impl CredentialApi for MemoryCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        lock(&self.map).insert(self.key.clone(), secret.to_vec());
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        lock(&self.map)
            .get(&self.key)
            .cloned()
            .ok_or(keyring::Error::NoEntry)
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        lock(&self.map)
            .remove(&self.key)
            .map(drop)
            .ok_or(keyring::Error::NoEntry)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    // Names only: the default would go through `Any`, but be explicit that no secret is printed.
    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryCredential({}/{})", self.key.0, self.key.1)
    }
}
