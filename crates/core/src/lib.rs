//! Switchboard gateway core: config, routing, the proxy path, secrets, and the server that ties
//! them together. No UI or Tauri dependency; everything here runs headless and in tests.

pub mod accounting;
pub mod admin;
pub mod config;
pub mod error;
pub mod ids;
pub mod outcome;
pub mod proxy;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod store;
pub mod translate;
pub mod upstream;
pub mod usage;

pub use config::{Config, ConfigError, LoadOptions};
pub use error::GatewayError;
pub use outcome::{Endpoint, OutcomeStatus, RequestOutcome};
pub use server::{Gateway, GatewayHandle, GatewayOptions, Reloader, StartError};
pub use usage::Usage;
