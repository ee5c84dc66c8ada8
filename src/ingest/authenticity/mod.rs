//! The authenticity detector: signals that need more than one post (copy-paste, bursts, author
//! patterns), assessed on each batch before it is stored.

pub mod burst;
pub mod detector;
pub mod minhash;
pub mod patterns;

pub use detector::Detector;
