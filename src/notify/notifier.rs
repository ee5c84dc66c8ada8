//! When digests and alerts are produced: each product's digest of the previous local day once,
//! at `digest.send_at`, catching up on days missed while the daemon was down; alert checks
//! every `alerts.check_interval_secs`. Both are stored before they are handed to `delivery`.
//!
//! Passes take `now` as an argument, so tests drive the calendar instead of waiting for it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, DigestConfig};
use crate::ingest::scheduler::HealthMap;
use crate::metrics::Metrics;
use crate::notify::alerts::{self, Alert};
use crate::notify::delivery::{blocking, Deliverer, Message, MessageKind, Outcome};
use crate::notify::digest::{self, Digest, DigestError};
use crate::store::{MessageKey, Store, StoreError, StoredMessage};

/// Between scheduled runs the loop still wakes this often, so deliveries that failed for a
/// transient reason are retried within minutes rather than the next morning.
const RETRY_TICK: Duration = Duration::from_secs(600);
/// At start, digests wait for every source's first poll (which brings in what was published
/// during the downtime), but no longer than this.
const SOURCES_GRACE: Duration = Duration::from_secs(300);
/// Alerts fired this recently are looked at again on every pass, so one stored just before a
/// crash is still delivered.
const ALERT_REDELIVERY_MS: i64 = 24 * 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("a stored {what} is unreadable: {detail}")]
    Corrupt { what: &'static str, detail: String },
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PassReport {
    /// (product, date) of digests computed and stored in this pass.
    pub produced: Vec<(String, String)>,
    /// (product, message id, delivery, outcome) of every delivery looked at.
    pub deliveries: Vec<(String, String, String, Outcome)>,
    /// Alerts fired in this pass.
    pub alerts: Vec<Alert>,
}

pub struct Notifier {
    config: Arc<Config>,
    store: Store,
    deliverer: Deliverer,
    metrics: Arc<Metrics>,
}

/// The latest local day whose digest is due at `now`: yesterday once `send_at` has passed
/// today, the day before otherwise.
pub fn latest_due(now: DateTime<Utc>, cfg: &DigestConfig) -> NaiveDate {
    let local = now.with_timezone(&cfg.timezone);
    let back = if local.time() >= cfg.send_at { 1 } else { 2 };
    local.date_naive() - chrono::Duration::days(back)
}

/// The next instant after `now` at which a digest falls due (DST-aware: a `send_at` skipped by
/// a spring-forward runs at the first valid instant after it).
pub fn next_send(now: DateTime<Utc>, cfg: &DigestConfig) -> DateTime<Utc> {
    let tz = cfg.timezone;
    let mut day = now.with_timezone(&tz).date_naive();
    for _ in 0..3 {
        let local = day.and_time(cfg.send_at);
        let at = (0..4).find_map(|h| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(h)))
                .earliest()
        });
        if let Some(at) = at {
            let at = at.with_timezone(&Utc);
            if at > now {
                return at;
            }
        }
        day = day.succ_opt().unwrap_or(day);
    }
    now + chrono::Duration::hours(24)
}

impl Notifier {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        deliverer: Deliverer,
        metrics: Arc<Metrics>,
    ) -> Notifier {
        Notifier {
            config,
            store,
            deliverer,
            metrics,
        }
    }

    /// Produces and delivers every digest due at `now` and not yet done: for each product the
    /// days from `max(first day, latest due − catch_up_days + 1)` to the latest due day. The
    /// first day is recorded the first time a product is seen, so a new install or a new
    /// product starts with yesterday's digest, not weeks of old ones.
    pub async fn digest_pass(&self, now: DateTime<Utc>) -> Result<PassReport, NotifyError> {
        let mut report = PassReport::default();
        let cfg = &self.config.digest;
        let latest = latest_due(now, cfg);
        let window_first = latest - chrono::Duration::days(cfg.catch_up_days.max(1) as i64 - 1);
        for p in &self.config.products {
            let id = p.id.clone();
            let since = blocking(&self.store, move |s| s.digest_since(&id)).await?;
            let since = match since.and_then(|d| digest::parse_date(&d).ok()) {
                Some(d) => d,
                None => {
                    let (id, d) = (p.id.clone(), latest.to_string());
                    blocking(&self.store, move |s| s.set_digest_since(&id, &d)).await?;
                    latest
                }
            };
            let days = std::iter::successors(Some(window_first.max(since)), |d| d.succ_opt())
                .take_while(|d| *d <= latest);
            for day in days {
                let Some((msg, produced)) = self.digest_message(&p.id, &p.name, day).await? else {
                    continue;
                };
                if produced {
                    report.produced.push((p.id.clone(), day.to_string()));
                }
                for (name, outcome) in self.deliverer.deliver(&self.store, &msg).await? {
                    report
                        .deliveries
                        .push((p.id.clone(), msg.id.clone(), name, outcome));
                }
            }
        }
        Ok(report)
    }

    /// The stored digest of `product` for `day`, computed and stored first when absent, with
    /// whether it was produced now; `None` when it is stored and every target is done with it.
    async fn digest_message(
        &self,
        product: &str,
        name: &str,
        day: NaiveDate,
    ) -> Result<Option<(Message, bool)>, NotifyError> {
        let key = MessageKey::digest(product, &day.to_string());
        let k = key.clone();
        if let Some(stored) = blocking(&self.store, move |s| s.message(&k)).await? {
            if !self
                .deliverer
                .has_work(&self.store, &key, MessageKind::Digest)
                .await?
            {
                return Ok(None);
            }
            let d: Digest =
                serde_json::from_str(&stored.json).map_err(|e| NotifyError::Corrupt {
                    what: "digest",
                    detail: e.to_string(),
                })?;
            return Ok(Some((Message::digest(key, &d, stored.json), false)));
        }
        let (store, tz) = (self.store.clone(), self.config.digest.timezone);
        let (product_s, name_s) = (product.to_string(), name.to_string());
        let d = tokio::task::spawn_blocking(move || {
            digest::compute(&store, &product_s, &name_s, day, tz)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        let json = serde_json::to_string(&d).expect("a digest serialises");
        let stored = StoredMessage {
            product: product.to_string(),
            created_ms: Utc::now().timestamp_millis(),
            json: json.clone(),
        };
        let k = key.clone();
        let new = blocking(&self.store, move |s| s.put_message_once(&k, &stored)).await?;
        if new {
            self.metrics.digests.with_label_values(&[product]).inc();
            tracing::info!(product, date = %day, posts = d.volume.posts, movers = d.movers.len(),
                "digest produced");
        }
        Ok(Some((Message::digest(key, &d, json), new)))
    }

    /// Checks every product for spikes at `now`, stores and delivers what fires, and delivers
    /// again any recent alert whose delivery a crash interrupted.
    pub async fn alert_pass(&self, now: DateTime<Utc>) -> Result<PassReport, NotifyError> {
        let mut report = PassReport::default();
        let now_ms = now.timestamp_millis();
        for p in &self.config.products {
            let (store, cfg) = (self.store.clone(), self.config.alerts.clone());
            let (id, name) = (p.id.clone(), p.name.clone());
            let fired = tokio::task::spawn_blocking(move || {
                alerts::check(&store, &id, &name, now_ms, &cfg)
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
            for (_, a) in &fired {
                self.metrics
                    .alerts
                    .with_label_values(&[&p.id, &a.label])
                    .inc();
                report.alerts.push(a.clone());
            }
            let id = p.id.clone();
            let recent = blocking(&self.store, move |s| {
                s.alerts(&id, now_ms - ALERT_REDELIVERY_MS, now_ms + 1)
            })
            .await?;
            for (key, stored) in recent {
                if !self
                    .deliverer
                    .has_work(&self.store, &key, MessageKind::Alert)
                    .await?
                {
                    continue;
                }
                let a: Alert =
                    serde_json::from_str(&stored.json).map_err(|e| NotifyError::Corrupt {
                        what: "alert",
                        detail: e.to_string(),
                    })?;
                let msg = Message::alert(key, &a, stored.json);
                for (name, outcome) in self.deliverer.deliver(&self.store, &msg).await? {
                    report
                        .deliveries
                        .push((p.id.clone(), msg.id.clone(), name, outcome));
                }
            }
        }
        Ok(report)
    }

    /// The loop: digests at `send_at` (and catch-up at start), alert checks every interval,
    /// retries of failed deliveries every few minutes, until `shutdown`.
    pub async fn run(self, health: HealthMap, shutdown: CancellationToken) {
        let digests = self.config.digest.enabled;
        let alerts_on = self.config.alerts.enabled;
        if !digests && !alerts_on {
            return;
        }
        if self.deliverer.is_empty() {
            tracing::info!("no [[deliver]] configured: digests and alerts are stored, not sent");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sources_polled_once(&health) => {}
        }
        let mut next_alerts = Utc::now();
        loop {
            let now = Utc::now();
            if digests {
                match self.digest_pass(now).await {
                    Ok(r) if !r.produced.is_empty() => {
                        tracing::debug!(produced = r.produced.len(), "digest pass")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "digest pass failed; retrying later"),
                }
            }
            if alerts_on && now >= next_alerts {
                if let Err(e) = self.alert_pass(now).await {
                    tracing::error!(error = %e, "alert check failed; retrying later");
                }
                next_alerts = now + self.config.alerts.check_interval;
            }
            let mut wake = now + RETRY_TICK;
            if digests {
                wake = wake.min(next_send(now, &self.config.digest));
            }
            if alerts_on {
                wake = wake.min(next_alerts);
            }
            let sleep = (wake - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

/// Returns once every source has finished its first poll (stored or failed), or after
/// [`SOURCES_GRACE`].
async fn sources_polled_once(health: &HealthMap) {
    let deadline = tokio::time::Instant::now() + SOURCES_GRACE;
    while tokio::time::Instant::now() < deadline {
        let done = health
            .read()
            .expect("health lock poisoned")
            .values()
            .all(|h| h.last_success_ms.is_some() || h.consecutive_failures > 0);
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn cfg(send_at: &str) -> DigestConfig {
        DigestConfig {
            timezone: chrono_tz::Europe::Berlin,
            enabled: true,
            send_at: NaiveTime::parse_from_str(send_at, "%H:%M").unwrap(),
            catch_up_days: 7,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_due_day_follows_the_local_clock() {
        let c = cfg("07:00");
        // 06:30 UTC is 07:30 in Berlin in winter: yesterday is due.
        assert_eq!(
            latest_due(utc("2026-01-10T06:30:00Z"), &c).to_string(),
            "2026-01-09"
        );
        // 05:30 UTC is 06:30 there: not yet, the day before is the latest.
        assert_eq!(
            latest_due(utc("2026-01-10T05:30:00Z"), &c).to_string(),
            "2026-01-08"
        );
        // Local midnight comes before UTC midnight.
        assert_eq!(
            latest_due(utc("2026-01-09T23:30:00Z"), &cfg("00:00")).to_string(),
            "2026-01-09"
        );
    }

    #[test]
    fn next_send_is_dst_aware() {
        let c = cfg("07:00");
        // The night clocks go forward (29 March 2026): 07:00 CEST is 05:00 UTC.
        assert_eq!(
            next_send(utc("2026-03-28T06:30:00Z"), &c),
            utc("2026-03-29T05:00:00Z")
        );
        assert_eq!(
            next_send(utc("2026-03-27T05:00:00Z"), &c),
            utc("2026-03-27T06:00:00Z")
        );
        // 02:30 does not exist that night: the first valid instant an hour later.
        assert_eq!(
            next_send(utc("2026-03-28T12:00:00Z"), &cfg("02:30")),
            utc("2026-03-29T01:30:00Z")
        );
    }
}
