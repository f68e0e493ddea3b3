//! `mock-upstream` binary: serves the mock provider APIs until SIGINT or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use mock_upstream::{MockConfig, MockUpstream, UsageMode};

/// How long open connections get to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Mock of the OpenAI-compatible, Anthropic Messages and Gemini provider APIs, for tests and
/// benchmarks.
#[derive(Debug, Parser)]
#[command(name = "mock-upstream", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Content chunks per streamed reply.
    #[arg(long, default_value_t = 5)]
    chunks: usize,
    /// Pause between two SSE events, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_gap_ms: u64,
    /// How streams report usage: final, finish-chunk or none.
    #[arg(long, default_value = "final")]
    usage: UsageMode,
    /// Do not record requests (for benchmarks).
    #[arg(long)]
    no_record: bool,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(workers) = args.workers {
        runtime.worker_threads(workers.max(1));
    }
    let runtime = runtime.build().context("starting the tokio runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = MockConfig {
        chunks: args.chunks,
        chunk_gap_ms: args.chunk_gap_ms,
        usage: args.usage,
        record: !args.no_record,
    };
    let mock = MockUpstream::start_with(args.listen, config)
        .await
        .with_context(|| format!("listening on `{}`", args.listen))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "mock-upstream listening on http://{}", mock.addr())?;
        stdout.flush()?;
    }
    shutdown_signal().await?;
    if tokio::time::timeout(DRAIN_TIMEOUT, mock.shutdown())
        .await
        .is_err()
    {
        eprintln!("mock-upstream: connections still open after {DRAIN_TIMEOUT:?}; exiting anyway");
    }
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
