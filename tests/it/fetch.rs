//! The polite fetch layer on its own: robots.txt, rate limits, conditional GET, size caps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cxpulse::config::FetchConfig;
use cxpulse::metrics::Metrics;
use cxpulse::sources::fetch::{FetchKind, Fetched};
use cxpulse::sources::{FetchError, Fetcher};

use crate::util::*;

/// The polite fetch settings the tests use (short timeouts and backoff, a small body cap).
pub fn cfg() -> FetchConfig {
    FetchConfig {
        user_agent: "cxpulse/test (+tests@example.com)".into(),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(3),
        max_body_bytes: 10_000,
        max_retries: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_secs(2),
        per_host_min_interval: Duration::from_millis(0),
        per_host_concurrency: 2,
        respect_robots: true,
        robots_retry: Duration::from_millis(300),
        max_items_per_fetch: 100,
    }
}

#[tokio::test]
async fn robots_txt_is_honoured_for_pages_only() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/robots.txt",
        vec![Reply::ok(b"User-agent: *\nDisallow: /private/\n\nUser-agent: cxpulse\nDisallow: /reviews/hidden\n".to_vec())],
    );
    srv.script(
        "/reviews/hidden",
        vec![Reply::ok(b"<html>hidden</html>".to_vec())],
    );
    srv.script(
        "/reviews/open",
        vec![Reply::ok(b"<html>open</html>".to_vec())],
    );
    let f = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    let e = f
        .get(&srv.url("/reviews/hidden"), FetchKind::Page)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Robots { .. }), "{e}");
    assert!(
        srv.seen("/reviews/hidden").is_empty(),
        "a disallowed page is never requested"
    );
    assert!(matches!(
        f.get(&srv.url("/reviews/open"), FetchKind::Page)
            .await
            .unwrap(),
        Fetched::Fresh(_)
    ));
    // robots.txt was read once and cached.
    assert_eq!(srv.seen("/robots.txt").len(), 1);
    // Feeds are for machines: robots rules for pages do not apply.
    assert!(f
        .get(&srv.url("/reviews/hidden"), FetchKind::Feed)
        .await
        .is_ok());
}

#[tokio::test]
async fn unreachable_robots_means_disallow_and_missing_means_allow() {
    let srv = FixtureServer::start().await;
    srv.script("/robots.txt", vec![Reply::status(503)]);
    srv.script("/page", vec![Reply::ok(b"x".to_vec())]);
    let f = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    assert!(matches!(
        f.get(&srv.url("/page"), FetchKind::Page).await,
        Err(FetchError::RobotsUnavailable { .. })
    ));
    assert!(
        srv.seen("/page").is_empty(),
        "no page while the rules are unknown"
    );

    let srv2 = FixtureServer::start().await; // no robots.txt at all: 404
    srv2.script("/page", vec![Reply::ok(b"x".to_vec())]);
    assert!(f.get(&srv2.url("/page"), FetchKind::Page).await.is_ok());
}

/// One 503 on robots.txt used to block the host's pages for a day as "disallowed". It is
/// "unavailable" (its own reason, with when to try again), asked again after a short wait,
/// and the pages are fetched as soon as it can be read.
#[tokio::test]
async fn a_transient_robots_failure_is_retried_soon_and_says_unavailable() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/robots.txt",
        vec![
            Reply::status(503),
            Reply::status(503),
            Reply::ok(b"User-agent: *\nDisallow: /private/\n".to_vec()),
        ],
    );
    srv.script("/page", vec![Reply::ok(b"x".to_vec())]);
    let f = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    let e = f.get(&srv.url("/page"), FetchKind::Page).await.unwrap_err();
    assert_eq!(e.reason(), "robots_unavailable", "{e}");
    assert!(!e.to_string().contains("disallowed"), "{e}");
    let wait = e.retry_after().expect("says when to try again");
    assert!(
        wait > Duration::ZERO && wait <= cfg().robots_retry,
        "{wait:?}"
    );
    // Within the wait, robots.txt is not hammered.
    let again = f.get(&srv.url("/page"), FetchKind::Page).await.unwrap_err();
    assert_eq!(again.reason(), "robots_unavailable");
    assert_eq!(srv.seen("/robots.txt").len(), 1);

    // Still unreadable after the wait: the next wait is longer (doubling).
    tokio::time::sleep(cfg().robots_retry + Duration::from_millis(50)).await;
    let second = f.get(&srv.url("/page"), FetchKind::Page).await.unwrap_err();
    assert_eq!(srv.seen("/robots.txt").len(), 2);
    let wait2 = second.retry_after().unwrap();
    assert!(wait2 > cfg().robots_retry, "{wait2:?} doubles");

    // Readable again: the rules apply and the page is fetched.
    tokio::time::sleep(wait2 + Duration::from_millis(50)).await;
    assert!(matches!(
        f.get(&srv.url("/page"), FetchKind::Page).await.unwrap(),
        Fetched::Fresh(_)
    ));
    assert_eq!(srv.seen("/robots.txt").len(), 3);
    assert!(matches!(
        f.get(&srv.url("/private/x"), FetchKind::Page).await,
        Err(FetchError::Robots { .. })
    ));
    assert_eq!(srv.seen("/robots.txt").len(), 3, "rules read are kept");
}

#[tokio::test]
async fn conditional_get_and_size_cap_and_permanent_errors() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/feed",
        vec![
            Reply::ok(b"v1".to_vec())
                .header("etag", "\"abc\"")
                .header("last-modified", "Mon, 16 Nov 2026 10:00:00 GMT"),
            Reply::status(304),
        ],
    );
    srv.script("/huge", vec![Reply::ok(vec![b'x'; 10_001])]);
    srv.script("/gone", vec![Reply::status(410)]);
    let f = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    assert!(matches!(
        f.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap(),
        Fetched::Fresh(_)
    ));
    assert!(matches!(
        f.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap(),
        Fetched::NotModified
    ));
    let seen = srv.seen("/feed");
    assert_eq!(seen[1].headers["if-none-match"], "\"abc\"");
    assert_eq!(
        seen[1].headers["if-modified-since"],
        "Mon, 16 Nov 2026 10:00:00 GMT"
    );
    assert!(matches!(
        f.get(&srv.url("/huge"), FetchKind::Feed).await,
        Err(FetchError::TooLarge { .. })
    ));
    // A 410 is not retried: it will not get better.
    assert!(matches!(
        f.get(&srv.url("/gone"), FetchKind::Feed).await,
        Err(FetchError::Status { status: 410, .. })
    ));
    assert_eq!(srv.seen("/gone").len(), 1);
    // Exhausted retries report the last status.
    srv.script("/down", vec![Reply::status(502)]);
    assert!(matches!(
        f.get(&srv.url("/down"), FetchKind::Feed).await,
        Err(FetchError::Status { status: 502, .. })
    ));
    assert_eq!(
        srv.seen("/down").len(),
        3,
        "one try and max_retries = 2 retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_rate_limit_spaces_requests() {
    let srv = FixtureServer::start().await;
    srv.script("/a", vec![Reply::ok(b"a".to_vec())]);
    let mut c = cfg();
    c.per_host_min_interval = Duration::from_millis(200);
    let f = Arc::new(Fetcher::new(c, Arc::new(Metrics::new())).unwrap());
    let start = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let f = f.clone();
            let u = srv.url("/a");
            tokio::spawn(async move { f.get(&u, FetchKind::Feed).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let mut at: Vec<Instant> = srv.seen("/a").iter().map(|s| s.at).collect();
    at.sort();
    for w in at.windows(2) {
        assert!(
            // 50 ms of slack: the server notes arrivals late when the machine is busy.
            w[1].duration_since(w[0]) >= Duration::from_millis(150),
            "requests closer than the host interval"
        );
    }
    assert!(start.elapsed() >= Duration::from_millis(590));
}

#[tokio::test]
async fn a_spent_rate_limit_far_from_reset_ends_the_poll_without_a_request() {
    let srv = FixtureServer::start().await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    srv.script(
        "/api",
        vec![Reply::typed("application/json", b"{}".to_vec())
            .with_status(429)
            .header("ratelimit-limit", "3000")
            .header("ratelimit-remaining", "0")
            .header("ratelimit-reset", &reset.to_string())],
    );
    let f = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    let req = cxpulse::sources::fetch::ApiRequest::get(srv.url("/api"));
    // Refused with the budget spent for an hour: no retry inside the poll.
    let err = f.call(&req).await.unwrap_err();
    assert!(matches!(err, FetchError::Throttled { .. }), "{err}");
    assert_eq!(srv.seen("/api").len(), 1);
    let err = f.call(&req).await.unwrap_err();
    assert!(matches!(err, FetchError::Throttled { .. }), "{err}");
    assert_eq!(err.reason(), "rate_limited");
    let wait = err.retry_after().unwrap();
    assert!(wait > Duration::from_secs(3500), "{wait:?}");
    assert_eq!(
        srv.seen("/api").len(),
        1,
        "nothing sent while the budget is spent"
    );
}

/// A source's fetcher sends validators only for answers whose items it stored: a poll that
/// failed after reading a page must read that page in full next time.
#[tokio::test]
async fn validators_are_per_source_and_only_after_the_items_are_stored() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/feed",
        vec![Reply::ok(b"v1".to_vec()).header("etag", "\"abc\"")],
    );
    let root = Fetcher::new(cfg(), Arc::new(Metrics::new())).unwrap();
    let (a, b) = (root.for_source(), root.for_source());
    let inm = |i: usize| srv.seen("/feed")[i].headers.get("if-none-match").cloned();

    a.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap();
    // Not stored yet (the poll failed afterwards): the next GET is unconditional.
    a.discard_validators();
    a.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap();
    assert_eq!(inm(1), None);
    // Stored: now it is conditional.
    a.commit_validators();
    a.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap();
    assert_eq!(inm(2).unwrap(), "\"abc\"");
    // Another source on the same URL has stored nothing from it: unconditional.
    b.get(&srv.url("/feed"), FetchKind::Feed).await.unwrap();
    assert_eq!(inm(3), None);
}
