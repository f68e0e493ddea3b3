//! Integration tests: a real `MockUpstream` on 127.0.0.1:0, driven with reqwest.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod chat;
mod common;
mod control;
mod embeddings;
mod faults;
