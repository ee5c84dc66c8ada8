//! The classifier: one worker thread owns the ONNX Runtime session; callers send batches of texts
//! through a bounded channel and await the results.
//!
//! Why a thread and not a task: a forward pass is CPU-bound for milliseconds to seconds and must
//! never block the async runtime. Why one: the session already uses `model.threads` cores, and a
//! single owner needs no locking around it.

pub mod model_dir;
pub mod spec;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

pub use spec::{HeadKind, HeadSpec, ModelSpec};

use crate::config::ModelConfig;
use crate::domain::Classification;

#[derive(Debug, Error)]
pub enum ClassifierError {
    #[error(
        "model file missing: {path} (run scripts/setup.sh, or point model.dir at a model folder)"
    )]
    MissingFile { path: PathBuf },
    #[error("invalid model description {path}: {message}")]
    BadSpec { path: PathBuf, message: String },
    #[error("ONNX Runtime library not found; looked in: {tried}. Run `bash scripts/setup.sh` to fetch it, or set model.ort_dylib_path / ORT_DYLIB_PATH")]
    RuntimeNotFound { tried: String },
    #[error("cannot load ONNX Runtime from {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("cannot load tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("cannot load model {path}: {message}")]
    Session { path: PathBuf, message: String },
    #[error("model output `{output}` does not match labels.json: {message}")]
    OutputMismatch { output: String, message: String },
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("the classifier has stopped")]
    Stopped,
}

/// Texts longer than this many characters are cut before tokenising: the model only reads its
/// first `max_length` tokens anyway, and tokenising megabytes of text would stall the worker.
pub const MAX_TEXT_CHARS: usize = 20_000;

struct Job {
    texts: Vec<String>,
    /// Score every text whatever its detected language (evaluation on labelled English data,
    /// where a short comment may look like another language to the detector).
    score_all: bool,
    reply: oneshot::Sender<Result<Vec<Classification>, ClassifierError>>,
}

/// Cheap to clone; every clone talks to the same worker.
#[derive(Clone)]
pub struct Classifier {
    tx: mpsc::Sender<Job>,
    spec: Arc<ModelSpec>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("model", &self.spec.name)
            .finish()
    }
}

impl Classifier {
    /// Loads the model on a new worker thread and returns once it is ready (or failed to load).
    pub fn start(cfg: &ModelConfig) -> Result<Classifier, ClassifierError> {
        let spec = Arc::new(ModelSpec::load(&cfg.dir)?);
        let dylib = resolve_dylib(cfg.ort_dylib_path.as_deref())?;
        init_runtime(&dylib)?;
        // Capacity 16 jobs: callers are the pipeline (one batch at a time) and API requests; more
        // waiting work than this means the model is the bottleneck and callers should feel it.
        let (tx, rx) = mpsc::channel::<Job>(16);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let wspec = spec.clone();
        let threads = cfg.threads;
        let batch_size = cfg.batch_size;
        std::thread::Builder::new()
            .name("cxpulse-model".into())
            .spawn(
                move || match worker::Worker::new(&wspec, threads, batch_size) {
                    Ok(mut w) => {
                        let _ = ready_tx.send(Ok(()));
                        w.serve(rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                },
            )
            .map_err(|e| ClassifierError::Inference(format!("cannot spawn model thread: {e}")))?;
        ready_rx.recv().map_err(|_| ClassifierError::Stopped)??;
        Ok(Classifier { tx, spec })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Classifies `texts`, returning one result per text in input order.
    pub async fn classify(
        &self,
        texts: Vec<String>,
    ) -> Result<Vec<Classification>, ClassifierError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.send(texts, false).await
    }

    /// Like [`Classifier::classify`], but scores texts in any language (for evaluation).
    pub async fn classify_all(
        &self,
        texts: Vec<String>,
    ) -> Result<Vec<Classification>, ClassifierError> {
        self.send(texts, true).await
    }

    async fn send(
        &self,
        texts: Vec<String>,
        score_all: bool,
    ) -> Result<Vec<Classification>, ClassifierError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job {
                texts,
                score_all,
                reply,
            })
            .await
            .map_err(|_| ClassifierError::Stopped)?;
        rx.await.map_err(|_| ClassifierError::Stopped)?
    }
}

/// Index of the highest probability (the winner of a single-label head); 0 for an empty slice.
pub fn argmax(probs: &[f32]) -> usize {
    probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

/// Where the runtime library is looked for, in order: the config key, `ORT_DYLIB_PATH`, then
/// where `scripts/setup.sh` puts it (next to the binary's repository, then the source tree this
/// binary was built from), so `target/release/cxpulse` works from any directory.
pub fn dylib_candidates(configured: Option<&Path>) -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = configured {
        c.push(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        c.push(PathBuf::from(p));
    }
    let rel = Path::new(".cxpulse/lib/libonnxruntime.so");
    if let Ok(exe) = std::env::current_exe() {
        // target/{release,debug}/cxpulse or target/{release,debug}/deps/it-… → repository root.
        for up in exe.ancestors().skip(1).take(4) {
            c.push(up.join(rel));
        }
    }
    c.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel));
    c
}

pub fn resolve_dylib(configured: Option<&Path>) -> Result<PathBuf, ClassifierError> {
    let cands = dylib_candidates(configured);
    // An explicitly configured path must exist: silently falling back would hide a typo.
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(ClassifierError::RuntimeNotFound {
                tried: p.display().to_string(),
            })
        };
    }
    cands
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| ClassifierError::RuntimeNotFound {
            tried: cands
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// ONNX Runtime allows one environment per process; tests boot several daemons in one process,
/// so the environment is created once and shared.
static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

fn init_runtime(dylib: &Path) -> Result<(), ClassifierError> {
    let r = ENV.get_or_init(|| {
        let builder = ort::init_from(dylib).map_err(|e| e.to_string())?;
        builder
            .with_name("cxpulse")
            .build()
            .map_err(|e| e.to_string())
    });
    match r {
        Ok(_) => Ok(()),
        Err(m) => Err(ClassifierError::RuntimeLoad {
            path: dylib.to_path_buf(),
            message: m.clone(),
        }),
    }
}

fn environment() -> Option<ort::environment::Environment> {
    ENV.get().and_then(|r| r.as_ref().ok()).cloned()
}
