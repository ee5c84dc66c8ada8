//! The normalised post and its classification: the one shape every stage hands on.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable post id: a hash of product, source and the source's own id for the item, so the same
/// item fetched twice (or re-imported) maps to the same key and is stored once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostId(pub [u8; 16]);

impl PostId {
    pub fn new(product: &str, source: &str, external_id: &str) -> Self {
        let mut h = blake3::Hasher::new();
        for part in [product, source, external_id] {
            h.update(&(part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        PostId(id)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s).ok()?;
        Some(PostId(v.try_into().ok()?))
    }
}

impl fmt::Debug for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostId({})", self.to_hex())
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PostId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

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
    pub authenticity: crate::authenticity::Authenticity,
}

/// What the model read in one text. `heads` is empty when the text's language is not one the model
/// was trained on: such texts are marked, never scored as if English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Classification {
    pub language: String,
    pub heads: BTreeMap<String, HeadResult>,
}

/// One head's output: labels over threshold (or the winner) and every label's probability, or a
/// single score for one-label heads (machine-generated, deceptive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeadResult {
    Labels {
        labels: Vec<String>,
        scores: BTreeMap<String, f32>,
    },
    Score {
        score: f32,
    },
}

impl Classification {
    /// Whether the model scored this text (false for unsupported languages).
    pub fn is_scored(&self) -> bool {
        !self.heads.is_empty()
    }

    /// Probability of `label` in `head` (a score head answers for its own name).
    pub fn score(&self, head: &str, label: &str) -> Option<f32> {
        match self.heads.get(head)? {
            HeadResult::Labels { scores, .. } => scores.get(label).copied(),
            HeadResult::Score { score } => (label == head).then_some(*score),
        }
    }

    /// Whether `label` of `head` is over its threshold (or is the winner of a single-label head).
    pub fn has_label(&self, head: &str, label: &str, score_threshold: f32) -> bool {
        match self.heads.get(head) {
            Some(HeadResult::Labels { labels, .. }) => labels.iter().any(|l| l == label),
            Some(HeadResult::Score { score }) => label == head && *score >= score_threshold,
            None => false,
        }
    }
}

/// Stars (1–5) of a rating normalised to 0–1: 0.2 is 1★ and 1.0 is 5★ on a five-star scale;
/// other scales round to the nearest star.
pub fn stars(rating: f32) -> u8 {
    ((rating.clamp(0.0, 1.0) * 5.0).round() as u8).clamp(1, 5)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_id_is_stable_and_unambiguous() {
        let a = PostId::new("p", "s", "1");
        assert_eq!(a, PostId::new("p", "s", "1"));
        assert_ne!(a, PostId::new("p", "s", "2"));
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(PostId::new("ab", "c", "x"), PostId::new("a", "bc", "x"));
        assert_eq!(PostId::from_hex(&a.to_hex()), Some(a));
        assert_eq!(PostId::from_hex("zz"), None);
    }

    #[test]
    fn classification_json_shape() {
        let mut heads = BTreeMap::new();
        heads.insert(
            "sentiment".into(),
            HeadResult::Labels {
                labels: vec!["positive".into()],
                scores: [("positive".to_string(), 0.9f32)].into_iter().collect(),
            },
        );
        heads.insert("deceptive".into(), HeadResult::Score { score: 0.25 });
        let c = Classification {
            language: "en".into(),
            heads,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["heads"]["deceptive"]["score"], 0.25);
        assert_eq!(v["heads"]["sentiment"]["labels"][0], "positive");
        assert!(c.has_label("deceptive", "deceptive", 0.2));
        assert!(!c.has_label("deceptive", "deceptive", 0.3));
    }
}
