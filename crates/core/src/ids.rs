//! Ids the gateway invents (request ids, and response, message and tool-call ids a provider did
//! not give): unique within the process, with a random start so that they do not repeat across
//! restarts — without a system call per id (`uuid::Uuid::new_v4` asks the OS for randomness
//! every time, once per translated stream).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The next number of a process-wide counter that starts at a random value.
pub fn next_u64() -> u64 {
    static NEXT: LazyLock<AtomicU64> = LazyLock::new(|| {
        let mut seed = [0u8; 8];
        let _ = getrandom::fill(&mut seed);
        AtomicU64::new(u64::from_le_bytes(seed) >> 1)
    });
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// 32 hex digits that look random (as a simple-format UUID does) and never repeat within the
/// process: the counter through a bijective mixer, then a second mix for the other half.
pub fn fresh_hex() -> String {
    let n = next_u64();
    format!("{:016x}{:016x}", mix(n), mix(n ^ 0x5bd1_e995_9e37_79b9))
}

/// SplitMix64's finalizer: a bijection on `u64`, so distinct inputs give distinct outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_32_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| fresh_hex()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
