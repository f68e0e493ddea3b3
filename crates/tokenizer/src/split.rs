//! Pre-tokenization: cutting text into the pieces that byte-pair merging works on, by o200k's
//! regular expression.
//!
//! tiktoken's pattern has one look-ahead, `\s+(?!\S)` (a run of whitespace, leaving its last
//! character to the next piece when a non-space follows). `regex-automata` has no look-around,
//! so that alternative becomes a pattern of its own, `\s+\s`, which matches one character too
//! many; a piece it matches gives that last character back. Every search is anchored where the
//! previous piece ended, as tiktoken's leftmost-first scan is.

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// o200k's pre-tokenization, as tiktoken defines it, split into look-around-free patterns; the
/// flag marks a pattern whose last matched character belongs to the next piece.
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

pub(crate) struct Splitter {
    regex: Regex,
}

impl Splitter {
    pub(crate) fn o200k() -> Result<Splitter, String> {
        let patterns = PATTERNS.map(|(pattern, _)| pattern);
        let regex = Regex::new_many(&patterns).map_err(|e| e.to_string())?;
        Ok(Splitter { regex })
    }

    /// The pieces of `text`, in order; together they are all of it.
    pub(crate) fn pieces<'t>(&'t self, text: &'t str) -> impl Iterator<Item = &'t str> + 't {
        let mut at = 0;
        std::iter::from_fn(move || {
            let rest = &text[at..];
            // Every character is matched by one of the patterns, so only the end stops this.
            let found = self.regex.find(Input::new(rest).anchored(Anchored::Yes))?;
            let mut len = found.end();
            if PATTERNS[found.pattern().as_usize()].1
                && let Some(last) = rest[..len].chars().next_back()
                && len > last.len_utf8()
            {
                len -= last.len_utf8();
            }
            if len == 0 {
                return None;
            }
            at += len;
            Some(&rest[..len])
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn pieces_follow_tiktoken() {
        let splitter = Splitter::o200k().unwrap();
        let pieces = |text| splitter.pieces(text).collect::<Vec<_>>();
        assert_eq!(
            pieces("Hello world, we've  got 12345!\n\n  x"),
            [
                "Hello", " world", ",", " we've", " ", " got", " ", "123", "45", "!\n\n", " ", " x"
            ]
        );
        assert_eq!(pieces("  \t\n"), ["  \t\n"]);
        assert_eq!(pieces("東京 🚀"), ["東京", " 🚀"]);
        assert!(pieces("").is_empty());
    }
}
