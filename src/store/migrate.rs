//! Schema migrations, run by `Store::open`: each step turns a store of one version into the
//! next, in place, and can be interrupted at any moment (a kill, a full disk) and resumed by
//! the next open.
//!
//! **2 → 3** (authenticity). Version 2 post records have no genuineness, suspicion or signals,
//! and its buckets have no authenticity sums (and put 4 and 5 stars in one rating band).
//! 1. Records are upgraded a chunk at a time, each chunk in one transaction with the last key
//!    it reached (`META_MIGRATION`). An upgraded post carries no signals, since none were looked
//!    for when it was stored, and the genuineness the default calibration gives its model
//!    scores.
//! 2. Every bucket is recounted from the upgraded posts, as `Store::verify` would count them.
//!    An interrupted recount starts over: the buckets are cleared first.
//! 3. The schema version moves to 3 and the progress mark goes, in one transaction.
//!
//! **3 → 4** (filter index). The `post_index` tree is built from the posts (index.rs); the
//! schema moves to 4 once it is complete, so an interrupted build is redone by the next open.
//!
//! Version 1 (posts keyed by id, a separate time index) is not migrated; `check_schema`
//! refuses it with what to do instead.

use std::collections::HashMap;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{codec, corrupt, count_post, decode_record, keys, Aggregate, StoreError, Trees};
use crate::domain::Scorer;

/// Posts upgraded per transaction.
const CHUNK: usize = 1_000;
/// Posts recounted before their bucket sums are written out.
const RECOUNT_CHUNK: usize = 20_000;

const PHASE_RECORDS: u8 = 1;
const PHASE_BUCKETS: u8 = 2;

/// The oldest schema a migration starts from.
pub const OLDEST_MIGRATABLE: u32 = 2;

/// Brings the store from schema `found` up to `keys::SCHEMA_VERSION`.
pub(super) fn migrate(t: &Trees, found: u32, path: &std::path::Path) -> Result<(), StoreError> {
    for from in found..keys::SCHEMA_VERSION {
        match from {
            2 => {
                migrate_v2_to_v3(t, path, None)?;
            }
            3 => migrate_v3_to_v4(t, path)?,
            _ => unreachable!("check_schema refuses schemas older than {OLDEST_MIGRATABLE}"),
        }
    }
    Ok(())
}

/// The 3 → 4 step: the filter index is built from the posts (an interrupted build starts over,
/// its version mark is written last), then the schema moves to 4.
fn migrate_v3_to_v4(t: &Trees, path: &std::path::Path) -> Result<(), StoreError> {
    let slots = match t.meta.get(keys::META_LABELS)? {
        Some(b) => codec::decode_slots(&b).map_err(|e| corrupt("meta", e))?,
        None => Vec::new(),
    };
    tracing::info!(path = %path.display(), "migrating the store from schema 3 to 4: building the filter index");
    // Whatever index a schema-3 store has was not kept up by its writers: build it anew.
    t.meta.remove(super::index::META_INDEX)?;
    super::index::ensure_built(t, &slots)?;
    t.meta.insert(keys::META_SCHEMA, &4u32.to_be_bytes())?;
    t.meta.flush()?;
    Ok(())
}

/// The 2 → 3 step; `stop_after` (tests) ends it after that many record chunks, as a kill
/// would.
pub(super) fn migrate_v2_to_v3(
    t: &Trees,
    path: &std::path::Path,
    stop_after: Option<usize>,
) -> Result<bool, StoreError> {
    let slots = match t.meta.get(keys::META_LABELS)? {
        Some(b) => codec::decode_slots(&b).map_err(|e| corrupt("meta", e))?,
        None => Vec::new(),
    };
    let scorer = Scorer::default();
    let progress = t.meta.get(keys::META_MIGRATION)?;
    let (mut phase, mut after) = match progress.as_deref() {
        None => (PHASE_RECORDS, None),
        Some([PHASE_RECORDS, rest @ ..]) => {
            (PHASE_RECORDS, (!rest.is_empty()).then(|| rest.to_vec()))
        }
        Some([PHASE_BUCKETS]) => (PHASE_BUCKETS, None),
        Some(_) => return Err(corrupt("meta", "unknown migration progress mark")),
    };
    tracing::info!(path = %path.display(), "migrating the store from schema 2 to 3 (authenticity)");
    let mut chunks = 0;
    let mut upgraded = 0usize;
    while phase == PHASE_RECORDS {
        let range = match &after {
            Some(k) => t.posts.range::<&[u8], _>((
                std::ops::Bound::Excluded(k.as_slice()),
                std::ops::Bound::Unbounded,
            )),
            None => t.posts.iter(),
        };
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in range.take(CHUNK) {
            let (k, v) = item?;
            let record = codec::upgrade_post_v2(&v, &slots, &scorer)
                .map_err(|e| corrupt("posts", format!("not a schema-2 record: {e}")))?;
            chunk.push((k, record));
        }
        let mark: Vec<u8> = match chunk.last() {
            Some((k, _)) => [&[PHASE_RECORDS][..], k].concat(),
            None => vec![PHASE_BUCKETS],
        };
        (&t.posts, &t.meta)
            .transaction(|(tp, tm)| {
                for (k, r) in &chunk {
                    tp.insert(k, r.as_slice())?;
                }
                tm.insert(keys::META_MIGRATION, mark.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err)?;
        upgraded += chunk.len();
        match chunk.last() {
            Some((k, _)) => after = Some(k.to_vec()),
            None => phase = PHASE_BUCKETS,
        }
        chunks += 1;
        if upgraded > 0 && upgraded % 100_000 < CHUNK {
            tracing::info!(upgraded, "migration: post records upgraded");
        }
        if stop_after.is_some_and(|n| chunks >= n) {
            t.db.flush()?;
            return Ok(false);
        }
    }

    // Phase 2: recount every bucket from the posts, from scratch.
    t.aggregates.clear()?;
    let mut deltas: HashMap<[u8; keys::AGG_LEN], Aggregate> = HashMap::new();
    let mut pending = 0;
    for item in t.posts.iter() {
        let (k, v) = item?;
        count_post(&mut deltas, &decode_record(&k, &v, &slots)?, &slots);
        pending += 1;
        if pending >= RECOUNT_CHUNK {
            write_buckets(t, &mut deltas)?;
            pending = 0;
        }
    }
    write_buckets(t, &mut deltas)?;

    (&t.meta,)
        .transaction(|(tm,)| {
            tm.insert(keys::META_SCHEMA, &3u32.to_be_bytes())?;
            tm.remove(keys::META_MIGRATION)?;
            Ok::<_, ConflictableTransactionError<()>>(())
        })
        .map_err(tx_err)?;
    t.db.flush()?;
    tracing::info!(path = %path.display(), "store migrated to schema 3");
    Ok(true)
}

/// Adds the recounted sums to the stored buckets (which the recount started empty).
fn write_buckets(
    t: &Trees,
    deltas: &mut HashMap<[u8; keys::AGG_LEN], Aggregate>,
) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for (k, d) in deltas.drain() {
        let mut cur = match t.aggregates.get(k)? {
            Some(b) => codec::decode_aggregate(&b).map_err(|e| corrupt("aggregates", e))?,
            None => Aggregate::default(),
        };
        cur.add(&d);
        batch.insert(&k[..], codec::encode_aggregate(&cur));
    }
    t.aggregates.apply_batch(batch)?;
    Ok(())
}

fn tx_err(e: TransactionError<()>) -> StoreError {
    match e {
        TransactionError::Storage(e) => StoreError::Sled(e),
        TransactionError::Abort(()) => corrupt("meta", "migration transaction aborted"),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::Authenticity;
    use crate::domain::{Classification, HeadResult, Post, PostId};
    use crate::store::{Slot, SlotKind, Store};

    pub(in crate::store) fn slots() -> Vec<Slot> {
        let s = |head: &str, label: &str, kind| Slot {
            head: head.into(),
            label: label.into(),
            kind,
        };
        vec![
            s("emotions", "anger", SlotKind::MultiLabel),
            s("emotions", "joy", SlotKind::MultiLabel),
            s("sentiment", "negative", SlotKind::SingleLabel),
            s("sentiment", "positive", SlotKind::SingleLabel),
            s("machine_generated", "machine_generated", SlotKind::Score),
            s("deceptive", "deceptive", SlotKind::Score),
        ]
    }

    /// Posts as schema 3 stores them when no signal fired: the default calibration's
    /// genuineness of their model scores, which is what the migration gives schema-2 posts.
    pub(in crate::store) fn posts(n: usize) -> Vec<Post> {
        (0..n)
            .map(|i| {
                let happy = i % 3 != 0;
                let labels = |a: &str, b: &str, first: bool| {
                    let (hi, lo) = if first { (0.9, 0.1) } else { (0.1, 0.9) };
                    HeadResult::Labels {
                        labels: vec![if first { a } else { b }.to_string()],
                        scores: BTreeMap::from([(a.to_string(), hi), (b.to_string(), lo)]),
                    }
                };
                let mut heads = BTreeMap::new();
                heads.insert("emotions".into(), labels("joy", "anger", happy));
                heads.insert("sentiment".into(), labels("positive", "negative", happy));
                heads.insert(
                    "machine_generated".into(),
                    HeadResult::Score {
                        score: (i % 10) as f32 / 10.0,
                    },
                );
                heads.insert(
                    "deceptive".into(),
                    HeadResult::Score {
                        score: (i % 7) as f32 / 7.0,
                    },
                );
                let classification = Classification {
                    language: "en".into(),
                    heads,
                };
                let mut authenticity = Authenticity::default();
                Scorer::default().score(&classification, &mut authenticity);
                let source = if i % 4 == 0 { "forum" } else { "shop" };
                let id = format!("p{i}");
                Post {
                    id: PostId::new("acme-phone", source, &id),
                    product: "acme-phone".into(),
                    source: source.into(),
                    external_id: id,
                    url: None,
                    author: Some(format!("anon-{}", i % 13)),
                    published_ms: 1_767_225_600_000 + i as i64 * 3_100_000,
                    fetched_ms: 1_767_225_600_000 + i as i64 * 3_100_000,
                    language: "en".into(),
                    title: None,
                    text: format!("Acme Phone post {i}"),
                    rating: Some(((i % 5) + 1) as f32 / 5.0),
                    channel: None,
                    classification,
                    authenticity,
                }
            })
            .collect()
    }

    type Dump = Vec<(Vec<u8>, Vec<u8>)>;

    fn dump(tree: &sled::Tree) -> Dump {
        tree.iter()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect()
    }

    /// A store of this build with `n` posts, turned into the schema-2 store the build before
    /// authenticity would have written: records without their last three fields, buckets in
    /// a layout this build cannot read. Returns the posts and buckets tree as schema 3 had them.
    fn schema2_store(path: &std::path::Path, n: usize) -> (Dump, Dump) {
        let store = Store::open(path).unwrap();
        store.register_slots(&slots()).unwrap();
        for chunk in posts(n).chunks(97) {
            store.ingest(chunk, &[], &Scorer::default(), None).unwrap();
        }
        assert!(store.verify().unwrap().problems.is_empty());
        let t = store.t().unwrap();
        let (posts_v3, buckets_v3) = (dump(&t.posts), dump(&t.aggregates));
        for (k, v) in &posts_v3 {
            let p: codec::StoredPostV2 = postcard::from_bytes(v).unwrap();
            t.posts
                .insert(k, postcard::to_allocvec(&p).unwrap())
                .unwrap();
        }
        for (k, _) in &buckets_v3 {
            t.aggregates.insert(k, &b"a schema-2 bucket"[..]).unwrap();
        }
        t.meta
            .insert(keys::META_SCHEMA, &2u32.to_be_bytes())
            .unwrap();
        // Schema 2 had no filter index.
        t.post_index.clear().unwrap();
        t.meta.remove(super::super::index::META_INDEX).unwrap();
        t.db.flush().unwrap();
        drop(t);
        drop(store);
        (posts_v3, buckets_v3)
    }

    fn schema(t: &Trees) -> u32 {
        let v = t.meta.get(keys::META_SCHEMA).unwrap().unwrap();
        u32::from_be_bytes(v.as_ref().try_into().unwrap())
    }

    #[test]
    fn a_schema_2_store_opens_as_the_store_this_build_would_have_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let (posts_v3, buckets_v3) = schema2_store(&path, 2_500);
        // Records are schema 2 now: this build cannot read them as they are.
        {
            let db = crate::store::raw_sled_waiting(&path);
            let (_, v) = db
                .open_tree("posts")
                .unwrap()
                .iter()
                .next()
                .unwrap()
                .unwrap();
            assert!(codec::decode_post(PostId([0; 16]), &v, &slots()).is_err());
        }

        let store = Store::open_waiting(&path, crate::store::REOPEN_LOCK_WAIT).unwrap();
        let t = store.t().unwrap();
        assert_eq!(schema(&t), keys::SCHEMA_VERSION);
        assert!(t.meta.get(keys::META_MIGRATION).unwrap().is_none());
        assert_eq!(dump(&t.posts), posts_v3, "records byte for byte");
        assert_eq!(dump(&t.aggregates), buckets_v3, "buckets byte for byte");
        assert_eq!(store.post_count(), 2_500);
        let r = store.verify().unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        drop(t);
        drop(store);
        // Opening again migrates nothing and changes nothing.
        let store = Store::open_waiting(&path, crate::store::REOPEN_LOCK_WAIT).unwrap();
        assert_eq!(dump(&store.t().unwrap().posts), posts_v3);
    }

    #[test]
    fn an_interrupted_migration_resumes_where_it_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let (posts_v3, buckets_v3) = schema2_store(&path, 2_500);
        // Two of three record chunks, then a "kill" (the trees are closed unflushed beyond
        // what the chunks flushed).
        {
            let t = super::super::open_trees(&path).unwrap();
            assert!(!migrate_v2_to_v3(&t, &path, Some(2)).unwrap());
            assert_eq!(schema(&t), 2, "not done: still schema 2");
            let mark = t.meta.get(keys::META_MIGRATION).unwrap().unwrap();
            assert_eq!(mark[0], PHASE_RECORDS);
        }
        // A half-migrated store: the next open finishes the job.
        let store = Store::open_waiting(&path, crate::store::REOPEN_LOCK_WAIT).unwrap();
        let t = store.t().unwrap();
        assert_eq!(schema(&t), keys::SCHEMA_VERSION);
        assert_eq!(dump(&t.posts), posts_v3);
        assert_eq!(dump(&t.aggregates), buckets_v3);
        assert!(store.verify().unwrap().problems.is_empty());
    }

    /// A schema-3 store has no filter index: opening builds it, and a filtered page read from
    /// it is the page a scan of every post finds.
    #[test]
    fn a_schema_3_store_gains_its_filter_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path).unwrap();
            store.register_slots(&slots()).unwrap();
            store
                .ingest(&posts(1_200), &[], &Scorer::default(), None)
                .unwrap();
            let t = store.t().unwrap();
            t.post_index.clear().unwrap();
            t.meta.remove(super::super::index::META_INDEX).unwrap();
            t.meta
                .insert(keys::META_SCHEMA, &3u32.to_be_bytes())
                .unwrap();
            t.db.flush().unwrap();
        }
        let store = Store::open_waiting(&path, crate::store::REOPEN_LOCK_WAIT).unwrap();
        let t = store.t().unwrap();
        assert_eq!(schema(&t), keys::SCHEMA_VERSION);
        assert!(t.post_index.len() > 1_200, "{}", t.post_index.len());
        let r = store.verify().unwrap();
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        for label in ["emotions.anger", "joy", "sentiment.negative"] {
            let q = crate::store::PostQuery {
                product: "acme-phone".into(),
                from_ms: i64::MIN / 2,
                to_ms: i64::MAX / 2,
                source: None,
                label: Some(label.into()),
                min_score: None,
                signal: None,
                suspicious: None,
                limit: 50,
                after: None,
            };
            let page: Vec<PostId> = store
                .posts_page(&q)
                .unwrap()
                .posts
                .iter()
                .map(|p| p.id)
                .collect();
            let (head, l) = label.split_once('.').unwrap_or(("emotions", label));
            let scan: Vec<PostId> = store
                .scan_posts_rev("acme-phone", q.from_ms, q.to_ms)
                .map(Result::unwrap)
                .filter(|p| p.classification.has_label(head, l, 0.5))
                .take(50)
                .map(|p| p.id)
                .collect();
            assert!(!scan.is_empty(), "{label} occurs in the fixture");
            assert_eq!(page, scan, "{label}");
        }
    }
}
