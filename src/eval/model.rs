//! `cxpulse eval`: scores a model folder on labelled data with the same metrics the training
//! script reports (macro-F1 with the shipped thresholds, accuracy, confusion matrices), so the
//! numbers in a model card can be checked from the ONNX file the daemon actually runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use crate::domain::num::round4;
use crate::domain::{Classification, HeadResult};
use crate::ingest::classifier::{Classifier, ClassifierError, HeadKind, HeadSpec, ModelSpec};

#[derive(Debug, Error)]
pub enum EvalError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
    #[error("the model has no head `{0}`")]
    UnknownHead(String),
    #[error("the model's `{0}` head has no `{1}` group")]
    UnknownGroup(String, String),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
}

/// What is evaluated: a head, or a grouping of a head's labels (`emotions.ekman`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub head: String,
    pub group: Option<String>,
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (head, group) = match s.split_once('.') {
            Some((h, g)) => (h.to_string(), Some(g.to_string())),
            None => (s.to_string(), None),
        };
        if head.is_empty() || group.as_deref() == Some("") {
            return Err(format!(
                "`{s}` is not a task like emotions, sentiment or emotions.ekman"
            ));
        }
        Ok(Task { head, group })
    }
}

/// One labelled example: the text and its gold labels (for score heads: ["1"] or ["0"]).
#[derive(Debug, Clone)]
pub struct Example {
    pub text: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub task: String,
    pub n: usize,
    pub macro_f1: f64,
    pub accuracy: Option<f64>,
    pub per_label_f1: BTreeMap<String, f64>,
    /// Single-label heads: rows = gold, columns = predicted, in `labels` order.
    pub confusion: Option<Vec<Vec<u64>>>,
    pub labels: Vec<String>,
}

/// Reads labelled examples: GoEmotions TSV (`text<TAB>label ids<TAB>id`, ids into `id_names`)
/// or JSONL with `text` and `labels` (list) or `label` (string, bool or 0/1).
pub fn read_examples(path: &Path, id_names: &[String]) -> Result<Vec<Example>, EvalError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Read {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let tsv = path.extension().is_some_and(|e| e == "tsv");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row = |message: String| EvalError::Row {
            path: p.clone(),
            line: i + 1,
            message,
        };
        if tsv {
            let mut parts = line.split('\t');
            let (Some(t), Some(ids)) = (parts.next(), parts.next()) else {
                return Err(row("expected text<TAB>label ids".into()));
            };
            let labels = ids
                .split(',')
                .map(|id| {
                    id.trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|k| id_names.get(k).cloned())
                        .ok_or_else(|| row(format!("label id `{id}` out of range")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(Example {
                text: t.to_string(),
                labels,
            });
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| row(format!("not JSON: {e}")))?;
        let t = v["text"]
            .as_str()
            .ok_or_else(|| row("missing `text`".into()))?;
        let labels: Vec<String> = if let Some(a) = v["labels"].as_array() {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        } else {
            match &v["label"] {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Bool(b) => vec![if *b { "1" } else { "0" }.to_string()],
                serde_json::Value::Number(n) => {
                    vec![if n.as_f64().unwrap_or(0.0) >= 0.5 {
                        "1"
                    } else {
                        "0"
                    }
                    .to_string()]
                }
                _ => return Err(row("missing `labels` or `label`".into())),
            }
        };
        out.push(Example {
            text: t.to_string(),
            labels,
        });
    }
    Ok(out)
}

/// Per-label F1 = 2TP / (2TP + FP + FN), 0 when undefined (as scikit-learn with zero_division=0).
fn f1(tp: u64, fp: u64, fn_: u64) -> f64 {
    let d = 2 * tp + fp + fn_;
    if d == 0 {
        0.0
    } else {
        2.0 * tp as f64 / d as f64
    }
}

/// Scores `examples` with the model and computes the task's metrics. `progress` is called with
/// the number of examples done.
pub async fn evaluate(
    classifier: &Classifier,
    task: &Task,
    examples: &[Example],
    mut progress: impl FnMut(usize),
) -> Result<Report, EvalError> {
    let spec = classifier.spec().clone();
    let head = spec
        .head(&task.head)
        .ok_or_else(|| EvalError::UnknownHead(task.head.clone()))?
        .clone();
    let mut results: Vec<Classification> = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(256) {
        let texts = chunk.iter().map(|e| e.text.clone()).collect();
        results.extend(classifier.classify_all(texts).await?);
        progress(results.len());
    }
    let scored: Vec<(&Example, Vec<f32>)> = examples
        .iter()
        .zip(&results)
        .map(|(e, c)| (e, scores_of(&head, c)))
        .collect();
    match (&task.group, head.kind) {
        (Some(g), _) => group_report(&head, g, &scored),
        (None, HeadKind::MultiLabel) => {
            let gold: Vec<Vec<bool>> = scored
                .iter()
                .map(|(e, _)| head.labels.iter().map(|l| e.labels.contains(l)).collect())
                .collect();
            let pred: Vec<Vec<bool>> = scored
                .iter()
                .map(|(_, s)| {
                    s.iter()
                        .zip(&head.thresholds)
                        .map(|(s, t)| s >= t)
                        .collect()
                })
                .collect();
            Ok(multi_label_report(
                &head.name,
                head.labels.clone(),
                &gold,
                &pred,
            ))
        }
        (None, HeadKind::SingleLabel) => Ok(single_label_report(&head, &scored)),
        (None, HeadKind::Score) => {
            let t = head.thresholds.first().copied().unwrap_or(0.5);
            let gold: Vec<Vec<bool>> = scored
                .iter()
                .map(|(e, _)| {
                    vec![e
                        .labels
                        .first()
                        .is_some_and(|l| l == "1" || l == &head.name)]
                })
                .collect();
            let pred: Vec<Vec<bool>> = scored.iter().map(|(_, s)| vec![s[0] >= t]).collect();
            let mut r = multi_label_report(&head.name, vec![head.name.clone()], &gold, &pred);
            let correct = gold.iter().zip(&pred).filter(|(g, p)| g[0] == p[0]).count();
            r.accuracy = Some(round4(correct as f64 / gold.len().max(1) as f64));
            Ok(r)
        }
    }
}

/// The head's probability for each of its labels (one for a score head).
fn scores_of(head: &HeadSpec, c: &Classification) -> Vec<f32> {
    match c.heads.get(&head.name) {
        Some(HeadResult::Labels { scores, .. }) => head
            .labels
            .iter()
            .map(|l| scores.get(l).copied().unwrap_or(0.0))
            .collect(),
        Some(HeadResult::Score { score }) => vec![*score],
        None => vec![0.0; head.labels.len()],
    }
}

/// A label group (e.g. Ekman's six): a group is predicted when its best member is over the
/// group's threshold, and true when the example has any member.
fn group_report(
    head: &HeadSpec,
    g: &str,
    scored: &[(&Example, Vec<f32>)],
) -> Result<Report, EvalError> {
    let groups = head
        .groups
        .get(g)
        .ok_or_else(|| EvalError::UnknownGroup(head.name.clone(), g.to_string()))?;
    let thresholds = head.group_thresholds.get(g);
    let names: Vec<String> = groups.keys().cloned().collect();
    let idx = |l: &String| head.labels.iter().position(|x| x == l);
    let mut gold = Vec::new();
    let mut pred = Vec::new();
    for (e, s) in scored {
        let mut gp = Vec::new();
        let mut gg = Vec::new();
        for name in &names {
            let members = &groups[name];
            let score = members
                .iter()
                .filter_map(idx)
                .map(|i| s[i])
                .fold(0.0f32, f32::max);
            let t = thresholds.and_then(|t| t.get(name)).copied().unwrap_or(0.5);
            gp.push(score >= t);
            gg.push(e.labels.iter().any(|l| members.contains(l)));
        }
        gold.push(gg);
        pred.push(gp);
    }
    Ok(multi_label_report(
        &format!("{}.{g}", head.name),
        names,
        &gold,
        &pred,
    ))
}

/// Accuracy, per-label F1 and the confusion matrix of a softmax head.
fn single_label_report(head: &HeadSpec, scored: &[(&Example, Vec<f32>)]) -> Report {
    let k = head.labels.len();
    let mut confusion = vec![vec![0u64; k]; k];
    for (e, s) in scored {
        let gold = e
            .labels
            .first()
            .and_then(|l| head.labels.iter().position(|x| x == l));
        let Some(g) = gold else { continue };
        confusion[g][crate::ingest::classifier::argmax(s)] += 1;
    }
    let n: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let mut per = BTreeMap::new();
    for (i, l) in head.labels.iter().enumerate() {
        let tp = confusion[i][i];
        let fp: u64 = (0..k).filter(|&r| r != i).map(|r| confusion[r][i]).sum();
        let fn_: u64 = (0..k).filter(|&c| c != i).map(|c| confusion[i][c]).sum();
        per.insert(l.clone(), round4(f1(tp, fp, fn_)));
    }
    let macro_f1 = per.values().sum::<f64>() / k as f64;
    Report {
        task: head.name.clone(),
        n: n as usize,
        macro_f1: round4(macro_f1),
        accuracy: Some(round4(correct as f64 / n.max(1) as f64)),
        per_label_f1: per,
        confusion: Some(confusion),
        labels: head.labels.clone(),
    }
}

fn multi_label_report(
    task: &str,
    labels: Vec<String>,
    gold: &[Vec<bool>],
    pred: &[Vec<bool>],
) -> Report {
    let f1s: Vec<f64> = (0..labels.len())
        .map(|j| {
            let (mut tp, mut fp, mut fn_) = (0, 0, 0);
            for (g, p) in gold.iter().zip(pred) {
                match (g[j], p[j]) {
                    (true, true) => tp += 1,
                    (false, true) => fp += 1,
                    (true, false) => fn_ += 1,
                    _ => {}
                }
            }
            f1(tp, fp, fn_)
        })
        .collect();
    let macro_f1 = f1s.iter().sum::<f64>() / labels.len().max(1) as f64;
    Report {
        task: task.to_string(),
        n: gold.len(),
        macro_f1: round4(macro_f1),
        accuracy: None,
        per_label_f1: labels
            .iter()
            .cloned()
            .zip(f1s.iter().map(|f| round4(*f)))
            .collect(),
        confusion: None,
        labels,
    }
}

/// Label names for GoEmotions-style TSV ids: the emotions head's labels, in model order.
pub fn tsv_label_names(spec: &ModelSpec) -> Vec<String> {
    spec.head("emotions")
        .map(|h| h.labels.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f1_matches_the_usual_definition() {
        assert_eq!(f1(0, 0, 0), 0.0);
        assert!((f1(1, 1, 1) - 0.5).abs() < 1e-12);
        let r = multi_label_report(
            "t",
            vec!["a".into(), "b".into()],
            &[vec![true, false], vec![true, true], vec![false, false]],
            &[vec![true, false], vec![false, true], vec![false, true]],
        );
        // a: tp 1, fn 1 → 2/3; b: tp 1, fp 1 → 2/3.
        assert!((r.macro_f1 - 0.6667).abs() < 1e-9, "{r:?}");
        assert_eq!(
            "emotions.ekman".parse::<Task>().unwrap().group.as_deref(),
            Some("ekman")
        );
        assert!("emotions.".parse::<Task>().is_err());
    }
}
