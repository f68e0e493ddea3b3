//! The gateway server: `Gateway::start` binds the listener and serves the proxy routes on a
//! background task; `GatewayHandle` reloads the live state and shuts down gracefully. Shared by
//! the CLI, the desktop shell and the tests.

mod guard;
mod handlers;
mod ui;

pub(crate) use guard::is_local_origin;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use secrecy::{ExposeSecret, SecretString};

use crate::accounting::service::{Accounting, AccountingError};
use crate::config::Config;
use crate::outcome::{OutcomeSink, RequestOutcome};
use crate::routing::Router as ModelRouter;
use crate::upstream::LiveProvider;
use crate::upstream::client::HttpClient;

/// Everything one request needs, swapped atomically on reload; in-flight requests keep theirs.
#[derive(Debug)]
pub struct LiveState {
    pub config: Arc<Config>,
    pub router: ModelRouter,
    /// Same order as `router.provider_names()`.
    pub providers: Vec<LiveProvider>,
    pub http: HttpClient,
}

impl LiveState {
    pub fn new(config: Config) -> Result<LiveState, StartError> {
        let router = ModelRouter::new(&config);
        let providers = router
            .provider_names()
            .iter()
            .filter_map(|name| config.providers.get(name).cloned())
            .map(LiveProvider::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StartError::Provider)?;
        let http = HttpClient::new(config.timeouts.connect);
        Ok(LiveState {
            config: Arc::new(config),
            router,
            providers,
            http,
        })
    }
}

pub(crate) struct AppState {
    pub live: ArcSwap<LiveState>,
    pub outcomes: OutcomeSink,
    pub started: Instant,
    pub listen: SocketAddr,
    /// Usage database, writer, live events and admin token; present with a data dir.
    pub accounting: Option<Arc<Accounting>>,
    /// Fires when the gateway starts shutting down: endless responses (live events) end then.
    pub stopping: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "cannot listen on {addr}: the port is already in use (another Switchboard, or another \
         program); choose another with `--listen` or `server.listen`"
    )]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {io}")]
    Bind {
        addr: SocketAddr,
        io: std::io::Error,
    },
    #[error(
        "refusing to listen on {addr}: it is reachable from other machines and no \
         `server.client_token` is set; set one, or listen on 127.0.0.1"
    )]
    ExposedWithoutToken { addr: SocketAddr },
    #[error("{0}")]
    Provider(String),
    #[error(transparent)]
    Accounting(#[from] AccountingError),
}

/// What the embedding program adds to a gateway.
#[derive(Debug, Default)]
pub struct GatewayOptions {
    /// Overrides `server.listen` (the CLI's `--listen`).
    pub listen: Option<SocketAddr>,
    /// Receives one `RequestOutcome` per request (bounded; full means dropped, never blocked).
    pub outcomes: Option<mpsc::Sender<RequestOutcome>>,
    /// Where the usage database and the admin token live. Without it nothing is stored and the
    /// admin API answers 503.
    pub data_dir: Option<PathBuf>,
}

pub struct Gateway;

impl Gateway {
    pub async fn start(
        config: Config,
        options: GatewayOptions,
    ) -> Result<GatewayHandle, StartError> {
        let addr = options.listen.unwrap_or(config.server.listen);
        if !addr.ip().is_loopback() && config.server.client_token.is_none() {
            return Err(StartError::ExposedWithoutToken { addr });
        }
        let live = LiveState::new(config)?;
        let accounting = match &options.data_dir {
            Some(dir) => Some(Arc::new(Accounting::start(dir, live.config.clone()).await?)),
            None => None,
        };
        let listener = TcpListener::bind(addr).await.map_err(|io| {
            if io.kind() == std::io::ErrorKind::AddrInUse {
                StartError::PortInUse { addr }
            } else {
                StartError::Bind { addr, io }
            }
        })?;
        let local_addr = listener
            .local_addr()
            .map_err(|io| StartError::Bind { addr, io })?;
        let queues = accounting
            .iter()
            .map(|a| a.writer.outcomes())
            .chain(options.outcomes)
            .collect();
        let events = accounting.as_ref().map(|a| a.events.clone());
        let shutdown = CancellationToken::new();
        let state = Arc::new(AppState {
            live: ArcSwap::from_pointee(live),
            outcomes: OutcomeSink::new(queues, events),
            started: Instant::now(),
            listen: local_addr,
            accounting,
            stopping: shutdown.clone(),
        });
        let app = router(state.clone());
        let listener = listener.tap_io(|tcp| {
            // Small SSE events must not wait for Nagle's algorithm.
            let _ = tcp.set_nodelay(true);
        });
        let signal = shutdown.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { signal.cancelled().await })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "gateway server stopped with an error");
            }
        });
        tracing::info!(addr = %local_addr, "gateway listening");
        Ok(GatewayHandle {
            addr: local_addr,
            state,
            shutdown,
            task,
        })
    }
}

/// Reloads a running gateway's config. The listen address is fixed for the gateway's lifetime.
#[derive(Clone)]
pub struct Reloader {
    state: Arc<AppState>,
}

impl Reloader {
    pub fn reload(&self, config: Config) -> Result<(), StartError> {
        let live = LiveState::new(config)?;
        if let Some(accounting) = &self.state.accounting {
            accounting.config.store(live.config.clone());
        }
        self.state.live.store(Arc::new(live));
        Ok(())
    }
}

/// A running gateway. Dropping it does not stop the server; call `shutdown`.
pub struct GatewayHandle {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl GatewayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, what clients are pointed at (OpenAI clients add `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> Arc<Config> {
        self.state.live.load().config.clone()
    }

    /// Swaps in a new, already validated config; requests in flight finish with the old one.
    pub fn reload(&self, config: Config) -> Result<(), StartError> {
        self.reloader().reload(config)
    }

    /// A cloneable way to reload from elsewhere (a file watcher, a settings window).
    pub fn reloader(&self) -> Reloader {
        Reloader {
            state: self.state.clone(),
        }
    }

    /// The admin API's token, when the gateway has a data dir.
    pub fn admin_token(&self) -> Option<&SecretString> {
        self.state.accounting.as_ref().map(|a| &a.admin_token)
    }

    /// The dashboard URL with the admin token in its fragment (never sent to the server).
    pub fn dashboard_url(&self) -> Option<String> {
        self.admin_token()
            .map(|token| format!("{}/ui/#token={}", self.base_url(), token.expose_secret()))
    }

    /// The usage database and its writer, when the gateway has a data dir.
    pub fn accounting(&self) -> Option<&Arc<Accounting>> {
        self.state.accounting.as_ref()
    }

    /// Stops accepting connections, waits up to `grace` for in-flight requests to finish, then
    /// lets the usage writer commit everything queued.
    pub async fn shutdown(self, grace: Duration) {
        self.shutdown.cancel();
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing them");
            task.abort();
        }
        if let Some(accounting) = &self.state.accounting {
            accounting.stop(grace).await;
        }
    }

    /// Resolves when the server task ends (after `shutdown`, or if it failed).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

fn router(state: Arc<AppState>) -> Router {
    let proxy = Router::new()
        .route("/v1/models", get(handlers::models))
        .route("/models", get(handlers::models))
        .route("/v1/chat/completions", post(handlers::chat_completions))
        .route("/chat/completions", post(handlers::chat_completions))
        .route("/v1/embeddings", post(handlers::embeddings))
        .route("/embeddings", post(handlers::embeddings))
        .route("/v1/messages", post(handlers::messages))
        .route("/v1/messages/count_tokens", post(handlers::count_tokens))
        .route("/v1/responses", post(handlers::responses))
        .route("/responses", post(handlers::responses))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_client_token,
        ));
    Router::new()
        .route("/health", get(handlers::health))
        .merge(proxy)
        .merge(crate::admin::routes(state.clone()))
        .merge(ui::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ))
        .with_state(state)
}
