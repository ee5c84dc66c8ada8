//! The filter index (`post_index` tree): for each post, one entry per label it carries (or
//! scores at least [`MIN_INDEXED_SCORE`] on), per authenticity signal, and one if its review is
//! suspicious. Key: product(8) | term(3) | published(8) | id(16), so one term of one product is
//! a contiguous, time-ordered range, and a posts page filtered by a rare label reads that
//! range instead of scanning every post. Written in the same transactions as the posts.

use sled::transaction::TransactionalTree;

use super::codec::{self, Slot};
use super::{corrupt, keys, StoreError, Trees};
use crate::domain::Post;

/// Bump when what is indexed changes: the store rebuilds the index when it opens.
pub const INDEX_VERSION: u32 = 1;
/// Label scores below this are not indexed; a `min_score` below it is answered by a scan (it
/// matches so many posts that the scan finds a page quickly).
pub const MIN_INDEXED_SCORE: f32 = 0.2;
pub use keys::{IndexTerm as Term, INDEX_KEY_LEN as KEY_LEN};
pub const META_INDEX: &[u8] = b"post_index_version";

/// An entry's value: the label's score and whether the model gave the label (empty for
/// signals and suspicion).
fn label_value(score: f32, labelled: bool) -> [u8; 5] {
    let s = score.to_le_bytes();
    [s[0], s[1], s[2], s[3], labelled as u8]
}

/// `(score, labelled)` of a label entry.
pub fn read_value(v: &[u8]) -> (f32, bool) {
    match v {
        [a, b, c, d, l] => (f32::from_le_bytes([*a, *b, *c, *d]), *l != 0),
        _ => (0.0, false),
    }
}

/// Every entry of `p`, stored under `post_key`, whose label slots are `scores`/`labels`.
pub fn entries(
    post_key: &[u8],
    p: &Post,
    scores: &[f32],
    labels: &[u16],
) -> Vec<([u8; KEY_LEN], Vec<u8>)> {
    let mut out = Vec::new();
    for (slot, score) in scores.iter().enumerate() {
        let labelled = labels.contains(&(slot as u16));
        if labelled || *score >= MIN_INDEXED_SCORE {
            out.push((
                keys::index_key(post_key, Term::Label(slot as u16)),
                label_value(*score, labelled).to_vec(),
            ));
        }
    }
    for s in &p.authenticity.signals {
        out.push((keys::index_key(post_key, Term::Signal(s.kind)), Vec::new()));
    }
    if p.authenticity.suspicious {
        out.push((keys::index_key(post_key, Term::Suspicious), Vec::new()));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The entries of a post as stored (`record` under `post_key`).
pub fn entries_of_record(
    post_key: &[u8],
    p: &Post,
    slots: &[Slot],
) -> Vec<([u8; KEY_LEN], Vec<u8>)> {
    let (scores, labels) = codec::classification_to_slots(&p.classification, slots);
    entries(post_key, p, &scores, &labels)
}

/// Inside a transaction: writes `new` and removes what `old` had that `new` has not.
pub fn replace(
    tx: &TransactionalTree,
    old: &[([u8; KEY_LEN], Vec<u8>)],
    new: &[([u8; KEY_LEN], Vec<u8>)],
) -> sled::transaction::ConflictableTransactionResult<(), StoreError> {
    for (k, _) in old {
        if !new.iter().any(|(n, _)| n == k) {
            tx.remove(&k[..])?;
        }
    }
    for (k, v) in new {
        tx.insert(&k[..], v.as_slice())?;
    }
    Ok(())
}

/// Builds the index from the posts when it is missing or from another version (a store from
/// before the index, or an interrupted build: the version is written last).
pub(super) fn ensure_built(t: &Trees, slots: &[Slot]) -> Result<bool, StoreError> {
    let current = t.meta.get(META_INDEX)?;
    if current.as_deref() == Some(&INDEX_VERSION.to_be_bytes()[..]) {
        return Ok(false);
    }
    t.post_index.clear()?;
    let mut batch = sled::Batch::default();
    let mut n = 0usize;
    for item in t.posts.iter() {
        let (k, v) = item?;
        let (_, id) =
            keys::split_post_key(&k).ok_or_else(|| corrupt("posts", "key of wrong length"))?;
        let p = codec::decode_post(id, &v, slots).map_err(|e| corrupt("posts", e))?;
        for (ik, iv) in entries_of_record(&k, &p, slots) {
            batch.insert(&ik[..], iv);
            n += 1;
        }
        if n >= 10_000 {
            t.post_index.apply_batch(std::mem::take(&mut batch))?;
            n = 0;
        }
    }
    t.post_index.apply_batch(batch)?;
    t.post_index.flush()?;
    t.meta.insert(META_INDEX, &INDEX_VERSION.to_be_bytes())?;
    t.meta.flush()?;
    Ok(true)
}

/// Compares the index with the entries the posts call for; problems for `verify`. Each
/// expected entry is looked up where it should be, then the counts are compared (an entry for
/// no post makes the index longer): memory stays flat however large the store.
pub(super) fn check(t: &Trees, slots: &[Slot]) -> Result<Vec<String>, StoreError> {
    let mut problems = Vec::new();
    let mut expected = 0usize;
    for item in t.posts.iter() {
        let (k, v) = item?;
        let Some((_, id)) = keys::split_post_key(&k) else {
            continue;
        };
        let p = codec::decode_post(id, &v, slots).map_err(|e| corrupt("posts", e))?;
        for (ik, iv) in entries_of_record(&k, &p, slots) {
            expected += 1;
            match t.post_index.get(ik)? {
                None => problems.push(format!("post {id} is missing from the filter index")),
                Some(found) if found.as_ref() != iv.as_slice() => {
                    problems.push(format!("a filter index entry of post {id} differs from it"))
                }
                Some(_) => {}
            }
            if problems.len() > 10 {
                return Ok(problems);
            }
        }
    }
    let stored = t.post_index.len();
    if stored != expected {
        problems.push(format!(
            "the filter index has {stored} entries where the posts call for {expected}"
        ));
    }
    Ok(problems)
}

/// How a posts query is answered from the index: the ranges to read (merged newest first) and
/// what an entry's value must show for a label filter.
pub struct Plan {
    terms: Vec<Term>,
    /// For label terms: `Some(m)` keeps scores of at least `m`, `None` what the model labelled.
    min_score: Option<f32>,
    labels: bool,
}

/// The index plan for `q`, or `None` when the query has no indexed filter (or a `min_score`
/// below what is indexed) and is answered by scanning the posts.
pub fn plan(q: &super::PostQuery, slots: &[Slot]) -> Option<Plan> {
    if let Some(l) = q.label.as_deref() {
        if q.min_score.is_some_and(|m| m < MIN_INDEXED_SCORE) {
            return None;
        }
        let (head, label) = match l.split_once('.') {
            Some((h, l)) => (Some(h), l),
            None => (None, l),
        };
        let terms = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.label == label && head.is_none_or(|h| s.head == h))
            .map(|(i, _)| Term::Label(i as u16))
            .collect();
        return Some(Plan {
            terms,
            min_score: q.min_score,
            labels: true,
        });
    }
    let term = match (q.signal, q.suspicious) {
        (Some(k), _) => Term::Signal(k),
        (None, Some(true)) => Term::Suspicious,
        _ => return None,
    };
    Some(Plan {
        terms: vec![term],
        min_score: None,
        labels: false,
    })
}

impl Plan {
    fn passes(&self, value: &[u8]) -> bool {
        if !self.labels {
            return true;
        }
        let (score, labelled) = read_value(value);
        match self.min_score {
            Some(m) => score >= m,
            None => labelled,
        }
    }

    /// The `posts` keys of the entries in `[from, to)` (before `after` when set), newest
    /// first, each once, with whether any of its entries passes the label test.
    pub(super) fn candidates<'a>(
        &'a self,
        tree: &'a sled::Tree,
        q: &super::PostQuery,
    ) -> impl Iterator<Item = Result<([u8; keys::POST_KEY_LEN], bool), StoreError>> + 'a {
        let (lo, hi) = keys::post_range(&q.product, q.from_ms, q.to_ms);
        let hi: Vec<u8> = match &q.after {
            Some((ts, id)) => keys::post_key(&q.product, *ts, id).to_vec(),
            None => hi.to_vec(),
        };
        let mut ranges: Vec<std::iter::Peekable<std::iter::Rev<sled::Iter>>> = self
            .terms
            .iter()
            .map(|t| {
                tree.range(keys::index_bound(&lo, *t)..keys::index_bound(&hi, *t))
                    .rev()
                    .peekable()
            })
            .collect();
        std::iter::from_fn(move || {
            // The newest post among the ranges' next entries; equal ones are the same post.
            let mut best: Option<[u8; keys::POST_KEY_LEN]> = None;
            for r in ranges.iter_mut() {
                match r.peek() {
                    None => {}
                    Some(Err(_)) => {
                        let Some(Err(e)) = r.next() else {
                            unreachable!()
                        };
                        return Some(Err(StoreError::from(e)));
                    }
                    Some(Ok((k, _))) => {
                        let Some(pk) = keys::post_key_of_index(k) else {
                            return Some(Err(corrupt("post_index", "key of wrong length")));
                        };
                        if best.is_none_or(|b| pk > b) {
                            best = Some(pk);
                        }
                    }
                }
            }
            let best = best?;
            let mut pass = false;
            for r in ranges.iter_mut() {
                if let Some(Ok((k, v))) = r.peek() {
                    if keys::post_key_of_index(k) == Some(best) {
                        pass |= self.passes(v);
                        r.next();
                    }
                }
            }
            Some(Ok((best, pass)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::migrate::tests::{posts, slots};
    use super::super::{PostQuery, Store};
    use crate::domain::{Evidence, PostId, Retro, Scorer, Signal, SignalKind};

    fn query(
        label: Option<&str>,
        signal: Option<SignalKind>,
        suspicious: Option<bool>,
    ) -> PostQuery {
        PostQuery {
            product: "acme-phone".into(),
            from_ms: 0,
            to_ms: i64::MAX / 2,
            source: None,
            label: label.map(String::from),
            min_score: None,
            signal,
            suspicious,
            limit: 40,
            after: None,
        }
    }

    /// Every page of `q`, following cursors, against the same filter over a scan of all posts.
    fn same_as_scan(
        store: &Store,
        q: &PostQuery,
        keep: impl Fn(&crate::domain::Post) -> bool,
    ) -> usize {
        let mut q = q.clone();
        let mut paged: Vec<PostId> = Vec::new();
        loop {
            let page = store.posts_page(&q).unwrap();
            paged.extend(page.posts.iter().map(|p| p.id));
            match page.next {
                Some(c) => q.after = Some(c),
                None => break,
            }
        }
        let scanned: Vec<PostId> = store
            .scan_posts_rev(&q.product, q.from_ms, q.to_ms)
            .map(Result::unwrap)
            .filter(|p| keep(p))
            .map(|p| p.id)
            .collect();
        assert_eq!(paged, scanned, "{q:?}");
        paged.len()
    }

    /// Signals that arrive after a post was stored, and posts forgotten, keep the index equal
    /// to what the posts call for; every filtered listing equals the scan it replaces.
    #[test]
    fn the_index_follows_late_signals_and_forgotten_posts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        store.register_slots(&slots()).unwrap();
        let all = posts(900);
        for chunk in all.chunks(150) {
            store.ingest(chunk, &[], &Scorer::default(), None).unwrap();
        }
        let copy = |p: &crate::domain::Post| Retro {
            product: p.product.clone(),
            published_ms: p.published_ms,
            id: p.id,
            signals: vec![Signal {
                kind: SignalKind::CopyPaste,
                score: 0.97,
                evidence: Evidence {
                    detail: "near-copy".into(),
                    phrase: None,
                    posts: vec![],
                },
            }],
        };
        let late: Vec<Retro> = all.iter().step_by(37).map(copy).collect();
        store.ingest(&[], &late, &Scorer::default(), None).unwrap();
        let gone: Vec<PostId> = all.iter().step_by(11).map(|p| p.id).collect();
        store.forget(&gone).unwrap();
        let r = store.verify().unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);

        let n = same_as_scan(
            &store,
            &query(None, Some(SignalKind::CopyPaste), None),
            |p| p.authenticity.has(SignalKind::CopyPaste),
        );
        assert_eq!(n, late.iter().filter(|r| !gone.contains(&r.id)).count());
        assert!(
            same_as_scan(&store, &query(Some("anger"), None, None), |p| {
                p.classification.has_label("emotions", "anger", 0.5)
            }) > 0
        );
        same_as_scan(&store, &query(None, None, Some(true)), |p| {
            p.authenticity.suspicious
        });
        same_as_scan(
            &store,
            &query(Some("emotions.joy"), Some(SignalKind::CopyPaste), None),
            |p| {
                p.classification.has_label("emotions", "joy", 0.5)
                    && p.authenticity.has(SignalKind::CopyPaste)
            },
        );
        // verify sees an entry for no post, and a missing one.
        let t = store.t().unwrap();
        let (k, v) = t.post_index.iter().next().unwrap().unwrap();
        t.post_index.remove(&k).unwrap();
        assert!(
            !store.verify().unwrap().problems.is_empty(),
            "a missing entry"
        );
        t.post_index.insert(&k, v).unwrap();
        let mut ghost = k.to_vec();
        *ghost.last_mut().unwrap() ^= 0xff;
        t.post_index.insert(ghost, &[][..]).unwrap();
        assert!(
            !store.verify().unwrap().problems.is_empty(),
            "an entry for no post"
        );
        drop(t);
        // A label no post carries reads an empty range, not the product.
        assert!(store
            .posts_page(&query(Some("nope"), None, None))
            .unwrap()
            .posts
            .is_empty());
    }
}
