//! From raw items to stored posts: relevance filter, normalisation (ids, pseudonymised authors,
//! times), duplicate check, classification, and one store transaction per batch with its cursor.
//!
//! Sources and the API hand batches to one ingest task through a bounded channel; the task
//! acknowledges each batch once it is durable, which is when a source may move on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::domain::Scorer;
use crate::domain::{now_ms, Post, PostId, RawItem};
use crate::ingest::authenticity::Detector;
use crate::ingest::classifier::model_dir::{self, CalibrationError};
use crate::ingest::classifier::{Classifier, ClassifierError};
use crate::metrics::Metrics;
use crate::sources::relevance::Matcher;
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum PipelineError {
    #[error("classifier: {0}")]
    Classifier(#[from] ClassifierError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("authenticity calibration: {0}")]
    Calibration(#[from] CalibrationError),
    #[error("unknown product `{0}`")]
    UnknownProduct(String),
    #[error("the ingest pipeline has stopped")]
    Stopped,
}

/// What happened to one batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub received: usize,
    pub irrelevant: usize,
    pub duplicates: usize,
    pub stored: usize,
    /// Earlier posts that gained signals from this batch (the first copy of a campaign…).
    pub updated: usize,
}

/// A source's new position, written in the same transaction as the posts read up to it.
#[derive(Debug, Clone)]
pub struct CursorUpdate {
    /// Cursor key: the source name, or `import:…` for a file given to `cxpulse import`.
    pub key: String,
    pub value: Vec<u8>,
}

/// A batch of items from one source for one product.
pub struct Batch {
    pub product: String,
    pub source: String,
    pub items: Vec<RawItem>,
    /// Drop items that mention none of the product's keywords (sources of unknown relevance);
    /// false for data already attributed to the product (API ingest, per-product exports).
    pub require_keywords: bool,
    /// Stored with the posts, in the same transaction.
    pub cursor: Option<CursorUpdate>,
    pub ack: oneshot::Sender<Result<IngestReport, PipelineError>>,
}

/// Names that sites show for many different people: treated as no author, or they would look
/// like one person flooding a product.
const PLACEHOLDER_AUTHORS: &[&str] = &[
    "",
    "anonymous",
    "anon",
    "amazon customer",
    "kindle customer",
    "a customer",
    "customer",
    "verified buyer",
    "verified purchaser",
    "guest",
    "user",
    "[deleted]",
    "deleted",
    "n/a",
    // Feeds and exports write these where they have no author.
    "unknown",
    "unknown author",
    "none",
];

fn is_placeholder_author(name: &str) -> bool {
    let n = name.trim().to_lowercase();
    PLACEHOLDER_AUTHORS.contains(&n.as_str())
}

/// Turns raw items into normalised posts (without classification).
pub struct Normaliser {
    matchers: HashMap<String, Matcher>,
    /// blake3 key derived from the configured salt, computed once (authors are hashed per post).
    author_key: [u8; 32],
    pseudonymise: bool,
}

impl Normaliser {
    pub fn new(cfg: &Config) -> Normaliser {
        Normaliser {
            matchers: cfg
                .products
                .iter()
                .map(|p| (p.id.clone(), Matcher::new(&p.keywords, &p.exclusions)))
                .collect(),
            author_key: *blake3::hash(cfg.storage.author_salt.as_bytes()).as_bytes(),
            pseudonymise: cfg.storage.pseudonymise_authors,
        }
    }

    pub fn knows(&self, product: &str) -> bool {
        self.matchers.contains_key(product)
    }

    /// Salted hash of an author name: stable per instance (so author patterns can be found),
    /// useless for identifying the person without the salt.
    pub fn author(&self, name: &str) -> String {
        if !self.pseudonymise {
            return name.to_string();
        }
        let h = blake3::keyed_hash(&self.author_key, name.trim().to_lowercase().as_bytes());
        format!("anon-{}", &h.to_hex()[..16])
    }

    /// The post for `item`, or `None` when it is not about the product.
    pub fn normalise(
        &self,
        product: &str,
        source: &str,
        item: RawItem,
        require_keywords: bool,
        fetched_ms: i64,
    ) -> Option<Post> {
        if require_keywords {
            let m = self.matchers.get(product)?;
            let hit = m.matches(&item.text) || item.title.as_deref().is_some_and(|t| m.matches(t));
            if !hit {
                return None;
            }
        }
        Some(Post {
            id: PostId::new(product, source, &item.external_id),
            product: product.to_string(),
            source: source.to_string(),
            external_id: item.external_id,
            // Only plain http(s) links are kept: a URL is shown as a link in every output.
            url: item.url.as_deref().and_then(crate::domain::text::http_url),
            author: item
                .author
                .as_deref()
                .filter(|a| !is_placeholder_author(a))
                .map(|a| self.author(a)),
            // Items from the future (clock skew, bad exports) are pinned to the fetch time.
            published_ms: item.published_ms.unwrap_or(fetched_ms).min(fetched_ms),
            fetched_ms,
            language: String::new(),
            title: item.title,
            text: item.text,
            rating: item.rating,
            channel: item.channel,
            classification: Default::default(),
            authenticity: Default::default(),
        })
    }
}

/// The ingest path shared by the daemon, `cxpulse import` and the API.
#[derive(Clone)]
pub struct Pipeline {
    pub normaliser: Arc<Normaliser>,
    pub classifier: Classifier,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Only ever locked inside the blocking store step of `process`, which the single ingest
    /// task (or `import`) runs one batch at a time: the lock is never contended.
    detector: Arc<std::sync::Mutex<Detector>>,
}

/// The text the model reads: the title carries meaning in reviews ("Never again").
pub fn model_input(p: &Post) -> String {
    match &p.title {
        Some(t) if !t.is_empty() && !p.text.starts_with(t.as_str()) => format!("{t}. {}", p.text),
        _ => p.text.clone(),
    }
}

impl Pipeline {
    /// Builds the ingest path and loads the authenticity detector's memory of recent posts from
    /// the store (blocking: call it off the async runtime or before serving).
    pub fn new(
        cfg: &Config,
        classifier: Classifier,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> Result<Pipeline, PipelineError> {
        let scorer = Scorer {
            calibration: model_dir::read_calibration(&cfg.model.dir)?,
        };
        // Feed authors are a site's editors and a Telegram channel is the author of all its
        // posts: publications, not reviewers, so no author pattern for them.
        let editorial = cfg
            .products
            .iter()
            .flat_map(|p| &p.sources)
            .filter(|s| matches!(s.kind_name(), "rss" | "telegram"))
            .map(|s| s.name().to_string())
            .collect();
        let mut detector = Detector::new(cfg.authenticity.clone(), scorer, editorial);
        let products: Vec<String> = cfg.products.iter().map(|p| p.id.clone()).collect();
        detector.rebuild(&store, &products)?;
        metrics.indexed_posts.set(detector.indexed() as i64);
        Ok(Pipeline {
            normaliser: Arc::new(Normaliser::new(cfg)),
            classifier,
            store,
            metrics,
            detector: Arc::new(std::sync::Mutex::new(detector)),
        })
    }

    /// Normalises, classifies and stores `items`; the cursor is stored in the same transaction
    /// and everything is flushed before this returns.
    pub async fn process(
        &self,
        product: &str,
        source: &str,
        items: Vec<RawItem>,
        require_keywords: bool,
        cursor: Option<CursorUpdate>,
    ) -> Result<IngestReport, PipelineError> {
        if !self.normaliser.knows(product) {
            return Err(PipelineError::UnknownProduct(product.to_string()));
        }
        let mut report = IngestReport {
            received: items.len(),
            ..Default::default()
        };
        self.metrics
            .items_fetched
            .with_label_values(&[source])
            .inc_by(items.len() as u64);
        let fetched = now_ms();
        let mut posts = Vec::with_capacity(items.len());
        let mut seen = std::collections::HashSet::new();
        for item in items {
            match self
                .normaliser
                .normalise(product, source, item, require_keywords, fetched)
            {
                None => report.irrelevant += 1,
                // Skip what is already stored (or repeated within the batch) before paying
                // for classification.
                Some(p) if !seen.insert(p.id) || self.store.contains(&p.id)? => {
                    report.duplicates += 1
                }
                Some(p) => posts.push(p),
            }
        }
        if !posts.is_empty() {
            let t = Instant::now();
            let texts = posts.iter().map(model_input).collect();
            let results = self.classifier.classify(texts).await?;
            self.metrics
                .classify_seconds
                .with_label_values(&["pipeline"])
                .observe(t.elapsed().as_secs_f64());
            self.metrics
                .classified_texts
                .with_label_values(&["pipeline"])
                .inc_by(posts.len() as u64);
            for (p, c) in posts.iter_mut().zip(results) {
                p.language = c.language.clone();
                p.classification = c;
            }
        }
        if posts.is_empty() && cursor.is_none() {
            self.count(product, source, &report);
            return Ok(report);
        }
        let t = Instant::now();
        let store = self.store.clone();
        let detector = self.detector.clone();
        let (outcome, posts, retro, indexed) = tokio::task::spawn_blocking(move || {
            // A panic while the lock was held may have left the detector half-updated; its
            // state is only a cache of the store, so carry on with it rather than stop ingest.
            let mut d = detector.lock().unwrap_or_else(|e| e.into_inner());
            let retro = d.assess(&mut posts, &store)?;
            let o = store.ingest(
                &posts,
                &retro,
                d.scorer(),
                cursor
                    .as_ref()
                    .map(|c| (c.key.as_str(), c.value.as_slice())),
            )?;
            // The detector remembers only what is durable: a flush the disk refuses leaves
            // it as it was, so the batch's signals are raised again when the batch comes back
            // (after a restart, or after the store is reopened in-process, storage_watch.rs).
            store.flush_blocking()?;
            d.commit(&posts, &retro);
            Ok::<_, StoreError>((o, posts, retro, d.indexed()))
        })
        .await
        .map_err(|_| PipelineError::Stopped)??;
        self.count_signals(product, &posts, &retro);
        self.metrics.indexed_posts.set(indexed as i64);
        report.updated = outcome.updated;
        self.metrics
            .store_write_seconds
            .with_label_values(&[source])
            .observe(t.elapsed().as_secs_f64());
        report.stored = outcome.inserted;
        report.duplicates += outcome.duplicates;
        self.count(product, source, &report);
        self.metrics
            .stored_posts
            .set(self.store.post_count() as i64);
        Ok(report)
    }

    /// Counts the signals raised: on the new posts, and those earlier posts gained.
    fn count_signals(&self, product: &str, posts: &[Post], retro: &[crate::domain::Retro]) {
        for s in retro.iter().flat_map(|r| &r.signals) {
            self.metrics
                .signals
                .with_label_values(&[product, s.kind.name()])
                .inc();
        }
        for p in posts {
            for s in &p.authenticity.signals {
                self.metrics
                    .signals
                    .with_label_values(&[product, s.kind.name()])
                    .inc();
            }
            if p.authenticity.suspicious {
                self.metrics
                    .suspicious_posts
                    .with_label_values(&[product])
                    .inc();
            }
        }
    }

    fn count(&self, product: &str, source: &str, r: &IngestReport) {
        self.metrics
            .posts_stored
            .with_label_values(&[product, source])
            .inc_by(r.stored as u64);
        self.metrics
            .posts_duplicate
            .with_label_values(&[source])
            .inc_by(r.duplicates as u64);
        self.metrics
            .items_irrelevant
            .with_label_values(&[source])
            .inc_by(r.irrelevant as u64);
    }

    /// Serves batches from `rx` one at a time until every sender is gone, so that on shutdown
    /// the batches already handed over are still classified and stored.
    pub async fn serve(self, mut rx: mpsc::Receiver<Batch>) {
        while let Some(b) = rx.recv().await {
            let r = self
                .process(&b.product, &b.source, b.items, b.require_keywords, b.cursor)
                .await;
            if let Err(e) = &r {
                tracing::error!(product = %b.product, source = %b.source, error = %e, "batch not stored");
            }
            let _ = b.ack.send(r);
        }
    }
}

/// Hands a batch to the ingest task and waits until it is stored.
pub async fn submit(
    tx: &mpsc::Sender<Batch>,
    product: &str,
    source: &str,
    items: Vec<RawItem>,
    require_keywords: bool,
    cursor: Option<CursorUpdate>,
) -> Result<IngestReport, PipelineError> {
    let (ack, rx) = oneshot::channel();
    tx.send(Batch {
        product: product.to_string(),
        source: source.to_string(),
        items,
        require_keywords,
        cursor,
        ack,
    })
    .await
    .map_err(|_| PipelineError::Stopped)?;
    rx.await.map_err(|_| PipelineError::Stopped)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_names_are_no_author() {
        for n in [
            "Unknown",
            " unknown author ",
            "Anonymous",
            "Verified Buyer",
            "[deleted]",
        ] {
            assert!(is_placeholder_author(n), "{n}");
        }
        for n in ["Jo", "unknownpleasures", "Ann Known"] {
            assert!(!is_placeholder_author(n), "{n}");
        }
    }
}
