//! The `o200k_base` tokenizer behind every Switchboard token estimate, built on first use from OpenAI's published
//! vocabulary list (`data/o200k_base.tiktoken.gz`, 1.7 MB) rather than `bpe-openai`'s prebuilt
//! 32 MB dictionary, whose `include_bytes!` would make up two thirds of the binaries. Building
//! takes a moment (see docs/benchmarks.md); it happens once, off the request path (the usage
//! writer's blocking thread, or a blocking task for `count_tokens`). Counts are identical.
//!
//! A crate of its own so that debug builds can optimize it: `BytePairEncoding::from_dictionary`
//! is generic, so it is compiled in its caller, and unoptimized it takes over ten seconds.

use std::io::Read;
use std::sync::LazyLock;

use bpe_openai::Tokenizer;
use bpe_openai::byte_pair_encoding::{BytePairEncoding, read_tiktoken};

/// The vocabulary, as `bpe-openai` ships it (MIT; from OpenAI's tiktoken).
const O200K_TIKTOKEN_GZ: &[u8] = include_bytes!("../data/o200k_base.tiktoken.gz");
/// The hash factor `bpe-openai` builds its dictionaries with: collision-free for this vocabulary.
const HASH_FACTOR: u64 = 17_846_336_922_010_275_747;
/// o200k's pre-tokenization, as tiktoken defines it; the middle pattern is a one-character
/// look-ahead (`\s+(?!\S)` rewritten without look-around).
const PATTERNS: [(&str, bool); 3] = [
    (
        concat!(
            "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            "|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
            "|\\p{N}{1,3}",
            "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*",
            "|\\s*[\\r\\n]+",
            "|\\s+$",
        ),
        false,
    ),
    ("\\s+\\s", true),
    ("\\s+", false),
];

static O200K: LazyLock<Result<Tokenizer, String>> = LazyLock::new(build);

fn build() -> Result<Tokenizer, String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(O200K_TIKTOKEN_GZ)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot unpack the o200k_base vocabulary: {e}"))?;
    let tokens =
        read_tiktoken(&text).map_err(|e| format!("cannot read the o200k_base vocabulary: {e}"))?;
    let bpe = BytePairEncoding::from_dictionary(tokens, Some(HASH_FACTOR));
    Tokenizer::new_lookahead(bpe, &PATTERNS, false)
        .map_err(|e| format!("cannot build the o200k_base pre-tokenizer: {e}"))
}

/// Tokens in `text`. Should the tokenizer ever fail to build (it is bundled data, so only a
/// broken build could), a quarter of the bytes stands in and the failure is logged once.
pub fn count(text: &str) -> u64 {
    // Keep the prebuilt dictionaries of `bpe-openai` (its `Tokenizer` type is used) out of the binary:
    // nothing here references them, so the linker drops them.
    match &*O200K {
        Ok(tokenizer) => tokenizer.count(text) as u64,
        Err(error) => {
            static LOGGED: std::sync::Once = std::sync::Once::new();
            LOGGED.call_once(|| tracing::error!(%error, "token estimates fall back to bytes / 4"));
            (text.len() as u64).div_ceil(4)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_prebuilt_dictionary() {
        let samples = [
            "",
            "hello world",
            "Mock reply to: hello there",
            "  leading and trailing spaces  \n\n\ttabs",
            "naïve café — 東京 🚀 emoji",
            "fn main() { println!(\"{}\", 1 + 2); }",
            "1234567890 3.14159 'tis we've I'M",
        ];
        for text in samples {
            assert_eq!(
                count(text),
                bpe_openai::o200k_base().count(text) as u64,
                "{text:?}"
            );
        }
    }
}
