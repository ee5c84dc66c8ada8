//! Trend queries over the stored aggregates: series per label and volume at hour, day, week or
//! month resolution, and "this window vs the previous one" summaries.

use std::collections::BTreeMap;

use chrono::{Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::num::round4;
use crate::domain::time::format_ms;
use crate::domain::{index_parts, IndexParts, SignalKind};
use crate::store::{Aggregate, Granularity, Slot, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Hour,
    Day,
    Week,
    Month,
}

impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            "week" => Ok(Interval::Week),
            "month" => Ok(Interval::Month),
            o => Err(format!("`{o}` is not one of hour, day, week, month")),
        }
    }
}

/// Series longer than this are refused: a year of hours is fine, a century of hours is a mistake.
pub const MAX_POINTS: i64 = 20_000;

impl Interval {
    /// Start of the bucket containing `ts` (weeks start on Monday, UTC).
    pub fn floor(self, ts: i64) -> i64 {
        match self {
            Interval::Hour => Granularity::Hour.bucket_start(ts),
            Interval::Day => Granularity::Day.bucket_start(ts),
            Interval::Week => {
                let day = Granularity::Day.bucket_start(ts);
                // 1970-01-01 was a Thursday: Monday-based weeks are offset by 3 days.
                let days = day.div_euclid(86_400_000);
                (days - (days + 3).rem_euclid(7)) * 86_400_000
            }
            Interval::Month => {
                let d = Utc.timestamp_millis_opt(ts).single().unwrap_or_default();
                Utc.with_ymd_and_hms(d.year(), d.month(), 1, 0, 0, 0)
                    .single()
                    .map(|x| x.timestamp_millis())
                    .unwrap_or(ts)
            }
        }
    }

    pub fn next(self, start: i64) -> i64 {
        match self {
            Interval::Hour => start + 3_600_000,
            Interval::Day => start + 86_400_000,
            Interval::Week => start + 7 * 86_400_000,
            Interval::Month => {
                let d = Utc.timestamp_millis_opt(start).single().unwrap_or_default();
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .single()
                    .map(|x| x.timestamp_millis())
                    .unwrap_or(start + 31 * 86_400_000)
            }
        }
    }

    fn granularity(self) -> Granularity {
        match self {
            Interval::Hour => Granularity::Hour,
            _ => Granularity::Day,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LabelStat {
    /// Mean probability over scored posts.
    pub mean: f64,
    /// Share of scored posts with the label over threshold (or winning).
    pub share: f64,
    /// Share of scored posts where this label is the head's strongest.
    pub dominant: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Point {
    pub start: String,
    pub start_ms: i64,
    /// Posts stored.
    pub volume: u64,
    /// Posts the model scored (English).
    pub scored: u64,
    pub rating_avg: Option<f64>,
    /// Ratings by band, lowest first (1★ … 5★ on a five-star scale).
    pub rating_hist: [u64; 5],
    /// Mean P(positive) − P(negative), from −1 to 1.
    pub sentiment_index: Option<f64>,
    /// head → label → statistics.
    pub labels: BTreeMap<String, BTreeMap<String, LabelStat>>,
    /// Posts whose review genuineness is in doubt.
    pub suspicious: u64,
    /// The Authenticity Index and its parts.
    pub authenticity: IndexParts,
    /// Posts carrying each signal kind (kinds that fired at least once).
    pub signals: BTreeMap<String, u64>,
}

/// The Authenticity Index parts of one bucket (see [`crate::domain::index_parts`]).
pub fn authenticity_of(a: &Aggregate) -> IndexParts {
    index_parts(
        a.count,
        a.suspicious,
        a.genuineness_sum,
        a.signal_count(SignalKind::BrandGenuine),
        a.signal_count(SignalKind::BrandFake),
    )
}

fn signals_of(a: &Aggregate) -> BTreeMap<String, u64> {
    SignalKind::ALL
        .iter()
        .map(|k| (k.name().to_string(), a.signal_count(*k)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

impl Point {
    pub fn from_aggregate(start_ms: i64, a: &Aggregate, slots: &[Slot]) -> Point {
        let mut labels: BTreeMap<String, BTreeMap<String, LabelStat>> = BTreeMap::new();
        if a.scored > 0 {
            let n = a.scored as f64;
            for (i, s) in slots.iter().enumerate() {
                let stat = LabelStat {
                    mean: round4(a.prob_sums.get(i).copied().unwrap_or(0.0) / n),
                    share: round4(a.label_counts.get(i).copied().unwrap_or(0) as f64 / n),
                    dominant: round4(a.dominant_counts.get(i).copied().unwrap_or(0) as f64 / n),
                };
                labels
                    .entry(s.head.clone())
                    .or_default()
                    .insert(s.label.clone(), stat);
            }
        }
        Point {
            start: format_ms(start_ms),
            start_ms,
            volume: a.count,
            scored: a.scored,
            rating_avg: (a.rating_count > 0).then(|| round4(a.rating_sum / a.rating_count as f64)),
            rating_hist: a.rating_hist,
            sentiment_index: (a.scored > 0).then(|| round4(a.sentiment_sum / a.scored as f64)),
            labels,
            suspicious: a.suspicious,
            authenticity: authenticity_of(a),
            signals: signals_of(a),
        }
    }
}

/// One label's series, one value per bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Series {
    pub mean: Vec<f64>,
    pub share: Vec<f64>,
    pub dominant: Vec<f64>,
}

/// A product's trend as columns: `buckets[i]` is the start of the i-th bucket and every series
/// has one value per bucket (what charts consume). Empty buckets are present, as zeros / null.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trends {
    pub product: String,
    pub interval: Interval,
    pub from: String,
    pub to: String,
    pub source: Option<String>,
    pub buckets: Vec<String>,
    pub volume: Vec<u64>,
    pub scored: Vec<u64>,
    pub rating_avg: Vec<Option<f64>>,
    pub rating_hist: Vec<[u64; 5]>,
    pub sentiment_index: Vec<Option<f64>>,
    /// head → label → series.
    pub labels: BTreeMap<String, BTreeMap<String, Series>>,
    pub authenticity: AuthenticitySeries,
    /// The whole range in one bucket.
    pub total: Point,
}

/// The Authenticity Index and its parts per bucket (null where a bucket has no posts or, for
/// the balance, no post judging the brand), and each signal kind's post count per bucket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct AuthenticitySeries {
    pub index: Vec<Option<f64>>,
    pub perception_balance: Vec<Option<f64>>,
    pub suspicious_share: Vec<Option<f64>>,
    pub genuineness_avg: Vec<Option<f64>>,
    /// kind → posts per bucket, for every kind (zeros included, so charts need no gaps logic).
    pub signals: BTreeMap<String, Vec<u64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    #[error("`from` must be before `to`")]
    EmptyRange,
    #[error("the range has more than {MAX_POINTS} {0:?} buckets; use a coarser interval")]
    TooManyPoints(Interval),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Aggregates of `[from, to)` rolled up to `interval`, with empty buckets present as zeros.
pub fn trends(
    store: &Store,
    product: &str,
    from_ms: i64,
    to_ms: i64,
    interval: Interval,
    source: Option<&str>,
) -> Result<Trends, TrendError> {
    if from_ms >= to_ms {
        return Err(TrendError::EmptyRange);
    }
    let first = interval.floor(from_ms);
    let approx_width = match interval {
        Interval::Hour => 3_600_000,
        Interval::Day => 86_400_000,
        Interval::Week => 7 * 86_400_000,
        Interval::Month => 28 * 86_400_000,
    };
    if (to_ms - first) / approx_width > MAX_POINTS {
        return Err(TrendError::TooManyPoints(interval));
    }
    let g = interval.granularity();
    let rows = store.aggregates(product, g, g.bucket_start(from_ms), to_ms, source)?;
    Ok(roll_up(
        product,
        from_ms,
        to_ms,
        interval,
        source,
        &rows,
        &store.slots(),
    ))
}

/// Rolls time-ordered stored buckets (hour or day) up into `interval` columns over
/// `[from, to)`. Separate from [`trends`] so any storage that yields the same rows gives the
/// same answer (the SQLite comparison in benches/store.rs uses it).
pub fn roll_up(
    product: &str,
    from_ms: i64,
    to_ms: i64,
    interval: Interval,
    source: Option<&str>,
    rows: &[(i64, Aggregate)],
    slots: &[Slot],
) -> Trends {
    let first = interval.floor(from_ms);
    let mut starts = Vec::new();
    let mut start = first;
    while start < to_ms {
        starts.push(start);
        start = interval.next(start);
    }
    // Rows come in time order: walk them and the buckets together.
    let mut sums: Vec<Aggregate> = vec![Aggregate::default(); starts.len()];
    let mut total = Aggregate::default();
    let mut i = 0;
    for (b, a) in rows {
        while i + 1 < starts.len() && starts[i + 1] <= *b {
            i += 1;
        }
        if !starts.is_empty() && *b >= starts[i] {
            sums[i].add(a);
        }
        total.add(a);
    }
    let n = starts.len();
    let mut labels: BTreeMap<String, BTreeMap<String, Series>> = BTreeMap::new();
    for (j, s) in slots.iter().enumerate() {
        let mut series = Series {
            mean: Vec::with_capacity(n),
            share: Vec::with_capacity(n),
            dominant: Vec::with_capacity(n),
        };
        for a in &sums {
            let d = a.scored.max(1) as f64;
            series
                .mean
                .push(round4(a.prob_sums.get(j).copied().unwrap_or(0.0) / d));
            series.share.push(round4(
                a.label_counts.get(j).copied().unwrap_or(0) as f64 / d,
            ));
            series.dominant.push(round4(
                a.dominant_counts.get(j).copied().unwrap_or(0) as f64 / d,
            ));
        }
        labels
            .entry(s.head.clone())
            .or_default()
            .insert(s.label.clone(), series);
    }
    Trends {
        product: product.to_string(),
        interval,
        from: format_ms(from_ms),
        to: format_ms(to_ms),
        source: source.map(str::to_string),
        buckets: starts.iter().map(|s| format_ms(*s)).collect(),
        volume: sums.iter().map(|a| a.count).collect(),
        scored: sums.iter().map(|a| a.scored).collect(),
        rating_avg: sums
            .iter()
            .map(|a| (a.rating_count > 0).then(|| round4(a.rating_sum / a.rating_count as f64)))
            .collect(),
        rating_hist: sums.iter().map(|a| a.rating_hist).collect(),
        sentiment_index: sums
            .iter()
            .map(|a| (a.scored > 0).then(|| round4(a.sentiment_sum / a.scored as f64)))
            .collect(),
        labels,
        authenticity: {
            let parts: Vec<IndexParts> = sums.iter().map(authenticity_of).collect();
            AuthenticitySeries {
                index: parts.iter().map(|p| p.index).collect(),
                perception_balance: parts.iter().map(|p| p.perception_balance).collect(),
                suspicious_share: parts.iter().map(|p| p.suspicious_share).collect(),
                genuineness_avg: parts.iter().map(|p| p.genuineness_avg).collect(),
                signals: SignalKind::ALL
                    .iter()
                    .map(|k| {
                        (
                            k.name().to_string(),
                            sums.iter().map(|a| a.signal_count(*k)).collect(),
                        )
                    })
                    .collect(),
            }
        },
        total: Point::from_aggregate(first, &total, slots),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Mover {
    pub head: String,
    pub label: String,
    pub share_now: f64,
    pub share_before: f64,
    pub delta: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub product: String,
    pub window: String,
    pub current: Point,
    pub previous: Point,
    /// Relative change of volume (None when the previous window was empty).
    pub volume_change: Option<f64>,
    pub sentiment_change: Option<f64>,
    pub rating_change: Option<f64>,
    /// Labels whose share moved most, largest absolute change first.
    pub movers: Vec<Mover>,
}

/// `[to − window, to)` against the window before it, from hourly buckets.
pub fn summary(
    store: &Store,
    product: &str,
    window_label: &str,
    window_ms: i64,
    to_ms: i64,
) -> Result<Summary, TrendError> {
    let to = Granularity::Hour.bucket_start(to_ms) + 3_600_000;
    let mid = to - window_ms;
    let from = mid - window_ms;
    let slots = store.slots();
    let sum = |a: i64, b: i64| -> Result<Aggregate, StoreError> {
        let mut t = Aggregate::default();
        for (_, x) in store.aggregates(product, Granularity::Hour, a, b, None)? {
            t.add(&x);
        }
        Ok(t)
    };
    let cur = Point::from_aggregate(mid, &sum(mid, to)?, &slots);
    let prev = Point::from_aggregate(from, &sum(from, mid)?, &slots);
    let mut movers = Vec::new();
    for (head, labels) in &cur.labels {
        for (label, s) in labels {
            let before = prev
                .labels
                .get(head)
                .and_then(|l| l.get(label))
                .map(|x| x.share)
                .unwrap_or(0.0);
            movers.push(Mover {
                head: head.clone(),
                label: label.clone(),
                share_now: s.share,
                share_before: before,
                delta: round4(s.share - before),
            });
        }
    }
    movers.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()));
    movers.truncate(10);
    Ok(Summary {
        product: product.to_string(),
        window: window_label.to_string(),
        volume_change: (prev.volume > 0)
            .then(|| round4((cur.volume as f64 - prev.volume as f64) / prev.volume as f64)),
        sentiment_change: match (cur.sentiment_index, prev.sentiment_index) {
            (Some(a), Some(b)) => Some(round4(a - b)),
            _ => None,
        },
        rating_change: match (cur.rating_avg, prev.rating_avg) {
            (Some(a), Some(b)) => Some(round4(a - b)),
            _ => None,
        },
        current: cur,
        previous: prev,
        movers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_and_months_roll() {
        // 2025-10-03 is a Friday; its week starts Monday 2025-09-29.
        let fri = 1_759_449_600_000;
        assert_eq!(format_ms(Interval::Week.floor(fri)), "2025-09-29T00:00:00Z");
        assert_eq!(
            format_ms(Interval::Month.floor(fri)),
            "2025-10-01T00:00:00Z"
        );
        let dec = Interval::Month.floor(1_765_000_000_000); // December 2025
        assert_eq!(format_ms(Interval::Month.next(dec)), "2026-01-01T00:00:00Z");
        assert_eq!("week".parse::<Interval>(), Ok(Interval::Week));
        assert!("year".parse::<Interval>().is_err());
    }
}
