//! The answer cache of trend and post queries: repeated questions are answered from it, and
//! no write (ingest, retro signals, forget, new labels) ever leaves a stale answer behind.

use serde_json::{json, Value};

use crate::digest::{post, store_with, DAY, T0};
use crate::util::{config_text, load, Daemon, TOKEN};

#[test]
fn data_version_moves_with_every_change_to_a_product_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let first: Vec<_> = (0..5)
        .map(|i| {
            post(
                i,
                T0 + i as i64 * DAY,
                "joy",
                "product",
                "Acme Phone is fine",
            )
        })
        .collect();
    let store = store_with(dir.path(), &first);
    let scorer = cxpulse::domain::Scorer::default();
    let v0 = store.data_version("acme-phone");
    let other = store.data_version("other-product");

    // Ingesting what is already stored changes nothing, so nothing kept goes stale.
    store.ingest(&first, &[], &scorer, None).unwrap();
    assert_eq!(store.data_version("acme-phone"), v0);

    let new = post(
        99,
        T0 + 9 * DAY,
        "anger",
        "delivery",
        "Acme Phone came late",
    );
    store
        .ingest(std::slice::from_ref(&new), &[], &scorer, None)
        .unwrap();
    let v1 = store.data_version("acme-phone");
    assert!(v1 > v0, "an ingest moves the product's version");
    assert_eq!(
        store.data_version("other-product"),
        other,
        "others keep theirs"
    );

    store.forget(&[new.id]).unwrap();
    let v2 = store.data_version("acme-phone");
    assert!(v2 > v1, "forgetting moves it");
    store.forget(&[new.id]).unwrap();
    assert_eq!(
        store.data_version("acme-phone"),
        v2,
        "forgetting nothing does not"
    );

    let mut slots = (*store.slots()).clone();
    slots.push(cxpulse::store::codec::Slot {
        head: "emotions".into(),
        label: "brand-new-label".into(),
        kind: cxpulse::store::codec::SlotKind::MultiLabel,
    });
    store.register_slots(&slots).unwrap();
    assert!(
        store.data_version("other-product") > other,
        "new labels move every product"
    );
}

fn volume(trend: &Value) -> u64 {
    trend["volume"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum()
}

fn answers(metrics: &str, outcome: &str) -> u64 {
    let prefix = format!("cxpulse_api_cache_answers_total{{outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn repeated_queries_are_answered_from_the_cache_and_writes_are_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(load(&config_text(&dir.path().join("db"), ""), dir.path())).await;
    let range = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
    let trends = format!("/api/v1/products/acme-phone/trends?{range}&interval=day");
    let posts = format!("/api/v1/products/acme-phone/posts?{range}&limit=10");
    // Stores posts `start..start + n` through the API.
    let ingest = |n: usize, start: usize| {
        let posts: Vec<Value> = (start..start + n)
            .map(|i| json!({"id": format!("c-{i}"), "text": format!("Acme Phone number {i}: the screen cracked"), "published": "2026-03-03T10:00:00Z"}))
            .collect();
        let d = &d;
        async move {
            let (s, body) = d
                .post(
                    "/api/v1/products/acme-phone/posts",
                    Some(TOKEN),
                    json!({ "posts": posts }),
                )
                .await;
            assert_eq!(s, 200, "{body}");
        }
    };

    ingest(3, 0).await;
    let (s, t1) = d.get(&trends).await;
    assert_eq!(s, 200, "{t1}");
    assert_eq!(volume(&t1), 3);
    let (_, p1) = d.get(&posts).await;
    assert_eq!(p1["posts"].as_array().unwrap().len(), 3);

    // The same questions again: the same answers, from the cache.
    let hits_before = answers(&d.metrics().await, "hit");
    assert_eq!(d.get(&trends).await.1, t1);
    assert_eq!(d.get(&posts).await.1, p1);
    assert_eq!(answers(&d.metrics().await, "hit"), hits_before + 2);

    // A write to the product: the next answers include it, without waiting for anything.
    ingest(2, 3).await;
    let (_, t2) = d.get(&trends).await;
    assert_eq!(volume(&t2), 5);
    let (_, p2) = d.get(&posts).await;
    assert_eq!(p2["posts"].as_array().unwrap().len(), 5);

    // A range that ends now moves with every request and is never kept.
    let misses = answers(&d.metrics().await, "miss");
    d.get("/api/v1/products/acme-phone/trends?interval=day")
        .await;
    d.get("/api/v1/products/acme-phone/trends?interval=day")
        .await;
    assert_eq!(answers(&d.metrics().await, "miss"), misses + 2);

    // Errors are not kept either: the same bad query is answered the same way twice.
    let bad = "/api/v1/products/acme-phone/trends?from=2000-01-01&to=2026-01-01&interval=hour";
    for _ in 0..2 {
        let (s, e) = d.get(bad).await;
        assert_eq!(
            (s, e["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{e}"
        );
    }
    d.stop().await;
}

#[tokio::test]
async fn a_cache_of_zero_mib_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&dir.path().join("db"), "").replace(
        "max_batch_texts = 20",
        "max_batch_texts = 20\nresponse_cache_mib = 0",
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    let trends = "/api/v1/products/acme-phone/trends?from=2026-03-01&to=2026-03-08";
    let (s, a) = d.get(trends).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(d.get(trends).await.1, a);
    let m = d.metrics().await;
    assert_eq!(answers(&m, "hit"), 0);
    assert_eq!(answers(&m, "miss"), 2);
    d.stop().await;
}
