//! The `o200k_base` tokenizer behind every Switchboard token estimate, built on first use from
//! OpenAI's published vocabulary list (`data/o200k_base.tiktoken.gz`, 1.7 MB).
//!
//! Our own, and small: a hash table from each token's bytes to its rank, tiktoken's merge rule
//! (`merge.rs`) and o200k's pre-tokenizing regex (`split.rs`). It builds in tens of
//! milliseconds and holds about 10 MB. `bpe-openai` gave the same counts, but its automata took
//! 1–2 s of a core to build and ~70 MB to hold — a stall the usage writer, which builds it on
//! the first estimate, could not afford under load (its queue overflowed), and its prebuilt
//! alternative embeds 32 MB. Counts are checked against `bpe-openai`'s in the tests.
//!
//! A crate of its own so that debug builds can optimize it: unoptimized, merging is slow.

mod merge;
mod split;

use std::io::Read;
use std::sync::LazyLock;

use merge::{Scratch, Vocab};
use split::Splitter;

/// The vocabulary, as `bpe-openai` ships it (MIT; from OpenAI's tiktoken).
const O200K_TIKTOKEN_GZ: &[u8] = include_bytes!("../data/o200k_base.tiktoken.gz");

/// Counts tokens as `o200k_base` does.
pub struct Tokenizer {
    vocab: Vocab,
    splitter: Splitter,
}

impl Tokenizer {
    /// Builds the tokenizer from the bundled vocabulary (what [`count`] does once per process).
    pub fn o200k() -> Result<Tokenizer, String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(O200K_TIKTOKEN_GZ)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot unpack the o200k_base vocabulary: {e}"))?;
        let vocab = Vocab::parse(&text)
            .map_err(|e| format!("cannot read the o200k_base vocabulary: {e}"))?;
        let splitter = Splitter::o200k()
            .map_err(|e| format!("cannot build the o200k_base pre-tokenizer: {e}"))?;
        Ok(Tokenizer { vocab, splitter })
    }

    /// Tokens in `text`.
    pub fn count(&self, text: &str) -> u64 {
        let mut scratch = Scratch::default();
        self.splitter
            .pieces(text)
            .map(|piece| self.vocab.count_piece(piece.as_bytes(), &mut scratch) as u64)
            .sum()
    }

    /// How many tokens the vocabulary has.
    pub fn vocabulary_size(&self) -> usize {
        self.vocab.len()
    }
}

static O200K: LazyLock<Result<Tokenizer, String>> = LazyLock::new(Tokenizer::o200k);

/// Tokens in `text`. Should the tokenizer ever fail to build (it is bundled data, so only a
/// broken build could), a quarter of the bytes stands in and the failure is logged once.
pub fn count(text: &str) -> u64 {
    match &*O200K {
        Ok(tokenizer) => tokenizer.count(text),
        Err(error) => {
            static LOGGED: std::sync::Once = std::sync::Once::new();
            LOGGED.call_once(|| tracing::error!(%error, "token estimates fall back to bytes / 4"));
            (text.len() as u64).div_ceil(4)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use proptest::prelude::*;

    use super::*;

    /// The reference: `bpe-openai`'s prebuilt o200k (itself checked against tiktoken upstream).
    fn reference(text: &str) -> u64 {
        bpe_openai::o200k_base().count(text) as u64
    }

    fn ours() -> &'static Tokenizer {
        O200K.as_ref().unwrap()
    }

    #[test]
    fn counts_match_the_reference_on_samples_and_real_text() {
        let samples = [
            "",
            "hello world",
            "Mock reply to: hello there",
            "  leading and trailing spaces  \n\n\ttabs",
            "naïve café — 東京 🚀 emoji",
            "fn main() { println!(\"{}\", 1 + 2); }",
            "1234567890 3.14159 'tis we've I'M",
            "Ünïcödé COMBINING: e\u{301} a\u{308}\u{301}, ZWJ: 👩\u{200d}💻, RTL: שלום עולם",
            "\r\n\r\n   \r\n\t \u{a0}\u{3000} mixed spaces",
            include_str!("../../../README.md"),
            include_str!("merge.rs"),
            include_str!("../data/README.md"),
        ];
        assert_eq!(ours().vocabulary_size(), 199_998);
        for text in samples {
            assert_eq!(ours().count(text), reference(text), "{text:?}");
        }
    }

    #[test]
    fn long_runs_count_like_the_reference() {
        for text in [
            " ".repeat(2_000_000),
            "a".repeat(300_000),
            "ab".repeat(100_000),
            "!?".repeat(100_000),
            "9".repeat(100_000),
            "日本".repeat(50_000),
        ] {
            assert_eq!(ours().count(&text), reference(&text), "{}…", &text[..20]);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Any mix of letters (upper, lower, accented, CJK), digits, apostrophes, punctuation,
        /// spaces of all kinds, line breaks, emoji and combining marks.
        #[test]
        fn counts_match_the_reference_on_any_text(
            text in "[a-zA-Z0-9'’ .,;:!?()\\[\\]{}<>/\\\\|@#$%^&*_+=~`\"\t\r\n\u{a0}\u{3000}éÉßøÆ東京語🚀👍\u{301}\u{200d}-]{0,80}"
        ) {
            prop_assert_eq!(ours().count(&text), reference(&text));
        }

        #[test]
        fn counts_match_the_reference_on_any_unicode(text in "\\PC{0,40}") {
            prop_assert_eq!(ours().count(&text), reference(&text));
        }
    }
}
