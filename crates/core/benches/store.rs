//! Store benchmarks: the writer's sustained throughput (target ≥ 20,000 request rows/s), the
//! commit window of one full batch and of a lone outcome, and the read side over a database of
//! 1,000,000 requests (`usage` by model target ≤ 100 ms). The million rows are written through
//! the writer too; the time that takes is printed as a second throughput figure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmarks"
)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_core::config::{Config, LoadOptions};
use switchboard_core::store::{
    GroupBy, RequestQuery, SessionQuery, Store, StoreReader, WriterHandle, spawn_writer,
};
use switchboard_core::{Endpoint, OutcomeStatus, RequestOutcome, Usage};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const CONFIG: &str = r#"
[providers.openai]
preset = "openai"
api_key = "env:OPENAI_API_KEY"

[providers.local]
api = "openai"
base_url = "http://127.0.0.1:9/v1"

[models."gpt-4o-mini"]
provider = "openai"
model = "gpt-4o-mini"

[models."gpt-4o"]
provider = "openai"
model = "gpt-4o"

[models."qwen"]
provider = "local"
model = "qwen2.5-coder"

[models."mystery"]
provider = "local"
model = "mystery-model"
"#;

const MODELS: [(&str, &str, &str); 4] = [
    ("gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("gpt-4o", "openai", "gpt-4o"),
    ("qwen", "local", "qwen2.5-coder"),
    ("mystery", "local", "mystery-model"),
];
const CLIENTS: [&str; 6] = [
    "claude-cli/2.1.197",
    "codex_exec/0.169.0",
    "cn/1.5.47",
    "aider/0.86.2",
    "OpenAI/Python",
    "unknown",
];
const DAY_MS: u64 = 86_400_000;
const MILLION: u64 = 1_000_000;

struct Running {
    store: Store,
    writer: WriterHandle,
    task: JoinHandle<()>,
    shutdown: CancellationToken,
}

fn start(rt: &Runtime, dir: &Path) -> Running {
    let config = Config::from_toml(
        CONFIG,
        "bench.toml",
        LoadOptions {
            resolve_secrets: false,
        },
    )
    .unwrap();
    let store = Store::open(dir).unwrap();
    let (events, _) = broadcast::channel(1024);
    let shutdown = CancellationToken::new();
    let config = Arc::new(ArcSwap::from_pointee(config));
    let (writer, task) =
        rt.block_on(async { spawn_writer(&store, config, events, shutdown.clone()).unwrap() });
    Running {
        store,
        writer,
        task,
        shutdown,
    }
}

/// Requests come in bursts of `BURST` (one a second), an hour apart: each (client, model) gets a
/// session of 100 requests per burst, as an agent session would.
const BURST: u64 = 2400;

/// When request `i` of a history that starts at `start_ms` started (Unix ms).
fn started_ms(i: u64, start_ms: u64) -> u64 {
    start_ms + (i / BURST) * (BURST * 1000 + 3_600_000) + (i % BURST) * 1000
}

/// Request `i` of a history that starts at `start_ms`.
fn outcome(i: u64, start_ms: u64) -> RequestOutcome {
    let (model, provider, upstream) = MODELS[(i % 4) as usize];
    let client = CLIENTS[(i / 4 % 6) as usize];
    let failed = i.is_multiple_of(17);
    RequestOutcome {
        id: format!("req_{i:016x}_{start_ms:x}"),
        client: client.to_owned(),
        session_hint: None,
        started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(started_ms(i, start_ms)),
        endpoint: Endpoint::ChatCompletions,
        client_model: Some(model.to_owned()),
        provider: Some(provider.to_owned()),
        upstream_model: Some(upstream.to_owned()),
        stream: !i.is_multiple_of(3),
        status: if failed {
            OutcomeStatus::UpstreamError
        } else {
            OutcomeStatus::Ok
        },
        http_status: 200,
        error: failed.then(|| "provider `openai` sent an error in the stream".to_owned()),
        time_to_first_byte: Some(Duration::from_millis(200 + i % 300)),
        duration: Duration::from_millis(1500 + i % 4000),
        usage: Some(Usage {
            input_tokens: 1000 + i % 30_000,
            output_tokens: 50 + i % 2000,
            cached_input_tokens: i % 800,
            cache_write_tokens: 0,
            reasoning_tokens: i % 100,
        }),
        user_agent: Some(client.to_owned()),
        capture: None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Sends `count` outcomes (waiting for queue room, as a full queue would drop them) and waits
/// until all are committed.
async fn write(writer: &WriterHandle, first: u64, count: u64, start_ms: u64) {
    let tx = writer.outcomes();
    for i in first..first + count {
        tx.send(outcome(i, start_ms)).await.unwrap();
    }
    writer.flush().await.unwrap();
}

fn writer_benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = start(&rt, dir.path());
    let start_ms = now_ms();
    let mut next = 0u64;

    let mut group = c.benchmark_group("store_writer");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    const ROWS: u64 = 20_000;
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("sustained_20k_rows", |b| {
        b.iter_custom(|iters| {
            let begin = Instant::now();
            for _ in 0..iters {
                rt.block_on(write(&run.writer, next, ROWS, start_ms));
                next += ROWS;
            }
            begin.elapsed()
        })
    });
    // The commit window under load: one full batch, queued at once, until it is committed.
    group.throughput(Throughput::Elements(2000));
    group.bench_function("one_full_batch_2000_rows", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let outcomes: Vec<_> = (next..next + 2000).map(|i| outcome(i, start_ms)).collect();
                next += 2000;
                let tx = run.writer.outcomes();
                let begin = Instant::now();
                rt.block_on(async {
                    for o in outcomes {
                        tx.try_send(o).unwrap();
                    }
                    run.writer.flush().await.unwrap();
                });
                total += begin.elapsed();
            }
            total
        })
    });
    // The commit window under light load: one outcome, until it is committed.
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_outcome", |b| {
        b.iter_custom(|iters| {
            let begin = Instant::now();
            for _ in 0..iters {
                rt.block_on(write(&run.writer, next, 1, start_ms));
                next += 1;
            }
            begin.elapsed()
        })
    });
    group.finish();
    run.shutdown.cancel();
    rt.block_on(run.task).unwrap();
}

fn reader_benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = start(&rt, dir.path());
    // A million requests over the last 30 days (about 10,000 sessions), through the writer.
    let start_ms = now_ms() - 30 * DAY_MS;
    let begin = Instant::now();
    rt.block_on(write(&run.writer, 0, MILLION, start_ms));
    let took = begin.elapsed();
    eprintln!(
        "store: wrote {MILLION} request rows through the writer in {:.1} s = {:.0} rows/s",
        took.as_secs_f64(),
        MILLION as f64 / took.as_secs_f64()
    );
    let reader: StoreReader = run.store.reader().unwrap();
    let total: u64 = reader
        .usage(GroupBy::Model, None, None)
        .unwrap()
        .iter()
        .map(|r| r.requests)
        .sum();
    assert_eq!(total, MILLION);

    let mut group = c.benchmark_group("store_reader_1m_rows");
    group.sample_size(20);
    group.bench_function("usage_by_model_all_time", |b| {
        b.iter(|| black_box(reader.usage(GroupBy::Model, None, None).unwrap()))
    });
    group.bench_function("usage_by_day_all_time", |b| {
        b.iter(|| black_box(reader.usage(GroupBy::Day, None, None).unwrap()))
    });
    // A week that starts and ends mid-day: six whole days from the rollup, two partial days of
    // request rows (≈ 33,000 rows).
    let since = now_ms() - 7 * DAY_MS - DAY_MS / 2;
    let until = now_ms() - DAY_MS / 3;
    group.bench_function("usage_by_model_week_with_partial_days", |b| {
        b.iter(|| {
            black_box(
                reader
                    .usage(GroupBy::Model, Some(since as i64), Some(until as i64))
                    .unwrap(),
            )
        })
    });
    group.bench_function("usage_by_session_all_time", |b| {
        b.iter(|| black_box(reader.usage(GroupBy::Session, None, None).unwrap()))
    });
    group.bench_function("usage_by_session_week", |b| {
        b.iter(|| {
            black_box(
                reader
                    .usage(GroupBy::Session, Some(since as i64), Some(until as i64))
                    .unwrap(),
            )
        })
    });
    group.bench_function("requests_page_of_50_by_model", |b| {
        let query = RequestQuery {
            model: Some("qwen".into()),
            ..RequestQuery::default()
        };
        b.iter(|| black_box(reader.requests(&query).unwrap()))
    });
    group.bench_function("sessions_page_of_50", |b| {
        b.iter(|| black_box(reader.sessions(&SessionQuery::default()).unwrap()))
    });
    group.bench_function("requests_today", |b| {
        b.iter(|| black_box(reader.requests_today().unwrap()))
    });
    group.finish();
    run.shutdown.cancel();
    rt.block_on(run.task).unwrap();
}

criterion_group!(benches, writer_benches, reader_benches);
criterion_main!(benches);
