//! What the model read in one text: every head's labels and scores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

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
