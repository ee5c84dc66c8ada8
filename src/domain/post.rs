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

/// A rating as a site gives it, `value` out of `best` (5 for stars, 10, 100), as the 0–1 value
/// the store keeps: `value / best`, so 1★ is 0.2, 5★ is 1.0 and 8.5/10 is 0.85 (4.25★), as
/// every site shows it. This is the one conversion in; [`as_stars`] is the one conversion out.
/// `None` for a value outside `0..=best` or a scale that is not one.
pub fn rating_from_scale(value: f64, best: f64) -> Option<f32> {
    (best > 0.0 && value.is_finite() && (0.0..=best).contains(&value))
        .then(|| (value / best) as f32)
}

/// A stored 0–1 rating on the five-star scale every surface shows (CLI, dashboard, digest).
pub fn as_stars(rating: f32) -> f32 {
    rating.clamp(0.0, 1.0) * 5.0
}

/// Stars (1–5) of a rating normalised to 0–1: 0.2 is 1★ and 1.0 is 5★ on a five-star scale;
/// other scales round to the nearest star.
pub fn stars(rating: f32) -> u8 {
    ((rating.clamp(0.0, 1.0) * 5.0).round() as u8).clamp(1, 5)
}
