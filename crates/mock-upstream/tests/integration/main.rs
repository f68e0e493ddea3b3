//! Integration tests: a real `MockUpstream` on 127.0.0.1:0, driven with reqwest.

// clippy.toml allows unwrap and panic in `#[test]` functions; the shared helpers here use them too.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod anthropic;
mod anthropic_events;
mod chat;
mod common;
mod control;
mod dialect_faults;
mod embeddings;
mod faults;
mod gemini;
