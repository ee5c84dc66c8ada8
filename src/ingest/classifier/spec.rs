//! A model folder and its `labels.json`: which outputs exist, their labels, kinds and thresholds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{model_dir, ClassifierError};
use crate::store::{Slot, SlotKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// Independent sigmoid per label; labels over their threshold are reported.
    MultiLabel,
    /// Softmax over labels; the winner is reported.
    SingleLabel,
    /// One probability, reported as `{"score": p}`.
    Score,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadSpec {
    pub name: String,
    /// Name of the ONNX output holding this head's probabilities, `[batch, labels]`.
    pub output: String,
    pub kind: HeadKind,
    pub labels: Vec<String>,
    /// Decision threshold per label (multi-label and score heads); default 0.5.
    #[serde(default)]
    pub thresholds: Vec<f32>,
    /// Named groupings of labels (e.g. Ekman's six), used by queries and digests.
    #[serde(default)]
    pub groups: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Decision threshold per group (a group's score is the highest of its members' scores).
    #[serde(default)]
    pub group_thresholds: BTreeMap<String, BTreeMap<String, f32>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
    /// Token limit of the encoder; longer texts are truncated.
    pub max_length: usize,
    /// Languages the model was trained on; texts detected as another language are not scored.
    pub languages: Vec<String>,
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    pub heads: Vec<HeadSpec>,
    /// Folder the spec was read from.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl ModelSpec {
    /// Reads and checks `dir/labels.json` and that the other model files exist.
    pub fn load(dir: &Path) -> Result<ModelSpec, ClassifierError> {
        for f in model_dir::REQUIRED {
            if !dir.join(f).is_file() {
                return Err(ClassifierError::MissingFile { path: dir.join(f) });
            }
        }
        let path = dir.join(model_dir::LABELS);
        let text = std::fs::read_to_string(&path).map_err(|e| ClassifierError::BadSpec {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut spec: ModelSpec =
            serde_json::from_str(&text).map_err(|e| ClassifierError::BadSpec {
                path: path.clone(),
                message: e.to_string(),
            })?;
        spec.dir = dir.to_path_buf();
        for h in &mut spec.heads {
            if h.labels.is_empty() {
                return Err(ClassifierError::BadSpec {
                    path: path.clone(),
                    message: format!("head `{}` has no labels", h.name),
                });
            }
            if h.kind == HeadKind::Score && h.labels.len() != 1 {
                return Err(ClassifierError::BadSpec {
                    path: path.clone(),
                    message: format!("score head `{}` must have exactly one label", h.name),
                });
            }
            if h.thresholds.is_empty() {
                h.thresholds = vec![0.5; h.labels.len()];
            }
            if h.thresholds.len() != h.labels.len() {
                return Err(ClassifierError::BadSpec {
                    path: path.clone(),
                    message: format!(
                        "head `{}` has {} labels but {} thresholds",
                        h.name,
                        h.labels.len(),
                        h.thresholds.len()
                    ),
                });
            }
        }
        if spec.max_length < 4 {
            return Err(ClassifierError::BadSpec {
                path,
                message: "max_length must be at least 4".into(),
            });
        }
        Ok(spec)
    }

    pub fn head(&self, name: &str) -> Option<&HeadSpec> {
        self.heads.iter().find(|h| h.name == name)
    }

    /// The (head, label) slots this model writes, for the store's registry.
    pub fn slots(&self) -> Vec<Slot> {
        let mut v = Vec::new();
        for h in &self.heads {
            for l in &h.labels {
                v.push(Slot {
                    head: h.name.clone(),
                    label: if h.kind == HeadKind::Score {
                        h.name.clone()
                    } else {
                        l.clone()
                    },
                    kind: match h.kind {
                        HeadKind::MultiLabel => SlotKind::MultiLabel,
                        HeadKind::SingleLabel => SlotKind::SingleLabel,
                        HeadKind::Score => SlotKind::Score,
                    },
                });
            }
        }
        v
    }

    pub fn supports_language(&self, lang: &str) -> bool {
        lang == "und" || self.languages.iter().any(|l| l == lang)
    }
}
