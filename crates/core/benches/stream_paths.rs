//! The per-event work of each stream path over one whole 50-chunk stream, as the mock upstream
//! sends it (`benches/data/*.sse`, recorded from `mock-upstream` with `x-mock-chunks: 50`):
//! passthrough (the cheap `inspect`, the JSON check and the re-framing the relay does) against
//! the two translations issue 4 measures (decode into canonical events, encode for the client).
//! SSE framing and the sockets are the same for every path and are left out; `scripts/bench.sh`
//! measures whole streams.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmarks")]

use std::hint::black_box;

use bytes::{BufMut, BytesMut};
use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_core::proxy::inspect;
use switchboard_core::translate::anthropic::{AnthropicStreamDecoder, AnthropicStreamEncoder};
use switchboard_core::translate::openai_chat::{
    OpenAiQuirks, OpenAiStreamDecoder, OpenAiStreamEncoder,
};
use switchboard_core::translate::{StreamDecoder, StreamEncoder};

/// The (event name, data) pairs of an SSE stream with one `data:` line per event.
fn events(sse: &str) -> Vec<(String, String)> {
    sse.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    name = value.to_owned();
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = value.to_owned();
                }
            }
            (name, data)
        })
        .collect()
}

/// What the passthrough relay does to each event: frame it again, as the provider sent it.
fn reframe(name: &str, data: &str) -> usize {
    let mut out = BytesMut::with_capacity(data.len() + name.len() + 16);
    if !name.is_empty() {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_slice(b"data: ");
    out.put_slice(data.as_bytes());
    out.put_slice(b"\n\n");
    out.freeze().len()
}

fn translate(
    events: &[(String, String)],
    decoder: &mut dyn StreamDecoder,
    encoder: &mut dyn StreamEncoder,
) -> usize {
    let mut canonical = Vec::new();
    let mut out = BytesMut::new();
    let mut written = 0;
    for (name, data) in events {
        canonical.clear();
        let _ = decoder.decode(name, data, &mut canonical);
        for event in canonical.drain(..) {
            encoder.encode(event, &mut out);
        }
        written += out.split().len();
    }
    encoder.finish(&mut out);
    written + out.len()
}

fn stream_paths(c: &mut Criterion) {
    let openai = events(include_str!("data/mock-openai-50.sse"));
    let anthropic = events(include_str!("data/mock-anthropic-50.sse"));
    let mut group = c.benchmark_group("stream_50_chunks");
    group.bench_function("passthrough_openai", |b| {
        b.iter(|| {
            let mut written = 0;
            for (_, data) in &openai {
                let info = inspect(black_box(data));
                if !info.done && !info.parsed {
                    serde_json::from_str::<serde::de::IgnoredAny>(data).unwrap();
                }
                written += reframe("", data);
            }
            written
        })
    });
    group.bench_function("passthrough_anthropic", |b| {
        b.iter(|| {
            let mut decoder = AnthropicStreamDecoder::new();
            let mut canonical = Vec::new();
            let mut written = 0;
            for (name, data) in &anthropic {
                canonical.clear();
                let _ = decoder.decode(name, black_box(data), &mut canonical);
                written += reframe(name, data);
            }
            written
        })
    });
    group.bench_function("openai_to_anthropic_client", |b| {
        b.iter(|| {
            let mut decoder = OpenAiStreamDecoder::new(OpenAiQuirks::default());
            let mut encoder = AnthropicStreamEncoder::new("gpt-4o-mini".into());
            translate(black_box(&openai), &mut decoder, &mut encoder)
        })
    });
    group.bench_function("anthropic_to_openai_client", |b| {
        b.iter(|| {
            let mut decoder = AnthropicStreamDecoder::new();
            let mut encoder = OpenAiStreamEncoder::new("claude-mock".into(), false);
            translate(black_box(&anthropic), &mut decoder, &mut encoder)
        })
    });
    group.finish();
}

criterion_group!(benches, stream_paths);
criterion_main!(benches);
