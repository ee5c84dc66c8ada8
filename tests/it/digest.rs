//! Daily digests on data with known labels (classifications written directly, no model): the
//! numbers against hand computations, no false movers on a stationary stream over 60 days, a
//! planted shift reported on its day, and the API's JSON and Markdown.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxpulse::domain::Scorer;
use cxpulse::domain::{Classification, HeadResult, Post, PostId};
use cxpulse::notify::digest;
use cxpulse::notify::stats::two_proportion_z;
use cxpulse::store::{Slot, SlotKind, Store};

use crate::util::*;

pub const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z
pub const T0: i64 = 1_767_225_600_000;
const EMOTIONS: [&str; 5] = ["joy", "anger", "disappointment", "gratitude", "neutral"];
const TOUCHPOINTS: [&str; 3] = ["product", "delivery", "support"];

pub fn slots() -> Vec<Slot> {
    let mut s = Vec::new();
    for e in EMOTIONS {
        s.push(Slot {
            head: "emotions".into(),
            label: e.into(),
            kind: SlotKind::MultiLabel,
        });
    }
    for t in TOUCHPOINTS {
        s.push(Slot {
            head: "touchpoints".into(),
            label: t.into(),
            kind: SlotKind::MultiLabel,
        });
    }
    for l in ["negative", "neutral", "positive"] {
        s.push(Slot {
            head: "sentiment".into(),
            label: l.into(),
            kind: SlotKind::SingleLabel,
        });
    }
    s
}

pub fn head(labels: &[&str], all: &[&str]) -> HeadResult {
    HeadResult::Labels {
        labels: labels.iter().map(|l| l.to_string()).collect(),
        scores: all
            .iter()
            .map(|l| (l.to_string(), if labels.contains(l) { 0.9 } else { 0.05 }))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A post with exactly these labels.
pub fn post(n: usize, ts: i64, emotion: &str, touchpoint: &str, text: &str) -> Post {
    let positive = matches!(emotion, "joy" | "gratitude");
    let sentiment = if positive {
        "positive"
    } else if emotion == "neutral" {
        "neutral"
    } else {
        "negative"
    };
    let mut heads = BTreeMap::new();
    heads.insert("emotions".to_string(), head(&[emotion], &EMOTIONS));
    heads.insert("touchpoints".to_string(), head(&[touchpoint], &TOUCHPOINTS));
    heads.insert(
        "sentiment".to_string(),
        head(&[sentiment], &["negative", "neutral", "positive"]),
    );
    let id = format!("p{n}");
    Post {
        id: PostId::new("acme-phone", "shop", &id),
        product: "acme-phone".into(),
        source: if n % 4 == 0 {
            "forum".into()
        } else {
            "shop".into()
        },
        external_id: id,
        url: Some(format!("https://shop.example.com/r/{n}")),
        author: None,
        published_ms: ts,
        fetched_ms: ts,
        language: "en".into(),
        title: None,
        text: text.to_string(),
        rating: Some(if positive { 1.0 } else { 0.2 }),
        channel: None,
        classification: Classification {
            language: "en".into(),
            heads,
        },
        authenticity: Default::default(),
    }
}

pub fn store_with(dir: &std::path::Path, posts: &[Post]) -> Store {
    let store = Store::open_waiting(&dir.join("db"), cxpulse::store::REOPEN_LOCK_WAIT).unwrap();
    store.register_slots(&slots()).unwrap();
    for chunk in posts.chunks(500) {
        store.ingest(chunk, &[], &Scorer::default(), None).unwrap();
    }
    store.flush_blocking().unwrap();
    store
}

pub fn date(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(day)
}

#[test]
fn numbers_match_a_hand_computation() {
    // Baseline: 28 days × 10 posts: 1 anger (delivery), 9 joy (product).
    // Day 28: 40 posts: 16 anger (12 delivery, 4 support), 24 joy.
    let mut posts = Vec::new();
    let mut n = 0;
    for d in 0..28 {
        for i in 0..10 {
            n += 1;
            let (e, t) = if i == 0 {
                ("anger", "delivery")
            } else {
                ("joy", "product")
            };
            posts.push(post(
                n,
                T0 + d * DAY + i * 3_600_000,
                e,
                t,
                "great phone works well",
            ));
        }
    }
    for i in 0..40 {
        n += 1;
        let ts = T0 + 28 * DAY + i * 1_800_000;
        posts.push(match i {
            // Hostile text in the most-quoted post: it must come out as text.
            0 => {
                let mut p = post(
                    n,
                    ts,
                    "anger",
                    "delivery",
                    "<script>alert(1)</script> courier lost the parcel again | **bold**",
                );
                if let Some(HeadResult::Labels { scores, .. }) =
                    p.classification.heads.get_mut("emotions")
                {
                    scores.insert("anger".into(), 0.99);
                }
                p
            }
            1..12 => post(
                n,
                ts,
                "anger",
                "delivery",
                &format!("courier lost the parcel again, order {i}"),
            ),
            12..16 => post(n, ts, "anger", "support", "support never answered my email"),
            _ => post(n, ts, "joy", "product", "great phone works well"),
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &posts);
    let d = digest::compute(&store, "acme-phone", "Acme Phone", date(28), chrono_tz::UTC).unwrap();

    assert_eq!((d.volume.posts, d.volume.scored), (40, 40));
    assert_eq!(d.volume.baseline_daily, 10.0);
    let forum = d
        .volume
        .by_source
        .iter()
        .find(|s| s.source == "forum")
        .unwrap();
    assert_eq!(
        forum.posts, 10,
        "every fourth post (by number) is from the forum"
    );
    let anger = d.emotions.iter().find(|c| c.label == "anger").unwrap();
    assert_eq!(
        (anger.posts, anger.share, anger.baseline_share),
        (16, 0.4, 0.1)
    );
    assert_eq!(anger.change, 0.3);
    let z = two_proportion_z(16, 40, 28, 280);
    assert!((anger.z - z).abs() < 1e-3, "{} vs {z}", anger.z);
    assert!(anger.significant);
    // Sentiment: positive 0.9 − negative 0.05 for joy posts, 0.05 − 0.9 for anger.
    let today = (24.0 * 0.85 + 16.0 * -0.85) / 40.0;
    assert!((d.sentiment_index.unwrap() - today).abs() < 1e-3);
    let before = (252.0 * 0.85 + 28.0 * -0.85) / 280.0;
    assert!((d.baseline_sentiment_index.unwrap() - before).abs() < 1e-3);

    // Movers: anger +30 and joy −30 points; touchpoints product −30 and support +10 (4/40 vs
    // none). Delivery rose 20 points (12/40 vs 28/280) but z = 0.2 / √(0.125·0.875·(1/40 +
    // 1/280)) = 3.58 stays under 3.9: not reported.
    let names: Vec<(&str, &str)> = d
        .movers
        .iter()
        .map(|m| (m.change.head.as_str(), m.change.label.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("emotions", "anger"),
            ("emotions", "joy"),
            ("touchpoints", "product"),
            ("touchpoints", "support")
        ]
    );
    let delivery = d
        .touchpoints
        .iter()
        .find(|c| c.label == "delivery")
        .unwrap();
    assert!(
        (delivery.z - 3.5777).abs() < 1e-3 && !delivery.significant,
        "{delivery:?}"
    );
    let m = d.movers.iter().find(|m| m.change.label == "anger").unwrap();
    assert_eq!(
        m.touchpoints[0],
        ("delivery".to_string(), 0.75),
        "12 of 16 angry posts"
    );
    assert_eq!(m.touchpoints[1], ("support".to_string(), 0.25));
    assert_eq!(m.quotes.len(), 3);
    assert!(m.quotes[0]
        .url
        .as_deref()
        .unwrap()
        .starts_with("https://shop.example.com/r/"));
    // The complaint phrase of the day, which the baseline never used.
    assert!(
        d.phrases
            .complaints
            .iter()
            .any(|p| p.phrase.contains("courier lost") && p.posts == 12),
        "{:?}",
        d.phrases.complaints
    );
    assert!(
        d.phrases.praise.is_empty(),
        "the praise is the usual praise: {:?}",
        d.phrases.praise
    );
    // Segments: rating bands from the posts' ratings.
    let band = |v: &str| {
        d.segments
            .iter()
            .find(|s| s.by == "rating" && s.value == v)
            .unwrap()
            .posts
    };
    assert_eq!((band("1-2★"), band("4-5★")), (16, 24));

    // Daily series for sparklines: 28 baseline days and the day itself.
    assert_eq!(d.series.dates.len(), 29);
    assert_eq!((d.series.volume[0], d.series.volume[28]), (10, 40));
    assert_eq!((m.series[0], m.series[28]), (Some(0.1), Some(0.4)));
    assert!(
        m.quotes[0].text.starts_with("<script>"),
        "the hostile post is quoted first"
    );

    // HTML: e-mail safe (inline styles, inline SVG, no script) and the quote escaped.
    let html = digest::render::html(&d);
    assert!(!html.contains("<script"), "customer text escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        html.contains("<svg") && html.contains("<polyline"),
        "sparklines inline"
    );
    assert!(
        !html.contains("<link") && !html.contains("src=\"http"),
        "nothing remote"
    );

    // Markdown carries the same facts.
    let md = digest::render::markdown(&d);
    assert!(md.contains("**40 posts**"), "{md}");
    assert!(
        md.contains("### emotions anger: 40% of posts (usual 10%, +30 pts)"),
        "{md}"
    );
    assert!(
        md.contains("Mostly about: delivery (75%), support (25%)."),
        "{md}"
    );
    assert!(
        md.contains("> &lt;script&gt;alert(1)&lt;/script&gt; courier lost the parcel again \\| \\*\\*bold\\*\\*"),
        "{md}"
    );
}

/// Labels drawn independently each day with fixed probabilities: nothing really changes.
fn stationary(days: i64, per_day: i64, seed: u64, shift_day: Option<i64>) -> Vec<Post> {
    let mut state = seed;
    let mut rnd = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut posts = Vec::new();
    let mut n = 0;
    for d in 0..days {
        for i in 0..per_day {
            n += 1;
            let r = rnd();
            let anger_p = if Some(d) == shift_day { 0.35 } else { 0.1 };
            let e = if r < anger_p {
                "anger"
            } else if r < anger_p + 0.15 {
                "disappointment"
            } else if r < anger_p + 0.35 {
                "gratitude"
            } else if r < anger_p + 0.75 {
                "joy"
            } else {
                "neutral"
            };
            let t = TOUCHPOINTS[(rnd() * 3.0) as usize % 3];
            let ts = T0 + d * DAY + (i * DAY / per_day);
            posts.push(post(n, ts, e, t, &format!("post {n} about the phone")));
        }
    }
    posts
}

#[test]
fn a_stationary_product_has_no_movers_for_60_days_and_a_shift_is_found_on_its_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &stationary(88, 60, 7, None));
    for day in 28..88 {
        let d = digest::compute(
            &store,
            "acme-phone",
            "Acme Phone",
            date(day),
            chrono_tz::UTC,
        )
        .unwrap();
        assert!(
            d.movers.is_empty(),
            "false mover on {}: {:?}",
            d.date,
            d.movers.first().map(|m| &m.change)
        );
        assert_eq!(d.volume.posts, 60);
    }
    drop(store);

    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &stationary(40, 60, 11, Some(35)));
    let d = digest::compute(&store, "acme-phone", "Acme Phone", date(35), chrono_tz::UTC).unwrap();
    let anger = d.movers.iter().find(|m| m.change.label == "anger");
    assert!(
        anger.is_some_and(|m| m.change.change > 0.15),
        "{:?}",
        d.movers
    );
    let next =
        digest::compute(&store, "acme-phone", "Acme Phone", date(36), chrono_tz::UTC).unwrap();
    assert!(
        next.movers.iter().all(|m| m.change.label != "anger"),
        "the shift was one day"
    );
}

#[tokio::test]
async fn the_api_serves_json_and_markdown_digests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    drop(store_with(dir.path(), &stationary(30, 20, 3, None)));
    let d = Daemon::start(load(&config_text(&db, ""), dir.path())).await;
    let (s, v) = d
        .get("/api/v1/products/acme-phone/digests/2026-01-29")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["date"].as_str(), v["volume"]["posts"].as_u64()),
        (Some("2026-01-29"), Some(20))
    );
    let r = d
        .http
        .get(d.url("/api/v1/products/acme-phone/digests/2026-01-29?format=md"))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = r.text().await.unwrap();
    assert!(
        md.starts_with("# Acme Phone — daily digest for 2026-01-29"),
        "{md}"
    );
    let r = d
        .http
        .get(d.url("/api/v1/products/acme-phone/digests/2026-01-29?format=html"))
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<svg"));
    for bad in [
        "/digests/2026-13-01",
        "/digests/yesterday",
        "/digests/2026-01-29?format=pdf",
    ] {
        let (s, v) = d.get(&format!("/api/v1/products/acme-phone{bad}")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}"
        );
    }
    let (s, _) = d.get("/api/v1/products/nope/digests/2026-01-29").await;
    assert_eq!(s, 404);
    d.stop().await;
}
