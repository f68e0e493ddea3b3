//! `loadgen`: the parts of `scripts/bench.sh` that `oha` cannot measure. `streams` runs N
//! concurrent SSE streams and reports time to the first body byte; `startup` spawns the gateway
//! repeatedly and reports the time to its first served request and its idle memory; `report`
//! turns a results directory into the summary table; `baseline` serves reference proxies.
//! Every run is bounded in count and time, and only talks to the URLs it is given (loopback).

mod baseline;
mod report;
mod startup;
mod stats;
mod streams;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Benchmark client for Switchboard (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Concurrent streamed chat completions: time to first byte, stream duration, event counts
    Streams(streams::StreamsArgs),
    /// Start the gateway repeatedly: time to the first served request, idle RSS
    Startup(startup::StartupArgs),
    /// Summarize a results directory of scripts/bench.sh as Markdown
    Report(report::ReportArgs),
    /// Serve a reference proxy (TCP relay or axum + reqwest pass-through) to compare against
    Baseline(baseline::BaselineArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Streams(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(streams::run(args))
        }
        Command::Startup(args) => startup::run(args),
        Command::Report(args) => report::run(args),
        Command::Baseline(args) => {
            // Sized by the CPUs it is pinned to, as the gateway is.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(baseline::run(args))
        }
    }
}

/// Refuses anything but loopback targets: the benchmark must never load another machine.
fn require_loopback(url: &reqwest::Url) -> anyhow::Result<()> {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        anyhow::bail!("refusing to load `{url}`: loadgen only targets loopback addresses");
    }
    Ok(())
}
