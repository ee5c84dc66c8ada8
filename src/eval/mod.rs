//! Both evaluation harnesses: model scoring on labelled data and the authenticity stream.

pub mod authenticity;
pub mod model;
