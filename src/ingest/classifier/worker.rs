//! The model thread: tokenises, groups texts of similar length into batches (less padding),
//! runs the ONNX session and turns output tensors into per-text results.

use std::collections::BTreeMap;

use ndarray::Array2;
use ort::session::Session;
use ort::value::TensorRef;
use tokenizers::{Tokenizer, TruncationParams};
use tokio::sync::mpsc;

use super::{model_dir, ClassifierError, HeadKind, Job, ModelSpec, MAX_TEXT_CHARS};
use crate::domain::num::round4_f32;
use crate::domain::{Classification, HeadResult};

pub(super) struct Worker {
    session: Session,
    tokenizer: Tokenizer,
    spec: ModelSpec,
    batch_size: usize,
    has_token_type_ids: bool,
}

impl Worker {
    pub(super) fn new(
        spec: &ModelSpec,
        threads: usize,
        batch_size: usize,
    ) -> Result<Worker, ClassifierError> {
        let tok_path = spec.dir.join(model_dir::TOKENIZER);
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|e| ClassifierError::Tokenizer {
                path: tok_path.clone(),
                message: e.to_string(),
            })?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: spec.max_length,
                ..Default::default()
            }))
            .map_err(|e| ClassifierError::Tokenizer {
                path: tok_path.clone(),
                message: e.to_string(),
            })?;
        tokenizer.with_padding(None);

        let model_path = spec.dir.join(model_dir::MODEL);
        let env = super::environment().ok_or(ClassifierError::Stopped)?;
        let serr = |e: String| ClassifierError::Session {
            path: model_path.clone(),
            message: e,
        };
        let session = Session::builder(&env)
            .map_err(|e| serr(e.to_string()))?
            .with_intra_threads(threads)
            .map_err(|e| serr(e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| serr(e.to_string()))?
            .commit_from_file(&model_path)
            .map_err(|e| serr(e.to_string()))?;

        for h in &spec.heads {
            if !session.outputs().iter().any(|o| o.name() == h.output) {
                return Err(ClassifierError::OutputMismatch {
                    output: h.output.clone(),
                    message: "no such output in model.onnx".into(),
                });
            }
        }
        let has_token_type_ids = session
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");
        Ok(Worker {
            session,
            tokenizer,
            spec: spec.clone(),
            batch_size: batch_size.max(1),
            has_token_type_ids,
        })
    }

    pub(super) fn serve(&mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.blocking_recv() {
            let r = self.classify(&job.texts, job.score_all);
            // The caller may have gone away (request cancelled); that is not an error here.
            let _ = job.reply.send(r);
        }
    }

    fn classify(
        &mut self,
        texts: &[String],
        score_all: bool,
    ) -> Result<Vec<Classification>, ClassifierError> {
        let mut out: Vec<Classification> = texts
            .iter()
            .map(|t| Classification {
                language: crate::ingest::language::detect(t),
                heads: BTreeMap::new(),
            })
            .collect();
        let todo: Vec<usize> = (0..texts.len())
            .filter(|&i| score_all || self.spec.supports_language(&out[i].language))
            .collect();
        if todo.is_empty() {
            return Ok(out);
        }
        let inputs: Vec<String> = todo
            .iter()
            .map(|&i| crate::domain::text::cap_chars(&texts[i], MAX_TEXT_CHARS).to_string())
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| ClassifierError::Inference(format!("tokenizer: {e}")))?;
        // Sort by token length so each batch pads to a similar length.
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&k| encodings[k].get_ids().len());
        for chunk in order.chunks(self.batch_size) {
            let max_len = chunk
                .iter()
                .map(|&k| encodings[k].get_ids().len())
                .max()
                .unwrap_or(1)
                .max(1);
            let n = chunk.len();
            let mut ids = Array2::<i64>::zeros((n, max_len));
            let mut mask = Array2::<i64>::zeros((n, max_len));
            for (row, &k) in chunk.iter().enumerate() {
                for (col, &id) in encodings[k].get_ids().iter().enumerate() {
                    ids[[row, col]] = id as i64;
                    mask[[row, col]] = 1;
                }
            }
            let t_ids = TensorRef::from_array_view(&ids)
                .map_err(|e| ClassifierError::Inference(e.to_string()))?;
            let t_mask = TensorRef::from_array_view(&mask)
                .map_err(|e| ClassifierError::Inference(e.to_string()))?;
            let outputs = if self.has_token_type_ids {
                // BERT-style models that declare segment ids get all zeros (one segment).
                let types = Array2::<i64>::zeros((n, max_len));
                let t_types = TensorRef::from_array_view(&types)
                    .map_err(|e| ClassifierError::Inference(e.to_string()))?;
                self.session.run(ort::inputs![
                    "input_ids" => t_ids,
                    "attention_mask" => t_mask,
                    "token_type_ids" => t_types,
                ])
            } else {
                self.session.run(ort::inputs![
                    "input_ids" => t_ids,
                    "attention_mask" => t_mask,
                ])
            }
            .map_err(|e| ClassifierError::Inference(e.to_string()))?;

            for h in &self.spec.heads {
                let (shape, data) = outputs[h.output.as_str()]
                    .try_extract_tensor::<f32>()
                    .map_err(|e| ClassifierError::OutputMismatch {
                        output: h.output.clone(),
                        message: e.to_string(),
                    })?;
                let width = h.labels.len();
                if shape.len() != 2 || shape[0] as usize != n || shape[1] as usize != width {
                    return Err(ClassifierError::OutputMismatch {
                        output: h.output.clone(),
                        message: format!("shape {shape:?}, expected [{n}, {width}]"),
                    });
                }
                for (row, &k) in chunk.iter().enumerate() {
                    let probs = &data[row * width..(row + 1) * width];
                    out[todo[k]]
                        .heads
                        .insert(h.name.clone(), head_result(h, probs));
                }
            }
        }
        Ok(out)
    }
}

fn head_result(h: &super::HeadSpec, probs: &[f32]) -> HeadResult {
    match h.kind {
        HeadKind::Score => HeadResult::Score {
            score: round4_f32(probs[0]),
        },
        HeadKind::MultiLabel => HeadResult::Labels {
            labels: h
                .labels
                .iter()
                .zip(probs)
                .zip(&h.thresholds)
                .filter(|((_, p), t)| **p >= **t)
                .map(|((l, _), _)| l.clone())
                .collect(),
            scores: scores(h, probs),
        },
        HeadKind::SingleLabel => {
            let best = super::argmax(probs);
            HeadResult::Labels {
                labels: vec![h.labels[best].clone()],
                scores: scores(h, probs),
            }
        }
    }
}

fn scores(h: &super::HeadSpec, probs: &[f32]) -> BTreeMap<String, f32> {
    h.labels
        .iter()
        .cloned()
        .zip(probs.iter().map(|p| round4_f32(*p)))
        .collect()
}
