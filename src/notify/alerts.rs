//! Intraday alerts: a spike of a negative emotion, or of suspicious reviews, in a product's
//! last hours against its trailing 28 days, with a minimum volume, one alert per spike
//! (episodes) and a cooldown.
//!
//! `detect` only reads; `check` applies the episode rules and stores what fired together with
//! its state, so a restart neither repeats nor loses an alert. Delivery is `delivery`'s.

use serde::{Deserialize, Serialize};

use crate::config::AlertsConfig;
use crate::domain::num::round4;
use crate::domain::time::format_ms;
use crate::notify::stats::{quote, two_proportion_z, Quote};
use crate::store::{codec, AlertState, Granularity, MessageKey, Store, StoreError, StoredMessage};

const HOUR_MS: i64 = 3_600_000;
const BASELINE_MS: i64 = 28 * 24 * HOUR_MS;
const EXAMPLES: usize = 3;
/// Posts of the window read for examples at most.
const MAX_EXAMPLE_SCAN: usize = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The share of posts with a negative emotion label rose.
    Emotion,
    /// The share of posts whose genuineness is in doubt rose.
    Suspicious,
}

/// One spike, as stored and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub product: String,
    pub product_name: String,
    pub kind: AlertKind,
    /// `emotions.<label>` or `suspicious`.
    pub label: String,
    pub fired_at: String,
    pub window_from: String,
    pub window_to: String,
    /// Posts in the window that the share is taken over (scored posts for emotions).
    pub posts: u64,
    /// Of those, posts with the label (or suspicious).
    pub hits: u64,
    pub share: f64,
    pub baseline_share: f64,
    /// One-sided two-proportion z of the window against the baseline.
    pub z: f64,
    pub examples: Vec<Quote>,
}

impl Alert {
    /// What rose, in words: "anger" or "suspicious reviews".
    pub fn what(&self) -> &str {
        match self.kind {
            AlertKind::Emotion => self.label.strip_prefix("emotions.").unwrap_or(&self.label),
            AlertKind::Suspicious => "suspicious reviews",
        }
    }
}

/// The spikes in `product`'s window ending at `now_ms`, whatever was alerted before.
pub fn detect(
    store: &Store,
    product: &str,
    product_name: &str,
    now_ms: i64,
    cfg: &AlertsConfig,
) -> Result<Vec<Alert>, StoreError> {
    // The last `window_hours` whole hours and the current one so far.
    let from = Granularity::Hour.bucket_start(now_ms) - cfg.window_hours as i64 * HOUR_MS;
    let mut window = codec::Aggregate::default();
    for (_, a) in store.aggregates(product, Granularity::Hour, from, now_ms, None)? {
        window.add(&a);
    }
    let mut base = codec::Aggregate::default();
    for (_, a) in store.aggregates(product, Granularity::Hour, from - BASELINE_MS, from, None)? {
        base.add(&a);
    }
    let slots = store.slots();
    let mut found = Vec::new();
    let mut test = |kind, label: String, k1: u64, n1: u64, k0: u64, n0: u64| {
        if n1 < cfg.min_posts || n0 == 0 {
            return;
        }
        let (share, base_share) = (k1 as f64 / n1 as f64, k0 as f64 / n0 as f64);
        let z = two_proportion_z(k1, n1, k0, n0);
        if z >= cfg.min_z && share - base_share >= cfg.min_share_change {
            found.push(Alert {
                product: product.to_string(),
                product_name: product_name.to_string(),
                kind,
                label,
                fired_at: format_ms(now_ms),
                window_from: format_ms(from),
                window_to: format_ms(now_ms),
                posts: n1,
                hits: k1,
                share: round4(share),
                baseline_share: round4(base_share),
                z: round4(z),
                examples: Vec::new(),
            });
        }
    };
    for emotion in &cfg.negative_emotions {
        let Some(i) = codec::slot_index(&slots, "emotions", emotion) else {
            continue;
        };
        let count = |a: &codec::Aggregate| a.label_counts.get(i).copied().unwrap_or(0);
        test(
            AlertKind::Emotion,
            format!("emotions.{emotion}"),
            count(&window),
            window.scored,
            count(&base),
            base.scored,
        );
    }
    test(
        AlertKind::Suspicious,
        "suspicious".into(),
        window.suspicious,
        window.count,
        base.suspicious,
        base.count,
    );
    if !found.is_empty() {
        add_examples(store, product, from, now_ms, &mut found)?;
    }
    Ok(found)
}

fn add_examples(
    store: &Store,
    product: &str,
    from: i64,
    to: i64,
    alerts: &mut [Alert],
) -> Result<(), StoreError> {
    let mut picks: Vec<Vec<(f32, Quote)>> = vec![Vec::new(); alerts.len()];
    for p in store
        .scan_posts_rev(product, from, to)
        .take(MAX_EXAMPLE_SCAN)
    {
        let p = p?;
        for (a, picked) in alerts.iter().zip(picks.iter_mut()) {
            let score = match a.kind {
                AlertKind::Emotion => {
                    let label = a.what();
                    let has = matches!(p.classification.heads.get("emotions"),
                        Some(crate::domain::HeadResult::Labels { labels, .. }) if labels.iter().any(|l| l == label));
                    has.then(|| p.classification.score("emotions", label).unwrap_or(0.0))
                }
                AlertKind::Suspicious => p
                    .authenticity
                    .suspicious
                    .then_some(1.0 - p.authenticity.genuineness),
            };
            if let Some(s) = score {
                picked.push((s, quote(&p, s)));
            }
        }
    }
    for (a, mut picked) in alerts.iter_mut().zip(picks) {
        picked.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.id.cmp(&y.1.id)));
        a.examples = picked.into_iter().take(EXAMPLES).map(|(_, q)| q).collect();
    }
    Ok(())
}

/// Runs [`detect`] for `product` and applies the episode rules: a spike alerts when it starts,
/// unless the same label alerted less than `cooldown` ago; while it lasts it stays quiet; once
/// it is over the label may alert again (after the cooldown). Fired alerts are stored with
/// their state in one transaction and returned with their keys, for delivery.
pub fn check(
    store: &Store,
    product: &str,
    product_name: &str,
    now_ms: i64,
    cfg: &AlertsConfig,
) -> Result<Vec<(MessageKey, Alert)>, StoreError> {
    let spikes = detect(store, product, product_name, now_ms, cfg)?;
    let mut labels: Vec<String> = cfg
        .negative_emotions
        .iter()
        .map(|e| format!("emotions.{e}"))
        .collect();
    labels.push("suspicious".into());
    let mut fired = Vec::new();
    for label in labels {
        let state = store.alert_state(product, &label)?;
        let spike = spikes.iter().find(|a| a.label == label);
        match spike {
            None => {
                if state.active {
                    store.set_alert_state(
                        product,
                        &label,
                        AlertState {
                            active: false,
                            ..state
                        },
                    )?;
                }
            }
            Some(_) if state.active => {}
            Some(a) => {
                let cooling = state
                    .last_fired_ms
                    .is_some_and(|t| now_ms - t < cfg.cooldown_ms);
                if cooling {
                    // The spike is on but too soon after the last alert: it counts as
                    // alerted, so it stays quiet until it is over.
                    tracing::info!(product, label, "spike within the cooldown: not alerted");
                    store.set_alert_state(
                        product,
                        &label,
                        AlertState {
                            active: true,
                            ..state
                        },
                    )?;
                    continue;
                }
                let key = MessageKey::alert(product, now_ms, &label);
                let msg = StoredMessage {
                    product: product.to_string(),
                    created_ms: now_ms,
                    json: serde_json::to_string(a).expect("an alert serialises"),
                };
                store.put_alert(
                    &key,
                    &msg,
                    product,
                    &label,
                    AlertState {
                        active: true,
                        last_fired_ms: Some(now_ms),
                    },
                )?;
                tracing::warn!(
                    product,
                    label,
                    share = a.share,
                    baseline = a.baseline_share,
                    z = a.z,
                    posts = a.posts,
                    "alert: spike"
                );
                fired.push((key, a.clone()));
            }
        }
    }
    Ok(fired)
}
