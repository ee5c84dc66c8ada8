//! The vocabulary every layer shares: posts, their ids, classifications, authenticity signals,
//! time and text helpers. Depends on nothing else in the crate.

pub mod calibration;
pub mod cancel;
pub mod classification;
pub mod id;
pub mod num;
pub mod post;
pub mod retry;
pub mod signal;
pub mod text;
pub mod time;

pub use cancel::Cancel;
pub use classification::{Classification, HeadResult};
pub use id::PostId;
pub use post::{stars, Post, RawItem};
pub use signal::{
    index_parts, Authenticity, Evidence, IndexParts, Retro, Scorer, Signal, SignalKind, MAX_RELATED,
};
pub use time::now_ms;
