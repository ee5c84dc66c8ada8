//! The authenticity report of one product over a range: the index and its trend, the breakdown
//! by source, and the signals that fired most with example posts.

use serde::Serialize;

use crate::domain::Post;
use crate::domain::{IndexParts, SignalKind};
use crate::query::trends::{self, AuthenticitySeries, Interval, TrendError};
use crate::store::{Granularity, PostQuery, Store};

/// Example posts shown per signal kind.
const EXAMPLES: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct SourceIndex {
    pub source: String,
    pub volume: u64,
    pub suspicious: u64,
    #[serde(flatten)]
    pub parts: IndexParts,
}

#[derive(Debug, Clone, Serialize)]
pub struct TopSignal {
    pub kind: SignalKind,
    /// Brand perception (not a doubt about the posts).
    pub perception: bool,
    pub posts: u64,
    /// Share of the range's posts.
    pub share: f64,
    /// The newest posts carrying it (rendered by the caller).
    #[serde(skip)]
    pub examples: Vec<Post>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthenticityReport {
    pub product: String,
    pub from: String,
    pub to: String,
    pub interval: Interval,
    pub volume: u64,
    pub suspicious: u64,
    #[serde(flatten)]
    pub total: IndexParts,
    pub buckets: Vec<String>,
    pub trend: AuthenticitySeries,
    pub by_source: Vec<SourceIndex>,
    /// Kinds that fired in the range, most posts first.
    pub top_signals: Vec<TopSignal>,
}

pub fn report(
    store: &Store,
    product: &str,
    from_ms: i64,
    to_ms: i64,
    interval: Interval,
) -> Result<AuthenticityReport, TrendError> {
    let t = trends::trends(store, product, from_ms, to_ms, interval, None)?;
    let g = match interval {
        Interval::Hour => Granularity::Hour,
        _ => Granularity::Day,
    };
    let by_source = store
        .aggregates_by_source(product, g, from_ms, to_ms)?
        .into_iter()
        .map(|(source, a)| SourceIndex {
            source,
            volume: a.count,
            suspicious: a.suspicious,
            parts: trends::authenticity_of(&a),
        })
        .collect();
    let mut top: Vec<TopSignal> = Vec::new();
    for (name, n) in &t.total.signals {
        let Some(kind) = SignalKind::parse(name) else {
            continue;
        };
        let page = store.posts_page(&PostQuery {
            product: product.to_string(),
            from_ms,
            to_ms,
            signal: Some(kind),
            limit: EXAMPLES,
            ..Default::default()
        })?;
        top.push(TopSignal {
            kind,
            perception: kind.is_perception(),
            posts: *n,
            share: (*n as f64 / t.total.volume.max(1) as f64 * 10_000.0).round() / 10_000.0,
            examples: page.posts,
        });
    }
    top.sort_by(|a, b| b.posts.cmp(&a.posts).then(a.kind.cmp(&b.kind)));
    let suspicious = t.total.suspicious;
    Ok(AuthenticityReport {
        product: product.to_string(),
        from: t.from,
        to: t.to,
        interval,
        volume: t.total.volume,
        suspicious,
        total: t.total.authenticity,
        buckets: t.buckets,
        trend: t.authenticity,
        by_source,
        top_signals: top,
    })
}
