//! Accounting: what each request used and cost, stored per session. Prices and estimates live
//! here; the SQLite side is `crate::store`; `service` runs both for a gateway.

pub mod estimate;
pub mod pricing;
pub mod service;
