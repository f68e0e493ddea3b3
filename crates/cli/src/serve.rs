//! `switchboard serve`: loads the config (writing the default one on first run), prepares the
//! data dir, starts the gateway and runs until Ctrl-C or SIGTERM.

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use switchboard_core::config::{Config, ConfigError, ConfigWatcher, LoadOptions};
use switchboard_core::{Gateway, GatewayOptions, Reloader};
use tokio::sync::mpsc;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, overriding `server.listen` (e.g. 127.0.0.1:4141; port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Data directory [default: the OS data dir, e.g. ~/.local/share/switchboard]
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Record nothing: no usage database, no sessions, no admin API or dashboard
    #[arg(long)]
    no_accounting: bool,
}

pub fn run(config: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let explicit = config.is_some();
    let path = super::config_path(config)?;
    if !explicit && Config::write_default_if_missing(&path)? {
        println!(
            "wrote a default config to {} (edit it to add providers)",
            path.display()
        );
    }
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => Config::default_data_dir()
            .ok_or_else(|| anyhow!("cannot find the OS data directory; pass `--data-dir DIR`"))?,
    };
    prepare_data_dir(&data_dir)?;
    // Watch before loading, so an edit made while the gateway starts is applied, not lost.
    let (reloads_tx, reloads) = mpsc::channel(4);
    let _watcher = watch_config(&path, reloads_tx);
    let config = match Config::load(&path, LoadOptions::default()) {
        Ok(config) => config,
        Err(err) => return super::config_failure(err),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let accounting_dir = (!args.no_accounting).then(|| data_dir.clone());
    runtime.block_on(serve(
        config,
        &path,
        &data_dir,
        accounting_dir,
        args.listen,
        reloads,
    ))
}

async fn serve(
    config: Config,
    path: &Path,
    data_dir: &Path,
    accounting_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    reloads: mpsc::Receiver<Result<Config, ConfigError>>,
) -> anyhow::Result<ExitCode> {
    let (providers, models) = (config.providers.len(), config.models.len());
    let handle = Gateway::start(
        config,
        GatewayOptions {
            listen,
            data_dir: accounting_dir,
            ..GatewayOptions::default()
        },
    )
    .await?;
    tokio::spawn(apply_reloads(
        reloads,
        handle.reloader(),
        handle.config().server.listen,
    ));
    let mut out = std::io::stdout().lock();
    writeln!(out, "Switchboard listening on {}", handle.base_url())?;
    writeln!(out, "  OpenAI base URL: {}/v1", handle.base_url())?;
    writeln!(
        out,
        "  config: {} ({providers} provider(s), {models} model mapping(s))",
        path.display()
    )?;
    writeln!(out, "  data:   {}", data_dir.display())?;
    if let Some(url) = handle.dashboard_url() {
        writeln!(out, "  dashboard: {url}")?;
    }
    out.flush()?;
    drop(out);
    shutdown_signal().await;
    tracing::info!("shutting down; waiting for requests in flight");
    handle.shutdown(Duration::from_secs(10)).await;
    Ok(ExitCode::SUCCESS)
}

/// Sends each re-validated edit of the config file to `reloads`. Without a watcher (e.g. inotify
/// limits) the gateway still runs, just without reload.
fn watch_config(
    path: &Path,
    reloads: mpsc::Sender<Result<Config, ConfigError>>,
) -> Option<ConfigWatcher> {
    let watcher = switchboard_core::config::watch(path, move |result| {
        let _ = reloads.blocking_send(result);
    });
    match watcher {
        Ok(watcher) => Some(watcher),
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch the config file; edits apply after a restart");
            None
        }
    }
}

/// Applies each valid edit; an invalid one is reported and the running config stays.
async fn apply_reloads(
    mut reloads: mpsc::Receiver<Result<Config, ConfigError>>,
    reloader: Reloader,
    configured: SocketAddr,
) {
    while let Some(result) = reloads.recv().await {
        match result {
            Ok(config) => {
                let (providers, models) = (config.providers.len(), config.models.len());
                if config.server.listen != configured {
                    tracing::warn!(
                        "`server.listen` changed to {}; restart Switchboard to listen there",
                        config.server.listen
                    );
                }
                match reloader.reload(config) {
                    Ok(()) => tracing::info!(providers, models, "config reloaded"),
                    Err(err) => tracing::error!("config not reloaded: {err}"),
                }
            }
            Err(err) => tracing::error!("config not reloaded; the running one stays:\n{err}"),
        }
    }
}

fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data dir `{}`", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("the data dir `{}` is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
