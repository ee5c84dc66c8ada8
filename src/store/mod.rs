//! The embedded sled store: posts, the time index, trend aggregates, source cursors and metadata.
//!
//! One tree per entity: `posts` (time-ordered records), `post_ids` (id → record key, for
//! duplicate checks), `aggregates`, `cursors`, `meta`. A batch of posts, their ids, their
//! aggregate updates, the post count and the cursor of the source they came from are written in
//! one transaction, so after a crash either all of a batch is there (and the cursor says so) or
//! none of it is, and re-ingesting it is a no-op.
//!
//! The outbox trees (`messages`, `deliveries`, `alert_state`) hold what the daemon produced
//! to send and how far each delivery got; see `outbox.rs`.

pub mod backup;
pub mod codec;
mod forget;
mod index;
pub mod keys;
mod migrate;
mod outbox;
pub mod retention;
pub mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use thiserror::Error;

pub use codec::{
    Aggregate, AlertState, DeliveryRecord, DeliveryState, Slot, SlotKind, StoredMessage,
};
pub use forget::ForgetOutcome;
pub use keys::{Granularity, MessageKey};

use crate::domain::{Cancel, Post, PostId};
use crate::domain::{Retro, Scorer, SignalKind};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another cxpulse process (is the daemon running? stop it, or use the HTTP API)")]
    Locked { path: PathBuf },
    #[error("cannot open the store at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("the store at {path} has schema version {found}, newer than this build's {supported}; upgrade cxpulse")]
    SchemaTooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the store at {path} has schema version {found} from a development build before the first release; move it aside and re-import (sources re-fetch, `cxpulse import` re-reads files)")]
    SchemaTooOld { path: PathBuf, found: u32 },
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record in tree `{tree}`: {detail}")]
    Corrupt { tree: &'static str, detail: String },
    #[error("backup: {0}")]
    Backup(String),
    #[error("the storage refuses writes ({detail}); they resume once it takes them again")]
    Unwritable { detail: String },
    #[error("the store is being reopened after a storage failure; try again in a moment")]
    Reopening,
    /// The caller raised the query's cancel flag (its client went away); nothing was changed.
    #[error("the query was cancelled")]
    Cancelled,
}

impl StoreError {
    /// The disk refused a write, or the store refuses writes (or is reopening) because of an
    /// earlier refusal: nothing the caller did wrong, and it passes.
    pub fn is_storage_failure(&self) -> bool {
        matches!(
            self,
            StoreError::Unwritable { .. }
                | StoreError::Reopening
                | StoreError::Sled(sled::Error::Io(_))
        )
    }
}

/// What one ingest did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IngestOutcome {
    pub inserted: usize,
    pub duplicates: usize,
    /// Earlier posts whose signals this batch extended.
    pub updated: usize,
}

/// Filters of a post listing (newest first, keyset-paginated).
#[derive(Debug, Clone, Default)]
pub struct PostQuery {
    pub product: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub source: Option<String>,
    /// `head.label` or a bare label name searched in every head.
    pub label: Option<String>,
    pub min_score: Option<f32>,
    /// Only posts carrying this signal.
    pub signal: Option<SignalKind>,
    /// Only posts whose review genuineness is in doubt (true) or not (false).
    pub suspicious: Option<bool>,
    pub limit: usize,
    /// Continue after this (published, id), exclusive.
    pub after: Option<(i64, PostId)>,
}

#[derive(Debug, Clone)]
pub struct PostPage {
    pub posts: Vec<Post>,
    /// Where to continue; `None` when the range is exhausted.
    pub next: Option<(i64, PostId)>,
}

/// A post listing scans at most this many index entries per call, so a filter that matches
/// nothing cannot turn one request into a scan of the whole product; the caller gets a cursor.
const MAX_SCAN_PER_PAGE: usize = 20_000;

/// Records between two looks at a query's cancel flag: a few hundred microseconds of work.
const CANCEL_CHECK_EVERY: usize = 256;

/// The open sled database and its trees; replaced as a whole when the store is reopened after
/// a storage failure (see [`Store::try_recover`]).
struct Trees {
    db: sled::Db,
    posts: sled::Tree,
    post_ids: sled::Tree,
    aggregates: sled::Tree,
    cursors: sled::Tree,
    meta: sled::Tree,
    /// Label, signal and suspicion entries per post, for filtered listings (index.rs).
    post_index: sled::Tree,
    /// Digests and alerts as produced, their delivery records, and alert episodes (outbox.rs).
    messages: sled::Tree,
    deliveries: sled::Tree,
    alert_state: sled::Tree,
}

#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    /// `None` only while a reopen is under way. Every method clones the `Arc` for the length
    /// of its work (iterators keep it too), so a reopen can tell when the old database is no
    /// longer used and its file lock is released.
    trees: Arc<RwLock<Option<Arc<Trees>>>>,
    /// Set when the disk refused a write (full, read-only, I/O error): sled refuses every
    /// later write of that open database, so writes are refused up front until a reopen.
    failure: Arc<std::sync::Mutex<Option<String>>>,
    slots: Arc<RwLock<Arc<Vec<Slot>>>>,
    /// Mirror of `meta/post_count`: sled's `len()` is a full scan.
    count: Arc<AtomicU64>,
    /// Every write holds the shared side for its duration; a backup holds the exclusive side,
    /// so its snapshot never has half a transaction (sled has no cross-tree snapshots).
    gate: Arc<RwLock<()>>,
    /// When each product's posts or buckets last changed; readers that keep answers
    /// (api/cache.rs) compare it. In memory only: a restarted daemon starts with no answers.
    changes: Arc<Changes>,
}

/// A logical clock of data changes: every write that changes a product's posts or buckets
/// stamps that product with the next tick; a change to every product (new label slots)
/// stamps `all`.
#[derive(Debug, Default)]
struct Changes {
    clock: AtomicU64,
    all: AtomicU64,
    by_product: std::sync::Mutex<HashMap<String, u64>>,
}

impl Changes {
    fn touch<'a>(&self, products: impl IntoIterator<Item = &'a str>) {
        let tick = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        let mut m = self.by_product.lock().expect("changes lock poisoned");
        for p in products {
            match m.get_mut(p) {
                Some(t) => *t = tick,
                None => {
                    m.insert(p.to_owned(), tick);
                }
            }
        }
    }

    fn touch_all(&self) {
        let tick = self.clock.fetch_add(1, Ordering::SeqCst) + 1;
        self.all.store(tick, Ordering::SeqCst);
    }

    fn version(&self, product: &str) -> u64 {
        let own = self
            .by_product
            .lock()
            .expect("changes lock poisoned")
            .get(product)
            .copied()
            .unwrap_or(0);
        own.max(self.all.load(Ordering::SeqCst))
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn corrupt(tree: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        tree,
        detail: e.to_string(),
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, migrating an older schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let store = Store {
            path: path.to_path_buf(),
            trees: Arc::new(RwLock::new(Some(Arc::new(open_trees(path)?)))),
            failure: Arc::new(std::sync::Mutex::new(None)),
            slots: Arc::new(RwLock::new(Arc::new(Vec::new()))),
            count: Arc::new(AtomicU64::new(0)),
            gate: Arc::new(RwLock::new(())),
            changes: Arc::new(Changes::default()),
        };
        store.check_schema()?;
        store.load_state()?;
        if index::ensure_built(&*store.t()?, &store.slots())? {
            tracing::info!(path = %path.display(), "built the filter index from the stored posts");
        }
        Ok(store)
    }

    /// [`Store::open`], waiting up to `wait` while another holder keeps the lock: another
    /// process for a moment (a CLI read), or this process just after closing the store (sled
    /// lets go of its file lock only when its last I/O thread has).
    pub fn open_waiting(path: &Path, wait: std::time::Duration) -> Result<Store, StoreError> {
        retry_locked(wait, || Store::open(path))
    }

    /// Reads the post count and the label slots from `meta` into memory.
    fn load_state(&self) -> Result<(), StoreError> {
        let t = self.t()?;
        let count = match t.meta.get(keys::META_POST_COUNT)? {
            Some(b) => keys::count_from_bytes(&b)
                .ok_or_else(|| corrupt("meta", "post count is not 8 bytes"))?,
            None => 0,
        };
        self.count.store(count, Ordering::Relaxed);
        let slots = match t.meta.get(keys::META_LABELS)? {
            Some(b) => codec::decode_slots(&b).map_err(|e| corrupt("meta", e))?,
            None => Vec::new(),
        };
        *self.slots.write().expect("slots lock poisoned") = Arc::new(slots);
        Ok(())
    }

    /// The open trees, for one method's work.
    fn t(&self) -> Result<Arc<Trees>, StoreError> {
        self.trees
            .read()
            .expect("trees lock poisoned")
            .clone()
            .ok_or(StoreError::Reopening)
    }

    /// The shared side of the write gate and the trees, or why nothing may be written now.
    fn writer(&self) -> Result<Writer<'_>, StoreError> {
        let gate = self.write_gate();
        if let Some(detail) = self.storage_failure() {
            return Err(StoreError::Unwritable { detail });
        }
        Ok(Writer {
            _gate: gate,
            t: self.t()?,
        })
    }

    /// Converts a sled error, remembering an I/O failure: from then on writes are refused
    /// until [`Store::try_recover`] reopens the database.
    fn sled_err(&self, e: sled::Error) -> StoreError {
        if let sled::Error::Io(io) = &e {
            let mut f = self.failure.lock().expect("failure lock poisoned");
            if f.is_none() {
                tracing::error!(error = %io, path = %self.path.display(),
                    "the storage refused a write; writes stop until it accepts them again");
                *f = Some(io.to_string());
            }
        }
        StoreError::Sled(e)
    }

    /// Why writes are refused, while they are (disk full, read-only, I/O error).
    pub fn storage_failure(&self) -> Option<String> {
        self.failure.lock().expect("failure lock poisoned").clone()
    }

    /// After a storage failure: if the disk takes writes again (a probe file of
    /// [`PROBE_BYTES`] is written, synced and removed), reopens the database and allows writes
    /// again. Writes that were not flushed when the failure came were never acknowledged; the
    /// reopened store is the last flushed state, so nothing acknowledged is lost. Reads wait
    /// on nothing but fail with [`StoreError::Reopening`] for the moment of the reopen.
    /// `Ok(false)`: there was nothing to recover from.
    pub fn try_recover(&self) -> Result<bool, StoreError> {
        if self.storage_failure().is_none() {
            return Ok(false);
        }
        probe_space(&self.path).map_err(|e| StoreError::Unwritable {
            detail: format!("still refused: {e}"),
        })?;
        let _gate = self.gate.write().expect("write gate poisoned");
        let old = self.trees.write().expect("trees lock poisoned").take();
        if let Some(mut old) = old {
            // Readers finish what they started on the old database; its file lock goes with
            // the last handle.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                match Arc::try_unwrap(old) {
                    Ok(trees) => {
                        drop(trees);
                        break;
                    }
                    Err(still) if std::time::Instant::now() < deadline => {
                        old = still;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(still) => {
                        *self.trees.write().expect("trees lock poisoned") = Some(still);
                        return Err(StoreError::Unwritable {
                            detail: "the old database is still in use; retrying".into(),
                        });
                    }
                }
            }
        }
        let trees = retry_locked(REOPEN_LOCK_WAIT, || open_trees(&self.path))?;
        *self.trees.write().expect("trees lock poisoned") = Some(Arc::new(trees));
        self.load_state()?;
        *self.failure.lock().expect("failure lock poisoned") = None;
        // Answers computed from writes that never reached the disk must not outlive them.
        self.changes.touch_all();
        tracing::info!(path = %self.path.display(), "the storage takes writes again; store reopened");
        Ok(true)
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let t = self.t()?;
        match t.meta.get(keys::META_SCHEMA)? {
            None => {
                t.meta
                    .insert(keys::META_SCHEMA, &keys::SCHEMA_VERSION.to_be_bytes())?;
                Ok(())
            }
            Some(v) => {
                let found = u32::from_be_bytes(
                    v.as_ref()
                        .try_into()
                        .map_err(|_| corrupt("meta", "schema version is not 4 bytes"))?,
                );
                if found > keys::SCHEMA_VERSION {
                    return Err(StoreError::SchemaTooNew {
                        path: self.path.clone(),
                        found,
                        supported: keys::SCHEMA_VERSION,
                    });
                }
                if found < migrate::OLDEST_MIGRATABLE {
                    // Version 1 (posts keyed by id, a separate time index) only ever existed
                    // in development builds before the first release: no migration is offered.
                    return Err(StoreError::SchemaTooOld {
                        path: self.path.clone(),
                        found,
                    });
                }
                if found < keys::SCHEMA_VERSION {
                    migrate::migrate(&t, found, &self.path)?;
                }
                Ok(())
            }
        }
    }

    /// The shared side of the write gate; taken by every method that writes, never nested.
    fn write_gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().expect("write gate poisoned")
    }

    /// A number that changes whenever something `posts_page` or `aggregates` read for
    /// `product` changes. Read it *before* reading the data: an answer kept under the version
    /// read first can only be older than that version, never newer, so it is never reused
    /// after a change.
    pub fn data_version(&self, product: &str) -> u64 {
        self.changes.version(product)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The label slots known to the store, in slot order.
    pub fn slots(&self) -> Arc<Vec<Slot>> {
        self.slots.read().expect("slots lock poisoned").clone()
    }

    /// Makes sure every (head, label) of a model has a slot; new ones are appended.
    pub fn register_slots(&self, wanted: &[Slot]) -> Result<Arc<Vec<Slot>>, StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        let mut guard = self.slots.write().expect("slots lock poisoned");
        let mut slots: Vec<Slot> = guard.as_ref().clone();
        let mut changed = false;
        for w in wanted {
            if !slots.iter().any(|s| s.head == w.head && s.label == w.label) {
                slots.push(w.clone());
                changed = true;
            }
        }
        if changed {
            t.meta
                .insert(keys::META_LABELS, codec::encode_slots(&slots))
                .map_err(|e| self.sled_err(e))?;
            t.meta.flush().map_err(|e| self.sled_err(e))?;
            *guard = Arc::new(slots);
            self.changes.touch_all();
        }
        Ok(guard.clone())
    }

    /// Stores `posts` (skipping those already stored), the signals that earlier posts gained
    /// (`retro`, rescored with `scorer`) and the source's new cursor, in one transaction.
    /// Durable once [`Store::flush`] returns.
    pub fn ingest(
        &self,
        posts: &[Post],
        retro: &[Retro],
        scorer: &Scorer,
        cursor: Option<(&str, &[u8])>,
    ) -> Result<IngestOutcome, StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        let slots = self.slots();
        // Encoding happens outside the transaction: a conflict retry must not redo it.
        struct Encoded {
            key: [u8; keys::POST_KEY_LEN],
            record: Vec<u8>,
            /// This post's contribution to its buckets.
            delta: Aggregate,
            index: Vec<([u8; index::KEY_LEN], Vec<u8>)>,
        }
        let encoded: Vec<Encoded> = posts
            .iter()
            .map(|p| {
                let (scores, labels) = codec::classification_to_slots(&p.classification, &slots);
                let mut delta = Aggregate::default();
                delta.add_post(p, &scores, &labels, &slots);
                let key = keys::post_key(&p.product, p.published_ms, &p.id);
                Encoded {
                    index: index::entries(&key, p, &scores, &labels),
                    record: codec::encode_post(p, &scores, &labels),
                    key,
                    delta,
                }
            })
            .collect();
        let trees = (
            &t.posts,
            &t.post_ids,
            &t.aggregates,
            &t.cursors,
            &t.meta,
            &t.post_index,
        );
        let res = trees.transaction(|(tp, ti, ta, tc, tm, tx)| {
            let mut out = IngestOutcome::default();
            let mut deltas: HashMap<[u8; keys::AGG_LEN], Aggregate> = HashMap::new();
            for (p, e) in posts.iter().zip(&encoded) {
                let ik = keys::id_key(&p.id);
                if ti.get(ik)?.is_some() {
                    out.duplicates += 1;
                    continue;
                }
                ti.insert(&ik[..], &e.key[..])?;
                tp.insert(&e.key[..], e.record.as_slice())?;
                index::replace(tx, &[], &e.index)?;
                add_to_buckets(&mut deltas, p, &e.delta);
                out.inserted += 1;
            }
            for r in retro {
                let key = keys::post_key(&r.product, r.published_ms, &r.id);
                let Some(bytes) = tp.get(key)? else { continue };
                let mut p = codec::decode_post(r.id, &bytes, &slots)
                    .map_err(|e| ConflictableTransactionError::Abort(corrupt("posts", e)))?;
                let old = p.authenticity.clone();
                let old_index = index::entries_of_record(&key, &p, &slots);
                let mut changed = false;
                for s in &r.signals {
                    changed |= p.authenticity.merge(s.clone());
                }
                if !changed {
                    continue;
                }
                scorer.score(&p.classification, &mut p.authenticity);
                // Never less doubt than before, even under a newer calibration than the one
                // the post was first scored with: bucket deltas can only add.
                p.authenticity.genuineness = p.authenticity.genuineness.min(old.genuineness);
                p.authenticity.suspicious |= old.suspicious;
                let (scores, labels) = codec::classification_to_slots(&p.classification, &slots);
                tp.insert(&key[..], codec::encode_post(&p, &scores, &labels))?;
                index::replace(tx, &old_index, &index::entries(&key, &p, &scores, &labels))?;
                let delta = Aggregate::authenticity_change(&old, &p.authenticity);
                add_to_buckets(&mut deltas, &p, &delta);
                out.updated += 1;
            }
            for (k, d) in &deltas {
                let mut cur = match ta.get(k)? {
                    Some(b) => codec::decode_aggregate(&b).map_err(|e| {
                        ConflictableTransactionError::Abort(corrupt("aggregates", e))
                    })?,
                    None => Aggregate::default(),
                };
                cur.add(d);
                ta.insert(&k[..], codec::encode_aggregate(&cur))?;
            }
            if out.inserted > 0 {
                let before = match tm.get(keys::META_POST_COUNT)? {
                    Some(b) => keys::count_from_bytes(&b).unwrap_or(0),
                    None => 0,
                };
                let after = before + out.inserted as u64;
                tm.insert(keys::META_POST_COUNT, &keys::count_bytes(after)[..])?;
            }
            if let Some((source, c)) = cursor {
                tc.insert(keys::cursor_key(source), c)?;
            }
            Ok(out)
        });
        match res {
            Ok(o) => {
                self.count.fetch_add(o.inserted as u64, Ordering::Relaxed);
                if o.inserted > 0 || o.updated > 0 {
                    let posts = posts.iter().map(|p| p.product.as_str());
                    self.changes
                        .touch(posts.chain(retro.iter().map(|r| r.product.as_str())));
                }
                Ok(o)
            }
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(self.sled_err(e)),
        }
    }

    /// Waits until everything written so far is on disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let t = self.t()?;
        t.db.flush_async().await.map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let t = self.t()?;
        t.db.flush().map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub fn cursor(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.t()?;
        Ok(t.cursors.get(keys::cursor_key(source))?.map(|v| v.to_vec()))
    }

    /// Posts stored (all products); a counter, not a scan.
    pub fn post_count(&self) -> usize {
        self.count.load(Ordering::Relaxed) as usize
    }

    pub fn get_post(&self, id: &PostId) -> Result<Option<Post>, StoreError> {
        let t = self.t()?;
        let Some(key) = t.post_ids.get(keys::id_key(id))? else {
            return Ok(None);
        };
        let slots = self.slots();
        match t.posts.get(key)? {
            Some(b) => Ok(Some(
                codec::decode_post(*id, &b, &slots).map_err(|e| corrupt("posts", e))?,
            )),
            None => Err(corrupt(
                "post_ids",
                format!("id {id} points at a missing post"),
            )),
        }
    }

    /// A page of a product's posts, newest first.
    pub fn posts_page(&self, q: &PostQuery) -> Result<PostPage, StoreError> {
        self.posts_page_until(q, &Cancel::never())
    }

    /// [`Store::posts_page`], stopping with [`StoreError::Cancelled`] once `cancel` is raised.
    pub fn posts_page_until(&self, q: &PostQuery, cancel: &Cancel) -> Result<PostPage, StoreError> {
        let t = self.t()?;
        let slots = self.slots();
        if let Some(plan) = index::plan(q, &slots) {
            return self.page_from_index(&t, &slots, q, &plan, cancel);
        }
        let (lo, hi_range) = keys::post_range(&q.product, q.from_ms, q.to_ms);
        let hi: Vec<u8> = match &q.after {
            Some((ts, id)) => keys::post_key(&q.product, *ts, id).to_vec(),
            None => hi_range.to_vec(),
        };
        let label = label_filter(q);
        let mut posts = Vec::new();
        let mut last = None;
        let mut scanned = 0usize;
        let mut exhausted = true;
        for item in t.posts.range(lo.to_vec()..hi).rev() {
            let (k, v) = item?;
            let (ts, id) =
                keys::split_post_key(&k).ok_or_else(|| corrupt("posts", "key of wrong length"))?;
            last = Some((ts, id));
            scanned += 1;
            if scanned % CANCEL_CHECK_EVERY == 0 && cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            let p = codec::decode_post(id, &v, &slots).map_err(|e| corrupt("posts", e))?;
            if post_matches(&p, q, label.as_ref()) {
                posts.push(p);
            }
            if posts.len() >= q.limit || scanned >= MAX_SCAN_PER_PAGE {
                exhausted = false;
                break;
            }
        }
        Ok(PostPage {
            posts,
            next: if exhausted { None } else { last },
        })
    }

    /// [`Store::posts_page_until`] for a query with an indexed filter: reads the filter's
    /// index ranges, so the cost follows the matches, not the product's size.
    fn page_from_index(
        &self,
        t: &Trees,
        slots: &[Slot],
        q: &PostQuery,
        plan: &index::Plan,
        cancel: &Cancel,
    ) -> Result<PostPage, StoreError> {
        let label = label_filter(q);
        let mut posts = Vec::new();
        let mut last = None;
        let mut exhausted = true;
        for (scanned, c) in plan.candidates(&t.post_index, q).enumerate() {
            let (key, pass) = c?;
            let (ts, id) = keys::split_post_key(&key).expect("a post key");
            last = Some((ts, id));
            if scanned % CANCEL_CHECK_EVERY == 0 && cancel.is_cancelled() {
                return Err(StoreError::Cancelled);
            }
            if pass {
                let Some(v) = t.posts.get(key)? else {
                    return Err(corrupt(
                        "post_index",
                        format!("entry for missing post {id}"),
                    ));
                };
                let p = codec::decode_post(id, &v, slots).map_err(|e| corrupt("posts", e))?;
                if post_matches(&p, q, label.as_ref()) {
                    posts.push(p);
                }
            }
            if posts.len() >= q.limit || scanned + 1 >= MAX_SCAN_PER_PAGE {
                exhausted = false;
                break;
            }
        }
        Ok(PostPage {
            posts,
            next: if exhausted { None } else { last },
        })
    }

    /// Every stored post of a product in `[from, to)`, oldest first (for export and recounts).
    pub fn scan_posts(
        &self,
        product: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Iterator<Item = Result<Post, StoreError>> + '_ {
        self.scan(product, from_ms, to_ms, false)
    }

    /// Every stored post of a product in `[from, to)`, newest first.
    pub fn scan_posts_rev(
        &self,
        product: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> impl Iterator<Item = Result<Post, StoreError>> + '_ {
        self.scan(product, from_ms, to_ms, true)
    }

    fn scan(
        &self,
        product: &str,
        from_ms: i64,
        to_ms: i64,
        newest_first: bool,
    ) -> Box<dyn Iterator<Item = Result<Post, StoreError>> + '_> {
        let t = match self.t() {
            Ok(t) => t,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let slots = self.slots();
        let (lo, hi) = keys::post_range(product, from_ms, to_ms);
        let range = t.posts.range(lo..hi);
        let items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if newest_first {
                Box::new(range.rev())
            } else {
                Box::new(range)
            };
        Box::new(items.map(move |item| {
            // The iterator holds the trees while it lives: a reopen waits for it.
            let _trees = &t;
            let (k, v) = item?;
            decode_record(&k, &v, &slots)
        }))
    }

    /// Each source's buckets of `[from, to)` summed into one aggregate per source, by name.
    pub fn aggregates_by_source(
        &self,
        product: &str,
        g: Granularity,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, Aggregate>, StoreError> {
        let t = self.t()?;
        let mut out = std::collections::BTreeMap::new();
        let all = keys::source_key(keys::ALL_SOURCES);
        for item in t.aggregates.scan_prefix(keys::agg_prefix(product, g)) {
            let (k, v) = item?;
            let (src, bucket) =
                keys::agg_source_bucket(&k).ok_or_else(|| corrupt("aggregates", "bad key"))?;
            if src == all || bucket < g.bucket_start(from_ms) || bucket >= to_ms {
                continue;
            }
            let a = codec::decode_aggregate(&v).map_err(|e| corrupt("aggregates", e))?;
            out.entry(a.source.clone())
                .or_insert_with(Aggregate::default)
                .add(&a);
        }
        Ok(out)
    }

    /// Buckets of one granularity in `[from, to)` of one source, or summed over all sources,
    /// in time order. Empty buckets are absent.
    pub fn aggregates(
        &self,
        product: &str,
        g: Granularity,
        from_ms: i64,
        to_ms: i64,
        source: Option<&str>,
    ) -> Result<Vec<(i64, Aggregate)>, StoreError> {
        let t = self.t()?;
        let src = source.unwrap_or(keys::ALL_SOURCES);
        let (lo, hi) = keys::agg_range(product, g, src, from_ms, to_ms);
        let mut out = Vec::new();
        for item in t.aggregates.range(lo..hi) {
            let (k, v) = item?;
            let bucket = keys::agg_bucket(&k).ok_or_else(|| corrupt("aggregates", "bad key"))?;
            let mut a = codec::decode_aggregate(&v).map_err(|e| corrupt("aggregates", e))?;
            if source.is_none() {
                a.source.clear();
            }
            out.push((bucket, a));
        }
        Ok(out)
    }

    /// Recounts every aggregate of every product from the stored posts and compares; checks the
    /// id index and the post counter too. The operator's (and the crash test's) proof that
    /// counters and posts agree.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let t = self.t()?;
        let slots = self.slots();
        let mut expected: HashMap<[u8; keys::AGG_LEN], Aggregate> = HashMap::new();
        let mut report = VerifyReport::default();
        for item in t.posts.iter() {
            let (k, v) = item?;
            let p = decode_record(&k, &v, &slots)?;
            report.posts += 1;
            if t.post_ids.get(keys::id_key(&p.id))?.as_deref() != Some(&k[..]) {
                report
                    .problems
                    .push(format!("post {} is missing from the id index", p.id));
            }
            count_post(&mut expected, &p, &slots);
        }
        let ids = t.post_ids.len();
        if ids != report.posts {
            report.problems.push(format!(
                "id index has {ids} entries for {} posts",
                report.posts
            ));
        }
        if self.post_count() != report.posts {
            report.problems.push(format!(
                "post counter says {} for {} posts",
                self.post_count(),
                report.posts
            ));
        }
        report.problems.extend(index::check(&t, &slots)?);
        let mut seen = 0usize;
        for item in t.aggregates.iter() {
            let (k, v) = item?;
            let a = codec::decode_aggregate(&v).map_err(|e| corrupt("aggregates", e))?;
            seen += 1;
            let found = <[u8; keys::AGG_LEN]>::try_from(k.as_ref())
                .ok()
                .and_then(|k| expected.get(&k));
            match found {
                None => report
                    .problems
                    .push(format!("aggregate for source {} has no posts", a.source)),
                Some(e) if !aggregates_close(e, &a) => report.problems.push(format!(
                    "aggregate for source {} differs from recount: stored count {} vs {}",
                    a.source, a.count, e.count
                )),
                Some(_) => {}
            }
        }
        if seen != expected.len() {
            report.problems.push(format!(
                "{} aggregate buckets stored, {} expected",
                seen,
                expected.len()
            ));
        }
        report.buckets = seen;
        Ok(report)
    }
}

/// Adds `delta` to the post's hour and day buckets, under its source and under all sources:
/// the one rule of which buckets a post counts in (ingest, retro updates and verify share it).
/// A stored record, by its `posts` key, as a post.
fn decode_record(k: &[u8], v: &[u8], slots: &[Slot]) -> Result<Post, StoreError> {
    let (_, id) = keys::split_post_key(k).ok_or_else(|| corrupt("posts", "key of wrong length"))?;
    codec::decode_post(id, v, slots).map_err(|e| corrupt("posts", e))
}

/// Adds one stored post's whole contribution to its buckets, as ingest counted it: what a
/// recount (verify, migration) sums and what forget subtracts.
fn count_post(deltas: &mut HashMap<[u8; keys::AGG_LEN], Aggregate>, p: &Post, slots: &[Slot]) {
    let (scores, labels) = codec::classification_to_slots(&p.classification, slots);
    let mut one = Aggregate::default();
    one.add_post(p, &scores, &labels, slots);
    add_to_buckets(deltas, p, &one);
}

fn add_to_buckets(
    deltas: &mut HashMap<[u8; keys::AGG_LEN], Aggregate>,
    p: &Post,
    delta: &Aggregate,
) {
    for g in [Granularity::Hour, Granularity::Day] {
        let bucket = g.bucket_start(p.published_ms);
        for src in [p.source.as_str(), keys::ALL_SOURCES] {
            deltas
                .entry(keys::agg_key(&p.product, g, src, bucket))
                .or_insert_with(|| Aggregate {
                    source: src.to_string(),
                    ..Default::default()
                })
                .add(delta);
        }
    }
}

/// Result of [`Store::verify`].
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    pub posts: usize,
    pub buckets: usize,
    pub problems: Vec<String>,
}

/// Counts must match exactly; float sums are compared with a tolerance because a recount adds in
/// a different order than ingest did.
fn aggregates_close(a: &Aggregate, b: &Aggregate) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs()));
    let vclose = |x: &[f64], y: &[f64]| {
        let n = x.len().max(y.len());
        (0..n).all(|i| close(*x.get(i).unwrap_or(&0.0), *y.get(i).unwrap_or(&0.0)))
    };
    let vcount = |x: &[u64], y: &[u64]| {
        let n = x.len().max(y.len());
        (0..n).all(|i| x.get(i).unwrap_or(&0) == y.get(i).unwrap_or(&0))
    };
    a.count == b.count
        && a.scored == b.scored
        && a.rating_count == b.rating_count
        && a.rating_hist == b.rating_hist
        && close(a.rating_sum, b.rating_sum)
        && close(a.sentiment_sum, b.sentiment_sum)
        && vclose(&a.prob_sums, &b.prob_sums)
        && vcount(&a.label_counts, &b.label_counts)
        && vcount(&a.dominant_counts, &b.dominant_counts)
        && a.suspicious == b.suspicious
        && close(a.genuineness_sum, b.genuineness_sum)
        && vcount(&a.signal_counts, &b.signal_counts)
}

/// A query's `label` as (head, label); a bare label has no head.
fn label_filter(q: &PostQuery) -> Option<(Option<String>, String)> {
    q.label.as_deref().map(|l| match l.split_once('.') {
        Some((h, l)) => (Some(h.to_string()), l.to_string()),
        None => (None, l.to_string()),
    })
}

fn post_matches(p: &Post, q: &PostQuery, label: Option<&(Option<String>, String)>) -> bool {
    if let Some(s) = &q.source {
        if &p.source != s {
            return false;
        }
    }
    if let Some(k) = q.signal {
        if !p.authenticity.has(k) {
            return false;
        }
    }
    if let Some(s) = q.suspicious {
        if p.authenticity.suspicious != s {
            return false;
        }
    }
    if let Some((head, label)) = label {
        let heads: Vec<&String> = match head {
            Some(h) => vec![h],
            None => p.classification.heads.keys().collect(),
        };
        let ok = heads.iter().any(|h| match q.min_score {
            Some(m) => p.classification.score(h, label).is_some_and(|s| s >= m),
            None => p.classification.has_label(h, label, 0.5),
        });
        if !ok {
            return false;
        }
    } else if let Some(m) = q.min_score {
        // Without a label, min_score applies to the strongest emotion other than neutral.
        let best = match p.classification.heads.get("emotions") {
            Some(crate::domain::HeadResult::Labels { scores, .. }) => scores
                .iter()
                .filter(|(l, _)| l.as_str() != "neutral")
                .map(|(_, s)| *s)
                .fold(0.0f32, f32::max),
            _ => 0.0,
        };
        if best < m {
            return false;
        }
    }
    true
}

impl Store {
    pub fn contains(&self, id: &PostId) -> Result<bool, StoreError> {
        let t = self.t()?;
        Ok(t.post_ids.contains_key(keys::id_key(id))?)
    }
}

/// Bytes written by the recovery probe: enough that a disk with only a sliver free still
/// counts as full.
const PROBE_BYTES: usize = 4 * 1024 * 1024;

fn probe_space(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let probe = dir.join("space-probe.tmp");
    let res = (|| {
        let mut f = std::fs::File::create(&probe)?;
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    res
}

/// How long a reopen (or a restore's check of what it built) waits for the lock this process
/// has just let go of.
pub const REOPEN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `open` again while it fails with [`StoreError::Locked`], for up to `wait`.
fn retry_locked<T>(
    wait: std::time::Duration,
    open: impl Fn() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match open() {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// A bare sled handle on `path` for tests that write what an old or foreign build left,
/// waiting like [`Store::open_waiting`] for this process's previous handle to let go.
#[cfg(test)]
pub(crate) fn raw_sled_waiting(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + REOPEN_LOCK_WAIT;
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        }
    }
}

fn open_trees(path: &Path) -> Result<Trees, StoreError> {
    let db = sled::Config::new()
        .path(path)
        // The page cache is the main memory cost (and sled's real use runs past the
        // setting); 32 MiB keeps hot buckets and recent posts while staying inside the
        // daemon's memory budget.
        .cache_capacity(32 * 1024 * 1024)
        .open()
        .map_err(|e| {
            let locked = matches!(&e, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("lock"));
            if locked {
                StoreError::Locked {
                    path: path.to_path_buf(),
                }
            } else {
                StoreError::Open {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
    Ok(Trees {
        posts: db.open_tree("posts")?,
        post_ids: db.open_tree("post_ids")?,
        aggregates: db.open_tree("aggregates")?,
        cursors: db.open_tree("cursors")?,
        meta: db.open_tree("meta")?,
        post_index: db.open_tree("post_index")?,
        messages: db.open_tree("messages")?,
        deliveries: db.open_tree("deliveries")?,
        alert_state: db.open_tree("alert_state")?,
        db,
    })
}

/// What a write method holds: the shared side of the write gate and the trees.
struct Writer<'a> {
    _gate: std::sync::RwLockReadGuard<'a, ()>,
    t: Arc<Trees>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema gate: a store of this build's schema opens; one from a newer build or from a
    /// pre-release development schema is refused with a message that says what to do, and is
    /// left as it was.
    #[test]
    fn stores_of_other_schemas_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(Store::open_waiting(&path, REOPEN_LOCK_WAIT).unwrap());
        let stamp = |v: u32| {
            let db = raw_sled_waiting(&path);
            db.open_tree("meta")
                .unwrap()
                .insert(keys::META_SCHEMA, &v.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        };
        stamp(keys::SCHEMA_VERSION + 1);
        let e = Store::open_waiting(&path, REOPEN_LOCK_WAIT).unwrap_err();
        assert!(matches!(e, StoreError::SchemaTooNew { .. }), "{e}");
        assert!(e.to_string().contains("upgrade cxpulse"), "{e}");
        // Schema 1 predates every migration (schema 2 migrates: see migrate.rs).
        stamp(1);
        let e = Store::open_waiting(&path, REOPEN_LOCK_WAIT).unwrap_err();
        assert!(matches!(e, StoreError::SchemaTooOld { .. }), "{e}");
        assert!(e.to_string().contains("re-import"), "{e}");
        // Refusing did not rewrite the version.
        let db = raw_sled_waiting(&path);
        let v = db
            .open_tree("meta")
            .unwrap()
            .get(keys::META_SCHEMA)
            .unwrap()
            .unwrap();
        assert_eq!(v.as_ref(), &1u32.to_be_bytes());
        drop(db);
        stamp(keys::SCHEMA_VERSION);
        Store::open_waiting(&path, REOPEN_LOCK_WAIT).unwrap();
    }
}
