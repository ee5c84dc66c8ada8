//! cxpulse: a self-hosted customer-experience monitor. Sources fetch posts about the products a
//! brand watches, a local transformer model reads emotions and authenticity signals in them, sled
//! keeps posts and trend aggregates, and an HTTP API answers questions by product.
//!
//! [`run`] boots the whole daemon from a validated [`config::Config`] and stops it when the
//! cancellation token fires; tests use [`start`] to learn the bound address.

pub mod api;
pub mod cli;
pub mod config;
mod daemon;
pub mod domain;
pub mod eval;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod query;
pub mod sources;
pub mod store;

pub use daemon::{run, start, RunError, Running};
