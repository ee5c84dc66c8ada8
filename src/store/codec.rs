//! Value encodings of the store (postcard): stored posts, aggregates and the label-slot registry.
//! With `keys.rs`, the only place that knows how bytes on disk look.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Authenticity, Evidence, Signal, SignalKind};
use crate::domain::{Classification, HeadResult, Post, PostId};

/// How a head's scores are read back: a list of labels or a single score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotKind {
    MultiLabel,
    SingleLabel,
    Score,
}

/// One (head, label) pair. Slots are append-only: a label keeps its index for the store's
/// lifetime, so aggregates written under one model stay readable under the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub head: String,
    pub label: String,
    pub kind: SlotKind,
}

impl Slot {
    pub fn name(&self) -> String {
        format!("{}.{}", self.head, self.label)
    }
}

/// A signal as stored: the kind as its tag, related posts as raw ids.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSignal {
    kind: u8,
    score: f32,
    detail: String,
    phrase: Option<String>,
    posts: Vec<[u8; 16]>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredPost {
    product: String,
    source: String,
    external_id: String,
    url: Option<String>,
    author: Option<String>,
    published_ms: i64,
    fetched_ms: i64,
    language: String,
    title: Option<String>,
    text: String,
    rating: Option<f32>,
    channel: Option<String>,
    /// Probability per slot (dense, by slot index); empty when the text was not scored.
    scores: Vec<f32>,
    /// Slots over threshold (or winning); for score heads, the head's own slot when ≥ 0.5.
    labels: Vec<u16>,
    genuineness: f32,
    suspicious: bool,
    signals: Vec<StoredSignal>,
}

/// A post record of schema 2: [`StoredPost`] before authenticity (migrate.rs upgrades it).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredPostV2 {
    pub product: String,
    pub source: String,
    pub external_id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub published_ms: i64,
    pub fetched_ms: i64,
    pub language: String,
    pub title: Option<String>,
    pub text: String,
    pub rating: Option<f32>,
    pub channel: Option<String>,
    pub scores: Vec<f32>,
    pub labels: Vec<u16>,
}

/// A schema-2 record as a schema-3 one: no signals (none were looked for when it was
/// stored), and the genuineness `scorer` gives its model scores alone.
pub(super) fn upgrade_post_v2(
    bytes: &[u8],
    slots: &[Slot],
    scorer: &crate::domain::Scorer,
) -> Result<Vec<u8>, postcard::Error> {
    let v: StoredPostV2 = postcard::from_bytes(bytes)?;
    let classification = slots_to_classification(&v.language, &v.scores, &v.labels, slots);
    let mut a = Authenticity::default();
    scorer.score(&classification, &mut a);
    let r = StoredPostRef {
        product: &v.product,
        source: &v.source,
        external_id: &v.external_id,
        url: v.url.as_deref(),
        author: v.author.as_deref(),
        published_ms: v.published_ms,
        fetched_ms: v.fetched_ms,
        language: &v.language,
        title: v.title.as_deref(),
        text: &v.text,
        rating: v.rating,
        channel: v.channel.as_deref(),
        scores: &v.scores,
        labels: &v.labels,
        genuineness: a.genuineness,
        suspicious: a.suspicious,
        signals: Vec::new(),
    };
    Ok(postcard::to_allocvec(&r).expect("postcard encoding of owned data cannot fail"))
}

/// The same layout as [`StoredPost`], borrowed, for encoding without copying the post.
#[derive(Serialize)]
struct StoredPostRef<'a> {
    product: &'a str,
    source: &'a str,
    external_id: &'a str,
    url: Option<&'a str>,
    author: Option<&'a str>,
    published_ms: i64,
    fetched_ms: i64,
    language: &'a str,
    title: Option<&'a str>,
    text: &'a str,
    rating: Option<f32>,
    channel: Option<&'a str>,
    scores: &'a [f32],
    labels: &'a [u16],
    genuineness: f32,
    suspicious: bool,
    signals: Vec<StoredSignal>,
}

fn stored_signals(a: &Authenticity) -> Vec<StoredSignal> {
    a.signals
        .iter()
        .map(|s| StoredSignal {
            kind: s.kind as u8,
            score: s.score,
            detail: s.evidence.detail.clone(),
            phrase: s.evidence.phrase.clone(),
            posts: s.evidence.posts.iter().map(|p| p.0).collect(),
        })
        .collect()
}

/// Classification → (dense scores, label slots), given the slot registry.
pub fn classification_to_slots(c: &Classification, slots: &[Slot]) -> (Vec<f32>, Vec<u16>) {
    if !c.is_scored() {
        return (Vec::new(), Vec::new());
    }
    let mut scores = vec![0f32; slots.len()];
    let mut labels = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        match c.heads.get(&s.head) {
            Some(HeadResult::Labels {
                labels: l,
                scores: sc,
            }) => {
                scores[i] = sc.get(&s.label).copied().unwrap_or(0.0);
                if l.iter().any(|x| x == &s.label) {
                    labels.push(i as u16);
                }
            }
            Some(HeadResult::Score { score }) => {
                scores[i] = *score;
                if *score >= 0.5 {
                    labels.push(i as u16);
                }
            }
            None => {}
        }
    }
    (scores, labels)
}

pub fn slots_to_classification(
    language: &str,
    scores: &[f32],
    labels: &[u16],
    slots: &[Slot],
) -> Classification {
    let mut heads: BTreeMap<String, HeadResult> = BTreeMap::new();
    for (i, s) in slots.iter().enumerate().take(scores.len()) {
        let p = scores[i];
        match s.kind {
            SlotKind::Score => {
                heads.insert(s.head.clone(), HeadResult::Score { score: p });
            }
            SlotKind::MultiLabel | SlotKind::SingleLabel => {
                let e = heads.entry(s.head.clone()).or_insert(HeadResult::Labels {
                    labels: Vec::new(),
                    scores: BTreeMap::new(),
                });
                if let HeadResult::Labels {
                    labels: l,
                    scores: sc,
                } = e
                {
                    sc.insert(s.label.clone(), p);
                    if labels.contains(&(i as u16)) {
                        l.push(s.label.clone());
                    }
                }
            }
        }
    }
    Classification {
        language: language.to_string(),
        heads,
    }
}

/// Encodes a post whose classification is already in slot form (see
/// [`classification_to_slots`]), so ingest converts each post once.
pub fn encode_post(p: &Post, scores: &[f32], labels: &[u16]) -> Vec<u8> {
    let v = StoredPostRef {
        product: &p.product,
        source: &p.source,
        external_id: &p.external_id,
        url: p.url.as_deref(),
        author: p.author.as_deref(),
        published_ms: p.published_ms,
        fetched_ms: p.fetched_ms,
        language: &p.language,
        title: p.title.as_deref(),
        text: &p.text,
        rating: p.rating,
        channel: p.channel.as_deref(),
        scores,
        labels,
        genuineness: p.authenticity.genuineness,
        suspicious: p.authenticity.suspicious,
        signals: stored_signals(&p.authenticity),
    };
    postcard::to_allocvec(&v).expect("postcard encoding of owned data cannot fail")
}

pub fn decode_post(id: PostId, bytes: &[u8], slots: &[Slot]) -> Result<Post, postcard::Error> {
    let v: StoredPost = postcard::from_bytes(bytes)?;
    let classification = slots_to_classification(&v.language, &v.scores, &v.labels, slots);
    let authenticity = Authenticity {
        genuineness: v.genuineness,
        suspicious: v.suspicious,
        // A tag from a newer build is skipped rather than failing the whole post.
        signals: v
            .signals
            .into_iter()
            .filter_map(|s| {
                Some(Signal {
                    kind: SignalKind::from_index(s.kind)?,
                    score: s.score,
                    evidence: Evidence {
                        detail: s.detail,
                        phrase: s.phrase,
                        posts: s.posts.into_iter().map(PostId).collect(),
                    },
                })
            })
            .collect(),
    };
    Ok(Post {
        id,
        product: v.product,
        source: v.source,
        external_id: v.external_id,
        url: v.url,
        author: v.author,
        published_ms: v.published_ms,
        fetched_ms: v.fetched_ms,
        language: v.language,
        title: v.title,
        text: v.text,
        rating: v.rating,
        channel: v.channel,
        classification,
        authenticity,
    })
}

/// Running totals of one product × bucket × source. Sums, not averages, so buckets add up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub source: String,
    /// Posts stored.
    pub count: u64,
    /// Posts the model scored (the rest were in other languages).
    pub scored: u64,
    pub rating_count: u64,
    pub rating_sum: f64,
    /// Ratings by nearest star: 1★ … 5★ (see `rating_band`).
    pub rating_hist: [u64; 5],
    /// Σ P(positive) − P(negative) over scored posts.
    pub sentiment_sum: f64,
    /// Σ probability per slot.
    pub prob_sums: Vec<f64>,
    /// Posts with the slot over threshold (or winning).
    pub label_counts: Vec<u64>,
    /// Posts whose highest-scoring label within the head is this slot.
    pub dominant_counts: Vec<u64>,
    /// Posts whose review genuineness is below 0.5.
    pub suspicious: u64,
    /// Σ genuineness over all posts.
    pub genuineness_sum: f64,
    /// Posts carrying each signal kind, indexed by the kind's tag.
    pub signal_counts: Vec<u64>,
}

impl Aggregate {
    pub fn add(&mut self, other: &Aggregate) {
        if self.source.is_empty() {
            self.source = other.source.clone();
        }
        self.count += other.count;
        self.scored += other.scored;
        self.rating_count += other.rating_count;
        self.rating_sum += other.rating_sum;
        for i in 0..5 {
            self.rating_hist[i] += other.rating_hist[i];
        }
        self.sentiment_sum += other.sentiment_sum;
        add_vec(&mut self.prob_sums, &other.prob_sums);
        add_vec(&mut self.label_counts, &other.label_counts);
        add_vec(&mut self.dominant_counts, &other.dominant_counts);
        self.suspicious += other.suspicious;
        self.genuineness_sum += other.genuineness_sum;
        add_vec(&mut self.signal_counts, &other.signal_counts);
    }

    /// Takes back what [`add`](Self::add) added (a forgotten post's contribution).
    pub fn remove(&mut self, other: &Aggregate) {
        let n = |a: &mut u64, b: u64| *a = a.saturating_sub(b);
        n(&mut self.count, other.count);
        n(&mut self.scored, other.scored);
        n(&mut self.rating_count, other.rating_count);
        self.rating_sum -= other.rating_sum;
        for i in 0..5 {
            n(&mut self.rating_hist[i], other.rating_hist[i]);
        }
        self.sentiment_sum -= other.sentiment_sum;
        for (x, y) in self.prob_sums.iter_mut().zip(&other.prob_sums) {
            *x -= *y;
        }
        for (a, b) in [
            (&mut self.label_counts, &other.label_counts),
            (&mut self.dominant_counts, &other.dominant_counts),
            (&mut self.signal_counts, &other.signal_counts),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                n(x, *y);
            }
        }
        n(&mut self.suspicious, other.suspicious);
        self.genuineness_sum -= other.genuineness_sum;
    }

    /// Adds a post's authenticity (its genuineness, suspicion and signal kinds).
    pub fn add_authenticity(&mut self, a: &Authenticity) {
        self.genuineness_sum += a.genuineness as f64;
        self.suspicious += a.suspicious as u64;
        for s in &a.signals {
            self.count_signal(s.kind);
        }
    }

    fn count_signal(&mut self, kind: SignalKind) {
        let i = kind as usize;
        if self.signal_counts.len() <= i {
            self.signal_counts
                .resize(SignalKind::ALL.len().max(i + 1), 0);
        }
        self.signal_counts[i] += 1;
    }

    /// The change to a post's buckets when its authenticity goes from `old` to `new` (only
    /// ever more signals and less genuineness: see `Authenticity::merge`).
    pub fn authenticity_change(old: &Authenticity, new: &Authenticity) -> Aggregate {
        let mut d = Aggregate {
            genuineness_sum: new.genuineness as f64 - old.genuineness as f64,
            suspicious: (new.suspicious && !old.suspicious) as u64,
            ..Default::default()
        };
        for s in &new.signals {
            if !old.has(s.kind) {
                d.count_signal(s.kind);
            }
        }
        d
    }

    /// Posts carrying `kind`.
    pub fn signal_count(&self, kind: SignalKind) -> u64 {
        self.signal_counts.get(kind as usize).copied().unwrap_or(0)
    }

    /// Adds one post (already encoded as slot scores and labels).
    pub fn add_post(&mut self, p: &Post, scores: &[f32], labels: &[u16], slots: &[Slot]) {
        self.count += 1;
        self.add_authenticity(&p.authenticity);
        if let Some(r) = p.rating {
            self.rating_count += 1;
            self.rating_sum += r as f64;
            self.rating_hist[rating_band(r)] += 1;
        }
        if scores.is_empty() {
            return;
        }
        self.scored += 1;
        let n = slots.len();
        if self.prob_sums.len() < n {
            self.prob_sums.resize(n, 0.0);
            self.label_counts.resize(n, 0);
            self.dominant_counts.resize(n, 0);
        }
        for (i, s) in scores.iter().enumerate().take(n) {
            self.prob_sums[i] += *s as f64;
        }
        for &l in labels {
            if (l as usize) < n {
                self.label_counts[l as usize] += 1;
            }
        }
        // Dominant label per head: the argmax among the head's slots.
        let mut best: BTreeMap<&str, (usize, f32)> = BTreeMap::new();
        for (i, s) in slots.iter().enumerate().take(scores.len()) {
            if s.kind == SlotKind::Score {
                continue;
            }
            let e = best.entry(s.head.as_str()).or_insert((i, f32::MIN));
            if scores[i] > e.1 {
                *e = (i, scores[i]);
            }
        }
        for (_, (i, _)) in best {
            self.dominant_counts[i] += 1;
        }
        let pos = slot_index(slots, "sentiment", "positive").map(|i| scores[i]);
        let neg = slot_index(slots, "sentiment", "negative").map(|i| scores[i]);
        if let (Some(pos), Some(neg)) = (pos, neg) {
            self.sentiment_sum += (pos - neg) as f64;
        }
    }
}

/// Index in `rating_hist`: 1★ is 0 … 5★ is 4.
pub fn rating_band(r: f32) -> usize {
    crate::domain::stars(r) as usize - 1
}

pub fn slot_index(slots: &[Slot], head: &str, label: &str) -> Option<usize> {
    slots
        .iter()
        .position(|s| s.head == head && s.label == label)
}

fn add_vec<T: Copy + std::ops::AddAssign + Default>(a: &mut Vec<T>, b: &[T]) {
    if a.len() < b.len() {
        a.resize(b.len(), T::default());
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += *y;
    }
}

pub fn encode_aggregate(a: &Aggregate) -> Vec<u8> {
    postcard::to_allocvec(a).expect("postcard encoding of owned data cannot fail")
}

pub fn decode_aggregate(b: &[u8]) -> Result<Aggregate, postcard::Error> {
    postcard::from_bytes(b)
}

pub fn encode_slots(s: &[Slot]) -> Vec<u8> {
    postcard::to_allocvec(s).expect("postcard encoding of owned data cannot fail")
}

pub fn decode_slots(b: &[u8]) -> Result<Vec<Slot>, postcard::Error> {
    postcard::from_bytes(b)
}

/// A digest or alert as produced: its JSON document, kept verbatim so what was delivered can
/// be shown again byte for byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub product: String,
    pub created_ms: i64,
    pub json: String,
}

/// Where one delivery of one message stands. `Delivering` is written (and flushed) before the
/// attempt; finding it after a restart means the daemon died mid-attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    Delivering,
    Delivered,
    /// Failed for sure (no response, or a status that says it was not taken); `retry` when a
    /// later pass may try again (network errors, 429, 5xx).
    Failed {
        retry: bool,
    },
    /// Cut short by a crash on a channel where sending twice would repeat the message: never
    /// retried (at most once).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub state: DeliveryState,
    /// Attempts started so far (one attempt may make several requests with backoff).
    pub attempts: u32,
    pub updated_ms: i64,
    pub detail: String,
}

/// Whether a spike of one label is ongoing, and when it last alerted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub active: bool,
    pub last_fired_ms: Option<i64>,
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).expect("postcard encoding into a Vec cannot fail")
}

pub fn decode<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(b)
}
