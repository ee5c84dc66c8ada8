//! Store benchmark: ingest throughput and trend-query latency of cxpulse's sled store, side by side
//! with the obvious alternative, SQLite (rusqlite, bundled, WAL), doing the same work.
//!
//! Modes (see BENCHMARKS.md):
//!
//! * `cargo bench --bench store` (argument `--bench`): the full run, 1,000,000 posts
//!   (`CXPULSE_BENCH_POSTS=N` overrides), 1,000 timed queries after warm-up, and one table.
//! * without `--bench` (as `cargo test --all-targets` runs it): a smoke run, 2,000 posts and a
//!   few queries, asserting that the sled and SQLite stores give the same trend.
//! * `--populate DIR`: ingest the posts into a sled store at DIR and exit (for the RSS
//!   measurement of scripts/bench.sh).
//! * `--sled-floor`: what sled alone costs for the two inserts every post needs (its record
//!   and its id-index entry), with the store's own keys and records, next to `Store::ingest`.
//!
//! `CXPULSE_BENCH_DIR` chooses where the temporary stores go (default: the system temp dir).
//!
//! The posts are synthetic and deterministic (fixed seed, no network): one main product and two
//! others, five sources, published times spread over one year in roughly the order a daemon
//! receives them, 150-300 character texts from word lists, ratings on about half, authors, and a
//! classification with every head of models/tiny-test/labels.json. The model is not run.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cxpulse::domain::Scorer;
use cxpulse::domain::{Classification, HeadResult, Post, PostId};
use cxpulse::ingest::classifier::{HeadKind, ModelSpec};
use cxpulse::query::trends::{self, Interval, Trends};
use cxpulse::store::keys::ALL_SOURCES;
use cxpulse::store::{codec, keys, Aggregate, Granularity, Slot, Store};
use rusqlite::{params, Connection, OptionalExtension};

/// Posts per `Store::ingest` call / SQLite transaction (what the daemon hands the store).
const BATCH: usize = 1_000;
const FULL_POSTS: usize = 1_000_000;
const SMOKE_POSTS: usize = 2_000;
const SEED: u64 = 0x00C0_FFEE_2024_0001;

const MAIN_PRODUCT: &str = "nordwind-trail-2";
const PRODUCTS: [&str; 3] = [MAIN_PRODUCT, "nordwind-city-1", "polaris-hiker-x"];
const PRODUCT_NAMES: [&str; 3] = [
    "Nordwind Trail Runner 2",
    "Nordwind City 1",
    "Polaris Hiker X",
];
const SOURCES: [&str; 5] = [
    "trustpilot",
    "webshop-reviews",
    "reddit-running",
    "runners-forum",
    "gear-news-rss",
];
const CHANNELS: [&str; 4] = ["webshop", "forum", "social", "news"];

/// 2024-01-01T00:00:00Z; the posts cover the 365 days from here.
const YEAR_START_MS: i64 = 1_704_067_200_000;
const DAY_MS: i64 = 86_400_000;
const YEAR_MS: i64 = 365 * DAY_MS;

const WORDS: &[&str] = &[
    "the",
    "shoe",
    "fits",
    "well",
    "and",
    "the",
    "grip",
    "on",
    "wet",
    "rock",
    "is",
    "great",
    "but",
    "sole",
    "wore",
    "out",
    "after",
    "three",
    "hundred",
    "kilometres",
    "delivery",
    "was",
    "late",
    "support",
    "answered",
    "quickly",
    "price",
    "feels",
    "high",
    "for",
    "what",
    "you",
    "get",
    "comfortable",
    "from",
    "first",
    "run",
    "laces",
    "keep",
    "coming",
    "undone",
    "heel",
    "cup",
    "rubs",
    "a",
    "bit",
    "on",
    "long",
    "downhills",
    "toe",
    "box",
    "roomy",
    "enough",
    "for",
    "wide",
    "feet",
    "colour",
    "faded",
    "in",
    "the",
    "sun",
    "returned",
    "my",
    "pair",
    "refund",
    "took",
    "two",
    "weeks",
    "honestly",
    "love",
    "these",
    "would",
    "buy",
    "again",
    "not",
    "worth",
    "money",
    "cushioning",
    "is",
    "firm",
    "responsive",
    "light",
    "breathable",
    "waterproof",
    "claims",
    "are",
    "exaggerated",
    "store",
    "staff",
    "were",
    "helpful",
    "packaging",
    "was",
    "damaged",
    "size",
    "runs",
    "small",
    "order",
    "half",
    "size",
    "up",
    "trail",
    "mud",
    "gravel",
    "road",
    "marathon",
    "training",
    "blister",
    "ankle",
    "stable",
    "drop",
    "stack",
    "height",
    "upper",
    "mesh",
    "tore",
    "near",
    "the",
    "little",
    "toe",
    "customer",
    "service",
    "replaced",
    "them",
];

const TITLE_WORDS: &[&str] = &[
    "Great",
    "grip",
    "Disappointed",
    "Solid",
    "shoe",
    "Runs",
    "small",
    "Love",
    "them",
    "Not",
    "worth",
    "it",
    "Best",
    "trail",
    "shoe",
    "yet",
    "Fell",
    "apart",
    "Comfortable",
    "Meh",
];

// ---------------------------------------------------------------------------------------------
// Deterministic synthetic posts

/// SplitMix64: tiny, fast, and the same sequence on every platform and crate version.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in [0, 1).
    fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn round4(x: f32) -> f32 {
    (x * 10_000.0).round() / 10_000.0
}

/// A classification shaped like the classifier's: every head of the model, probabilities rounded
/// to 4 decimals, labels over threshold (multi-label) or the winner (single-label).
fn classify(spec: &ModelSpec, rng: &mut Rng) -> Classification {
    let mut heads = BTreeMap::new();
    for h in &spec.heads {
        let r = match h.kind {
            HeadKind::Score => HeadResult::Score {
                score: round4(rng.f32() * rng.f32()),
            },
            HeadKind::MultiLabel => {
                // Mostly low probabilities, one or two strong labels.
                let mut probs: Vec<f32> = (0..h.labels.len())
                    .map(|_| {
                        let x = rng.f32();
                        x * x * x * 0.6
                    })
                    .collect();
                for _ in 0..1 + rng.below(2) {
                    let i = rng.below(probs.len() as u64) as usize;
                    probs[i] = 0.55 + 0.44 * rng.f32();
                }
                let probs: Vec<f32> = probs.into_iter().map(round4).collect();
                HeadResult::Labels {
                    labels: h
                        .labels
                        .iter()
                        .zip(&probs)
                        .zip(&h.thresholds)
                        .filter(|((_, p), t)| **p >= **t)
                        .map(|((l, _), _)| l.clone())
                        .collect(),
                    scores: h.labels.iter().cloned().zip(probs).collect(),
                }
            }
            HeadKind::SingleLabel => {
                let logits: Vec<f32> = (0..h.labels.len()).map(|_| rng.f32() * 4.0).collect();
                let sum: f32 = logits.iter().map(|x| x.exp()).sum();
                let probs: Vec<f32> = logits.iter().map(|x| round4(x.exp() / sum)).collect();
                let best = probs
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                HeadResult::Labels {
                    labels: vec![h.labels[best].clone()],
                    scores: h.labels.iter().cloned().zip(probs).collect(),
                }
            }
        };
        heads.insert(h.name.clone(), r);
    }
    Classification {
        language: "en".into(),
        heads,
    }
}

/// Post number `i` of `n`. Published times rise with `i` (plus jitter), so consecutive batches
/// cover consecutive hours, as when a daemon follows its feeds or imports an export in order.
fn make_post(i: usize, n: usize, spec: &ModelSpec, rng: &mut Rng) -> Post {
    let pi = match rng.below(10) {
        0..=5 => 0,
        6 | 7 => 1,
        _ => 2,
    };
    let product = PRODUCTS[pi];
    let source = rng.pick(&SOURCES);
    let step = (YEAR_MS / n.max(1) as i64).max(1);
    let published_ms =
        (YEAR_START_MS + i as i64 * YEAR_MS / n.max(1) as i64 + rng.below(step as u64) as i64)
            .min(YEAR_START_MS + YEAR_MS - 1);
    let external_id = format!("{source}-{i:08}");
    let id = PostId::new(product, source, &external_id);
    let target_len = 150 + rng.below(151) as usize;
    let mut text = String::with_capacity(target_len + 16);
    text.push_str(PRODUCT_NAMES[pi]);
    while text.len() < target_len {
        text.push(' ');
        text.push_str(rng.pick(WORDS));
    }
    text.push('.');
    let title = (rng.below(10) < 4).then(|| {
        let k = 2 + rng.below(3);
        (0..k)
            .map(|_| rng.pick(TITLE_WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let rating = (rng.below(2) == 0).then(|| {
        // Skewed towards 4 and 5 stars, normalised to 0-1 as the sources do.
        let stars = [1, 2, 3, 4, 4, 5, 5, 5][rng.below(8) as usize];
        stars as f32 / 5.0
    });
    let author = (rng.below(10) < 9).then(|| format!("{:016x}", rng.next_u64()));
    let url = (rng.below(10) < 8).then(|| format!("https://{source}.example.com/{product}/{i}"));
    let channel = (rng.below(2) == 0).then(|| rng.pick(&CHANNELS).to_string());
    // About 5% in languages the model does not read: stored, counted, not scored.
    let (language, classification) = if rng.below(20) == 0 {
        let lang = if rng.below(2) == 0 { "de" } else { "fr" };
        (
            lang.to_string(),
            Classification {
                language: lang.into(),
                heads: BTreeMap::new(),
            },
        )
    } else {
        ("en".to_string(), classify(spec, rng))
    };
    Post {
        id,
        product: product.to_string(),
        source: source.to_string(),
        external_id,
        url,
        author,
        published_ms,
        fetched_ms: published_ms + rng.below(6 * 3_600_000) as i64,
        language,
        title,
        text,
        rating,
        channel,
        classification,
        authenticity: Default::default(),
    }
}

/// Batch `b` of the `n` posts: the same posts every time it is asked for.
fn make_batch(b: usize, n: usize, spec: &ModelSpec) -> Vec<Post> {
    let mut rng = Rng::new(SEED ^ (b as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    (b * BATCH..((b + 1) * BATCH).min(n))
        .map(|i| make_post(i, n, spec, &mut rng))
        .collect()
}

fn batches(n: usize) -> usize {
    n.div_ceil(BATCH)
}

// ---------------------------------------------------------------------------------------------
// sled (the cxpulse store)

struct IngestRun {
    inserted: usize,
    /// Time inside ingest + flush only (post generation excluded).
    busy: Duration,
}

impl IngestRun {
    fn rate(&self) -> f64 {
        self.inserted as f64 / self.busy.as_secs_f64()
    }
}

fn progress(label: &str, b: usize, nb: usize, run: &IngestRun, started: Instant) {
    let every = (nb / 10).max(1);
    if nb >= 100 && (b + 1) % every == 0 {
        eprintln!(
            "  {label}: {}/{} batches, {} posts, {:.0} posts/s (ingest only), {:.0} s elapsed",
            b + 1,
            nb,
            run.inserted,
            run.rate(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// Generates the `n` posts in batches and times `ingest(batch, cursor) -> inserted` on each.
fn timed_ingest(
    n: usize,
    spec: &ModelSpec,
    label: &str,
    mut ingest: impl FnMut(&[Post], &[u8]) -> usize,
) -> IngestRun {
    let nb = batches(n);
    let mut run = IngestRun {
        inserted: 0,
        busy: Duration::ZERO,
    };
    let started = Instant::now();
    for b in 0..nb {
        let batch = make_batch(b, n, spec);
        let cursor = (b as u64 + 1).to_be_bytes();
        let t = Instant::now();
        run.inserted += ingest(&batch, &cursor);
        run.busy += t.elapsed();
        progress(label, b, nb, &run, started);
    }
    run
}

fn sled_ingest(store: &Store, n: usize, spec: &ModelSpec) -> IngestRun {
    timed_ingest(n, spec, "sled", |batch, cursor| {
        let out = store
            .ingest(batch, &[], &Scorer::default(), Some(("bench", cursor)))
            .expect("sled ingest");
        // The daemon makes every batch durable before it advances the source's cursor.
        store.flush_blocking().expect("sled flush");
        out.inserted
    })
}

fn sled_trend(store: &Store, from: i64, to: i64) -> Trends {
    trends::trends(store, MAIN_PRODUCT, from, to, Interval::Day, None).expect("sled trends")
}

// ---------------------------------------------------------------------------------------------
// SQLite (the alternative)

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS posts (
    id BLOB PRIMARY KEY,
    product TEXT NOT NULL,
    source TEXT NOT NULL,
    published INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS posts_product_published ON posts(product, published);
CREATE TABLE IF NOT EXISTS aggregates (
    product TEXT NOT NULL,
    gran INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    scored INTEGER NOT NULL,
    rating_count INTEGER NOT NULL,
    rating_sum REAL NOT NULL,
    rating_hist BLOB NOT NULL,
    sentiment_sum REAL NOT NULL,
    prob_sums BLOB NOT NULL,
    label_counts BLOB NOT NULL,
    dominant_counts BLOB NOT NULL,
    suspicious INTEGER NOT NULL,
    genuineness_sum REAL NOT NULL,
    signal_counts BLOB NOT NULL,
    PRIMARY KEY (product, gran, bucket, source)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    cursor BLOB NOT NULL
);
";

const AGG_COLUMNS: &str = "count, scored, rating_count, rating_sum, rating_hist, sentiment_sum, \
                           prob_sums, label_counts, dominant_counts, suspicious, genuineness_sum, \
                           signal_counts";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SyncMode {
    Full,
    Normal,
}

impl SyncMode {
    fn name(self) -> &'static str {
        match self {
            SyncMode::Full => "FULL",
            SyncMode::Normal => "NORMAL",
        }
    }
}

fn sqlite_open(path: &Path, sync: SyncMode) -> Connection {
    let conn = Connection::open(path).expect("open sqlite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode.to_ascii_lowercase(), "wal");
    conn.execute_batch(&format!(
        // The same 64 MiB of page cache as the sled store is given.
        "PRAGMA synchronous={}; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
        sync.name()
    ))
    .expect("pragmas");
    conn.execute_batch(SQLITE_SCHEMA).expect("schema");
    conn
}

fn f64s_to_blob(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u64s_to_blob(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob_to_f64s(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

fn blob_to_u64s(b: &[u8]) -> Vec<u64> {
    b.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}

/// Reads the aggregate columns starting at column `at`.
fn row_to_aggregate(
    r: &rusqlite::Row<'_>,
    at: usize,
    source: String,
) -> rusqlite::Result<Aggregate> {
    let hist = blob_to_u64s(r.get_ref(at + 4)?.as_blob()?);
    let mut rating_hist = [0u64; 5];
    for (d, s) in rating_hist.iter_mut().zip(hist) {
        *d = s;
    }
    Ok(Aggregate {
        source,
        count: r.get::<_, i64>(at)? as u64,
        scored: r.get::<_, i64>(at + 1)? as u64,
        rating_count: r.get::<_, i64>(at + 2)? as u64,
        rating_sum: r.get(at + 3)?,
        rating_hist,
        sentiment_sum: r.get(at + 5)?,
        prob_sums: blob_to_f64s(r.get_ref(at + 6)?.as_blob()?),
        label_counts: blob_to_u64s(r.get_ref(at + 7)?.as_blob()?),
        dominant_counts: blob_to_u64s(r.get_ref(at + 8)?.as_blob()?),
        suspicious: r.get::<_, i64>(at + 9)? as u64,
        genuineness_sum: r.get(at + 10)?,
        signal_counts: blob_to_u64s(r.get_ref(at + 11)?.as_blob()?),
    })
}

/// The same work as `Store::ingest`: skip stored posts, store the rest (encoded the same way),
/// pre-sum the hour and day aggregates of the batch, then read-add-write each touched bucket, and
/// the source's cursor, in one transaction.
fn sqlite_ingest_batch(
    conn: &mut Connection,
    posts: &[Post],
    slots: &[Slot],
    cursor: &[u8],
) -> usize {
    let tx = conn.transaction().expect("begin");
    let mut inserted = 0;
    {
        let mut ins = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO posts (id, product, source, published, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .expect("prepare insert");
        let mut deltas: HashMap<(&str, u8, i64, &str), Aggregate> = HashMap::new();
        for p in posts {
            let (scores, labels) = codec::classification_to_slots(&p.classification, slots);
            let data = codec::encode_post(p, &scores, &labels);
            let changed = ins
                .execute(params![
                    &p.id.0[..],
                    p.product,
                    p.source,
                    p.published_ms,
                    data
                ])
                .expect("insert post");
            if changed == 0 {
                continue;
            }
            inserted += 1;
            // The same layout as the sled store: every bucket under its source and under "*".
            let mut one = Aggregate::default();
            one.add_post(p, &scores, &labels, slots);
            for g in [Granularity::Hour, Granularity::Day] {
                for src in [p.source.as_str(), ALL_SOURCES] {
                    let k = (
                        p.product.as_str(),
                        g as u8,
                        g.bucket_start(p.published_ms),
                        src,
                    );
                    deltas
                        .entry(k)
                        .or_insert_with(|| Aggregate {
                            source: src.to_string(),
                            ..Default::default()
                        })
                        .add(&one);
                }
            }
        }
        let mut sel = tx
            .prepare_cached(&format!(
                "SELECT {AGG_COLUMNS} FROM aggregates \
                 WHERE product = ?1 AND gran = ?2 AND bucket = ?3 AND source = ?4"
            ))
            .expect("prepare select");
        let mut put = tx
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO aggregates (product, gran, bucket, source, {AGG_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))
            .expect("prepare upsert");
        for ((product, g, bucket, source), d) in &deltas {
            let mut cur = sel
                .query_row(params![product, g, bucket, source], |r| {
                    row_to_aggregate(r, 0, source.to_string())
                })
                .optional()
                .expect("select aggregate")
                .unwrap_or_default();
            cur.add(d);
            put.execute(params![
                product,
                g,
                bucket,
                source,
                cur.count as i64,
                cur.scored as i64,
                cur.rating_count as i64,
                cur.rating_sum,
                u64s_to_blob(&cur.rating_hist),
                cur.sentiment_sum,
                f64s_to_blob(&cur.prob_sums),
                u64s_to_blob(&cur.label_counts),
                u64s_to_blob(&cur.dominant_counts),
                cur.suspicious as i64,
                cur.genuineness_sum,
                u64s_to_blob(&cur.signal_counts),
            ])
            .expect("upsert aggregate");
        }
        tx.prepare_cached("INSERT OR REPLACE INTO cursors (source, cursor) VALUES (?1, ?2)")
            .expect("prepare cursor")
            .execute(params!["bench", cursor])
            .expect("cursor");
    }
    tx.commit().expect("commit");
    inserted
}

fn sqlite_ingest(
    conn: &mut Connection,
    n: usize,
    spec: &ModelSpec,
    slots: &[Slot],
    label: &str,
) -> IngestRun {
    timed_ingest(n, spec, label, |batch, cursor| {
        sqlite_ingest_batch(conn, batch, slots, cursor)
    })
}

/// The day buckets of `[from, to)` summed over sources, as `Store::aggregates` returns them.
fn sqlite_aggregates(conn: &Connection, from: i64, to: i64) -> Vec<(i64, Aggregate)> {
    let g = Granularity::Day;
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT bucket, {AGG_COLUMNS} FROM aggregates \
             WHERE product = ?1 AND gran = ?2 AND source = ?3 AND bucket >= ?4 AND bucket < ?5 \
             ORDER BY bucket"
        ))
        .expect("prepare trend query");
    let mut rows = stmt
        .query(params![
            MAIN_PRODUCT,
            g as u8,
            ALL_SOURCES,
            g.bucket_start(from),
            to
        ])
        .expect("trend query");
    let mut out: Vec<(i64, Aggregate)> = Vec::new();
    while let Some(r) = rows.next().expect("row") {
        let bucket: i64 = r.get(0).expect("bucket");
        let a = row_to_aggregate(r, 1, String::new()).expect("aggregate row");
        match out.last_mut() {
            Some((b, acc)) if *b == bucket => acc.add(&a),
            _ => out.push((bucket, a)),
        }
    }
    out
}

/// The same result as `trends::trends(.., Interval::Day, None)`, from SQLite: the same roll-up
/// over the rows SQLite returns.
fn sqlite_trend(conn: &Connection, slots: &[Slot], from: i64, to: i64) -> Trends {
    let rows = sqlite_aggregates(conn, from, to);
    cxpulse::query::trends::roll_up(MAIN_PRODUCT, from, to, Interval::Day, None, &rows, slots)
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Latency {
    p50: Duration,
    p99: Duration,
}

fn time_queries<T>(warmup: usize, n: usize, mut f: impl FnMut() -> T) -> Latency {
    for _ in 0..warmup {
        black_box(f());
    }
    let mut v: Vec<Duration> = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = f();
        v.push(t.elapsed());
        black_box(r);
    }
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    Latency {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.flatten()
        .map(|e| {
            let m = e
                .metadata()
                .map(|m| (m.is_dir(), m.len()))
                .unwrap_or((false, 0));
            if m.0 {
                dir_size(&e.path())
            } else {
                m.1
            }
        })
        .sum()
}

fn sqlite_size(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| {
            let mut p = db.as_os_str().to_owned();
            p.push(s);
            std::fs::metadata(PathBuf::from(p))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

/// The 1-minute load average, to tell a quiet run from one that shared the machine.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// Asserts that two trend results agree: counts exactly, means to the rounding of the output.
fn assert_same_trend(a: &Trends, b: &Trends) {
    assert_eq!(a.buckets, b.buckets, "buckets");
    assert_eq!(a.volume, b.volume, "volumes");
    assert_eq!(a.scored, b.scored, "scored");
    assert_eq!(a.rating_hist, b.rating_hist, "ratings");
    assert_eq!(a.total.volume, b.total.volume, "total volume");
    let close = |p: f64, q: f64| (p - q).abs() <= 2e-4;
    for (x, y) in a.sentiment_index.iter().zip(&b.sentiment_index) {
        assert!(match (x, y) {
            (Some(p), Some(q)) => close(*p, *q),
            (p, q) => p == q,
        });
    }
    for (h, ls) in &a.labels {
        for (l, s) in ls {
            let t = &b.labels[h][l];
            for i in 0..s.mean.len() {
                assert!(
                    close(s.mean[i], t.mean[i]),
                    "{h}.{l} mean of {}",
                    a.buckets[i]
                );
                assert!(
                    close(s.share[i], t.share[i]),
                    "{h}.{l} share of {}",
                    a.buckets[i]
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Main

struct Args {
    full: bool,
    populate: Option<PathBuf>,
    breakdown: bool,
    sled_floor: bool,
    rss_probe: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        full: false,
        populate: None,
        breakdown: false,
        sled_floor: false,
        rss_probe: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--bench" => a.full = true,
            "--breakdown" => a.breakdown = true,
            "--sled-floor" => a.sled_floor = true,
            "--rss-probe" => {
                a.rss_probe = Some(PathBuf::from(
                    it.next().expect("--rss-probe needs a directory"),
                ))
            }
            "--populate" => {
                a.populate = Some(PathBuf::from(
                    it.next().expect("--populate needs a directory"),
                ))
            }
            _ => {} // cargo may pass filters; there is only one benchmark here
        }
    }
    a
}

/// A temporary folder for the stores, under `CXPULSE_BENCH_DIR` when set (created if it does
/// not exist yet).
fn bench_dir(prefix: &str) -> tempfile::TempDir {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    let made = match std::env::var_os("CXPULSE_BENCH_DIR") {
        Some(d) => std::fs::create_dir_all(&d)
            .and_then(|()| b.tempdir_in(&d))
            .map_err(|e| format!("CXPULSE_BENCH_DIR={}: {e}", d.to_string_lossy())),
        None => b.tempdir().map_err(|e| format!("the system temp dir: {e}")),
    };
    made.unwrap_or_else(|e| panic!("cannot make a temporary store folder in {e}"))
}

fn posts_wanted(default: usize) -> usize {
    match std::env::var("CXPULSE_BENCH_POSTS") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .expect("CXPULSE_BENCH_POSTS must be a positive number"),
        Err(_) => default,
    }
}

fn load_spec() -> ModelSpec {
    ModelSpec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tiny-test"))
        .expect("models/tiny-test/labels.json")
}

/// Where the sled side's time goes: the encoding `Store::ingest` does before its transaction
/// (measured by doing the same calls on the side), the `ingest` call, the flush; and for the trend
/// query, fetching the rows against rolling them up into points.
/// Raw sled on the store's own keys and records, flushed per batch like the daemon: only the
/// record inserts; the records plus the id index with its duplicate check, in one two-tree
/// transaction (the least a crash-safe, duplicate-free ingest does); and `Store::ingest` itself.
/// The first two are a floor for any design that keeps sled and an exact id index.
fn sled_floor() {
    use sled::Transactional;
    let n = posts_wanted(FULL_POSTS);
    let spec = load_spec();
    let slots = spec.slots();
    let base = bench_dir("cxpulse-floor");
    let encoded = |batch: &[Post]| -> Vec<([u8; keys::POST_KEY_LEN], [u8; 16], Vec<u8>)> {
        batch
            .iter()
            .map(|p| {
                let (scores, labels) = codec::classification_to_slots(&p.classification, &slots);
                (
                    keys::post_key(&p.product, p.published_ms, &p.id),
                    keys::id_key(&p.id),
                    codec::encode_post(p, &scores, &labels),
                )
            })
            .collect()
    };
    let run = |mode: &str| -> f64 {
        let db = sled::Config::new()
            .path(base.path().join(mode))
            .cache_capacity(32 * 1024 * 1024)
            .open()
            .expect("open sled");
        let (posts, ids) = (db.open_tree("posts").unwrap(), db.open_tree("ids").unwrap());
        let store = (mode == "store").then(|| {
            let s = Store::open(&base.path().join("store-db")).expect("open store");
            s.register_slots(&slots).expect("slots");
            s
        });
        let mut timed = Duration::ZERO;
        for b in 0..batches(n) {
            let batch = make_batch(b, n, &spec);
            let t = Instant::now();
            match (mode, &store) {
                ("records", _) => {
                    let mut bp = sled::Batch::default();
                    for (k, _, r) in encoded(&batch) {
                        bp.insert(&k[..], r);
                    }
                    posts.apply_batch(bp).expect("apply");
                    db.flush().expect("flush");
                }
                ("records+ids", _) => {
                    let e = encoded(&batch);
                    (&posts, &ids)
                        .transaction(|(tp, ti)| {
                            for (k, id, r) in &e {
                                if ti.get(id)?.is_some() {
                                    continue;
                                }
                                ti.insert(&id[..], &k[..])?;
                                tp.insert(&k[..], r.as_slice())?;
                            }
                            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                        })
                        .expect("transaction");
                    db.flush().expect("flush");
                }
                (_, Some(s)) => {
                    let cursor = (b as u64 + 1).to_be_bytes();
                    s.ingest(
                        &batch,
                        &[],
                        &Scorer::default(),
                        Some(("bench", &cursor[..])),
                    )
                    .expect("ingest");
                    s.flush_blocking().expect("flush");
                }
                _ => unreachable!(),
            }
            timed += t.elapsed();
        }
        n as f64 / timed.as_secs_f64()
    };
    println!("sled floor, {n} posts in batches of {BATCH}, flushed per batch (posts/s, encoding included):");
    for mode in ["records", "records+ids", "store"] {
        let rate = run(mode);
        let what = match mode {
            "records" => "records only (apply_batch)",
            "records+ids" => "records + id index + duplicate check (transaction)",
            _ => "Store::ingest (+ buckets, post count, cursor)",
        };
        println!("  {what:<52} {rate:>9.0}");
    }
}

fn breakdown() {
    let n = posts_wanted(100_000);
    let spec = load_spec();
    let base = bench_dir("cxpulse-breakdown");
    let store = Store::open(&base.path().join("sled")).expect("open sled store");
    let slots = store.register_slots(&spec.slots()).expect("register slots");
    let (mut gen, mut encode, mut ingest, mut flush) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    for b in 0..batches(n) {
        let t = Instant::now();
        let batch = make_batch(b, n, &spec);
        gen += t.elapsed();
        let t = Instant::now();
        for p in &batch {
            let (scores, labels) = codec::classification_to_slots(&p.classification, &slots);
            black_box(codec::encode_post(p, &scores, &labels));
        }
        encode += t.elapsed();
        let cursor = (b as u64 + 1).to_be_bytes();
        let t = Instant::now();
        store
            .ingest(
                &batch,
                &[],
                &Scorer::default(),
                Some(("bench", &cursor[..])),
            )
            .expect("ingest");
        ingest += t.elapsed();
        let t = Instant::now();
        store.flush_blocking().expect("flush");
        flush += t.elapsed();
    }
    let per_post = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!("sled ingest breakdown, {n} posts, microseconds per post:");
    println!(
        "  generating the posts (not measured by the bench): {:.1}",
        per_post(gen)
    );
    println!(
        "  Store::ingest call:                               {:.1}",
        per_post(ingest)
    );
    println!(
        "    of which encoding outside the transaction (est.): {:.1}",
        per_post(encode)
    );
    println!(
        "  Store::flush_blocking:                            {:.1}",
        per_post(flush)
    );
    println!(
        "  => {:.0} posts/s (ingest + flush)",
        n as f64 / (ingest + flush).as_secs_f64()
    );
    let (from, to) = (YEAR_START_MS, YEAR_START_MS + YEAR_MS);
    let q = time_queries(20, 200, || sled_trend(&store, from, to));
    let f = time_queries(20, 200, || {
        store
            .aggregates(MAIN_PRODUCT, Granularity::Day, from, to, None)
            .expect("aggregates")
    });
    let rows = store
        .aggregates(MAIN_PRODUCT, Granularity::Day, from, to, None)
        .expect("aggregates");
    let r = time_queries(20, 200, || {
        trends::roll_up(MAIN_PRODUCT, from, to, Interval::Day, None, &rows, &slots)
    });
    println!("trend query (365 daily points), p50 ms:");
    println!("  trends::trends:                    {:.3}", ms(q.p50));
    println!("  Store::aggregates (fetch+decode):  {:.3}", ms(f.p50));
    println!(
        "  trends::roll_up of {} rows:       {:.3}",
        rows.len(),
        ms(r.p50)
    );
}

/// VmRSS and VmHWM of this process, in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The store's share of the daemon's memory: the resident set after each step the daemon's
/// start-up and the RSS benchmark's queries take, on a populated store, without the model.
fn rss_probe(dir: &Path) {
    let step = |what: &str| {
        let (rss, hwm) = rss_mib();
        println!("  {what:<45} VmRSS {rss:7.1} MiB   VmHWM {hwm:7.1} MiB");
    };
    println!("store memory probe on {}:", dir.display());
    step("process start");
    let store = Store::open(dir).expect("open sled store");
    step("Store::open");
    let spec = load_spec();
    store.register_slots(&spec.slots()).expect("register slots");
    let t = Instant::now();
    let n = store.post_count();
    step(&format!(
        "post_count() = {n} ({:.1} s)",
        t.elapsed().as_secs_f64()
    ));
    let (from, to) = (YEAR_START_MS, YEAR_START_MS + YEAR_MS);
    for _ in 0..30 {
        black_box(sled_trend(&store, from, to));
    }
    step("30 trend queries (a year by day)");
    let mut q = cxpulse::store::PostQuery {
        product: MAIN_PRODUCT.into(),
        from_ms: from,
        to_ms: to,
        limit: 100,
        ..Default::default()
    };
    for _ in 0..30 {
        black_box(store.posts_page(&q).expect("posts page"));
    }
    step("30 pages of 100 posts");
    q.label = Some("emotions.anger".into());
    q.limit = 50;
    for _ in 0..6 {
        black_box(store.posts_page(&q).expect("posts page"));
    }
    step("6 pages filtered by label");
    let t = Instant::now();
    black_box(store.post_count());
    step(&format!(
        "post_count() again ({:.1} s)",
        t.elapsed().as_secs_f64()
    ));
}

fn populate(dir: &Path) {
    let n = posts_wanted(FULL_POSTS);
    let spec = load_spec();
    let store = Store::open(dir).expect("open sled store");
    store.register_slots(&spec.slots()).expect("register slots");
    eprintln!("populate: {n} posts into {}", dir.display());
    let run = sled_ingest(&store, n, &spec);
    store.flush_blocking().expect("flush");
    println!(
        "populated {} with {} posts in {:.1} s ({:.0} posts/s), {:.1} MiB on disk",
        dir.display(),
        run.inserted,
        run.busy.as_secs_f64(),
        run.rate(),
        mib(dir_size(dir))
    );
}

fn main() {
    let a = args();
    if let Some(dir) = a.populate {
        populate(&dir);
        return;
    }
    if a.breakdown {
        breakdown();
        return;
    }
    if a.sled_floor {
        sled_floor();
        return;
    }
    if let Some(dir) = a.rss_probe {
        rss_probe(&dir);
        return;
    }
    let full = a.full;
    let n = posts_wanted(if full { FULL_POSTS } else { SMOKE_POSTS });
    let (warmup, queries) = if full { (100, 1_000) } else { (3, 20) };
    let spec = load_spec();
    let slots = spec.slots();
    let load_before = loadavg();
    let base = bench_dir("cxpulse-bench");
    eprintln!(
        "store bench ({} mode): {n} posts in batches of {BATCH}, {} slots, stores under {}",
        if full { "full" } else { "smoke" },
        slots.len(),
        base.path().display()
    );

    // sled
    let sled_dir = base.path().join("sled");
    let store = Store::open(&sled_dir).expect("open sled store");
    store.register_slots(&slots).expect("register slots");
    let slots = store.slots();
    let sled_run = sled_ingest(&store, n, &spec);
    assert_eq!(sled_run.inserted, n, "sled stored every post once");

    // SQLite, synchronous=FULL (a durable commit per batch, like sled's flush per batch).
    let full_db = base.path().join("full.sqlite");
    let mut conn = sqlite_open(&full_db, SyncMode::Full);
    let sql_run = sqlite_ingest(&mut conn, n, &spec, &slots, "sqlite FULL");
    assert_eq!(sql_run.inserted, n, "sqlite stored every post once");

    // SQLite, synchronous=NORMAL (in WAL mode: commits are not fsynced; a power cut may lose
    // the last transactions, which sled's flush-per-batch does not allow).
    let normal_db = base.path().join("normal.sqlite");
    let normal_run = {
        let mut c = sqlite_open(&normal_db, SyncMode::Normal);
        let r = sqlite_ingest(&mut c, n, &spec, &slots, "sqlite NORMAL");
        assert_eq!(r.inserted, n);
        r
    };

    // Re-ingesting a batch is a no-op in both.
    let again = make_batch(0, n, &spec);
    let dup = store
        .ingest(&again, &[], &Scorer::default(), None)
        .expect("re-ingest");
    assert_eq!((dup.inserted, dup.duplicates), (0, again.len()));
    assert_eq!(sqlite_ingest_batch(&mut conn, &again, &slots, b"x"), 0);

    // The query: a year of daily buckets of the main product.
    let (from, to) = (YEAR_START_MS, YEAR_START_MS + YEAR_MS);
    let a_sled = sled_trend(&store, from, to);
    let a_sql = sqlite_trend(&conn, &slots, from, to);
    assert_eq!(a_sled.buckets.len(), 365);
    let main_posts: u64 = a_sled.volume.iter().sum();
    assert_eq!(a_sled.total.volume, main_posts);
    assert_eq!(a_sql.total.volume, a_sled.total.volume, "total volume");
    let stored_main: i64 = conn
        .query_row(
            "SELECT count(*) FROM posts WHERE product = ?1 AND published >= ?2 AND published < ?3",
            params![MAIN_PRODUCT, from, to],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        stored_main as u64, main_posts,
        "aggregates agree with the posts"
    );
    assert_same_trend(&a_sled, &a_sql);

    let q_sled = time_queries(warmup, queries, || sled_trend(&store, from, to));
    let q_sql = time_queries(warmup, queries, || sqlite_trend(&conn, &slots, from, to));
    // What part of it is reading the rows: the fetch alone, without the roll-up to points.
    let f_sled = time_queries(warmup, queries, || {
        store
            .aggregates(MAIN_PRODUCT, Granularity::Day, from, to, None)
            .expect("aggregates")
    });
    let f_sql = time_queries(warmup, queries, || sqlite_aggregates(&conn, from, to));
    // The daemon asks for the post count on /health, /metrics and after every batch.
    let t = Instant::now();
    let counted = store.post_count();
    let count_time = t.elapsed();
    assert_eq!(counted, n);

    store.flush_blocking().expect("flush");
    let sled_bytes = dir_size(&sled_dir);
    let full_bytes = sqlite_size(&full_db);
    let normal_bytes = sqlite_size(&normal_db);

    print_report(&Report {
        full,
        n,
        main_posts,
        slots: slots.len(),
        warmup,
        queries,
        sled_run,
        sql_run,
        normal_run,
        q_sled,
        q_sql,
        f_sled,
        f_sql,
        sled_bytes,
        full_bytes,
        normal_bytes,
        count_time,
        sled_volume: a_sled.total.volume,
        sql_volume: a_sql.total.volume,
        load_before,
    });
}

/// Everything the comparison measured, for the table.
struct Report {
    full: bool,
    n: usize,
    main_posts: u64,
    slots: usize,
    warmup: usize,
    queries: usize,
    sled_run: IngestRun,
    sql_run: IngestRun,
    normal_run: IngestRun,
    q_sled: Latency,
    q_sql: Latency,
    f_sled: Latency,
    f_sql: Latency,
    sled_bytes: u64,
    full_bytes: u64,
    normal_bytes: u64,
    count_time: Duration,
    sled_volume: u64,
    sql_volume: u64,
    load_before: String,
}

/// The side-by-side table and the ratios, as BENCHMARKS.md shows them.
fn print_report(r: &Report) {
    let Report {
        full,
        n,
        main_posts,
        slots,
        warmup,
        queries,
        sled_run,
        sql_run,
        normal_run,
        q_sled,
        q_sql,
        f_sled,
        f_sql,
        sled_bytes,
        full_bytes,
        normal_bytes,
        count_time,
        sled_volume,
        sql_volume,
        load_before,
    } = r;
    let (full, n, main_posts, warmup, queries) = (*full, *n, *main_posts, *warmup, *queries);
    // The targets are for the full run; a smoke run only checks that everything works and agrees.
    let pass = |ok: bool| match (full, ok) {
        (false, _) => "n/a (smoke run)",
        (true, true) => "pass",
        (true, false) => "FAIL",
    };
    let ingest_ratio = sled_run.rate() / sql_run.rate();
    let ingest_ratio_normal = sled_run.rate() / normal_run.rate();
    let p50_ratio = q_sql.p50.as_secs_f64() / q_sled.p50.as_secs_f64();
    let p99_ratio = q_sql.p99.as_secs_f64() / q_sled.p99.as_secs_f64();
    let fetch_ratio = f_sql.p50.as_secs_f64() / f_sled.p50.as_secs_f64();

    println!();
    println!(
        "cxpulse store benchmark: {n} posts ({main_posts} of `{MAIN_PRODUCT}` in the queried year), \
         batches of {BATCH}, {} label slots, {queries} queries after {warmup} warm-up",
        slots
    );
    println!();
    println!("| metric | sled (cxpulse) | SQLite | ratio | target | result |");
    println!("|---|---:|---:|---:|---|---|");
    println!(
        "| ingest, posts/s (SQLite synchronous=FULL) | {:.0} | {:.0} | {:.2}x | >= 50,000/s and > SQLite | {} / {} |",
        sled_run.rate(),
        sql_run.rate(),
        ingest_ratio,
        pass(sled_run.rate() >= 50_000.0),
        pass(ingest_ratio > 1.0)
    );
    println!(
        "| ingest, posts/s (SQLite synchronous=NORMAL) | {:.0} | {:.0} | {:.2}x | (informational) | {} |",
        sled_run.rate(),
        normal_run.rate(),
        ingest_ratio_normal,
        if ingest_ratio_normal > 1.0 { "sled ahead" } else { "SQLite ahead" }
    );
    println!(
        "| trend query p50, ms (365 daily points) | {:.3} | {:.3} | {:.2}x | <= 1 ms and < SQLite | {} / {} |",
        ms(q_sled.p50),
        ms(q_sql.p50),
        p50_ratio,
        pass(q_sled.p50 <= Duration::from_millis(1)),
        pass(p50_ratio > 1.0)
    );
    println!(
        "| trend query p99, ms | {:.3} | {:.3} | {:.2}x | (informational) | {} |",
        ms(q_sled.p99),
        ms(q_sql.p99),
        p99_ratio,
        if p99_ratio > 1.0 {
            "sled ahead"
        } else {
            "SQLite ahead"
        }
    );
    println!(
        "| of which row fetch + decode only, p50 ms | {:.3} | {:.3} | {:.2}x | (informational) | |",
        ms(f_sled.p50),
        ms(f_sql.p50),
        fetch_ratio
    );
    println!(
        "| disk size, MiB | {:.1} | {:.1} (NORMAL: {:.1}) | | (informational) | |",
        mib(*sled_bytes),
        mib(*full_bytes),
        mib(*normal_bytes)
    );
    println!(
        "| `Store::post_count()` at {n} posts, ms | {:.1} | | | (informational) | |",
        ms(*count_time)
    );
    println!();
    println!(
        "ingest wall time (ingest + flush/commit only): sled {:.1} s, SQLite FULL {:.1} s, SQLite NORMAL {:.1} s",
        sled_run.busy.as_secs_f64(),
        sql_run.busy.as_secs_f64(),
        normal_run.busy.as_secs_f64()
    );
    println!(
        "trend total volume: sled {} = SQLite {} (checked: every point agrees)",
        sled_volume, sql_volume
    );
    println!(
        "machine: {} cores, 1-minute load average {} at the start, {} at the end",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before,
        loadavg()
    );
}
