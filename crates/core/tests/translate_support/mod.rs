//! Shared by the translation tests: fixtures, SSE framing exactly as the proxy does it
//! (`eventsource-stream`), and splitting a recorded stream at arbitrary byte offsets.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::path::PathBuf;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use switchboard_core::translate::{StreamDecoder, StreamError, StreamEvent};

/// `crates/core/tests/fixtures/<relative>`.
pub fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

pub fn fixture(relative: &str) -> Vec<u8> {
    let path = fixture_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Frames `chunks` as SSE (as the proxy does) and runs every event through `decoder`.
/// Returns the canonical events, or the first error, and whether the decoder saw a complete answer.
pub fn decode_chunks(
    decoder: &mut dyn StreamDecoder,
    chunks: Vec<Vec<u8>>,
) -> (Result<Vec<StreamEvent>, StreamError>, bool) {
    let source = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<Bytes, std::convert::Infallible>(Bytes::from(c))),
    );
    let events: Vec<_> = futures::executor::block_on(source.eventsource().collect());
    let mut out = Vec::new();
    for event in events {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                return (
                    Err(StreamError::new("malformed_event", e.to_string())),
                    decoder.is_complete(),
                );
            }
        };
        if let Err(e) = decoder.decode(&event.event, &event.data, &mut out) {
            return (Err(e), decoder.is_complete());
        }
    }
    (Ok(out), decoder.is_complete())
}

/// `bytes` cut at the given offsets (sorted, deduplicated, clamped), in order.
pub fn split_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut parts = Vec::new();
    let mut start = 0;
    for cut in cuts {
        parts.push(bytes[start..cut].to_vec());
        start = cut;
    }
    parts.push(bytes[start..].to_vec());
    parts
}
