//! Latency summaries: nearest-rank percentiles over a full sample (no histogram bucketing), in
//! milliseconds, as JSON for `scripts/bench.sh`.

use std::time::Duration;

use serde_json::{Value, json};

/// The value at percentile `p` (0–100) of sorted `samples`, nearest-rank.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `{count, min, p50, p90, p99, max, mean}` in milliseconds.
pub fn summary(samples: &mut [Duration]) -> Value {
    samples.sort_unstable();
    let count = samples.len();
    let mean = if count == 0 {
        Duration::ZERO
    } else {
        samples.iter().sum::<Duration>() / count as u32
    };
    json!({
        "count": count,
        "min_ms": ms(samples.first().copied().unwrap_or_default()),
        "p50_ms": ms(percentile(samples, 50.0)),
        "p90_ms": ms(percentile(samples, 90.0)),
        "p99_ms": ms(percentile(samples, 99.0)),
        "max_ms": ms(samples.last().copied().unwrap_or_default()),
        "mean_ms": ms(mean),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = summary(&mut samples);
        assert_eq!(s["p50_ms"], 50.0);
        assert_eq!(s["p99_ms"], 99.0);
        assert_eq!(s["max_ms"], 100.0);
        assert_eq!(s["min_ms"], 1.0);
    }
}
