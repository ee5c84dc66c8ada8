//! The detector: finds each new post's signals against what came before, and the signals that
//! earlier, already-stored posts gain from it (the first copy of a campaign is only a copy once
//! the second one arrives).
//!
//! It keeps the recent posts of every product in memory (an LSH index of text signatures and an
//! author index), rebuilt from the store at start. Only the single ingest task uses it, so
//! [`Detector::assess`] sees every earlier batch, and [`Detector::commit`] runs only once a batch
//! is durable: a batch that fails to store leaves no trace here.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{burst, patterns};
use crate::config::AuthenticityConfig;
use crate::domain::{Authenticity, Evidence, Retro, Scorer, Signal, SignalKind, MAX_RELATED};
use crate::domain::{Post, PostId};
use crate::ingest::authenticity::minhash::{self, LshIndex, Signature};
use crate::store::{Store, StoreError};

/// Characters of a text that go into its signature: campaigns copy whole short reviews, and a
/// bound keeps the cost per post (and the rebuild at start) flat.
const SIGNATURE_CHARS: usize = 2_000;

struct Entry {
    id: PostId,
    product: String,
    source: String,
    author: Option<String>,
    published_ms: i64,
    rating: Option<f32>,
    sig: Option<Box<Signature>>,
    /// Kinds the stored post already carries (bit = kind tag), so they are not re-sent.
    flagged: u16,
}

fn bit(k: SignalKind) -> u16 {
    1 << (k as u8)
}

pub struct Detector {
    cfg: AuthenticityConfig,
    scorer: Scorer,
    entries: HashMap<u64, Entry>,
    order: VecDeque<u64>,
    by_id: HashMap<PostId, u64>,
    /// (source, author) → handles.
    by_author: HashMap<String, Vec<u64>>,
    /// Sources whose authors are a site's editors (feeds), not reviewers: no author pattern.
    editorial: HashSet<String>,
    lsh: LshIndex,
    /// Handles put in `lsh` since it was last cleaned of evicted ones.
    lsh_handles: usize,
    next: u64,
}

/// A post the current one relates to: stored (a handle) or earlier in the same batch.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Ref {
    Stored(u64),
    Batch(usize),
}

/// The text's signature, or `None` when it is too short to count as a copy of anything.
fn sig_of(text: &str, min_words: usize) -> Option<Signature> {
    let capped = crate::domain::text::cap_chars(text, SIGNATURE_CHARS);
    let n = minhash::normalise(capped);
    (minhash::word_count(&n) >= min_words)
        .then(|| minhash::signature(&n))
        .flatten()
}

/// Authors are matched per source: a name on one site is not the same person on another.
fn author_key(source: &str, author: &str) -> String {
    format!("{source}\u{0}{author}")
}

impl Detector {
    pub fn new(cfg: AuthenticityConfig, scorer: Scorer, editorial: HashSet<String>) -> Detector {
        Detector {
            editorial,
            cfg,
            scorer,
            entries: HashMap::new(),
            order: VecDeque::new(),
            by_id: HashMap::new(),
            by_author: HashMap::new(),
            lsh: LshIndex::new(),
            lsh_handles: 0,
            next: 0,
        }
    }

    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// Posts held in memory for matching.
    pub fn indexed(&self) -> usize {
        self.entries.len()
    }

    /// Loads the recent posts of `products` from the store: for each, those within the window
    /// before its newest post, newest first, at most `max_indexed_posts` in all.
    pub fn rebuild(&mut self, store: &Store, products: &[String]) -> Result<(), StoreError> {
        // Each product's newest posts within the window, indexed as they are read (a decoded
        // post is far bigger than its entry); after each product, the oldest beyond the cap
        // are dropped, so memory never holds much more than the cap.
        let mut recent: Vec<(i64, PostId)> = Vec::new();
        for product in products {
            let mut newest = None;
            for (taken, p) in store
                .scan_posts_rev(product, i64::MIN, i64::MAX)
                .enumerate()
            {
                let p = p?;
                let newest = *newest.get_or_insert(p.published_ms);
                if p.published_ms < newest - self.cfg.window_ms
                    || taken >= self.cfg.max_indexed_posts
                {
                    break;
                }
                recent.push((p.published_ms, p.id));
                self.index(std::slice::from_ref(&p));
            }
            recent.sort_unstable();
            let excess = recent.len().saturating_sub(self.cfg.max_indexed_posts);
            for (_, id) in recent.drain(..excess) {
                if let Some(h) = self.by_id.get(&id).copied() {
                    self.remove(h);
                }
            }
        }
        self.order = recent
            .iter()
            .filter_map(|(_, id)| self.by_id.get(id).copied())
            .collect();
        self.compact_lsh();
        self.entries.shrink_to_fit();
        self.by_id.shrink_to_fit();
        Ok(())
    }

    /// Sets the signals and genuineness of every post in `posts` (one batch, not yet stored) and
    /// returns what earlier stored posts gain.
    pub fn assess(&self, posts: &mut [Post], store: &Store) -> Result<Vec<Retro>, StoreError> {
        let mut retro: HashMap<u64, Vec<Signal>> = HashMap::new();
        for p in posts.iter_mut() {
            p.authenticity = Authenticity::default();
            self.text_signals(p);
        }
        self.copies(posts, &mut retro);
        self.authors(posts, &mut retro);
        self.bursts(posts, store, &mut retro)?;
        for p in posts.iter_mut() {
            self.scorer.score(&p.classification, &mut p.authenticity);
        }
        Ok(retro
            .into_iter()
            .map(|(h, signals)| {
                let e = &self.entries[&h];
                Retro {
                    product: e.product.clone(),
                    published_ms: e.published_ms,
                    id: e.id,
                    signals,
                }
            })
            .collect())
    }

    /// Model heads and text rules: everything one post says about itself.
    fn text_signals(&self, p: &mut Post) {
        let c = &p.classification;
        let cfg = &self.cfg;
        let mut found = Vec::new();
        let head = |name: &str| c.score(name, name);
        if let Some(s) = head("machine_generated").filter(|s| *s >= cfg.machine_generated_min) {
            found.push(signal(
                SignalKind::MachineGenerated,
                s,
                format!("the model reads the text as machine-written (P = {s:.2})"),
            ));
        }
        if let Some(s) = cfg
            .deceptive_min
            .and_then(|min| head("deceptive").filter(|s| *s >= min))
        {
            found.push(signal(
                SignalKind::Deceptive,
                s,
                format!("the model reads the text as an invented review (P = {s:.2})"),
            ));
        }
        for (label, kind, words, min) in [
            (
                "fake",
                SignalKind::BrandFake,
                "fake, hype or inauthentic",
                cfg.brand_fake_min,
            ),
            (
                "genuine",
                SignalKind::BrandGenuine,
                "genuine",
                cfg.brand_genuine_min,
            ),
        ] {
            if let Some(s) = c.score("brand_authenticity", label).filter(|s| *s >= min) {
                found.push(signal(
                    kind,
                    s,
                    format!("the author calls the brand {words} (P = {s:.2})"),
                ));
            }
        }
        let phrase = patterns::incentive_phrase(&p.text)
            .or_else(|| p.title.as_deref().and_then(patterns::incentive_phrase));
        if let Some(phrase) = phrase {
            let mut s = signal(
                SignalKind::Incentive,
                1.0,
                "the author discloses an incentive for the review".into(),
            );
            s.evidence.phrase = Some(phrase);
            found.push(s);
        }
        if let Some((s, detail)) = patterns::rating_mismatch(p.rating, c, cfg.mismatch_min) {
            found.push(signal(SignalKind::RatingMismatch, s, detail));
        }
        for s in found {
            p.authenticity.merge(s);
        }
    }

    fn flag(&self, r: Ref, s: Signal, posts: &mut [Post], retro: &mut HashMap<u64, Vec<Signal>>) {
        match r {
            Ref::Batch(j) => {
                posts[j].authenticity.merge(s);
            }
            Ref::Stored(h) => {
                if self.entries[&h].flagged & bit(s.kind) == 0 {
                    let v = retro.entry(h).or_default();
                    match v.iter_mut().find(|x| x.kind == s.kind) {
                        Some(x) => {
                            x.absorb(s);
                        }
                        None => v.push(s),
                    }
                }
            }
        }
    }

    /// Id and product of a referenced post.
    fn post_of<'a>(&'a self, r: Ref, posts: &'a [Post]) -> (PostId, &'a str) {
        match r {
            Ref::Stored(h) => {
                let e = &self.entries[&h];
                (e.id, &e.product)
            }
            Ref::Batch(j) => (posts[j].id, &posts[j].product),
        }
    }

    /// Near-copies by other authors, against stored posts and earlier posts of the batch.
    fn copies(&self, posts: &mut [Post], retro: &mut HashMap<u64, Vec<Signal>>) {
        let mut local = LshIndex::new();
        let sigs: Vec<Option<Signature>> = posts
            .iter()
            .map(|p| sig_of(&p.text, self.cfg.copy_paste_min_words))
            .collect();
        for i in 0..posts.len() {
            let Some(sig) = &sigs[i] else { continue };
            let mut matches: Vec<(Ref, f64, String)> = Vec::new();
            let (ts, author) = (posts[i].published_ms, posts[i].author.clone());
            let other_author = |a: &Option<String>| a.is_none() || author.is_none() || *a != author;
            for h in self.lsh.candidates(sig) {
                let Some(e) = self.entries.get(&h) else {
                    continue;
                };
                let Some(esig) = &e.sig else { continue };
                if e.id == posts[i].id
                    || (e.published_ms - ts).abs() > self.cfg.window_ms
                    || !other_author(&e.author)
                {
                    continue;
                }
                let sim = minhash::similarity(sig, esig);
                if sim >= self.cfg.copy_paste_min_similarity {
                    matches.push((Ref::Stored(h), sim, e.product.clone()));
                }
            }
            for j in local.candidates(sig) {
                let j = j as usize;
                let Some(jsig) = &sigs[j] else { continue };
                if posts[j].id == posts[i].id
                    || (posts[j].published_ms - ts).abs() > self.cfg.window_ms
                    || !other_author(&posts[j].author)
                {
                    continue;
                }
                let sim = minhash::similarity(sig, jsig);
                if sim >= self.cfg.copy_paste_min_similarity {
                    matches.push((Ref::Batch(j), sim, posts[j].product.clone()));
                }
            }
            local.insert(i as u64, sig);
            matches.sort_by(|a, b| b.1.total_cmp(&a.1));
            // A cluster (two or more near-copies) or one very close pair: campaigns repeat a
            // text, while honest reviews share at most a phrase or two with any one other.
            let Some(best) = matches.first().map(|m| m.1) else {
                continue;
            };
            if matches.len() < 2 && best < self.cfg.copy_paste_pair_similarity {
                continue;
            }
            let products: HashSet<&str> = matches
                .iter()
                .map(|m| m.2.as_str())
                .filter(|p| *p != posts[i].product)
                .collect();
            let mut detail = format!(
                "near-copy of {} earlier post{} by other authors (similarity up to {best:.2})",
                matches.len(),
                if matches.len() == 1 { "" } else { "s" }
            );
            if !products.is_empty() {
                let mut ps: Vec<&str> = products.into_iter().collect();
                ps.sort_unstable();
                detail.push_str(&format!(", also about {}", ps.join(", ")));
            }
            let mut mine = signal(SignalKind::CopyPaste, best as f32, detail);
            mine.evidence.posts = matches
                .iter()
                .take(MAX_RELATED)
                .map(|m| self.post_of(m.0, posts).0)
                .collect();
            let me = posts[i].id;
            let me_product = posts[i].product.clone();
            posts[i].authenticity.merge(mine);
            for (r, sim, _) in matches {
                let mut theirs = signal(
                    SignalKind::CopyPaste,
                    sim as f32,
                    format!(
                        "copied by a later post by another author{} (similarity {sim:.2})",
                        if me_product != self.post_of(r, posts).1 {
                            format!(" about {me_product}")
                        } else {
                            String::new()
                        }
                    ),
                );
                theirs.evidence.posts = vec![me];
                self.flag(r, theirs, posts, retro);
            }
        }
    }

    /// One author with many posts in a short time, for one product or across watched ones.
    fn authors(&self, posts: &mut [Post], retro: &mut HashMap<u64, Vec<Signal>>) {
        let w = self.cfg.author_window_ms;
        let mut by_author: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in posts.iter().enumerate() {
            if self.editorial.contains(&p.source) {
                continue;
            }
            if let Some(a) = &p.author {
                by_author
                    .entry(author_key(&p.source, a))
                    .or_default()
                    .push(i);
            }
        }
        for (author, idx) in by_author {
            let stored: &[u64] = self
                .by_author
                .get(&author)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for &i in &idx {
                let ts = posts[i].published_ms;
                let mut related: Vec<(Ref, i64, String)> = stored
                    .iter()
                    .filter_map(|h| self.entries.get(h).map(|e| (*h, e)))
                    .filter(|(_, e)| (e.published_ms - ts).abs() <= w && e.id != posts[i].id)
                    .map(|(h, e)| (Ref::Stored(h), e.published_ms, e.product.clone()))
                    .collect();
                related.extend(
                    idx.iter()
                        .filter(|&&j| j != i && (posts[j].published_ms - ts).abs() <= w)
                        .map(|&j| {
                            (
                                Ref::Batch(j),
                                posts[j].published_ms,
                                posts[j].product.clone(),
                            )
                        }),
                );
                let n = related.len() + 1;
                if n < self.cfg.author_max_posts {
                    continue;
                }
                let mut products: HashSet<&str> = related.iter().map(|r| r.2.as_str()).collect();
                products.insert(&posts[i].product);
                let detail = format!(
                    "{n} posts by this author within {} h ({} product{})",
                    w / 3_600_000,
                    products.len(),
                    if products.len() == 1 { "" } else { "s" }
                );
                // Score grows with how far past the threshold the author is.
                let score = (1.0 - (self.cfg.author_max_posts as f32 - 1.0) / n as f32).max(0.5);
                related.sort_by_key(|r| -(r.1 - ts).abs());
                let mut mine = signal(SignalKind::AuthorPattern, score, detail.clone());
                mine.evidence.posts = related
                    .iter()
                    .rev()
                    .take(MAX_RELATED)
                    .map(|r| self.post_of(r.0, posts).0)
                    .collect();
                let me = posts[i].id;
                posts[i].authenticity.merge(mine);
                for (r, _, _) in related {
                    if let Ref::Stored(_) = r {
                        let mut theirs = signal(SignalKind::AuthorPattern, score, detail.clone());
                        theirs.evidence.posts = vec![me];
                        self.flag(r, theirs, posts, retro);
                    }
                }
            }
        }
    }

    /// Rate and star-share bursts of each (product, source) in the batch.
    fn bursts(
        &self,
        posts: &mut [Post],
        store: &Store,
        retro: &mut HashMap<u64, Vec<Signal>>,
    ) -> Result<(), StoreError> {
        let mut groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, p) in posts.iter().enumerate() {
            groups
                .entry((p.product.clone(), p.source.clone()))
                .or_default()
                .push(i);
        }
        for ((product, source), idx) in groups {
            let new: Vec<burst::NewPost> = idx
                .iter()
                .map(|&i| (posts[i].published_ms, posts[i].rating))
                .collect();
            for b in burst::find(store, &product, &source, &new, &self.cfg)? {
                let s = signal(
                    SignalKind::Burst,
                    (1.0 - b.p_value) as f32,
                    b.detail(&source),
                );
                for &i in &idx {
                    if b.covers(posts[i].published_ms, posts[i].rating) {
                        posts[i].authenticity.merge(s.clone());
                    }
                }
                for (h, e) in &self.entries {
                    if e.product == product
                        && e.source == source
                        && b.covers(e.published_ms, e.rating)
                    {
                        self.flag(Ref::Stored(*h), s.clone(), posts, retro);
                    }
                }
            }
        }
        Ok(())
    }

    /// Records a stored batch and the signals its retro updates added. Call only once the
    /// batch is durable.
    pub fn commit(&mut self, posts: &[Post], retro: &[Retro]) {
        for r in retro {
            if let Some(e) = self.by_id.get(&r.id).and_then(|h| self.entries.get_mut(h)) {
                for s in &r.signals {
                    e.flagged |= bit(s.kind);
                }
            }
        }
        self.index(posts);
        while self.entries.len() > self.cfg.max_indexed_posts {
            let Some(h) = self.order.pop_front() else {
                break;
            };
            self.remove(h);
        }
        // Evicted handles stay in the LSH buckets until a clean-up; clean when they would be
        // the majority.
        if self.lsh_handles > 2 * self.entries.len() + 1024 {
            self.compact_lsh();
        }
    }

    /// Drops evicted handles from the LSH buckets and gives their memory back.
    fn compact_lsh(&mut self) {
        let alive: HashSet<u64> = self.entries.keys().copied().collect();
        self.lsh.retain(|h| alive.contains(&h));
        self.lsh_handles = self.entries.values().filter(|e| e.sig.is_some()).count();
    }

    /// Adds posts to the memory (in the order given, which is the eviction order).
    fn index(&mut self, posts: &[Post]) {
        for p in posts {
            if self.by_id.contains_key(&p.id) {
                continue;
            }
            let h = self.next;
            self.next += 1;
            let sig = sig_of(&p.text, self.cfg.copy_paste_min_words).map(Box::new);
            if let Some(s) = &sig {
                self.lsh.insert(h, s);
                self.lsh_handles += 1;
            }
            if let Some(a) = &p.author {
                self.by_author
                    .entry(author_key(&p.source, a))
                    .or_default()
                    .push(h);
            }
            let flagged = p
                .authenticity
                .signals
                .iter()
                .fold(0u16, |f, s| f | bit(s.kind));
            self.by_id.insert(p.id, h);
            self.order.push_back(h);
            self.entries.insert(
                h,
                Entry {
                    id: p.id,
                    product: p.product.clone(),
                    source: p.source.clone(),
                    author: p.author.clone(),
                    published_ms: p.published_ms,
                    rating: p.rating,
                    sig,
                    flagged,
                },
            );
        }
    }

    /// Forgets one post (its LSH entries go lazily).
    fn remove(&mut self, h: u64) {
        let Some(e) = self.entries.remove(&h) else {
            return;
        };
        self.by_id.remove(&e.id);
        if let Some(a) = &e.author {
            let k = author_key(&e.source, a);
            if let Some(v) = self.by_author.get_mut(&k) {
                v.retain(|x| *x != h);
                if v.is_empty() {
                    self.by_author.remove(&k);
                }
            }
        }
    }
}

fn signal(kind: SignalKind, score: f32, detail: String) -> Signal {
    Signal {
        kind,
        score,
        evidence: Evidence {
            detail,
            ..Default::default()
        },
    }
}
