//! Forgetting a person: their posts go, every aggregate equals a recount afterwards, and stored
//! digests no longer quote them; the CLI refuses nothing silently and deletes only with --yes.

use std::collections::HashSet;

use cxpulse::store::MessageKey;

use crate::digest::{date, post, store_with, DAY, T0};
use crate::notify::{at, notifier, steady_posts};

#[tokio::test]
async fn forgetting_an_author_fixes_aggregates_and_scrubs_stored_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let mut posts = steady_posts();
    // One customer's angry posts on day 29: enough to make anger a mover, so the stored
    // digest quotes them.
    for i in 0..12 {
        let mut p = post(
            90_000 + i,
            T0 + 29 * DAY + (i as i64 + 1) * 600_000,
            "anger",
            "delivery",
            "The Acme Phone delivery was late again and nobody answers my mails",
        );
        p.author = Some("anon-0123456789abcdef".into());
        posts.push(p);
    }
    let store = store_with(dir.path(), &posts);
    let (n, _) = notifier(dir.path(), &store, "");
    n.digest_pass(at(30, 8)).await.unwrap();
    let key = MessageKey::digest("acme-phone", &date(29).to_string());
    let before = store.message(&key).unwrap().unwrap().json;
    let theirs = store
        .posts_by_author(Some("acme-phone"), "anon-0123456789abcdef")
        .unwrap();
    assert_eq!(theirs.len(), 12);
    let hex: HashSet<String> = theirs.iter().map(|i| i.to_hex()).collect();
    assert!(
        hex.iter().any(|h| before.contains(h.as_str())),
        "the digest quotes them"
    );

    let total = store.post_count();
    let done = store.forget(&theirs).unwrap();
    assert_eq!(done.posts, 12);
    assert_eq!(done.messages_scrubbed, 1);
    assert_eq!(store.post_count(), total - 12);
    let v = store.verify().unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let day = store
        .aggregates(
            "acme-phone",
            cxpulse::store::Granularity::Day,
            T0 + 29 * DAY,
            T0 + 30 * DAY,
            None,
        )
        .unwrap();
    assert_eq!(day[0].1.count, 10, "only the steady posts are left");
    let after = store.message(&key).unwrap().unwrap().json;
    assert!(hex.iter().all(|h| !after.contains(h.as_str())), "{after}");
    // Forgetting again changes nothing.
    assert_eq!(store.forget(&theirs).unwrap().posts, 0);
    assert!(store.get_post(&theirs[0]).unwrap().is_none());
}

#[test]
fn retention_deletes_old_posts_and_keeps_every_aggregate_true() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &steady_posts());
    let products = vec!["acme-phone".to_string()];
    let now = T0 + 40 * DAY;
    // Shutting down before a sweep: nothing is touched.
    let stopped = tokio_util::sync::CancellationToken::new();
    stopped.cancel();
    assert_eq!(
        cxpulse::store::retention::sweep(&store, &products, 35, now, &stopped).unwrap(),
        0
    );
    let go = tokio_util::sync::CancellationToken::new();
    // Keep 35 days: days 0–4 (50 posts) go.
    let n = cxpulse::store::retention::sweep(&store, &products, 35, now, &go).unwrap();
    assert_eq!(n, 50);
    assert_eq!(store.post_count(), 350);
    let v = store.verify().unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let days = |from: i64, to: i64| {
        store
            .aggregates(
                "acme-phone",
                cxpulse::store::Granularity::Day,
                T0 + from * DAY,
                T0 + to * DAY,
                None,
            )
            .unwrap()
    };
    assert!(days(0, 5).is_empty(), "no bucket of a deleted day is left");
    assert_eq!(days(5, 6)[0].1.count, 10);
    assert_eq!(
        cxpulse::store::retention::sweep(&store, &products, 35, now, &go).unwrap(),
        0
    );
}
