//! From fetched items to stored posts: the scheduler runs sources, the pipeline normalises,
//! dedups, classifies (classifier worker), assesses authenticity and hands batches to the store.

pub mod authenticity;
pub mod classifier;
pub mod language;
pub mod pipeline;
pub mod position;
pub mod scheduler;
