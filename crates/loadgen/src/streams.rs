//! `loadgen streams`: `concurrency` workers each run `per_worker` streamed chat requests back to
//! back (after one unrecorded warm-up stream that opens the connection), and the time from
//! sending the request to the first body byte is recorded for every stream. Workers start
//! staggered over one stream's length so that arrivals are spread the way independent clients
//! are, not synchronized into bursts (`--burst` starts them all at once instead). The client
//! speaks OpenAI chat (`/v1/chat/completions`) or Anthropic messages (`/v1/messages`,
//! `--dialect anthropic`), so translated streams can be measured against passthrough ones;
//! throughput is reported as streams and SSE events per second of the recorded phase.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use serde_json::json;

use crate::stats;

#[derive(clap::Args, Debug, Clone)]
pub struct StreamsArgs {
    /// Chat completions URL, e.g. http://127.0.0.1:PORT/v1/chat/completions (or `/v1/messages`
    /// with `--dialect anthropic`)
    #[arg(long)]
    url: reqwest::Url,
    /// The client's dialect: the request body's shape and how a complete stream ends
    #[arg(long, value_enum, default_value_t = Dialect::Openai)]
    dialect: Dialect,
    /// Model id sent in the body
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// Streams in flight at once
    #[arg(long, default_value_t = 100)]
    concurrency: usize,
    /// Recorded streams per worker (after one warm-up stream each)
    #[arg(long, default_value_t = 10)]
    per_worker: usize,
    /// Content chunks per stream (sent to the mock as `x-mock-chunks`)
    #[arg(long, default_value_t = 50)]
    chunks: usize,
    /// Pause between events (sent to the mock as `x-mock-chunk-gap-ms`)
    #[arg(long, default_value_t = 10)]
    gap_ms: u64,
    /// Start all workers at once instead of staggered
    #[arg(long)]
    burst: bool,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI chat completions: ends with `data: [DONE]`
    Openai,
    /// Anthropic messages: ends with `event: message_stop`
    Anthropic,
}

impl Dialect {
    /// The marker a complete stream of this dialect contains.
    fn end_marker(self) -> &'static [u8] {
        match self {
            Dialect::Openai => b"data: [DONE]",
            Dialect::Anthropic => b"event: message_stop",
        }
    }
}

/// What one stream looked like from the client.
struct StreamSample {
    ttfb: Duration,
    total: Duration,
    events: usize,
    done: bool,
}

pub async fn run(args: StreamsArgs) -> anyhow::Result<()> {
    crate::require_loopback(&args.url)?;
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let body = match args.dialect {
        Dialect::Openai => json!({
            "model": args.model,
            "stream": true,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Write a short poem about switchboards."}
            ]
        }),
        Dialect::Anthropic => json!({
            "model": args.model,
            "stream": true,
            "max_tokens": 1024,
            "system": "You are a helpful assistant.",
            "messages": [
                {"role": "user", "content": "Write a short poem about switchboards."}
            ]
        }),
    };
    let body = Bytes::from(serde_json::to_vec(&body)?);
    // Roughly one stream's length; the stagger spreads worker starts over it.
    let stream_len = Duration::from_millis(args.gap_ms * (args.chunks as u64 + 2));
    let started = Instant::now();
    // The recorded phase: from the first recorded stream's start to the last one's end (warm-up
    // streams excluded), for throughput.
    let mut workers = Vec::with_capacity(args.concurrency);
    for i in 0..args.concurrency {
        let client = client.clone();
        let body = body.clone();
        let args = args.clone();
        let delay = if args.burst {
            Duration::ZERO
        } else {
            stream_len.mul_f64(i as f64 / args.concurrency as f64)
        };
        workers.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let mut samples = Vec::with_capacity(args.per_worker);
            let mut errors = Vec::new();
            let mut recorded_from = None;
            for round in 0..=args.per_worker {
                if round == 1 {
                    recorded_from = Some(Instant::now());
                }
                match one_stream(&client, &args, body.clone()).await {
                    Ok(sample) if round > 0 => samples.push(sample),
                    Ok(_) => {}
                    Err(err) => errors.push(format!("{err:#}")),
                }
            }
            (samples, errors, recorded_from, Instant::now())
        }));
    }
    let deadline = Duration::from_secs(args.timeout_secs);
    let mut samples = Vec::new();
    let mut errors = Vec::new();
    let mut first_recorded: Option<Instant> = None;
    let mut last_done = started;
    for worker in workers {
        let remaining = deadline.saturating_sub(started.elapsed());
        let (s, e, from, done) = tokio::time::timeout(remaining, worker)
            .await
            .context("the stream run exceeded --timeout-secs")??;
        samples.extend(s);
        errors.extend(e);
        if let Some(from) = from {
            first_recorded = Some(first_recorded.map_or(from, |f| f.min(from)));
        }
        last_done = last_done.max(done);
    }
    let elapsed = started.elapsed();
    let recorded = last_done
        .saturating_duration_since(first_recorded.unwrap_or(started))
        .as_secs_f64()
        .max(1e-9);
    let events_total: usize = samples.iter().map(|s| s.events).sum();
    let mut ttfb: Vec<Duration> = samples.iter().map(|s| s.ttfb).collect();
    let mut total: Vec<Duration> = samples.iter().map(|s| s.total).collect();
    let events_min = samples.iter().map(|s| s.events).min().unwrap_or(0);
    let events_max = samples.iter().map(|s| s.events).max().unwrap_or(0);
    let incomplete = samples.iter().filter(|s| !s.done).count();
    errors.sort();
    errors.dedup();
    let report = json!({
        "url": args.url.as_str(),
        "dialect": format!("{:?}", args.dialect).to_lowercase(),
        "concurrency": args.concurrency,
        "per_worker": args.per_worker,
        "chunks": args.chunks,
        "gap_ms": args.gap_ms,
        "burst": args.burst,
        "streams": samples.len(),
        "errors": errors.len(),
        "error_kinds": errors.iter().take(5).collect::<Vec<_>>(),
        "incomplete": incomplete,
        "events_per_stream": [events_min, events_max],
        "elapsed_s": elapsed.as_secs_f64(),
        "recorded_s": recorded,
        "streams_per_s": samples.len() as f64 / recorded,
        "events_per_s": events_total as f64 / recorded,
        "ttfb": stats::summary(&mut ttfb),
        "stream_total": stats::summary(&mut total),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn one_stream(
    client: &reqwest::Client,
    args: &StreamsArgs,
    body: Bytes,
) -> anyhow::Result<StreamSample> {
    let start = Instant::now();
    let mut request = client
        .post(args.url.clone())
        .header("content-type", "application/json");
    if args.dialect == Dialect::Anthropic {
        request = request.header("anthropic-version", "2023-06-01");
    }
    let mut response = request
        .header("x-mock-chunks", args.chunks.to_string())
        .header("x-mock-chunk-gap-ms", args.gap_ms.to_string())
        .body(body)
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    let mut ttfb = None;
    let mut received = Vec::with_capacity(16 * 1024);
    while let Some(chunk) = response.chunk().await? {
        if ttfb.is_none() && !chunk.is_empty() {
            ttfb = Some(start.elapsed());
        }
        received.extend_from_slice(&chunk);
    }
    let total = start.elapsed();
    let events = memchr::memmem::find_iter(&received, b"data: ").count();
    let done = memchr::memmem::find(&received, args.dialect.end_marker()).is_some();
    Ok(StreamSample {
        ttfb: ttfb.unwrap_or(total),
        total,
        events,
        done,
    })
}
