//! `loadgen startup`: spawns `switchboard serve` `trials` times and measures, from the spawn, the
//! time until it prints its listening line and until its first chat completion (proxied to the
//! mock) has been answered in full; then reads its RSS while it sits idle. The request is written
//! by hand over a plain `TcpStream`, so the client adds no runtime start-up of its own.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;

use crate::stats;

#[derive(clap::Args, Debug)]
pub struct StartupArgs {
    /// The `switchboard` binary
    #[arg(long)]
    bin: PathBuf,
    /// Gateway config file (routes `--model` to the mock)
    #[arg(long)]
    config: PathBuf,
    /// Data directory for the gateway
    #[arg(long)]
    data_dir: PathBuf,
    /// Pin the gateway to these CPUs with `taskset -c` (included in the measured time)
    #[arg(long)]
    cpus: Option<String>,
    /// Model id of the first request
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// How many times to start the gateway
    #[arg(long, default_value_t = 10)]
    trials: usize,
    /// How long the gateway sits idle after its first request before its RSS is read
    #[arg(long, default_value_t = 1000)]
    idle_ms: u64,
}

/// Memory figures from `/proc/PID/status`, in KiB.
#[derive(Clone, Copy, Default)]
struct Rss {
    total: u64,
    anon: u64,
    file: u64,
}

struct Trial {
    listening: Duration,
    first_response: Duration,
    rss_started: Rss,
    rss_idle: Rss,
    threads: usize,
}

pub fn run(args: StartupArgs) -> anyhow::Result<()> {
    let mut trials = Vec::with_capacity(args.trials);
    for _ in 0..args.trials {
        trials.push(trial(&args)?);
    }
    let mut listening: Vec<Duration> = trials.iter().map(|t| t.listening).collect();
    let mut first: Vec<Duration> = trials.iter().map(|t| t.first_response).collect();
    let kib = |f: fn(&Trial) -> u64| {
        let mut values: Vec<u64> = trials.iter().map(f).collect();
        values.sort_unstable();
        json!({
            "min": values.first(),
            "median": values.get(values.len() / 2),
            "max": values.last(),
        })
    };
    let report = json!({
        "trials": trials.len(),
        "pinned_cpus": args.cpus,
        "spawn_to_listening": stats::summary(&mut listening),
        "spawn_to_first_response": stats::summary(&mut first),
        "rss_after_start_kib": kib(|t| t.rss_started.total),
        "rss_idle_after_first_request_kib": kib(|t| t.rss_idle.total),
        "rss_idle_anon_kib": kib(|t| t.rss_idle.anon),
        "rss_idle_file_kib": kib(|t| t.rss_idle.file),
        "threads": trials.first().map(|t| t.threads),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Kills the gateway when a trial ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn trial(args: &StartupArgs) -> anyhow::Result<Trial> {
    let mut command = match &args.cpus {
        Some(cpus) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(&args.bin);
            c
        }
        None => Command::new(&args.bin),
    };
    command
        .arg("serve")
        .arg("--config")
        .arg(&args.config)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(&args.data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let spawned = Instant::now();
    let mut child = Guard(command.spawn().context("spawning the gateway")?);
    let pid = child.0.id();
    let stdout = child.0.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            if let Some(url) = line.trim().strip_prefix("Switchboard listening on http://") {
                let _ = tx.send(url.to_owned());
            }
            line.clear();
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(10))
        .context("the gateway did not print its listening line within 10 s")?
        .parse()?;
    let listening = spawned.elapsed();
    let rss_started = rss(pid)?;
    let body = serde_json::to_vec(&json!({
        "model": args.model,
        "messages": [{"role": "user", "content": "hello"}]
    }))?;
    chat_request(addr, &body)?;
    let first_response = spawned.elapsed();
    std::thread::sleep(Duration::from_millis(args.idle_ms));
    let rss_idle = rss(pid)?;
    let threads = std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.count())
        .unwrap_or(0);
    drop(child);
    Ok(Trial {
        listening,
        first_response,
        rss_started,
        rss_idle,
        threads,
    })
}

/// One non-streamed chat completion over a fresh connection; fails unless the answer is a 200.
fn chat_request(addr: SocketAddr, body: &[u8]) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if !response.starts_with(b"HTTP/1.1 200") {
        let text = String::from_utf8_lossy(&response);
        bail!(
            "the first request failed: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(())
}

fn rss(pid: u32) -> anyhow::Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Rss {
        total: field("VmRSS:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    })
}
