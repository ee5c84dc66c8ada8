//! Read-side answers over the store: trend roll-ups and the Authenticity report.

pub mod authenticity;
pub mod trends;
