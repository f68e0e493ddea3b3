//! The vocabulary and byte-pair merging: how many tokens one pre-tokenized piece becomes.
//!
//! This is tiktoken's rule — repeatedly merge the adjacent pair whose concatenation has the
//! lowest rank, the leftmost on a tie — with the pairs in a heap, so a long piece (a megabyte of
//! one letter) costs O(n log n) rather than O(n²). Only counts are needed, never token ids.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;

use base64::Engine as _;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use rustc_hash::FxBuildHasher;

/// Every token of a tiktoken vocabulary, found by its bytes.
pub(crate) struct Vocab {
    /// The tokens' bytes, back to back, in rank order.
    bytes: Vec<u8>,
    /// Where each token ends in `bytes`; the token of rank `r` starts where `r - 1` ends.
    ends: Vec<u32>,
    /// Ranks, hashed by their token's bytes.
    ranks: HashTable<u32>,
}

impl Vocab {
    /// Reads tiktoken's format: one `base64-token rank` line per token, ranks 0, 1, 2… in order.
    pub(crate) fn parse(text: &str) -> Result<Vocab, String> {
        let lines = text.lines().filter(|line| !line.is_empty());
        let mut vocab = Vocab {
            bytes: Vec::with_capacity(text.len()),
            ends: Vec::new(),
            ranks: HashTable::new(),
        };
        for (expected, line) in lines.enumerate() {
            let at = || format!("line {}", expected + 1);
            let (token, rank) = line
                .split_once(' ')
                .ok_or_else(|| format!("{}: expected `<base64 token> <rank>`", at()))?;
            if rank.parse::<usize>().ok() != Some(expected) {
                return Err(format!("{}: rank `{rank}`, expected {expected}", at()));
            }
            base64::engine::general_purpose::STANDARD
                .decode_vec(token, &mut vocab.bytes)
                .map_err(|e| format!("{}: {e}", at()))?;
            let end = u32::try_from(vocab.bytes.len()).map_err(|_| "vocabulary too large")?;
            let rank = u32::try_from(expected).map_err(|_| "vocabulary too large")?;
            vocab.ends.push(end);
            let Vocab { bytes, ends, ranks } = &mut vocab;
            let token = token_of(bytes, ends, rank);
            let same = |&r: &u32| token_of(bytes, ends, r) == token;
            let rehash = |&r: &u32| FxBuildHasher.hash_one(token_of(bytes, ends, r));
            match ranks.entry(FxBuildHasher.hash_one(token), same, rehash) {
                Entry::Occupied(_) => return Err(format!("{}: a token listed twice", at())),
                Entry::Vacant(slot) => {
                    slot.insert(rank);
                }
            }
        }
        vocab.bytes.shrink_to_fit();
        Ok(vocab)
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn token(&self, rank: u32) -> &[u8] {
        token_of(&self.bytes, &self.ends, rank)
    }

    /// The rank of the token that is exactly `bytes`, if any.
    pub(crate) fn rank(&self, bytes: &[u8]) -> Option<u32> {
        let hash = FxBuildHasher.hash_one(bytes);
        self.ranks.find(hash, |&r| self.token(r) == bytes).copied()
    }

    /// Tokens in `piece` (one pre-tokenized piece).
    pub(crate) fn count_piece(&self, piece: &[u8], scratch: &mut Scratch) -> usize {
        if piece.len() <= 1 || self.rank(piece).is_some() {
            return piece.len().min(1);
        }
        // Parts are identified by their first byte's offset; at first every byte is a part.
        let n = piece.len();
        let Scratch {
            next,
            prev,
            merged,
            pairs,
        } = scratch;
        next.clear();
        next.extend(1..=n);
        prev.clear();
        prev.extend((0..n).map(|i| i.wrapping_sub(1)));
        merged.clear();
        merged.resize(n, false);
        pairs.clear();
        let push = |pairs: &mut BinaryHeap<_>, left: usize, mid: usize, end: usize| {
            if let Some(rank) = self.rank(&piece[left..end]) {
                pairs.push(Reverse(Pair {
                    rank,
                    left,
                    mid,
                    end,
                }));
            }
        };
        for left in 0..n - 1 {
            push(pairs, left, left + 1, left + 2);
        }
        let mut parts = n;
        while let Some(Reverse(Pair { left, mid, end, .. })) = pairs.pop() {
            // A pair is stale once either side has merged with something else.
            if merged[left] || merged[mid] || next[left] != mid || next[mid] != end {
                continue;
            }
            merged[mid] = true;
            next[left] = end;
            if end < n {
                prev[end] = left;
            }
            parts -= 1;
            let before = prev[left];
            if before != usize::MAX {
                push(pairs, before, left, end);
            }
            if end < n {
                push(pairs, left, end, next[end]);
            }
        }
        parts
    }
}

fn token_of<'a>(bytes: &'a [u8], ends: &[u32], rank: u32) -> &'a [u8] {
    let rank = rank as usize;
    let start = if rank == 0 {
        0
    } else {
        ends[rank - 1] as usize
    };
    &bytes[start..ends[rank] as usize]
}

/// Two adjacent parts, `[left, mid)` and `[mid, end)`, that would merge into the token `rank`.
/// Ordered by rank, then position: the heap yields the lowest rank, leftmost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pair {
    rank: u32,
    left: usize,
    mid: usize,
    end: usize,
}

/// Buffers reused from one piece to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    next: Vec<usize>,
    prev: Vec<usize>,
    merged: Vec<bool>,
    pairs: BinaryHeap<Reverse<Pair>>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn line(token: &[u8], rank: usize) -> String {
        format!(
            "{} {rank}\n",
            base64::engine::general_purpose::STANDARD.encode(token)
        )
    }

    /// Single bytes a, b, c, then merges in rank order.
    fn tiny(merges: &[&str]) -> Vocab {
        let mut text = String::new();
        let singles = [b"a", b"b", b"c"];
        for (rank, token) in singles.iter().enumerate() {
            text += &line(*token, rank);
        }
        for (i, token) in merges.iter().enumerate() {
            text += &line(token.as_bytes(), singles.len() + i);
        }
        Vocab::parse(&text).unwrap()
    }

    fn count(vocab: &Vocab, piece: &str) -> usize {
        vocab.count_piece(piece.as_bytes(), &mut Scratch::default())
    }

    #[test]
    fn the_lowest_rank_merges_first_and_the_leftmost_on_a_tie() {
        // "bc" outranks "ab": a|bc stays two tokens although "ab"+"c" would also be a token.
        let vocab = tiny(&["bc", "ab"]);
        assert_eq!(count(&vocab, "abc"), 2);
        // Equal pairs: "aa" merges from the left, so "aaa" is aa|a, and "aaaa" is aa|aa → aaaa.
        let vocab = tiny(&["aa", "aaaa"]);
        assert_eq!(count(&vocab, "aaa"), 2);
        assert_eq!(count(&vocab, "aaaa"), 1);
        assert_eq!(count(&vocab, "aaaaa"), 2);
        assert_eq!(count(&vocab, "cab"), 3);
        assert_eq!(count(&vocab, ""), 0);
        assert_eq!(count(&vocab, "a"), 1);
    }

    #[test]
    fn a_long_run_merges_in_n_log_n() {
        let vocab = tiny(&["aa", "aaaa", "aaaaaaaa"]);
        // 1,000,001 bytes: 125,000 eights and one a.
        assert_eq!(count(&vocab, &"a".repeat(1_000_001)), 125_001);
    }

    #[test]
    fn bad_vocabularies_name_the_line() {
        let err = |text: &str| Vocab::parse(text).err().unwrap();
        assert_eq!(err("YQ== 0\nYg== 2\n"), "line 2: rank `2`, expected 1");
        assert_eq!(err("YQ==\n"), "line 1: expected `<base64 token> <rank>`");
        assert!(err("YQ== 0\n!!! 1\n").starts_with("line 2: "));
        assert_eq!(err("YQ== 0\nYQ== 1\n"), "line 2: a token listed twice");
    }
}
