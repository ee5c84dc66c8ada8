//! The normalised post: the one shape every stage hands on.

use serde::Serialize;

use super::classification::Classification;
use super::id::PostId;
use super::signal::Authenticity;

/// An item as a source found it, before relevance filtering and classification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawItem {
    /// The source's own id for the item (guid, row id…); when it has none, a hash of the content.
    pub external_id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    /// Milliseconds since the Unix epoch; `None` when the source gives no date (fetch time is used).
    pub published_ms: Option<i64>,
    pub title: Option<String>,
    pub text: String,
    /// Rating normalised to 0–1 by the source (it knows its own scale).
    pub rating: Option<f32>,
    /// Segment as the source names it (e.g. "webshop", "forum").
    pub channel: Option<String>,
}

/// A stored post: normalised, attributed to one product, with its classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Post {
    pub id: PostId,
    pub product: String,
    pub source: String,
    pub external_id: String,
    pub url: Option<String>,
    /// Salted hash of the author's name unless pseudonymisation is switched off.
    pub author: Option<String>,
    pub published_ms: i64,
    pub fetched_ms: i64,
    /// ISO 639-1 code, or "und" when the text is too short to tell.
    pub language: String,
    pub title: Option<String>,
    pub text: String,
    pub rating: Option<f32>,
    pub channel: Option<String>,
    pub classification: Classification,
    /// Signals and genuineness, set by the authenticity detector before the post is stored.
    pub authenticity: Authenticity,
}

/// Stars (1–5) of a rating normalised to 0–1: 0.2 is 1★ and 1.0 is 5★ on a five-star scale;
/// other scales round to the nearest star.
pub fn stars(rating: f32) -> u8 {
    ((rating.clamp(0.0, 1.0) * 5.0).round() as u8).clamp(1, 5)
}
