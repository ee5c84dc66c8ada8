//! Burst detection: a product's review rate on one source, or its share of 5★ or 1★ reviews,
//! jumping far above that source's own baseline (the trailing days of stored aggregates).
//!
//! Counts are tested against a Poisson baseline (rates) or a binomial one (star shares), and a
//! burst must also be large in absolute and relative terms: real traffic is more variable than
//! Poisson, and a p-value alone would flag every busy Monday on a big source.

use crate::config::AuthenticityConfig;
use crate::domain::stars;
use crate::store::{Granularity, Store, StoreError};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Days of trailing history that make the baseline.
const BASELINE_DAYS: i64 = 28;
/// A source needs this much history before its bursts mean anything.
const MIN_HISTORY_DAYS: i64 = 7;
/// Traffic peaks in the day; an hour's expectation is the daily mean / 24 times this.
const PEAK_HOUR_FACTOR: f64 = 2.0;
/// Width of the multi-hour windows tested besides single hours.
const SPAN_HOURS: i64 = 3;
/// A star-share burst must also move the share by this much (absolute).
const MIN_SHARE_JUMP: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurstKind {
    /// More posts than the source's baseline rate.
    Rate,
    /// Posts with this many stars (5 or 1) over their usual share.
    Stars(u8),
}

/// One window in which a source's posts for a product burst.
#[derive(Debug, Clone, PartialEq)]
pub struct Burst {
    pub kind: BurstKind,
    pub start_ms: i64,
    pub end_ms: i64,
    pub count: u64,
    pub expected: f64,
    pub p_value: f64,
}

impl Burst {
    pub fn covers(&self, ts: i64, rating: Option<f32>) -> bool {
        ts >= self.start_ms
            && ts < self.end_ms
            && match self.kind {
                BurstKind::Rate => true,
                BurstKind::Stars(s) => rating.map(stars) == Some(s),
            }
    }

    pub fn detail(&self, source: &str) -> String {
        let what = match self.kind {
            BurstKind::Rate => "posts".to_string(),
            BurstKind::Stars(s) => format!("{s}★ reviews"),
        };
        let span = if self.end_ms - self.start_ms <= HOUR {
            format!(
                "in the hour from {}",
                crate::domain::time::format_ms(self.start_ms)
            )
        } else {
            format!(
                "on {} (UTC)",
                &crate::domain::time::format_ms(self.start_ms)[..10]
            )
        };
        format!(
            "{} {what} from {source} {span}, {:.1} expected (p = {:.1e})",
            self.count, self.expected, self.p_value
        )
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7): accurate to ~1e-13, plenty for tail probabilities.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// P(X ≥ k) for X ~ Poisson(λ), summed from k upwards in log space.
pub fn poisson_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut i = k;
    loop {
        let t = (-lambda + i as f64 * lambda.ln() - ln_gamma(i as f64 + 1.0)).exp();
        sum += t;
        // Past the mode the terms only shrink: stop once they no longer matter (or underflowed).
        if (i as f64 > lambda && t <= sum * 1e-12) || i > k + 100_000 {
            break;
        }
        i += 1;
    }
    sum.min(1.0)
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_tail(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let ln_choose = |i: u64| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(i as f64 + 1.0) - ln_gamma((n - i) as f64 + 1.0)
    };
    (k..=n)
        .map(|i| (ln_choose(i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln()).exp())
        .sum::<f64>()
        .min(1.0)
}

/// The new posts of one batch of one source: (published, rating).
pub type NewPost = (i64, Option<f32>);

/// Bursts of `source`'s posts for `product` in the hours and days that `new` posts fall in,
/// counting what is stored plus `new`.
pub fn find(
    store: &Store,
    product: &str,
    source: &str,
    new: &[NewPost],
    cfg: &AuthenticityConfig,
) -> Result<Vec<Burst>, StoreError> {
    let mut days: Vec<i64> = new.iter().map(|(t, _)| t.div_euclid(DAY) * DAY).collect();
    days.sort_unstable();
    days.dedup();
    let mut out = Vec::new();
    for day in days {
        let hist = store.aggregates(
            product,
            Granularity::Day,
            day - BASELINE_DAYS * DAY,
            day,
            Some(source),
        )?;
        let Some(first) = hist.first().map(|(b, _)| *b) else {
            continue;
        };
        let history_days = (day - first) / DAY;
        if history_days < MIN_HISTORY_DAYS {
            continue;
        }
        let (mut total, mut five, mut one) = (0u64, 0u64, 0u64);
        let mut rated = 0u64;
        for (_, a) in &hist {
            total += a.count;
            rated += a.rating_count;
            five += a.rating_hist[4];
            one += a.rating_hist[0];
        }
        let lambda_day = total as f64 / history_days as f64;

        // The day as a whole: stored so far plus this batch.
        let stored_day = store
            .aggregates(product, Granularity::Day, day, day + DAY, Some(source))?
            .into_iter()
            .next()
            .map(|(_, a)| a)
            .unwrap_or_default();
        let in_day: Vec<&NewPost> = new
            .iter()
            .filter(|(t, _)| t.div_euclid(DAY) * DAY == day)
            .collect();
        let count = stored_day.count + in_day.len() as u64;
        let day_burst = rate_burst(count, lambda_day, day, DAY, cfg);
        // Star shares of the day.
        let day_rated =
            stored_day.rating_count + in_day.iter().filter(|(_, r)| r.is_some()).count() as u64;
        for (s, hist_k, band) in [(5u8, five, 4usize), (1u8, one, 0usize)] {
            let k = stored_day.rating_hist[band]
                + in_day
                    .iter()
                    .filter(|(_, r)| r.map(stars) == Some(s))
                    .count() as u64;
            let p0 = (hist_k as f64 + 1.0) / (rated as f64 + 2.0);
            if k < cfg.burst_min_posts || day_rated == 0 {
                continue;
            }
            let share = k as f64 / day_rated as f64;
            let p = binomial_tail(k, day_rated, p0);
            if p < cfg.burst_max_p_value && share - p0 >= MIN_SHARE_JUMP {
                out.push(Burst {
                    kind: BurstKind::Stars(s),
                    start_ms: day,
                    end_ms: day + DAY,
                    count: k,
                    expected: p0 * day_rated as f64,
                    p_value: p,
                });
            }
        }

        // Every hour of the day, not only those this batch touches: a day that crosses the
        // line because of an earlier bursting hour must not flag the whole day.
        let mut hours: std::collections::BTreeMap<i64, u64> = store
            .aggregates(product, Granularity::Hour, day, day + DAY, Some(source))?
            .into_iter()
            .map(|(h, a)| (h, a.count))
            .collect();
        for (t, _) in &in_day {
            *hours.entry(t.div_euclid(HOUR) * HOUR).or_default() += 1;
        }
        let lambda_hour = lambda_day / 24.0 * PEAK_HOUR_FACTOR;
        let mut hour_bursts = merge_hours(&hours, lambda_hour, cfg);
        // When bursting hours explain the day, only they are flagged: the day's ordinary posts
        // outside them are not part of the burst. The day still bursts on its own when the
        // rest of it, without those hours, is far above normal (a second, slower campaign).
        if hour_bursts.is_empty() {
            out.extend(day_burst);
        } else if day_burst.is_some() {
            let in_windows: u64 = hour_bursts.iter().map(|b| b.count).sum();
            let window_hours: i64 = hour_bursts
                .iter()
                .map(|b| (b.end_ms - b.start_ms) / HOUR)
                .sum();
            let rest_share = (24 - window_hours).max(1) as f64 / 24.0;
            if let Some(mut b) = rate_burst(
                count.saturating_sub(in_windows),
                lambda_day * rest_share,
                day,
                DAY,
                cfg,
            ) {
                b.count = count;
                out.push(b);
            }
        }
        out.append(&mut hour_bursts);
    }
    Ok(out)
}

/// Bursting windows within a day: single hours, and three-hour spans (a campaign spread over an
/// afternoon never puts enough posts in one hour), each widened over the elevated hours next
/// to it, which belong to the same burst. Overlapping windows merge.
fn merge_hours(
    hours: &std::collections::BTreeMap<i64, u64>,
    lambda_hour: f64,
    cfg: &AuthenticityConfig,
) -> Vec<Burst> {
    let count = |h: i64| hours.get(&h).copied().unwrap_or(0);
    let elevated =
        |h: i64| count(h) as f64 >= (cfg.burst_min_ratio * lambda_hour.max(0.1)).max(2.0);
    let mut found: Vec<Burst> = Vec::new();
    for &hour in hours.keys() {
        for span in [1, SPAN_HOURS] {
            let n = (0..span).map(|i| count(hour + i * HOUR)).sum();
            if let Some(mut b) = rate_burst(n, lambda_hour * span as f64, hour, span * HOUR, cfg) {
                // A window ends with its last post, not with empty hours after it.
                while b.end_ms - b.start_ms > HOUR && count(b.end_ms - HOUR) == 0 {
                    b.end_ms -= HOUR;
                }
                found.push(b);
            }
        }
    }
    found.sort_by_key(|b| b.start_ms);
    let mut out: Vec<Burst> = Vec::new();
    for b in found {
        let (mut start, mut end) = (b.start_ms, b.end_ms);
        while elevated(start - HOUR) {
            start -= HOUR;
        }
        while elevated(end) {
            end += HOUR;
        }
        match out.last_mut() {
            Some(last) if last.end_ms >= start => {
                last.end_ms = last.end_ms.max(end);
                last.p_value = last.p_value.min(b.p_value);
            }
            _ => out.push(Burst {
                start_ms: start,
                end_ms: end,
                ..b
            }),
        }
    }
    for b in &mut out {
        let n_hours = (b.end_ms - b.start_ms) / HOUR;
        b.count = (0..n_hours).map(|i| count(b.start_ms + i * HOUR)).sum();
        b.expected = lambda_hour.max(0.1) * n_hours as f64;
    }
    out
}

fn rate_burst(
    count: u64,
    lambda: f64,
    start: i64,
    width: i64,
    cfg: &AuthenticityConfig,
) -> Option<Burst> {
    // A floor on the expectation: a source that is usually silent still gets the odd post.
    let expected = lambda.max(0.1);
    if count < cfg.burst_min_posts || (count as f64) < cfg.burst_min_ratio * expected {
        return None;
    }
    let p = poisson_tail(count, expected);
    (p < cfg.burst_max_p_value).then_some(Burst {
        kind: BurstKind::Rate,
        start_ms: start,
        end_ms: start + width,
        count,
        expected,
        p_value: p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bursting_hour_takes_its_elevated_neighbours() {
        let cfg = AuthenticityConfig::default();
        let h = |i: i64| 1_000 * DAY + i * HOUR;
        // Baseline about 0.4 posts an hour; hours 9–12 carry a campaign, hour 20 is normal.
        let hours: std::collections::BTreeMap<i64, u64> =
            [(h(9), 4), (h(10), 9), (h(11), 5), (h(12), 3), (h(20), 1)]
                .into_iter()
                .collect();
        let b = merge_hours(&hours, 0.4, &cfg);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!((b[0].start_ms, b[0].end_ms), (h(9), h(13)));
        assert_eq!(b[0].count, 21);
        assert!(!b[0].covers(h(20), None));
        assert!(merge_hours(&[(h(9), 4)].into_iter().collect(), 0.4, &cfg).is_empty());
    }

    fn stored(store: &Store, n: usize, ts: impl Fn(usize) -> i64, stars: f32) {
        let posts: Vec<crate::domain::Post> = (0..n)
            .map(|i| {
                let id = format!("{stars}-{}", ts(i));
                crate::domain::Post {
                    id: crate::domain::PostId::new("p", "shop", &id),
                    product: "p".into(),
                    source: "shop".into(),
                    external_id: id,
                    url: None,
                    author: None,
                    published_ms: ts(i),
                    fetched_ms: ts(i),
                    language: "en".into(),
                    title: None,
                    text: "fine".into(),
                    rating: Some(stars / 5.0),
                    channel: None,
                    classification: Default::default(),
                    authenticity: Default::default(),
                }
            })
            .collect();
        store
            .ingest(&posts, &[], &crate::domain::Scorer::default(), None)
            .unwrap();
    }

    #[test]
    fn a_jump_in_five_star_share_is_a_burst_even_at_a_normal_rate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let day0 = 20_000 * DAY;
        // Two weeks of ten 4★ reviews a day, one 5★ a day.
        stored(
            &store,
            140,
            |i| day0 + (i / 10) as i64 * DAY + (i % 10) as i64 * HOUR,
            4.0,
        );
        stored(&store, 14, |i| day0 + i as i64 * DAY + 12 * HOUR, 5.0);
        // Day 15: eleven reviews, one an hour (the usual rate), ten of them 5★.
        let today = day0 + 15 * DAY;
        let mut new: Vec<NewPost> = (0..10).map(|h| (today + h * HOUR, Some(1.0))).collect();
        new.push((today + 10 * HOUR, Some(0.8)));
        let cfg = AuthenticityConfig::default();
        let bursts = find(&store, "p", "shop", &new, &cfg).unwrap();
        assert_eq!(bursts.len(), 1, "{bursts:?}");
        assert_eq!(bursts[0].kind, BurstKind::Stars(5));
        assert!(bursts[0].covers(today + HOUR, Some(1.0)));
        assert!(
            !bursts[0].covers(today + 10 * HOUR, Some(0.8)),
            "4★ posts are not part of it"
        );
        // The same day with the usual mix raises nothing.
        let usual: Vec<NewPost> = (0..10).map(|h| (today + h * HOUR, Some(0.8))).collect();
        assert!(find(&store, "p", "shop", &usual, &cfg).unwrap().is_empty());
    }

    #[test]
    fn tails_match_known_values() {
        // P(X ≥ 1 | λ = 1) = 1 − e^{−1}
        assert!((poisson_tail(1, 1.0) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        // P(X ≥ 10 | λ = 2) = 4.6498e-5 (tables)
        assert!((poisson_tail(10, 2.0) - 4.6498e-5).abs() < 1e-8);
        // P(X ≥ 8 | Bin(10, 0.5)) = 56/1024
        assert!((binomial_tail(8, 10, 0.5) - 56.0 / 1024.0).abs() < 1e-12);
        assert_eq!(binomial_tail(11, 10, 0.5), 0.0);
        assert_eq!(poisson_tail(0, 3.0), 1.0);
    }
}
