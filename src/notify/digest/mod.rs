//! Daily digests: what changed for one product on one local day against its trailing baseline,
//! with a significance test so that only real movers are reported, and why (touchpoints,
//! quotes, phrases, segments, authenticity).
//!
//! This module computes and renders; it never writes. `notifier` stores each day's digest when
//! it falls due and `delivery` sends it; [`stored_or_compute`] shows the stored one (what was
//! sent) when there is one.

pub mod render;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::num::round4;
use crate::domain::time::format_ms;
use crate::domain::{index_parts, SignalKind};
use crate::domain::{stars, HeadResult, Post};
use crate::notify::stats::{quote, two_proportion_z, Quote};
use crate::store::{Aggregate, Granularity, Store, StoreError};

/// Days of history a day is compared with.
pub const BASELINE_DAYS: i64 = 28;
/// |z| of the two-proportion test from which a change is significant. About p < 1e-4 two-sided:
/// a digest tests ~40 labels a day, so this keeps a stationary product free of false movers
/// for months (the test suite checks 60 days).
pub const Z_CRITICAL: f64 = 3.9;
/// Smallest change of share (absolute) worth a brand manager's attention.
pub const MIN_SHARE_CHANGE: f64 = 0.05;
/// Fewest scored posts on the day for any label change to be reported (the z-test itself
/// demands a large change on a small day).
pub const MIN_DAY_POSTS: u64 = 10;
/// A day's posts read at most (a product with more is summarised from its first ones).
const MAX_DAY_POSTS: usize = 50_000;
const QUOTES: usize = 3;
const PHRASES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("`{0}` is not a date like 2026-11-20")]
    BadDate(String),
    #[error("the stored digest is unreadable: {0}")]
    Corrupt(String),
    #[error("{date} does not exist in {tz} (or is ambiguous)")]
    NoSuchLocalDay { date: String, tz: String },
}

/// The UTC range `[from, to)` of a local calendar day.
pub fn day_range(date: NaiveDate, tz: Tz) -> Result<(i64, i64), DigestError> {
    let start = |d: NaiveDate| {
        // Midnight can be skipped by a DST change in a few zones: take the first valid instant.
        (0..3)
            .find_map(|h| {
                tz.from_local_datetime(&d.and_hms_opt(h, 0, 0)?)
                    .earliest()
                    .map(|t| t.timestamp_millis())
            })
            .ok_or_else(|| DigestError::NoSuchLocalDay {
                date: d.to_string(),
                tz: tz.to_string(),
            })
    };
    let next = date
        .succ_opt()
        .ok_or_else(|| DigestError::BadDate(date.to_string()))?;
    Ok((start(date)?, start(next)?))
}

pub fn parse_date(s: &str) -> Result<NaiveDate, DigestError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DigestError::BadDate(s.to_string()))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceVolume {
    pub source: String,
    pub posts: u64,
    pub baseline_daily: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    pub posts: u64,
    pub scored: u64,
    /// Mean posts per day over the baseline.
    pub baseline_daily: f64,
    pub by_source: Vec<SourceVolume>,
}

/// One label's share of scored posts today against the baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabelChange {
    pub head: String,
    pub label: String,
    pub posts: u64,
    pub share: f64,
    pub baseline_share: f64,
    pub change: f64,
    /// Two-proportion z statistic (pooled).
    pub z: f64,
    pub significant: bool,
}

/// A significant change, with what drives it and what customers said.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mover {
    #[serde(flatten)]
    pub change: LabelChange,
    /// For emotions: the touchpoints most named in today's posts with this emotion.
    pub touchpoints: Vec<(String, f64)>,
    /// Today's highest-scoring posts with the label.
    pub quotes: Vec<Quote>,
    /// The label's share per day, as in [`DailySeries`].
    pub series: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignalDay {
    pub kind: SignalKind,
    pub posts: u64,
    pub baseline_daily: f64,
    pub examples: Vec<Quote>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuthenticityDay {
    pub index: Option<f64>,
    pub baseline_index: Option<f64>,
    pub perception_balance: Option<f64>,
    pub suspicious_share: Option<f64>,
    pub baseline_suspicious_share: Option<f64>,
    /// Signals that fired on today's posts, most posts first.
    pub signals: Vec<SignalDay>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Phrase {
    pub phrase: String,
    /// Today's posts using it.
    pub posts: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Phrases {
    /// From posts the model reads as positive.
    pub praise: Vec<Phrase>,
    /// From posts it reads as negative.
    pub complaints: Vec<Phrase>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Segment {
    /// `source`, `rating` or `language`.
    pub by: String,
    pub value: String,
    pub posts: u64,
    pub sentiment_index: Option<f64>,
    pub top_emotion: Option<String>,
}

/// One value per local day, the baseline's days then the digest's day (for sparklines).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct DailySeries {
    pub dates: Vec<String>,
    pub volume: Vec<u64>,
    pub sentiment_index: Vec<Option<f64>>,
    pub authenticity_index: Vec<Option<f64>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Digest {
    pub product: String,
    pub product_name: String,
    pub date: String,
    pub timezone: String,
    pub from: String,
    pub to: String,
    pub volume: Volume,
    pub sentiment_index: Option<f64>,
    pub baseline_sentiment_index: Option<f64>,
    /// Every emotion label except neutral, biggest change first.
    pub emotions: Vec<LabelChange>,
    pub touchpoints: Vec<LabelChange>,
    /// Significant changes of emotions and touchpoints, biggest first.
    pub movers: Vec<Mover>,
    pub authenticity: AuthenticityDay,
    pub phrases: Phrases,
    pub segments: Vec<Segment>,
    pub series: DailySeries,
}

fn labels_of<'a>(p: &'a Post, head: &str) -> &'a [String] {
    match p.classification.heads.get(head) {
        Some(HeadResult::Labels { labels, .. }) => labels,
        _ => &[],
    }
}

fn sentiment_of(p: &Post) -> Option<f64> {
    let c = &p.classification;
    Some((c.score("sentiment", "positive")? - c.score("sentiment", "negative")?) as f64)
}

/// The digest stored for `product` and `date` when the scheduler produced one (`true`), else
/// computed now from the store (`false`: a day not yet due, or older than the scheduler).
pub fn stored_or_compute(
    store: &Store,
    product: &str,
    product_name: &str,
    date: NaiveDate,
    tz: Tz,
) -> Result<(Digest, bool), DigestError> {
    let key = crate::store::MessageKey::digest(product, &date.to_string());
    if let Some(m) = store.message(&key)? {
        let d = serde_json::from_str(&m.json).map_err(|e| DigestError::Corrupt(e.to_string()))?;
        return Ok((d, true));
    }
    Ok((compute(store, product, product_name, date, tz)?, false))
}

/// The digest of `product` for the local `date` in `tz`.
pub fn compute(
    store: &Store,
    product: &str,
    product_name: &str,
    date: NaiveDate,
    tz: Tz,
) -> Result<Digest, DigestError> {
    let w = Window::read(store, product, date, tz)?;
    let scored: Vec<&Post> = w
        .posts
        .iter()
        .filter(|p| p.classification.is_scored())
        .collect();
    let emotions = label_changes(&w, &scored, "emotions");
    let touchpoints = label_changes(&w, &scored, "touchpoints");
    let mut movers: Vec<Mover> = emotions
        .iter()
        .chain(&touchpoints)
        .filter(|c| c.significant)
        .map(|c| mover(&w, &scored, c))
        .collect();
    movers.sort_by(|a, b| b.change.change.abs().total_cmp(&a.change.change.abs()));

    let sentiments: Vec<f64> = scored.iter().filter_map(|p| sentiment_of(p)).collect();
    let sentiment_index = (!sentiments.is_empty())
        .then(|| round4(sentiments.iter().sum::<f64>() / sentiments.len() as f64));
    let baseline_sentiment_index =
        (w.base.scored > 0).then(|| round4(w.base.sentiment_sum / w.base.scored as f64));

    // Phrases: distinctive against the baseline's texts.
    let baseline_posts: Vec<Post> = store
        .scan_posts(product, w.base_from, w.from)
        .take(MAX_DAY_POSTS)
        .collect::<Result<_, _>>()?;
    let phrases = Phrases {
        praise: distinctive(&scored, &baseline_posts, "positive"),
        complaints: distinctive(&scored, &baseline_posts, "negative"),
    };

    Ok(Digest {
        product: product.to_string(),
        product_name: product_name.to_string(),
        date: date.to_string(),
        timezone: tz.to_string(),
        from: format_ms(w.from),
        to: format_ms(w.to),
        volume: volume(&w, scored.len()),
        sentiment_index,
        baseline_sentiment_index,
        emotions,
        touchpoints,
        movers,
        authenticity: authenticity_day(&w),
        phrases,
        segments: segments(&w.posts),
        series: daily_series(&w.daily),
    })
}

/// What one digest reads from the store: the day's posts and the baseline's aggregates.
struct Window {
    from: i64,
    to: i64,
    base_from: i64,
    posts: Vec<Post>,
    /// The baseline days summed.
    base: Aggregate,
    base_sources: BTreeMap<String, Aggregate>,
    /// Hourly buckets summed per local day, baseline days and the day itself, oldest first
    /// (exact for whole-hour zone offsets).
    daily: Vec<(NaiveDate, Aggregate)>,
    slots: std::sync::Arc<Vec<crate::store::Slot>>,
}

impl Window {
    fn read(store: &Store, product: &str, date: NaiveDate, tz: Tz) -> Result<Window, DigestError> {
        let (from, to) = day_range(date, tz)?;
        let base_from = from - BASELINE_DAYS * 86_400_000;
        let mut posts = Vec::new();
        for p in store.scan_posts(product, from, to).take(MAX_DAY_POSTS) {
            posts.push(p?);
        }
        let mut base = Aggregate::default();
        for (_, a) in store.aggregates(product, Granularity::Hour, base_from, from, None)? {
            base.add(&a);
        }
        let base_sources =
            store.aggregates_by_source(product, Granularity::Hour, base_from, from)?;
        let mut daily: Vec<(NaiveDate, Aggregate)> = Vec::new();
        let hours = store.aggregates(product, Granularity::Hour, base_from, to, None)?;
        for back in (0..=BASELINE_DAYS).rev() {
            let day = date - chrono::Duration::days(back);
            let (a, b) = day_range(day, tz)?;
            let mut sum = Aggregate::default();
            for (_, x) in hours.iter().filter(|(t, _)| *t >= a && *t < b) {
                sum.add(x);
            }
            daily.push((day, sum));
        }
        Ok(Window {
            from,
            to,
            base_from,
            posts,
            base,
            base_sources,
            daily,
            slots: store.slots(),
        })
    }

    fn slot(&self, head: &str, label: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.head == head && s.label == label)
    }
}

fn volume(w: &Window, scored: usize) -> Volume {
    let days = BASELINE_DAYS as f64;
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    for p in &w.posts {
        *by_source.entry(p.source.clone()).or_default() += 1;
    }
    for s in w.base_sources.keys() {
        by_source.entry(s.clone()).or_default();
    }
    Volume {
        posts: w.posts.len() as u64,
        scored: scored as u64,
        baseline_daily: round4(w.base.count as f64 / days),
        by_source: by_source
            .into_iter()
            .map(|(source, n)| SourceVolume {
                baseline_daily: round4(
                    w.base_sources.get(&source).map(|a| a.count).unwrap_or(0) as f64 / days,
                ),
                source,
                posts: n,
            })
            .collect(),
    }
}

/// Every label of a multi-label head (but `neutral`) against the baseline's label counts,
/// biggest change first.
fn label_changes(w: &Window, scored: &[&Post], head: &str) -> Vec<LabelChange> {
    let mut v: Vec<LabelChange> = w
        .slots
        .iter()
        .filter(|s| s.head == head && s.label != "neutral")
        .map(|s| label_change(w, scored, head, &s.label))
        .collect();
    v.sort_by(|a, b| {
        b.change
            .abs()
            .total_cmp(&a.change.abs())
            .then(a.label.cmp(&b.label))
    });
    v
}

fn label_change(w: &Window, scored: &[&Post], head: &str, label: &str) -> LabelChange {
    let k1 = scored
        .iter()
        .filter(|p| labels_of(p, head).iter().any(|l| l == label))
        .count() as u64;
    let n1 = scored.len() as u64;
    let k0 = w
        .slot(head, label)
        .and_then(|i| w.base.label_counts.get(i).copied())
        .unwrap_or(0);
    let n0 = w.base.scored;
    let share = if n1 > 0 { k1 as f64 / n1 as f64 } else { 0.0 };
    let baseline_share = if n0 > 0 { k0 as f64 / n0 as f64 } else { 0.0 };
    let z = two_proportion_z(k1, n1, k0, n0);
    LabelChange {
        head: head.to_string(),
        label: label.to_string(),
        posts: k1,
        share: round4(share),
        baseline_share: round4(baseline_share),
        change: round4(share - baseline_share),
        z: round4(z),
        significant: n1 >= MIN_DAY_POSTS
            && n0 > 0
            && z.abs() >= Z_CRITICAL
            && (share - baseline_share).abs() >= MIN_SHARE_CHANGE,
    }
}

/// A significant change with what drives it: for emotions the touchpoints most named with it,
/// the strongest quotes, and its daily share.
fn mover(w: &Window, scored: &[&Post], c: &LabelChange) -> Mover {
    let with: Vec<&Post> = scored
        .iter()
        .copied()
        .filter(|p| labels_of(p, &c.head).iter().any(|l| l == &c.label))
        .collect();
    let mut tps: HashMap<&str, usize> = HashMap::new();
    if c.head == "emotions" {
        for p in &with {
            for t in labels_of(p, "touchpoints") {
                *tps.entry(t.as_str()).or_default() += 1;
            }
        }
    }
    let mut tps: Vec<(String, f64)> = tps
        .into_iter()
        .map(|(t, n)| (t.to_string(), round4(n as f64 / with.len().max(1) as f64)))
        .collect();
    tps.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    tps.truncate(2);
    let mut quotes: Vec<(f32, &Post)> = with
        .iter()
        .map(|p| (p.classification.score(&c.head, &c.label).unwrap_or(0.0), *p))
        .collect();
    quotes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    let slot = w.slot(&c.head, &c.label);
    Mover {
        change: c.clone(),
        touchpoints: tps,
        quotes: quotes
            .into_iter()
            .take(QUOTES)
            .map(|(s, p)| quote(p, s))
            .collect(),
        series: w
            .daily
            .iter()
            .map(|(_, a)| {
                let k = slot
                    .and_then(|i| a.label_counts.get(i).copied())
                    .unwrap_or(0);
                (a.scored > 0).then(|| round4(k as f64 / a.scored as f64))
            })
            .collect(),
    }
}

fn authenticity_day(w: &Window) -> AuthenticityDay {
    let posts = &w.posts;
    let count_kind = |k: SignalKind| posts.iter().filter(|p| p.authenticity.has(k)).count() as u64;
    let suspicious = posts.iter().filter(|p| p.authenticity.suspicious).count() as u64;
    let today = index_parts(
        posts.len() as u64,
        suspicious,
        posts
            .iter()
            .map(|p| p.authenticity.genuineness as f64)
            .sum(),
        count_kind(SignalKind::BrandGenuine),
        count_kind(SignalKind::BrandFake),
    );
    let before = crate::query::trends::authenticity_of(&w.base);
    let mut signals: Vec<SignalDay> = SignalKind::ALL
        .iter()
        .filter_map(|&k| signal_day(w, k))
        .collect();
    signals.sort_by(|a, b| b.posts.cmp(&a.posts).then(a.kind.cmp(&b.kind)));
    AuthenticityDay {
        index: today.index,
        baseline_index: before.index,
        perception_balance: today.perception_balance,
        suspicious_share: today.suspicious_share,
        baseline_suspicious_share: before.suspicious_share,
        signals,
    }
}

/// The day's posts carrying signal `k`, with the two strongest as examples; `None` when none.
fn signal_day(w: &Window, k: SignalKind) -> Option<SignalDay> {
    let mut with: Vec<(f32, &Post)> = w
        .posts
        .iter()
        .filter_map(|p| {
            p.authenticity
                .signals
                .iter()
                .find(|s| s.kind == k)
                .map(|s| (s.score, p))
        })
        .collect();
    if with.is_empty() {
        return None;
    }
    with.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    Some(SignalDay {
        kind: k,
        posts: with.len() as u64,
        baseline_daily: round4(w.base.signal_count(k) as f64 / BASELINE_DAYS as f64),
        examples: with.iter().take(2).map(|(s, p)| quote(p, *s)).collect(),
    })
}

fn daily_series(daily: &[(NaiveDate, Aggregate)]) -> DailySeries {
    DailySeries {
        dates: daily.iter().map(|(d, _)| d.to_string()).collect(),
        volume: daily.iter().map(|(_, a)| a.count).collect(),
        sentiment_index: daily
            .iter()
            .map(|(_, a)| (a.scored > 0).then(|| round4(a.sentiment_sum / a.scored as f64)))
            .collect(),
        authenticity_index: daily
            .iter()
            .map(|(_, a)| crate::query::trends::authenticity_of(a).index)
            .collect(),
    }
}

/// Words that carry no opinion; a phrase made only of them is never reported.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "but", "is", "are", "was", "were", "be", "been", "it", "its",
    "this", "that", "these", "those", "i", "me", "my", "we", "our", "you", "your", "they", "them",
    "he", "she", "his", "her", "of", "to", "in", "on", "at", "for", "with", "as", "by", "from",
    "so", "just", "very", "really", "too", "also", "have", "has", "had", "do", "did", "does",
    "not", "no", "if", "than", "then", "there", "here", "what", "which", "who", "all", "about",
    "after", "again", "more", "most", "some", "any", "one", "out", "up", "will", "would", "could",
    "can", "im", "ive", "dont", "ve", "s", "t", "ll", "re", "d", "m",
];

/// The words of each clause: phrases never run across punctuation ("…runner! Best…").
fn clauses(text: &str) -> Vec<Vec<String>> {
    text.split(['.', '!', '?', ',', ';', ':', '\n', '(', ')'])
        .map(|c| {
            crate::ingest::authenticity::minhash::normalise(c)
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The two- and three-word phrases of `polarity` posts most over-represented today against the
/// baseline's posts of the same polarity, used by at least two of today's posts.
fn distinctive(today: &[&Post], baseline: &[Post], polarity: &str) -> Vec<Phrase> {
    let is = |p: &Post| {
        let c = &p.classification;
        match c.heads.get("sentiment") {
            Some(HeadResult::Labels { labels, .. }) => labels.iter().any(|l| l == polarity),
            _ => false,
        }
    };
    let grams = |p: &Post| -> HashSet<String> {
        let mut out = HashSet::new();
        for (w, n) in clauses(&p.text).iter().flat_map(|w| [(w, 2usize), (w, 3)]) {
            for g in w.windows(n) {
                let stop = |x: &String| STOPWORDS.contains(&x.as_str());
                // Phrases start and end on a content word.
                if stop(&g[0]) || stop(&g[n - 1]) {
                    continue;
                }
                out.insert(g.join(" "));
            }
        }
        out
    };
    let mut df_today: HashMap<String, usize> = HashMap::new();
    let mut n_today = 0usize;
    for p in today.iter().filter(|p| is(p)) {
        n_today += 1;
        for g in grams(p) {
            *df_today.entry(g).or_default() += 1;
        }
    }
    let mut df_base: HashMap<String, usize> = HashMap::new();
    let mut n_base = 0usize;
    for p in baseline.iter().filter(|p| is(p)) {
        n_base += 1;
        for g in grams(p) {
            if df_today.contains_key(&g) {
                *df_base.entry(g).or_default() += 1;
            }
        }
    }
    let mut scored: Vec<(f64, String, usize)> = df_today
        .into_iter()
        .filter(|(_, n)| *n >= 2)
        .map(|(g, n)| {
            let today_rate = (n as f64 + 0.5) / (n_today as f64 + 1.0);
            let base_rate =
                (df_base.get(&g).copied().unwrap_or(0) as f64 + 0.5) / (n_base as f64 + 1.0);
            ((today_rate / base_rate).ln() * n as f64, g, n)
        })
        .filter(|(s, _, _)| *s > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    // A three-word phrase makes its own two-word parts redundant.
    let mut out: Vec<Phrase> = Vec::new();
    for (_, g, n) in scored {
        if out
            .iter()
            .any(|p| p.phrase.contains(&g) || g.contains(&p.phrase))
        {
            continue;
        }
        out.push(Phrase {
            phrase: g,
            posts: n,
        });
        if out.len() == PHRASES {
            break;
        }
    }
    out
}

fn segments(posts: &[Post]) -> Vec<Segment> {
    let mut groups: BTreeMap<(String, String), Vec<&Post>> = BTreeMap::new();
    for p in posts {
        let rating = match p.rating.map(stars) {
            Some(1 | 2) => "1-2★",
            Some(3) => "3★",
            Some(_) => "4-5★",
            None => "no rating",
        };
        for (by, value) in [
            ("source", p.source.clone()),
            ("rating", rating.to_string()),
            ("language", p.language.clone()),
        ] {
            groups.entry((by.to_string(), value)).or_default().push(p);
        }
    }
    groups
        .into_iter()
        .map(|((by, value), ps)| {
            let s: Vec<f64> = ps.iter().filter_map(|p| sentiment_of(p)).collect();
            let mut em: HashMap<&str, usize> = HashMap::new();
            for p in &ps {
                for l in labels_of(p, "emotions") {
                    if l != "neutral" {
                        *em.entry(l.as_str()).or_default() += 1;
                    }
                }
            }
            let top = em
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(l, _)| l.to_string());
            Segment {
                by,
                value,
                posts: ps.len() as u64,
                sentiment_index: (!s.is_empty())
                    .then(|| round4(s.iter().sum::<f64>() / s.len() as f64)),
                top_emotion: top,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z_matches_a_hand_computation() {
        // 30/100 today vs 100/1000 before: pooled p = 130/1100.
        let p = 130.0f64 / 1100.0;
        let se = (p * (1.0 - p) * (1.0 / 100.0 + 1.0 / 1000.0)).sqrt();
        assert!((two_proportion_z(30, 100, 100, 1000) - 0.2 / se).abs() < 1e-12);
        assert_eq!(two_proportion_z(0, 0, 5, 10), 0.0);
    }

    #[test]
    fn local_days_follow_the_timezone_and_dst() {
        let d = parse_date("2026-03-29").unwrap(); // Europe/Berlin springs forward
        let (from, to) = day_range(d, chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(format_ms(from), "2026-03-28T23:00:00Z");
        assert_eq!(to - from, 23 * 3_600_000, "a 23-hour day");
        let (from, _) = day_range(d, chrono_tz::UTC).unwrap();
        assert_eq!(format_ms(from), "2026-03-29T00:00:00Z");
        assert!(parse_date("29.03.2026").is_err());
    }
}
