//! Integration tests: a real `MockUpstream` on 127.0.0.1:0, driven with reqwest.

// clippy.toml allows unwrap in `#[test]` functions; the shared helpers here use it too.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod chat;
mod common;
mod control;
mod embeddings;
mod faults;
