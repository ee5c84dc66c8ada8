//! `cxpulse eval-authenticity`: measures the authenticity layer the way BENCHMARKS.md reports it.
//!
//! 1. The combined genuineness score on labelled reviews: the held-out fifth of the Salminen
//!    fake-review set (machine-written vs original; the model never trained on it) fits the
//!    calibration, with two-fold cross-fitting for the reported numbers; op_spam (deceptive vs
//!    truthful hotel reviews) is reported for reference only, because the deceptive head was
//!    trained on it.
//! 2. Campaign detection on a stream: 60 days of ordinary reviews (the genuine texts of both sets)
//!    across four products, into which this module injects copy-paste campaigns (paraphrased
//!    near-copies by different authors, some across products), bought-review bursts, incentivised
//!    reviews and author floods. The stream goes through the real ingest pipeline into a
//!    temporary store; precision, recall and the background false-alarm rate of every signal are
//!    read back from the stored posts.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::calibration::Calibration;
use crate::domain::num::round4;
use crate::domain::{Authenticity, Scorer, SignalKind};
use crate::domain::{Classification, RawItem};
use crate::ingest::authenticity::patterns;
use crate::ingest::pipeline::{Pipeline, PipelineError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthEvalError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Classifier(#[from] crate::ingest::classifier::ClassifierError),
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> AuthEvalError {
    AuthEvalError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A labelled review: is it not genuine (machine-written or deceptive)?
#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    pub not_genuine: bool,
}

/// The labelled data and the stream's text pools, from `../shared/data`.
pub struct Data {
    /// Salminen rows in the fold the model never trained on.
    pub salminen_heldout: Vec<Labelled>,
    pub op_spam: Vec<Labelled>,
    /// Genuine texts for the background: Salminen originals (held-out ones first) and
    /// op_spam truthful reviews, with their origin.
    pub genuine: Vec<(String, Origin)>,
    /// op_spam deceptive positive reviews: invented 5★ praise, the raw material of bought reviews.
    pub bought: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    SalminenHeldout,
    SalminenTrain,
    OpSpam { positive: bool },
}

/// The training script's fold rule (sha256 of the key, mod n), so "held out" means the same rows.
fn stable_fold(key: &str, n: u64) -> u64 {
    let d = Sha256::digest(key.as_bytes());
    // The integer value of the whole digest mod n, from its big-endian bytes.
    d.iter().fold(0u64, |acc, b| (acc * 256 + *b as u64) % n)
}

pub fn load(data: &Path) -> Result<Data, AuthEvalError> {
    let sal = data.join("fake_reviews_salminen/train.csv");
    let mut rd = csv::Reader::from_path(&sal).map_err(|e| read_err(&sal, e))?;
    let mut out = Data {
        salminen_heldout: Vec::new(),
        op_spam: Vec::new(),
        genuine: Vec::new(),
        bought: Vec::new(),
    };
    for (i, r) in rd.records().enumerate() {
        let r = r.map_err(|e| read_err(&sal, e))?;
        let (text, label) = (r.get(0).unwrap_or("").trim(), r.get(1).unwrap_or(""));
        let heldout = stable_fold(&format!("salminen{i}"), 5) == 0;
        if heldout {
            out.salminen_heldout.push(Labelled {
                text: text.to_string(),
                not_genuine: label == "CG",
            });
        }
        if label == "OR" {
            let origin = if heldout {
                Origin::SalminenHeldout
            } else {
                Origin::SalminenTrain
            };
            out.genuine.push((text.to_string(), origin));
        }
    }
    let op = data.join("op_spam/deceptive-opinion.train.csv");
    let mut rd = csv::Reader::from_path(&op).map_err(|e| read_err(&op, e))?;
    let h = rd.headers().map_err(|e| read_err(&op, e))?.clone();
    let col = |name: &str| h.iter().position(|c| c == name);
    let (Some(dc), Some(pc), Some(tc)) = (col("deceptive"), col("polarity"), col("text")) else {
        return Err(read_err(&op, "expected columns deceptive, polarity, text"));
    };
    for r in rd.records() {
        let r = r.map_err(|e| read_err(&op, e))?;
        let text = r.get(tc).unwrap_or("").trim().to_string();
        let deceptive = r.get(dc) == Some("deceptive");
        let positive = r.get(pc) == Some("positive");
        out.op_spam.push(Labelled {
            text: text.clone(),
            not_genuine: deceptive,
        });
        if deceptive && positive {
            out.bought.push(text);
        } else if !deceptive {
            out.genuine.push((text, Origin::OpSpam { positive }));
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------
// Part 1: the combined score on labelled reviews

#[derive(Debug, Clone, Serialize)]
pub struct ScoreMetrics {
    pub n: usize,
    /// Suspicious (genuineness < 0.5) predicts "not genuine".
    pub accuracy: f64,
    /// Ranking quality of 1 − genuineness.
    pub auc: f64,
    pub brier: f64,
    /// Expected calibration error over ten equal-width bins.
    pub ece: f64,
}

fn metrics(pred: &[(f64, bool)]) -> ScoreMetrics {
    let n = pred.len().max(1) as f64;
    let accuracy = pred.iter().filter(|(p, y)| (*p >= 0.5) == *y).count() as f64 / n;
    let brier = pred
        .iter()
        .map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / n;
    let mut sorted: Vec<&(f64, bool)> = pred.iter().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // AUC by ranks (ties get the average rank).
    let (mut rank_sum, mut pos, mut i) = (0.0, 0usize, 0usize);
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for s in &sorted[i..=j] {
            if s.1 {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = sorted.len() - pos;
    let auc = if pos == 0 || neg == 0 {
        f64::NAN
    } else {
        (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64
    };
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    for (p, y) in pred {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += p;
        bins[b].1 += if *y { 1.0 } else { 0.0 };
        bins[b].2 += 1;
    }
    let ece = bins
        .iter()
        .filter(|b| b.2 > 0)
        .map(|b| (b.0 / b.2 as f64 - b.1 / b.2 as f64).abs() * b.2 as f64)
        .sum::<f64>()
        / n;
    let r = |x: f64| (x * 10_000.0).round() / 10_000.0;
    ScoreMetrics {
        n: pred.len(),
        accuracy: r(accuracy),
        auc: r(auc),
        brier: r(brier),
        ece: r(ece),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    /// Fitted on all held-out Salminen rows and shifted to the field prior: what
    /// `--write-calibration` ships.
    pub calibration: Calibration,
    /// Two-fold cross-fit on the held-out Salminen rows (fit on one half, score the other), as
    /// fitted (the data's own 50/50 base rate).
    pub salminen_heldout_crossfit: ScoreMetrics,
    /// The same predictions after the shift to the field prior (what the daemon does): fewer
    /// posts cross 0.5, so accuracy on balanced data drops while the ranking (AUC) is unchanged.
    pub salminen_heldout_crossfit_at_field_prior: ScoreMetrics,
    /// The shipped calibration on op_spam; optimistic, the deceptive head was trained on it.
    pub op_spam_in_sample: ScoreMetrics,
}

fn genuineness_suspicion(scorer: &Scorer, text: &str, c: &Classification) -> f64 {
    let mut a = Authenticity::default();
    if let Some(p) = patterns::incentive_phrase(text) {
        a.merge(crate::domain::Signal {
            kind: SignalKind::Incentive,
            score: 1.0,
            evidence: crate::domain::Evidence {
                phrase: Some(p),
                ..Default::default()
            },
        });
    }
    scorer.score(c, &mut a);
    1.0 - a.genuineness as f64
}

fn heads(c: &Classification) -> (f32, f32) {
    (
        c.score("machine_generated", "machine_generated")
            .unwrap_or(0.5),
        c.score("deceptive", "deceptive").unwrap_or(0.5),
    )
}

pub fn calibrate(
    sal: &[Labelled],
    sal_c: &[Classification],
    op: &[Labelled],
    op_c: &[Classification],
) -> CalibrationReport {
    let rows: Vec<(f32, f32, bool)> = sal
        .iter()
        .zip(sal_c)
        .map(|(l, c)| {
            let (m, d) = heads(c);
            (m, d, l.not_genuine)
        })
        .collect();
    let mut pred = Vec::with_capacity(rows.len());
    let mut pred_prior = Vec::with_capacity(rows.len());
    for half in 0..2 {
        let fit: Vec<_> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 != half)
            .map(|(_, r)| *r)
            .collect();
        let scorer = Scorer {
            calibration: Calibration::fit(&fit),
        };
        let shifted = Scorer {
            calibration: scorer.calibration.shifted_to_field_prior(&fit),
        };
        for (i, (l, c)) in sal.iter().zip(sal_c).enumerate() {
            if i % 2 == half {
                pred.push((genuineness_suspicion(&scorer, &l.text, c), l.not_genuine));
                pred_prior.push((genuineness_suspicion(&shifted, &l.text, c), l.not_genuine));
            }
        }
    }
    let scorer = Scorer {
        calibration: Calibration::fit(&rows).shifted_to_field_prior(&rows),
    };
    let op_pred: Vec<(f64, bool)> = op
        .iter()
        .zip(op_c)
        .map(|(l, c)| (genuineness_suspicion(&scorer, &l.text, c), l.not_genuine))
        .collect();
    CalibrationReport {
        calibration: scorer.calibration,
        salminen_heldout_crossfit: metrics(&pred),
        salminen_heldout_crossfit_at_field_prior: metrics(&pred_prior),
        op_spam_in_sample: metrics(&op_pred),
    }
}

// ------------------------------------------------------------------------------------------
// Part 2: the stream with injected campaigns

/// What a stream post really is; encoded in its external id so it survives the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truth {
    Background,
    Copy(usize),
    Burst(usize),
    Incentive,
    AuthorFlood(usize),
}

impl Truth {
    fn tag(self) -> String {
        match self {
            Truth::Background => "bg".into(),
            Truth::Copy(c) => format!("cp{c}"),
            Truth::Burst(b) => format!("bu{b}"),
            Truth::Incentive => "in".into(),
            Truth::AuthorFlood(a) => format!("au{a}"),
        }
    }

    pub fn of_external_id(id: &str) -> Option<Truth> {
        let tag = id.split('-').next()?;
        let num = |p: &str| tag.strip_prefix(p)?.parse::<usize>().ok();
        match tag {
            "bg" => Some(Truth::Background),
            "in" => Some(Truth::Incentive),
            _ => num("cp")
                .map(Truth::Copy)
                .or_else(|| num("bu").map(Truth::Burst))
                .or_else(|| num("au").map(Truth::AuthorFlood)),
        }
    }

    fn class(self) -> &'static str {
        match self {
            Truth::Background => "background",
            Truth::Copy(_) => "copy_campaign",
            Truth::Burst(_) => "burst",
            Truth::Incentive => "incentive",
            Truth::AuthorFlood(_) => "author_flood",
        }
    }
}

pub struct StreamPost {
    pub product: String,
    pub source: String,
    pub item: RawItem,
    pub truth: Truth,
    /// Background posts from texts the model never trained on (for the head signals' honest
    /// false-alarm rate).
    pub heldout: bool,
}

pub const PRODUCTS: [&str; 4] = ["books", "kitchen", "gadgets", "hotels"];
pub const SOURCES: [&str; 2] = ["shop", "forum"];
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
/// 2026-01-01T00:00:00Z: a fixed past start, so posts are never "from the future".
pub const STREAM_START_MS: i64 = 1_767_225_600_000;
pub const STREAM_DAYS: i64 = 60;

/// Written for this evaluation, not taken from any data set: the kind of praise a seller buys.
const PROMO: &[&str] = &[
    "Absolutely love this product. It arrived quickly, works exactly as described and the quality is far better than I expected for the price. I have already recommended it to my friends and family and I would buy it again without hesitation.",
    "This is hands down the best purchase I have made this year. The build quality is excellent, it is easy to use and it looks great. Customer service answered within an hour. Five stars, highly recommended to anyone thinking about it.",
    "I was skeptical at first but this exceeded all of my expectations. Setup took only a few minutes, everything feels solid and premium, and it has worked perfectly every single day since. Worth every penny, do not hesitate to buy.",
    "Amazing value for money. The product is well made, the instructions are clear and it does exactly what it promises. My whole family uses it daily and we are all impressed. I will definitely order another one as a gift.",
    "Fantastic quality and super fast delivery. I compared it with several other brands before buying and this one is clearly the best. It is reliable, beautifully designed and simple to clean. I cannot recommend it enough.",
    "Perfect in every way. The packaging was lovely, the product feels sturdy and it works even better than the description says. I have been using it for two weeks and I am still amazed. Best decision ever, buy it now.",
    "Great product from a great company. It solved my problem immediately and saved me a lot of time. The materials are high quality and it looks stylish on the counter. Highly recommend this to everyone, you will not regret it.",
    "Wow, just wow. I did not expect such a premium feel at this price point. It is quiet, efficient and very easy to use. Shipping was quick and the seller was very helpful. This is a must have, five stars all the way.",
];

/// Disclosures as reviewers write them; phrased independently of the detector's patterns, so
/// the recall measured is not the patterns reading their own list.
const DISCLOSURES: &[&str] = &[
    "Full disclosure: I received this item free of charge in exchange for my honest review.",
    "I was sent this to try at no cost, but all opinions are my own.",
    "The brand gave me a discount code in return for an unbiased review.",
    "I got this at a deeply discounted price for my honest feedback.",
    "This product was provided free for testing and review purposes.",
    "I received a complimentary sample to review.",
    "Disclaimer: the seller refunded my purchase after I left a review.",
    "They offered me a $15 gift card for writing a 5 star review.",
    "#ad I partnered with the brand for this post.",
    "I was given this product in exchange for an honest opinion.",
    "Received this product for free from the company to test.",
    "I received this at a discount for my unbiased review.",
];

const SYNONYMS: &[&[&str]] = &[
    &["love", "adore", "really like"],
    &["great", "excellent", "fantastic", "superb"],
    &["amazing", "incredible", "awesome"],
    &["product", "item"],
    &["quickly", "fast", "promptly"],
    &["quality", "craftsmanship"],
    &["price", "cost"],
    &["recommend", "suggest"],
    &["buy", "purchase", "order"],
    &["easy", "simple", "effortless"],
    &["perfect", "flawless", "ideal"],
    &["best", "finest", "top"],
    &["friends", "pals"],
    &["family", "relatives"],
    &["expected", "anticipated"],
    &["works", "functions", "operates"],
    &["beautiful", "lovely", "gorgeous"],
    &["impressed", "amazed", "blown away"],
    &["helpful", "friendly", "supportive"],
    &["stay", "visit", "trip"],
    &["room", "suite"],
    &["staff", "employees", "team"],
    &["hotel", "property", "place"],
    &["clean", "spotless", "tidy"],
    &["comfortable", "cozy", "comfy"],
    &["definitely", "certainly", "surely"],
    &["really", "truly", "very"],
    &["solid", "sturdy", "robust"],
];

const OPENERS: &[&str] = &[
    "Honestly,",
    "Update:",
    "Five stars!",
    "Just got mine.",
    "So happy.",
    "Where do I start?",
];
const CLOSERS: &[&str] = &[
    "Thanks!",
    "Highly recommended.",
    "Would buy again.",
    "10/10.",
    "You won't regret it.",
];

/// A near-copy as campaigns post them: synonyms swapped, sentences reordered or dropped,
/// typos, and an opener or closer.
pub fn paraphrase(text: &str, rng: &mut StdRng) -> String {
    let mut sentences: Vec<String> = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if matches!(ch, '.' | '!' | '?') {
            sentences.push(cur.trim().to_string());
            cur.clear();
        }
    }
    if !cur.trim().is_empty() {
        sentences.push(cur.trim().to_string());
    }
    if sentences.len() >= 4 && rng.random_bool(0.3) {
        let i = rng.random_range(1..sentences.len());
        sentences.remove(i);
    }
    if sentences.len() >= 2 && rng.random_bool(0.5) {
        let i = rng.random_range(0..sentences.len());
        let j = rng.random_range(0..sentences.len());
        sentences.swap(i, j);
    }
    let mut words: Vec<String> = sentences
        .join(" ")
        .split(' ')
        .map(|w| {
            let core = w
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase();
            match SYNONYMS.iter().find(|g| g.contains(&core.as_str())) {
                Some(g) if rng.random_bool(0.35) => {
                    let other = g.choose(rng).copied().unwrap_or(core.as_str());
                    w.to_lowercase().replace(&core, other)
                }
                _ => w.to_string(),
            }
        })
        .collect();
    for _ in 0..rng.random_range(1..=2) {
        let i = rng.random_range(0..words.len());
        let w: Vec<char> = words[i].chars().collect();
        if w.len() >= 5 && w.iter().all(|c| c.is_alphabetic()) {
            let k = rng.random_range(1..w.len() - 2);
            let mut w2 = w.clone();
            w2.swap(k, k + 1);
            words[i] = w2.into_iter().collect();
        }
    }
    let mut out = words.join(" ");
    if rng.random_bool(0.4) {
        out = format!("{} {out}", OPENERS.choose(rng).copied().unwrap_or(""));
    }
    if rng.random_bool(0.4) {
        out = format!("{out} {}", CLOSERS.choose(rng).copied().unwrap_or(""));
    }
    out
}

fn rating_from(c: &Classification, rng: &mut StdRng) -> f32 {
    // 2% careless clicks: a random star.
    if rng.random_bool(0.02) {
        return rng.random_range(1..=5) as f32 / 5.0;
    }
    let s = |l: &str| c.score("sentiment", l).unwrap_or(0.0);
    let stars = if s("positive") >= s("negative").max(s("neutral")).max(s("mixed")) {
        if rng.random_bool(0.7) {
            5
        } else {
            4
        }
    } else if s("negative") >= s("neutral").max(s("mixed")) {
        if rng.random_bool(0.6) {
            1
        } else {
            2
        }
    } else {
        *[2, 3, 3, 4].choose(rng).unwrap_or(&3)
    };
    stars as f32 / 5.0
}

/// Counts of what the stream injects.
#[derive(Debug, Clone, Serialize)]
pub struct StreamShape {
    pub background: usize,
    pub copy_campaigns: usize,
    pub copy_posts: usize,
    pub cross_product_campaigns: usize,
    pub bursts: usize,
    pub burst_posts: usize,
    pub incentivised: usize,
    pub author_floods: usize,
    pub author_flood_posts: usize,
}

/// Builds the stream. `genuine` carries each text's classification (for realistic ratings).
pub fn build_stream(
    genuine: &[(String, Origin, Classification)],
    bought: &[String],
    seed: u64,
) -> (Vec<StreamPost>, StreamShape) {
    let mut b = StreamBuilder {
        rng: StdRng::seed_from_u64(seed),
        posts: Vec::new(),
        n: 0,
        genuine,
    };
    // Texts are used once: the pools are shuffled and consumed.
    let mut pool: Vec<usize> = (0..genuine.len()).collect();
    pool.shuffle(&mut b.rng);
    let reserve_incentive = 48.min(pool.len() / 10);
    let reserve_flood = 30.min(pool.len() / 10);
    let incentive_pool: Vec<usize> = pool.split_off(pool.len() - reserve_incentive);
    let flood_pool: Vec<usize> = pool.split_off(pool.len() - reserve_flood);

    b.background(&pool);
    let background = b.posts.len();
    let mut bought_pool: Vec<&String> = bought.iter().collect();
    bought_pool.shuffle(&mut b.rng);
    let campaigns = 24;
    let (copy_posts, cross) = b.copy_campaigns(&mut bought_pool, campaigns);
    let bursts = 8;
    let burst_posts = b.bursts(&mut bought_pool, bursts);
    b.incentivised(&incentive_pool);
    let (floods, flood_posts) = b.author_floods(flood_pool);
    let mut posts = b.posts;
    posts.sort_by_key(|p| p.item.published_ms);
    let shape = StreamShape {
        background,
        copy_campaigns: campaigns,
        copy_posts,
        cross_product_campaigns: cross,
        bursts,
        burst_posts,
        incentivised: incentive_pool.len(),
        author_floods: floods,
        author_flood_posts: flood_posts,
    };
    (posts, shape)
}

/// The stream as it is built: one seeded generator drawn from in a fixed order, so a seed
/// always gives the same stream.
struct StreamBuilder<'a> {
    rng: StdRng,
    posts: Vec<StreamPost>,
    /// Posts made so far: the ids' running number.
    n: usize,
    genuine: &'a [(String, Origin, Classification)],
}

fn raw_item(id: String, text: String, author: String, ts: i64, rating: f32) -> RawItem {
    RawItem {
        external_id: id,
        url: None,
        author: Some(author),
        published_ms: Some(ts),
        title: None,
        text,
        rating: Some(rating),
        channel: None,
    }
}

impl StreamBuilder<'_> {
    fn next_id(&mut self, truth: Truth) -> String {
        self.n += 1;
        format!("{}-{}", truth.tag(), self.n)
    }

    fn product_for(&mut self, o: Origin) -> &'static str {
        match o {
            Origin::OpSpam { .. } => "hotels",
            _ => PRODUCTS[..3].choose(&mut self.rng).expect("three products"),
        }
    }

    fn source(&mut self) -> String {
        SOURCES.choose(&mut self.rng).expect("sources").to_string()
    }

    /// Background: uniform over the period; 3% of authors post twice (repeat customers).
    fn background(&mut self, pool: &[usize]) {
        let mut authors: Vec<String> = Vec::new();
        for &i in pool {
            let (text, origin, c) = &self.genuine[i];
            let author = if !authors.is_empty() && self.rng.random_bool(0.03) {
                authors.swap_remove(self.rng.random_range(0..authors.len()))
            } else {
                let a = format!("user{}", self.rng.random::<u32>());
                authors.push(a.clone());
                a
            };
            let ts = STREAM_START_MS + self.rng.random_range(0..STREAM_DAYS * DAY);
            let post = StreamPost {
                product: self.product_for(*origin).to_string(),
                source: self.source(),
                item: raw_item(
                    self.next_id(Truth::Background),
                    text.clone(),
                    author,
                    ts,
                    rating_from(c, &mut self.rng),
                ),
                truth: Truth::Background,
                heldout: *origin == Origin::SalminenHeldout,
            };
            self.posts.push(post);
        }
    }

    /// Copy-paste campaigns: 5–12 near-copies each, over 6–72 hours, a quarter across two
    /// products. Returns the posts made and the cross-product campaigns.
    fn copy_campaigns(
        &mut self,
        bought_pool: &mut Vec<&String>,
        campaigns: usize,
    ) -> (usize, usize) {
        let (mut copy_posts, mut cross) = (0, 0);
        for c in 0..campaigns {
            let product = *PRODUCTS.choose(&mut self.rng).expect("products");
            let seed_text = if product == "hotels" {
                bought_pool.pop().cloned().unwrap_or_default()
            } else {
                PROMO.choose(&mut self.rng).expect("promo").to_string()
            };
            let other = if self.rng.random_bool(0.25) {
                cross += 1;
                Some(
                    *PRODUCTS
                        .iter()
                        .filter(|p| **p != product)
                        .collect::<Vec<_>>()
                        .choose(&mut self.rng)
                        .expect("other"),
                )
            } else {
                None
            };
            let size = self.rng.random_range(5..=12);
            let start = STREAM_START_MS + self.rng.random_range(7 * DAY..(STREAM_DAYS - 4) * DAY);
            let span = self.rng.random_range(6..=72) * HOUR;
            for k in 0..size {
                let p = match other {
                    Some(o) if k % 2 == 1 => o.to_string(),
                    _ => product.to_string(),
                };
                let post = StreamPost {
                    product: p,
                    source: self.source(),
                    item: raw_item(
                        self.next_id(Truth::Copy(c)),
                        paraphrase(&seed_text, &mut self.rng),
                        format!("buyer{}", self.rng.random::<u32>()),
                        start + self.rng.random_range(0..span),
                        1.0,
                    ),
                    truth: Truth::Copy(c),
                    heldout: false,
                };
                self.posts.push(post);
                copy_posts += 1;
            }
        }
        (copy_posts, cross)
    }

    /// Bursts of bought 5★ reviews: 15–30 distinct texts in 2–6 hours on one product and
    /// source. Returns the posts made.
    fn bursts(&mut self, bought_pool: &mut Vec<&String>, bursts: usize) -> usize {
        let mut burst_posts = 0;
        for b in 0..bursts {
            let product = *PRODUCTS.choose(&mut self.rng).expect("products");
            let source = *SOURCES.choose(&mut self.rng).expect("sources");
            let start = STREAM_START_MS + self.rng.random_range(10 * DAY..(STREAM_DAYS - 1) * DAY);
            let span = self.rng.random_range(2..=6) * HOUR;
            for _ in 0..self.rng.random_range(15..=30) {
                let Some(text) = bought_pool.pop() else { break };
                let post = StreamPost {
                    product: product.to_string(),
                    source: source.to_string(),
                    item: raw_item(
                        self.next_id(Truth::Burst(b)),
                        text.clone(),
                        format!("buyer{}", self.rng.random::<u32>()),
                        start + self.rng.random_range(0..span),
                        1.0,
                    ),
                    truth: Truth::Burst(b),
                    heldout: false,
                };
                self.posts.push(post);
                burst_posts += 1;
            }
        }
        burst_posts
    }

    /// Incentivised reviews: ordinary texts with a disclosure at the start or the end.
    fn incentivised(&mut self, pool: &[usize]) {
        for &i in pool {
            let (text, origin, c) = &self.genuine[i];
            let d = DISCLOSURES.choose(&mut self.rng).expect("disclosures");
            let text = if self.rng.random_bool(0.5) {
                format!("{d} {text}")
            } else {
                format!("{text} {d}")
            };
            let post = StreamPost {
                product: self.product_for(*origin).to_string(),
                source: self.source(),
                item: raw_item(
                    self.next_id(Truth::Incentive),
                    text,
                    format!("user{}", self.rng.random::<u32>()),
                    STREAM_START_MS + self.rng.random_range(0..STREAM_DAYS * DAY),
                    rating_from(c, &mut self.rng),
                ),
                truth: Truth::Incentive,
                heldout: false,
            };
            self.posts.push(post);
        }
    }

    /// Author floods: one account on one site, 4–6 different reviews within three days, across
    /// products (an account name means one person only within its site). Returns the floods
    /// and their posts.
    fn author_floods(&mut self, pool: Vec<usize>) -> (usize, usize) {
        let mut floods = 0;
        let mut flood_posts = 0;
        let mut fp = pool.into_iter();
        'outer: for a in 0..6 {
            let author = format!("flooder{a}");
            let source = *SOURCES.choose(&mut self.rng).expect("sources");
            let start = STREAM_START_MS + self.rng.random_range(5 * DAY..(STREAM_DAYS - 4) * DAY);
            floods += 1;
            for _ in 0..self.rng.random_range(4..=6) {
                let Some(i) = fp.next() else { break 'outer };
                let (text, _, c) = &self.genuine[i];
                let post = StreamPost {
                    product: PRODUCTS
                        .choose(&mut self.rng)
                        .expect("products")
                        .to_string(),
                    source: source.to_string(),
                    item: raw_item(
                        self.next_id(Truth::AuthorFlood(a)),
                        text.clone(),
                        author.clone(),
                        start + self.rng.random_range(0..3 * DAY),
                        rating_from(c, &mut self.rng),
                    ),
                    truth: Truth::AuthorFlood(a),
                    heldout: false,
                };
                self.posts.push(post);
                flood_posts += 1;
            }
        }
        (floods, flood_posts)
    }
}

/// Feeds the stream through `pipeline` in time order, one batch per run of posts of the same
/// product and source (at most 32), as sources would deliver them.
pub async fn ingest_stream(pipeline: &Pipeline, posts: &[StreamPost]) -> Result<(), AuthEvalError> {
    let mut i = 0;
    while i < posts.len() {
        let (product, source) = (&posts[i].product, &posts[i].source);
        let mut j = i;
        while j < posts.len()
            && j - i < 32
            && &posts[j].product == product
            && &posts[j].source == source
        {
            j += 1;
        }
        let items = posts[i..j].iter().map(|p| p.item.clone()).collect();
        pipeline
            .process(product, source, items, false, None)
            .await?;
        i = j;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Detection {
    /// Injected posts of this kind.
    pub injected: usize,
    /// Posts carrying the signal.
    pub flagged: usize,
    pub true_positives: usize,
    pub precision: f64,
    pub recall: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    pub shape: StreamShape,
    pub copy_paste: Detection,
    /// Campaigns with at least half of their copies flagged, of all campaigns.
    pub copy_campaigns_detected: String,
    pub burst: Detection,
    /// Bursts with at least half their posts flagged, of all bursts.
    pub bursts_detected: String,
    /// The same flags counted as right when they fall on any timed campaign (bought bursts,
    /// copy campaigns posted within hours, author floods): those are bursts too.
    pub burst_any_campaign: Detection,
    pub incentive: Detection,
    pub author_pattern: Detection,
    /// Share of untouched background posts carrying each signal.
    pub background_fire_rate: BTreeMap<String, f64>,
    /// The same for the model-head signals on background texts the model never trained on.
    pub heldout_background_fire_rate: BTreeMap<String, f64>,
    /// Share of suspicious posts per class of the stream.
    pub suspicious_share: BTreeMap<String, f64>,
    /// 98th percentile of each head score on the background: the lowest firing threshold that
    /// keeps the head's signal under 2% there.
    pub background_p98: BTreeMap<String, f64>,
}

/// One stream post as stored: its truth, whether its text is held out, and what the detector
/// said.
type Stored = (Truth, bool, Authenticity);

/// Reads every stream post back from the store and scores each signal against the truth.
pub fn score_stream(
    store: &Store,
    posts: &[StreamPost],
    shape: StreamShape,
) -> Result<StreamReport, AuthEvalError> {
    let (stored, head_scores) = read_stream(store, posts)?;
    let (detected, campaigns) = groups_detected(&stored, SignalKind::CopyPaste, |t| match t {
        Truth::Copy(c) => Some(c),
        _ => None,
    });
    let (bursts_detected, bursts) = groups_detected(&stored, SignalKind::Burst, |t| match t {
        Truth::Burst(b) => Some(b),
        _ => None,
    });
    report_missed_bursts(&stored, posts);
    let mut suspicious_share = BTreeMap::new();
    for class in [
        "background",
        "copy_campaign",
        "burst",
        "incentive",
        "author_flood",
    ] {
        let of: Vec<_> = stored
            .iter()
            .filter(|(t, _, _)| t.class() == class)
            .collect();
        let s = of.iter().filter(|(_, _, a)| a.suspicious).count();
        suspicious_share.insert(class.to_string(), round4(s as f64 / of.len().max(1) as f64));
    }
    Ok(StreamReport {
        copy_paste: detect(&stored, SignalKind::CopyPaste, &|t| {
            matches!(t, Truth::Copy(_))
        }),
        copy_campaigns_detected: format!("{detected}/{campaigns}"),
        bursts_detected: format!("{bursts_detected}/{bursts}"),
        burst: detect(&stored, SignalKind::Burst, &|t| {
            matches!(t, Truth::Burst(_))
        }),
        burst_any_campaign: detect(&stored, SignalKind::Burst, &|t| {
            t != Truth::Background && t != Truth::Incentive
        }),
        incentive: detect(&stored, SignalKind::Incentive, &|t| t == Truth::Incentive),
        author_pattern: detect(&stored, SignalKind::AuthorPattern, &|t| {
            matches!(t, Truth::AuthorFlood(_))
        }),
        background_fire_rate: fire_rate(&stored, &|x| x.0 == Truth::Background),
        heldout_background_fire_rate: fire_rate(&stored, &|x| x.0 == Truth::Background && x.1)
            .into_iter()
            .filter(|(k, _)| k == "machine_generated" || k == "deceptive")
            .collect(),
        suspicious_share,
        background_p98: head_scores
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by(|a, b| a.total_cmp(b));
                let i = ((v.len() as f64 * 0.98) as usize).min(v.len().saturating_sub(1));
                (k, round4(v.get(i).copied().unwrap_or(0.0) as f64))
            })
            .collect(),
        shape,
    })
}

/// The stream's posts as stored, and the background posts' head scores by signal name.
#[allow(clippy::type_complexity)]
fn read_stream(
    store: &Store,
    posts: &[StreamPost],
) -> Result<(Vec<Stored>, BTreeMap<String, Vec<f32>>), AuthEvalError> {
    let heldout: std::collections::HashSet<&str> = posts
        .iter()
        .filter(|p| p.heldout)
        .map(|p| p.item.external_id.as_str())
        .collect();
    let mut stored: Vec<Stored> = Vec::new();
    let mut head_scores: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for product in PRODUCTS {
        for p in store.scan_posts(product, i64::MIN, i64::MAX) {
            let p = p?;
            let Some(t) = Truth::of_external_id(&p.external_id) else {
                continue;
            };
            if t == Truth::Background {
                let c = &p.classification;
                for (name, head, label) in [
                    (
                        "machine_generated",
                        "machine_generated",
                        "machine_generated",
                    ),
                    ("deceptive", "deceptive", "deceptive"),
                    ("brand_genuine", "brand_authenticity", "genuine"),
                    ("brand_fake", "brand_authenticity", "fake"),
                ] {
                    if let Some(s) = c.score(head, label) {
                        head_scores.entry(name.to_string()).or_default().push(s);
                    }
                }
            }
            stored.push((t, heldout.contains(p.external_id.as_str()), p.authenticity));
        }
    }
    Ok((stored, head_scores))
}

fn detect(stored: &[Stored], kind: SignalKind, is: &dyn Fn(Truth) -> bool) -> Detection {
    let injected = stored.iter().filter(|(t, _, _)| is(*t)).count();
    let flagged = stored.iter().filter(|(_, _, a)| a.has(kind)).count();
    let tp = stored
        .iter()
        .filter(|(t, _, a)| is(*t) && a.has(kind))
        .count();
    Detection {
        injected,
        flagged,
        true_positives: tp,
        precision: round4(tp as f64 / flagged.max(1) as f64),
        recall: round4(tp as f64 / injected.max(1) as f64),
    }
}

/// Per injected group (a campaign, a burst): its posts and how many carry `kind`.
fn per_group(
    stored: &[Stored],
    kind: SignalKind,
    group_of: impl Fn(Truth) -> Option<usize>,
) -> HashMap<usize, (usize, usize)> {
    let mut groups: HashMap<usize, (usize, usize)> = HashMap::new();
    for (t, _, a) in stored {
        if let Some(g) = group_of(*t) {
            let e = groups.entry(g).or_default();
            e.0 += 1;
            e.1 += a.has(kind) as usize;
        }
    }
    groups
}

/// Groups of which at least half the posts carry `kind`, and all groups.
fn groups_detected(
    stored: &[Stored],
    kind: SignalKind,
    group_of: impl Fn(Truth) -> Option<usize>,
) -> (usize, usize) {
    let groups = per_group(stored, kind, group_of);
    let detected = groups.values().filter(|(n, f)| 2 * f >= *n).count();
    (detected, groups.len())
}

/// Says on stderr which bursts were missed, where and when: what to look at when tuning.
fn report_missed_bursts(stored: &[Stored], posts: &[StreamPost]) {
    let per_burst = per_group(stored, SignalKind::Burst, |t| match t {
        Truth::Burst(b) => Some(b),
        _ => None,
    });
    for (b, (n, f)) in &per_burst {
        if 2 * f < *n {
            let first = posts.iter().find(|p| p.truth == Truth::Burst(*b));
            if let Some(p) = first {
                eprintln!(
                    "burst {b} missed: {f}/{n} flagged ({} / {}, from {})",
                    p.product,
                    p.source,
                    crate::domain::time::format_ms(p.item.published_ms.unwrap_or(0))
                );
            }
        }
    }
}

/// Share of the posts passing `filter` that carry each signal.
fn fire_rate(stored: &[Stored], filter: &dyn Fn(&Stored) -> bool) -> BTreeMap<String, f64> {
    let bg: Vec<_> = stored.iter().filter(|x| filter(x)).collect();
    SignalKind::ALL
        .iter()
        .map(|k| {
            let n = bg.iter().filter(|(_, _, a)| a.has(*k)).count();
            (
                k.name().to_string(),
                round4(n as f64 / bg.len().max(1) as f64),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_match_the_training_script() {
        // int(sha256("salminen0").hexdigest(), 16) % 5, computed with Python.
        let expected = [("salminen0", 1u64), ("salminen1", 2), ("salminen2", 4)];
        for (k, v) in expected {
            assert_eq!(stable_fold(k, 5), v, "{k}");
        }
    }

    #[test]
    fn truth_round_trips_through_the_external_id() {
        for t in [
            Truth::Background,
            Truth::Copy(3),
            Truth::Burst(12),
            Truth::Incentive,
            Truth::AuthorFlood(0),
        ] {
            assert_eq!(Truth::of_external_id(&format!("{}-17", t.tag())), Some(t));
        }
        assert_eq!(Truth::of_external_id("zz-1"), None);
    }

    #[test]
    fn paraphrases_stay_near_copies() {
        use crate::ingest::authenticity::minhash::{normalise, signature, similarity};
        let mut rng = StdRng::seed_from_u64(1);
        let a = signature(&normalise(PROMO[0])).unwrap();
        let mut sims = Vec::new();
        for _ in 0..50 {
            let p = paraphrase(PROMO[0], &mut rng);
            assert_ne!(p, PROMO[0]);
            sims.push(similarity(&a, &signature(&normalise(&p)).unwrap()));
        }
        let mean = sims.iter().sum::<f64>() / sims.len() as f64;
        assert!(mean > 0.4 && mean < 0.95, "mean similarity {mean}");
    }

    #[test]
    fn metrics_of_a_perfect_and_a_useless_score() {
        let perfect = [(0.9, true), (0.8, true), (0.1, false), (0.2, false)];
        let m = metrics(&perfect);
        assert_eq!((m.accuracy, m.auc), (1.0, 1.0));
        let flat = [(0.5, true), (0.5, false)];
        assert_eq!(metrics(&flat).auc, 0.5);
    }
}
