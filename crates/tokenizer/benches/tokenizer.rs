//! The tokenizer's two costs: building it (once per process, on the first estimate) and counting
//! (per estimated request), ours against `bpe-openai`'s prebuilt o200k for reference.
#![allow(clippy::unwrap_used, reason = "benchmarks")]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_tokenizer::Tokenizer;

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("o200k", |b| b.iter(|| Tokenizer::o200k().unwrap()));
    group.finish();
}

fn count(c: &mut Criterion) {
    let ours = Tokenizer::o200k().unwrap();
    let reference = bpe_openai::o200k_base();
    let texts = [
        ("prose", include_str!("../../../README.md")),
        ("code", include_str!("../src/merge.rs")),
        ("json", include_str!("../../../package.json")),
    ];
    let mut group = c.benchmark_group("count");
    for (name, text) in texts {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("{name}/ours"), |b| {
            b.iter(|| ours.count(black_box(text)))
        });
        group.bench_function(format!("{name}/bpe-openai"), |b| {
            b.iter(|| reference.count(black_box(text)))
        });
    }
    group.finish();
}

criterion_group!(benches, build, count);
criterion_main!(benches);
