//! Digest scheduling, delivery and alerts, driven with a fake "now": catch-up after a 3-day
//! downtime, no duplicate after a crash between render and delivery (or during it), webhook
//! retries and payloads, e-mail over STARTTLS to an SMTP server on 127.0.0.1, alert episodes
//! with a cooldown, and the daemon delivering yesterday's digest by itself.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use cxpulse::metrics::Metrics;
use cxpulse::notify::delivery::{Deliverer, Outcome};
use cxpulse::notify::notifier::Notifier;
use cxpulse::store::{DeliveryRecord, DeliveryState, MessageKey, Store};

use crate::digest::{date, post, store_with, DAY, T0};
use crate::util::*;

const HOUR: i64 = 3_600_000;

/// 40 days of 10 posts a day (1 anger, 9 joy) for `acme-phone`.
pub fn steady_posts() -> Vec<cxpulse::domain::Post> {
    let mut posts = Vec::new();
    for d in 0..40 {
        for i in 0..10 {
            let n = (d * 10 + i) as usize;
            let (e, t) = if i == 0 {
                ("anger", "delivery")
            } else {
                ("joy", "product")
            };
            posts.push(post(
                n,
                T0 + d * DAY + (i + 1) * HOUR,
                e,
                t,
                "The Acme Phone arrived and works as described so far",
            ));
        }
    }
    posts
}

pub fn at(day: i64, hour: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(T0 + day * DAY + hour * HOUR)
        .unwrap()
}

pub fn notifier(dir: &std::path::Path, store: &Store, extra: &str) -> (Notifier, Arc<Metrics>) {
    let text = format!(
        "{}\n[digest]\nsend_at = \"07:00\"\ncatch_up_days = 7\n{extra}",
        config_text(&dir.join("unused-db"), "")
    );
    let cfg = Arc::new(load(&text, dir));
    let metrics = Arc::new(Metrics::new());
    let deliverer = Deliverer::new(cfg.deliveries.clone(), metrics.clone()).unwrap();
    (
        Notifier::new(cfg, store.clone(), deliverer, metrics.clone()),
        metrics,
    )
}

fn folder(dir: &std::path::Path) -> String {
    format!(
        "\n[[deliver]]\nkind = \"folder\"\npath = \"{}\"\n",
        dir.join("out").display()
    )
}

fn digest_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("out/acme-phone"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".md"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn catches_up_on_days_missed_during_a_three_day_downtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let (n, metrics) = notifier(dir.path(), &store, &folder(dir.path()));

    // Before 07:00 the day before yesterday is the latest due; on a first start it is the
    // only one (no backlog of old digests on a new install).
    let r = n.digest_pass(at(30, 6)).await.unwrap();
    assert_eq!(
        r.produced,
        vec![("acme-phone".into(), date(28).to_string())]
    );
    let r = n.digest_pass(at(30, 8)).await.unwrap();
    assert_eq!(
        r.produced,
        vec![("acme-phone".into(), date(29).to_string())]
    );
    // Later the same day: nothing new, nothing sent again.
    let r = n.digest_pass(at(30, 9)).await.unwrap();
    assert!(r.produced.is_empty());
    assert!(r
        .deliveries
        .iter()
        .all(|(_, _, _, o)| *o == Outcome::AlreadyDone));

    // Down for days 31, 32 and 33; back on day 34 at 08:00: days 30–33 are produced, oldest
    // first, each once.
    let r = n.digest_pass(at(34, 8)).await.unwrap();
    let days: Vec<String> = r.produced.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(
        days,
        (30..=33).map(|d| date(d).to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        r.deliveries
            .iter()
            .filter(|(_, _, _, o)| *o == Outcome::Delivered)
            .count(),
        4
    );
    assert_eq!(
        digest_files(dir.path()),
        (28..=33)
            .map(|d| format!("{}.md", date(d)))
            .collect::<Vec<_>>()
    );
    for ext in ["html", "json"] {
        assert!(dir
            .path()
            .join(format!("out/acme-phone/{}.{ext}", date(33)))
            .exists());
    }
    // The stored digest is what the files say, and its numbers are the day's.
    let md = std::fs::read_to_string(dir.path().join(format!("out/acme-phone/{}.md", date(31))))
        .unwrap();
    assert!(md.contains("**10 posts**"), "{md}");
    let m = metrics.render();
    assert!(
        m.contains("cxpulse_digests_total{product=\"acme-phone\"} 6"),
        "{m}"
    );
    assert!(m.contains("cxpulse_deliveries_total{delivery=\"folder\",outcome=\"delivered\"} 6"));
}

#[tokio::test]
async fn catch_up_is_limited_to_catch_up_days() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let (n, _) = notifier(dir.path(), &store, &folder(dir.path()));
    n.digest_pass(at(20, 8)).await.unwrap();
    // catch_up_days = 7: after 15 days away, only the last 7 days come.
    let r = n.digest_pass(at(36, 8)).await.unwrap();
    let days: Vec<String> = r.produced.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(
        days,
        (29..=35).map(|d| date(d).to_string()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_crash_between_render_and_delivery_delivers_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let hook = FixtureServer::start().await;
    hook.script("/hook", vec![Reply::ok(b"ok".to_vec())]);

    // The digest is rendered and stored, then the daemon dies before any delivery: a
    // notifier without targets does exactly that much.
    let (bare, _) = notifier(dir.path(), &store, "");
    let r = bare.digest_pass(at(30, 8)).await.unwrap();
    assert_eq!(r.produced.len(), 1);
    assert!(r.deliveries.is_empty());

    let targets = format!(
        "{}\n[[deliver]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        folder(dir.path()),
        hook.url("/hook")
    );
    let (n, metrics) = notifier(dir.path(), &store, &targets);
    let r = n.digest_pass(at(30, 8)).await.unwrap();
    assert!(r.produced.is_empty(), "the stored digest is reused");
    assert_eq!(hook.seen("/hook").len(), 1);
    for _ in 0..3 {
        n.digest_pass(at(30, 10)).await.unwrap();
    }
    let seen = hook.seen("/hook");
    assert_eq!(seen.len(), 1, "never twice");
    let id = format!("acme-phone/digest/{}", date(29));
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].headers["idempotency-key"], id.as_str());
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["type"], "digest");
    assert_eq!(body["digest"]["date"], date(29).to_string());
    assert_eq!(body["digest"]["volume"]["posts"], 10);
    assert!(body["markdown"].as_str().unwrap().contains("daily digest"));

    // A crash *during* delivery: the records say an attempt started and never ended. The
    // webhook may have received it, so it is not sent again; the folder is rewritten.
    let key = MessageKey::digest("acme-phone", &date(30).to_string());
    bare.digest_pass(at(31, 8)).await.unwrap();
    for name in ["webhook", "folder"] {
        store
            .set_delivery(
                &key,
                name,
                &DeliveryRecord {
                    state: DeliveryState::Delivering,
                    attempts: 1,
                    updated_ms: 0,
                    detail: String::new(),
                },
            )
            .unwrap();
    }
    let r = n.digest_pass(at(31, 8)).await.unwrap();
    let outcome = |name: &str| {
        r.deliveries
            .iter()
            .find(|(_, m, d, _)| m.ends_with(&date(30).to_string()) && d == name)
            .map(|x| x.3.clone())
    };
    assert_eq!(outcome("webhook"), Some(Outcome::Unknown));
    assert_eq!(outcome("folder"), Some(Outcome::Delivered));
    assert_eq!(hook.seen("/hook").len(), 1);
    assert!(dir
        .path()
        .join(format!("out/acme-phone/{}.md", date(30)))
        .exists());
    assert_eq!(
        store.delivery(&key, "webhook").unwrap().unwrap().state,
        DeliveryState::Unknown
    );
    n.digest_pass(at(31, 9)).await.unwrap();
    assert_eq!(hook.seen("/hook").len(), 1);
    assert!(metrics
        .render()
        .contains("cxpulse_deliveries_total{delivery=\"webhook\",outcome=\"unknown\"} 1"));
}

#[tokio::test]
async fn webhooks_retry_transient_failures_and_report_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let hook = FixtureServer::start().await;
    hook.script(
        "/flaky",
        vec![
            Reply::status(503),
            Reply::status(429).header("retry-after", "1"),
            Reply::ok(b"ok".to_vec()),
        ],
    );
    hook.script("/gone", vec![Reply::status(404)]);
    hook.script("/slack", vec![Reply::ok(b"ok".to_vec())]);
    let targets = format!(
        "[[deliver]]\nkind = \"webhook\"\nname = \"flaky\"\nurl = \"{}\"\n\n[[deliver]]\nkind = \"webhook\"\nname = \"gone\"\nurl = \"{}\"\n\n[[deliver]]\nkind = \"webhook\"\nname = \"chat\"\nformat = \"slack\"\nurl = \"{}\"\nalerts = false\n",
        hook.url("/flaky"),
        hook.url("/gone"),
        hook.url("/slack")
    );
    let (n, metrics) = notifier(dir.path(), &store, &targets);
    let r = n.digest_pass(at(30, 8)).await.unwrap();
    let outcome = |name: &str| {
        r.deliveries
            .iter()
            .find(|(_, _, d, _)| d == name)
            .map(|x| x.3.clone())
            .unwrap()
    };
    assert_eq!(outcome("flaky"), Outcome::Delivered);
    assert_eq!(hook.seen("/flaky").len(), 3);
    let gaps: Vec<_> = hook
        .seen("/flaky")
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .collect();
    assert!(
        gaps[1] >= std::time::Duration::from_millis(900),
        "Retry-After honoured: {gaps:?}"
    );
    // 404 is not transient: one request, failed for good, reported.
    assert_eq!(outcome("gone"), Outcome::Failed { retry: false });
    assert_eq!(hook.seen("/gone").len(), 1);
    let key = MessageKey::digest("acme-phone", &date(29).to_string());
    let rec = store.delivery(&key, "gone").unwrap().unwrap();
    assert!(rec.detail.contains("404"), "{rec:?}");
    n.digest_pass(at(30, 9)).await.unwrap();
    assert_eq!(
        hook.seen("/gone").len(),
        1,
        "a permanent failure is not retried"
    );
    assert!(metrics
        .render()
        .contains("cxpulse_deliveries_total{delivery=\"gone\",outcome=\"failed\"} 1"));

    // Slack gets its own payload: one mrkdwn `text`.
    let slack: serde_json::Value = serde_json::from_slice(&hook.seen("/slack")[0].body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert_eq!(slack.as_object().unwrap().len(), 1);
    assert!(
        text.starts_with(&format!("*Acme Phone — daily digest for {}*", date(29))),
        "{text}"
    );
}

#[tokio::test]
async fn a_webhook_that_is_down_is_retried_on_later_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let hook = FixtureServer::start().await;
    hook.script("/hook", vec![Reply::status(502), Reply::ok(b"ok".to_vec())]);
    let targets = format!(
        "[[deliver]]\nkind = \"webhook\"\nurl = \"{}\"\nmax_attempts = 1\n",
        hook.url("/hook")
    );
    let (n, _) = notifier(dir.path(), &store, &targets);
    let r = n.digest_pass(at(30, 8)).await.unwrap();
    assert_eq!(r.deliveries[0].3, Outcome::Failed { retry: true });
    let r = n.digest_pass(at(30, 8)).await.unwrap();
    assert_eq!(r.deliveries[0].3, Outcome::Delivered);
    n.digest_pass(at(30, 9)).await.unwrap();
    assert_eq!(hook.seen("/hook").len(), 2);
}

/// Hourly posts: `per_hour` posts each hour of `[from_h, to_h)` (hours after T0), one in
/// `anger_every` with anger.
fn hourly(
    n0: usize,
    from_h: i64,
    to_h: i64,
    per_hour: usize,
    anger_every: usize,
) -> Vec<cxpulse::domain::Post> {
    let mut v = Vec::new();
    let mut n = n0;
    for h in from_h..to_h {
        for i in 0..per_hour {
            let e = if (n % anger_every) == 0 {
                "anger"
            } else {
                "joy"
            };
            v.push(post(
                n,
                T0 + h * HOUR + (i as i64) * 60_000,
                e,
                "product",
                "The Acme Phone is here and it is what I expected",
            ));
            n += 1;
        }
    }
    v
}

#[tokio::test]
async fn a_spike_alerts_once_then_respects_the_cooldown() {
    let dir = tempfile::tempdir().unwrap();
    let base_h = 28 * 24;
    let mut posts = hourly(0, 0, base_h, 2, 20);
    // Spike A: hours 672–674 at 20 posts an hour, half anger.
    posts.extend(hourly(100_000, base_h, base_h + 3, 20, 2));
    // Normal hours, spike B (8 h after A), normal, spike C (18 h after A).
    posts.extend(hourly(200_000, base_h + 3, base_h + 8, 10, 20));
    posts.extend(hourly(300_000, base_h + 8, base_h + 11, 20, 2));
    posts.extend(hourly(400_000, base_h + 11, base_h + 18, 10, 20));
    posts.extend(hourly(500_000, base_h + 18, base_h + 21, 20, 2));
    let store = store_with(dir.path(), &posts);
    let (n, metrics) = notifier(
        dir.path(),
        &store,
        &format!(
            "[alerts]\nwindow_hours = 2\ncooldown_hours = 12\n{}",
            folder(dir.path())
        ),
    );
    let hour = |h: i64| Utc.timestamp_millis_opt(T0 + h * HOUR).unwrap();

    // A stationary stream never alerts: every hour of the last three weeks of the baseline.
    for h in (7 * 24)..base_h {
        let r = n.alert_pass(hour(h)).await.unwrap();
        assert!(
            r.alerts.is_empty(),
            "false alarm at hour {h}: {:?}",
            r.alerts
        );
    }

    let r = n.alert_pass(hour(base_h + 3)).await.unwrap();
    assert_eq!(r.alerts.len(), 1, "{:?}", r.alerts);
    let a = &r.alerts[0];
    assert_eq!(a.label, "emotions.anger");
    // Window: hours 673 and 674 (and the empty current hour).
    assert_eq!((a.hits, a.posts), (20, 40));
    assert!(a.baseline_share < 0.06, "{a:?}");
    assert!(a.z > 4.5, "{a:?}");
    assert!(!a.examples.is_empty());
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.deliveries[0].3, Outcome::Delivered);
    let files: Vec<_> = std::fs::read_dir(dir.path().join("out/acme-phone/alerts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 3, "md, html and json of one alert: {files:?}");

    // The same spike, ten minutes later: one alert per spike.
    let r = n
        .alert_pass(hour(base_h + 3) + chrono::Duration::minutes(10))
        .await
        .unwrap();
    assert!(r.alerts.is_empty());
    // It ends; spike B comes within the cooldown: quiet.
    assert!(n
        .alert_pass(hour(base_h + 7))
        .await
        .unwrap()
        .alerts
        .is_empty());
    assert!(n
        .alert_pass(hour(base_h + 10))
        .await
        .unwrap()
        .alerts
        .is_empty());
    assert!(n
        .alert_pass(hour(base_h + 16))
        .await
        .unwrap()
        .alerts
        .is_empty());
    // Spike C, after the cooldown: alerts again.
    let r = n.alert_pass(hour(base_h + 20)).await.unwrap();
    assert_eq!(r.alerts.len(), 1);
    assert!(metrics
        .render()
        .contains("cxpulse_alerts_total{label=\"emotions.anger\",product=\"acme-phone\"} 2"));
    // Stored alerts are listed; delivered ones are not sent again.
    let stored = store.alerts("acme-phone", T0, T0 + 40 * DAY).unwrap();
    assert_eq!(stored.len(), 2);
    let r = n.alert_pass(hour(base_h + 20)).await.unwrap();
    assert!(r
        .deliveries
        .iter()
        .all(|(_, _, _, o)| *o == Outcome::AlreadyDone));
}

#[tokio::test]
async fn the_daemon_delivers_yesterdays_digest_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[digest]\nsend_at = \"00:00\"\n{}",
        config_text(&dir.path().join("db"), ""),
        folder(dir.path())
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    let yesterday = (Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let file = dir.path().join(format!("out/acme-phone/{yesterday}.md"));
    for _ in 0..100 {
        if file.exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let md = std::fs::read_to_string(&file).expect("yesterday's digest delivered");
    assert!(md.contains("**0 posts**"), "{md}");
    let (status, body) = d
        .get(&format!("/api/v1/products/acme-phone/digests/{yesterday}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["date"], yesterday.as_str());
    let (status, body) = d.get("/api/v1/products/acme-phone/digests").await;
    assert_eq!(status, 200);
    assert_eq!(body["digests"][0]["date"], yesterday.as_str());
    let delivery = &body["digests"][0]["deliveries"][0];
    assert_eq!(delivery["name"], "folder");
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attempts"], 1);
    let (status, body) = d.get("/api/v1/products/acme-phone/alerts").await;
    assert_eq!(
        (status, body["alerts"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, body) = d
        .get("/api/v1/products/acme-phone/alerts?from=tomorrow")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_parameter"))
    );
    let (status, body) = d.get("/api/v1/products/nope/digests").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("product_not_found"))
    );
    assert!(d.metrics().await.contains("cxpulse_digests_total"));
    d.stop().await;
}

#[tokio::test]
async fn a_wave_of_suspicious_reviews_alerts_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let base_h = 28 * 24;
    // Two posts an hour, none suspicious, never angry; then two hours of 20 posts, half of
    // them with genuineness in doubt (a bought-review campaign landing).
    let mut posts = hourly(0, 0, base_h, 2, 1_000_000_000);
    let mut wave = hourly(100_000, base_h, base_h + 2, 20, 1_000_000_000);
    for (i, p) in wave.iter_mut().enumerate() {
        if i % 2 == 0 {
            p.authenticity.suspicious = true;
            p.authenticity.genuineness = 0.2;
        }
    }
    posts.extend(wave);
    let store = store_with(dir.path(), &posts);
    let (n, _) = notifier(dir.path(), &store, "[alerts]\nwindow_hours = 2\n");
    let hour = |h: i64| Utc.timestamp_millis_opt(T0 + h * HOUR).unwrap();
    assert!(n.alert_pass(hour(base_h)).await.unwrap().alerts.is_empty());
    let r = n.alert_pass(hour(base_h + 2)).await.unwrap();
    assert_eq!(r.alerts.len(), 1, "{:?}", r.alerts);
    let a = &r.alerts[0];
    assert_eq!(a.label, "suspicious");
    assert_eq!((a.hits, a.posts, a.baseline_share), (20, 40, 0.0));
    assert_eq!(a.examples.len(), 3);
    assert!(
        a.examples.iter().all(|q| q.score > 0.79),
        "{:?}",
        a.examples
    );
    // Without deliveries it is still stored and listed.
    assert!(r.deliveries.is_empty());
    assert_eq!(
        store.alerts("acme-phone", T0, T0 + 40 * DAY).unwrap().len(),
        1
    );
}
