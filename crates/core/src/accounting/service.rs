//! The accounting service a gateway runs when it has a data dir: the SQLite store, its single
//! writer, the live event channel, and the admin token. Started and stopped with the gateway.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use secrecy::SecretString;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::token::{self, AdminTokenError};
use crate::config::Config;
use crate::store::{LiveEvent, Store, StoreError, WriterHandle, spawn_writer};

/// How many live events a slow subscriber may fall behind before it is told it lagged.
const EVENT_CAPACITY: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] AdminTokenError),
    #[error("opening the usage database stopped unexpectedly: {0}")]
    Join(String),
}

pub struct Accounting {
    pub data_dir: PathBuf,
    pub store: Arc<Store>,
    pub writer: WriterHandle,
    pub events: broadcast::Sender<LiveEvent>,
    pub admin_token: SecretString,
    /// The config the writer reads; kept current by the gateway on reload.
    pub config: Arc<ArcSwap<Config>>,
    shutdown: CancellationToken,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Accounting {
    /// Opens (and if needed migrates) the database off the async runtime, then starts the writer.
    pub async fn start(
        data_dir: &Path,
        config: Arc<Config>,
    ) -> Result<Accounting, AccountingError> {
        let dir = data_dir.to_owned();
        let (store, admin_token) = tokio::task::spawn_blocking(move || {
            let store = Store::open(&dir)?;
            let token = token::load_or_create(&dir)?;
            Ok::<_, AccountingError>((store, token))
        })
        .await
        .map_err(|e| AccountingError::Join(e.to_string()))??;
        let config = Arc::new(ArcSwap::new(config));
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let shutdown = CancellationToken::new();
        let (writer, task) =
            spawn_writer(&store, config.clone(), events.clone(), shutdown.clone())?;
        Ok(Accounting {
            data_dir: data_dir.to_owned(),
            store: Arc::new(store),
            writer,
            events,
            admin_token,
            config,
            shutdown,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Stops the writer after it has committed everything queued (up to `grace`).
    pub async fn stop(&self, grace: Duration) {
        self.shutdown.cancel();
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task
            && tokio::time::timeout(grace, task).await.is_err()
        {
            tracing::warn!("the usage writer did not finish within {grace:?}");
        }
    }
}
