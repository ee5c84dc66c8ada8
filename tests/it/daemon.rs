//! Whole-daemon tests: sources on local servers → classifier → store → HTTP API.

use std::time::Duration;

use serde_json::{json, Value};

use crate::util::*;

fn rss_source(name: &str, url: &str) -> String {
    format!("\n[[products.sources]]\nkind = \"rss\"\nname = \"{name}\"\nurl = \"{url}\"\ninterval_secs = 10\n")
}

fn stored(v: &Value, name: &str) -> u64 {
    v["sources"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .and_then(|s| s["posts_stored"].as_u64())
        .unwrap_or(0)
}

fn source<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["sources"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_posts_arrive_classified_and_trends_add_up() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/rss",
        vec![Reply::ok(fixture("feeds/acme_rss.xml")).header("etag", "\"v1\"")],
    );
    srv.script(
        "/atom",
        vec![Reply::ok(fixture("feeds/acme_atom_page2.xml"))],
    );
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        &dir.path().join("db"),
        &(rss_source("acme-rss", &srv.url("/rss")) + &rss_source("acme-atom", &srv.url("/atom"))),
    );
    let d = Daemon::start(load(&text, dir.path())).await;

    let v = d
        .wait_for("/api/v1/sources", "both feeds stored", |v| {
            stored(v, "acme-rss") == 3 && stored(v, "acme-atom") == 2
        })
        .await;
    // The apple-pie and Acmeville items are not about the product; one item repeats in the feed.
    assert_eq!(source(&v, "acme-rss")["irrelevant"], 2, "{v:#}");
    assert_eq!(source(&v, "acme-rss")["duplicates"], 1, "{v:#}");

    let (s, posts) = d
        .get("/api/v1/products/acme-phone/posts?from=2026-11-01&to=2026-11-30&limit=50")
        .await;
    assert_eq!(s, 200);
    let posts = posts["posts"].as_array().unwrap().clone();
    assert_eq!(posts.len(), 5);
    let by_ext = |id: &str| {
        posts
            .iter()
            .find(|p| p["external_id"] == id)
            .unwrap()
            .clone()
    };
    let love = by_ext("rev-1001");
    assert_eq!(love["text"], "I love my Acme Phone, great camera!");
    assert_eq!(love["language"], "en");
    let emotions = &love["classification"]["heads"]["emotions"];
    assert!(
        emotions["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("joy")),
        "{love:#}"
    );
    assert_eq!(
        love["classification"]["heads"]["sentiment"]["labels"][0],
        "positive"
    );
    assert!(
        love["author"].as_str().unwrap().starts_with("anon-"),
        "authors are pseudonymised"
    );
    let late = by_ext("rev-1002");
    assert!(late["classification"]["heads"]["touchpoints"]["labels"]
        .as_array()
        .unwrap()
        .contains(&json!("delivery")));
    // Scripts in feed HTML never reach the stored text.
    assert!(!by_ext("rev-1003")["text"]
        .as_str()
        .unwrap()
        .contains("alert"));
    // Newest first.
    let times: Vec<&str> = posts
        .iter()
        .map(|p| p["published"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    // Trends add up: daily volumes sum to the total, and per-day counts match the posts.
    let (_, t) = d
        .get("/api/v1/products/acme-phone/trends?from=2026-11-10&to=2026-11-20&interval=day")
        .await;
    let buckets = t["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 10);
    let volume: Vec<u64> = t["volume"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(volume.len(), 10, "one value per bucket");
    assert_eq!(volume.iter().sum::<u64>(), 5);
    assert_eq!(t["total"]["volume"], 5);
    let i16 = buckets
        .iter()
        .position(|b| b == "2026-11-16T00:00:00Z")
        .unwrap();
    assert_eq!(volume[i16], 2);
    let joy = t["labels"]["emotions"]["joy"]["share"][i16]
        .as_f64()
        .unwrap();
    assert!(
        (joy - 0.5).abs() < 1e-9,
        "one of the two posts of the 16th is joyful: {t:#}"
    );
    assert_eq!(
        t["labels"]["emotions"]["joy"]["share"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    // Source filter and weekly roll-up agree.
    let (_, w) = d
        .get("/api/v1/products/acme-phone/trends?from=2026-11-01&to=2026-11-30&interval=week&source=acme-atom")
        .await;
    assert_eq!(w["total"]["volume"], 2);

    // The second poll of the RSS feed is conditional on the ETag.
    d.wait_for("/api/v1/sources", "a second poll", |_| {
        srv.seen("/rss").len() >= 2
    })
    .await;
    let seen = srv.seen("/rss");
    assert_eq!(seen[1].headers.get("if-none-match").unwrap(), "\"v1\"");
    assert!(seen[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("tests@example.com"));

    // Summary and metrics see the same data.
    let (s, sum) = d
        .get("/api/v1/products/acme-phone/summary?window=14d&to=2026-11-18")
        .await;
    assert_eq!(s, 200);
    assert_eq!(sum["current"]["volume"], 5);
    let m = d.metrics().await;
    assert!(
        m.contains("cxpulse_posts_stored_total{product=\"acme-phone\",source=\"acme-rss\"} 3"),
        "{m}"
    );
    let last_ok = m
        .lines()
        .find(|l| {
            l.starts_with("cxpulse_source_last_success_timestamp_seconds{source=\"acme-rss\"}")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("{m}"));
    assert!(
        (cxpulse::domain::time::now_ms() / 1000 - last_ok).abs() < 120,
        "{last_ok}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_feeds_are_skipped_counted_and_retried() {
    let srv = FixtureServer::start().await;
    srv.script("/broken", vec![Reply::ok(fixture("feeds/broken.xml"))]);
    let mut big = fixture("feeds/acme_rss.xml");
    big.extend(std::iter::repeat_n(b' ', 30_000));
    srv.script("/big", vec![Reply::ok(big)]);
    srv.script(
        "/limited",
        vec![
            Reply::status(429).header("retry-after", "1"),
            Reply::ok(fixture("feeds/acme_atom_page2.xml")),
        ],
    );
    srv.script(
        "/flaky",
        vec![
            Reply::status(500),
            Reply::status(503),
            Reply::ok(fixture("feeds/acme_rss.xml")),
        ],
    );
    srv.script("/captcha", vec![Reply::ok(fixture("feeds/captcha.html"))]);
    let dir = tempfile::tempdir().unwrap();
    let sources = ["broken", "big", "limited", "flaky", "captcha"]
        .iter()
        .map(|n| rss_source(n, &srv.url(&format!("/{n}"))))
        .collect::<String>();
    let d = Daemon::start(load(
        &config_text(&dir.path().join("db"), &sources),
        dir.path(),
    ))
    .await;

    let v = d
        .wait_for("/api/v1/sources", "every source polled", |v| {
            stored(v, "limited") == 2
                && stored(v, "flaky") == 3
                && ["broken", "big", "captcha"]
                    .iter()
                    .all(|n| source(v, n)["last_error"].is_object())
        })
        .await;
    assert_eq!(
        source(&v, "broken")["last_error"]["reason"],
        "parse",
        "{v:#}"
    );
    assert!(source(&v, "broken")["skipped"].as_u64().unwrap() >= 1);
    assert_eq!(
        source(&v, "big")["last_error"]["reason"],
        "too_large",
        "{v:#}"
    );
    assert_eq!(
        source(&v, "captcha")["last_error"]["reason"],
        "captcha",
        "{v:#}"
    );
    assert!(source(&v, "broken")["backoff_secs"].as_u64().is_some());

    // 429 with Retry-After: 1 → the retry waited at least that long.
    let seen = srv.seen("/limited");
    assert!(seen.len() >= 2);
    assert!(seen[1].at.duration_since(seen[0].at) >= Duration::from_millis(950));
    // 500, 503, then success within one poll.
    assert!(srv.seen("/flaky").len() >= 3);

    let m = d.metrics().await;
    assert!(
        m.contains("cxpulse_items_skipped_total{reason=\"malformed_page\",source=\"broken\"}"),
        "{m}"
    );
    assert!(
        m.contains("cxpulse_source_errors_total{reason=\"too_large\",source=\"big\"}"),
        "{m}"
    );
    assert_eq!(total_posts(&d, "acme-phone").await, 5);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_cursor_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let row = |i: usize| {
        format!(
            "{{\"id\":\"r{i}\",\"text\":\"Acme Phone review number {i}, I love it\",\"published\":\"2026-11-{:02}T10:00:00Z\",\"rating\":{}}}\n",
            1 + i % 20,
            1 + i % 5
        )
    };
    std::fs::write(&file, (0..40).map(row).collect::<String>()).unwrap();
    let sources = format!(
        "\n[[products.sources]]\nkind = \"file\"\nname = \"export\"\npath = \"{}\"\ninterval_secs = 10\n",
        file.display()
    );
    let text = config_text(&dir.path().join("db"), &sources);

    let d = Daemon::start(load(&text, dir.path())).await;
    d.wait_for("/api/v1/sources", "first import", |v| {
        stored(v, "export") == 40
    })
    .await;
    d.stop().await;

    // Rows appended while the daemon was down, plus a repeat of an old row.
    let mut more: String = (40..55).map(row).collect();
    more.push_str(&row(3));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, more.as_bytes()))
        .unwrap();

    let d = Daemon::start(load(&text, dir.path())).await;
    let v = d
        .wait_for("/api/v1/sources", "resume", |v| stored(v, "export") == 15)
        .await;
    // Only the appended rows were read again: the cursor resumed after the first 40.
    assert_eq!(source(&v, "export")["items_fetched"], 16, "{v:#}");
    assert_eq!(source(&v, "export")["duplicates"], 1);
    assert_eq!(total_posts(&d, "acme-phone").await, 55);
    let (_, t) = d
        .get("/api/v1/products/acme-phone/trends?from=2026-11-01&to=2026-11-22")
        .await;
    let hist: u64 = t["total"]["rating_hist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .sum();
    assert_eq!(hist, 55);
    d.stop().await;

    let store = cxpulse::store::Store::open_waiting(
        &dir.path().join("db"),
        cxpulse::store::REOPEN_LOCK_WAIT,
    )
    .unwrap();
    let r = store.verify().unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.posts, 55);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_errors_ingest_and_pagination() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(load(&config_text(&dir.path().join("db"), ""), dir.path())).await;

    let code = |v: &Value| v["code"].as_str().unwrap_or("").to_string();
    let (s, v) = d.get("/api/v1/products/nope/trends").await;
    assert_eq!((s, code(&v)), (404, "product_not_found".into()));
    let (s, v) = d.get("/api/v1/nothing-here").await;
    assert_eq!((s, code(&v)), (404, "not_found".into()));
    for bad in [
        "/api/v1/products/acme-phone/trends?interval=year",
        "/api/v1/products/acme-phone/trends?from=yesterday",
        "/api/v1/products/acme-phone/trends?from=2026-01-02&to=2026-01-01",
        "/api/v1/products/acme-phone/trends?from=1900-01-01&interval=hour",
        "/api/v1/products/acme-phone/trends?bogus=1",
        "/api/v1/products/acme-phone/posts?limit=0",
        "/api/v1/products/acme-phone/posts?limit=100000",
        "/api/v1/products/acme-phone/posts?min_score=2",
        "/api/v1/products/acme-phone/posts?cursor=garbage",
        "/api/v1/products/acme-phone/summary?window=forever",
    ] {
        let (s, v) = d.get(bad).await;
        assert_eq!(
            (s, code(&v)),
            (400, "invalid_parameter".into()),
            "{bad}: {v}"
        );
    }

    let posts: Vec<Value> = (0..7)
        .map(|i| json!({"id": format!("ext-{i}"), "text": format!("post {i} about nothing in particular"),
            "published": format!("2026-11-0{}T12:00:00Z", i + 1), "rating": 4, "author": "Ann"}))
        .collect();
    let path = "/api/v1/products/acme-phone/posts";
    let (s, v) = d.post(path, None, json!({"posts": posts})).await;
    assert_eq!((s, code(&v)), (401, "unauthorized".into()));
    let (s, v) = d
        .post(
            path,
            Some("wrong-token-wrong-token"),
            json!({"posts": posts}),
        )
        .await;
    assert_eq!((s, code(&v)), (401, "unauthorized".into()));
    let (s, v) = d.post(path, Some(TOKEN), json!({"posts": posts})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["stored"], 7);
    let (_, v) = d.post(path, Some(TOKEN), json!({"posts": posts})).await;
    assert_eq!(
        (v["stored"].as_u64(), v["duplicates"].as_u64()),
        (Some(0), Some(7)),
        "re-ingest changes nothing"
    );
    let (s, v) = d
        .post(path, Some(TOKEN), json!({"posts": [{"text": ""}]}))
        .await;
    assert_eq!((s, code(&v)), (400, "invalid_parameter".into()));
    let (s, v) = d
        .post(
            path,
            Some(TOKEN),
            json!({"posts": [{"text": "x", "rating": 9}]}),
        )
        .await;
    assert_eq!((s, code(&v)), (400, "invalid_parameter".into()));
    let (s, v) = d.post(path, Some(TOKEN), json!({"postz": []})).await;
    assert_eq!((s, code(&v)), (400, "invalid_json".into()));
    let many: Vec<Value> = (0..21).map(|i| json!({"text": format!("t{i}")})).collect();
    let (s, v) = d.post(path, Some(TOKEN), json!({"posts": many})).await;
    assert_eq!((s, code(&v)), (413, "batch_too_large".into()));
    let huge = "x".repeat(70_000);
    let (s, v) = d
        .post(path, Some(TOKEN), json!({"posts": [{"text": huge}]}))
        .await;
    assert_eq!((s, code(&v)), (413, "payload_too_large".into()));
    let r = d
        .http
        .post(d.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = d
        .http
        .post(d.url(path))
        .bearer_auth(TOKEN)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = d.http.delete(d.url(path)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );

    // Keyset pagination: 3 + 3 + 1, newest first, no overlap.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("{path}?from=2026-10-01&to=2026-12-01&limit=3&cursor={c}"),
            None => format!("{path}?from=2026-10-01&to=2026-12-01&limit=3"),
        };
        let (s, v) = d.get(&q).await;
        assert_eq!(s, 200, "{v}");
        for p in v["posts"].as_array().unwrap() {
            seen.push(p["external_id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).rev().map(|i| format!("ext-{i}")).collect();
    assert_eq!(seen, want);

    // Classify: one result per text, in order, with the documented shape.
    let (s, v) = d
        .post("/api/v1/classify", None, json!({"texts": ["I love these shoes", "Die Lieferung war furchtbar langsam und das Paket kam beschädigt an."]}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(v[0]["language"], "en");
    assert!(v[0]["heads"]["emotions"]["scores"]["joy"].as_f64().unwrap() > 0.5);
    assert!(v[0]["heads"]["machine_generated"]["score"].is_number());
    assert_eq!(v[1]["language"], "de");
    assert_eq!(
        v[1]["heads"],
        json!({}),
        "other languages are marked, not scored"
    );
    let (s, v) = d
        .post("/api/v1/classify", None, json!({"texts": vec!["x"; 21]}))
        .await;
    assert_eq!((s, code(&v)), (413, "batch_too_large".into()));

    let (s, v) = d.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(v["paths"]["/api/v1/classify"].is_object());
    let (s, v) = d.get("/api/v1/health").await;
    assert_eq!((s, v["model"]["name"].as_str()), (200, Some("tiny-test")));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_refused_without_a_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        config_text(&dir.path().join("db"), "").replace(&format!("api_token = \"{TOKEN}\""), "");
    let d = Daemon::start(load(&text, dir.path())).await;
    let (s, v) = d
        .post(
            "/api/v1/products/acme-phone/posts",
            Some(TOKEN),
            json!({"posts": []}),
        )
        .await;
    assert_eq!((s, v["code"].as_str()), (403, Some("writes_disabled")));
    d.stop().await;
}

#[tokio::test]
async fn a_client_that_outruns_the_rate_limit_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&dir.path().join("db"), "").replace(
        "max_batch_texts = 20",
        "max_batch_texts = 20\nrate_limit_per_client_rps = 2\nrate_limit_burst = 5",
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = d.http.get(d.url("/api/v1/products")).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=1).contains(&retry), "{retry}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["code"], "rate_limited");
        }
    }
    assert_eq!(&statuses[..5], &[200; 5], "the burst passes: {statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // A second later the bucket has two tokens again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (s, _) = d.get("/api/v1/products").await;
    assert_eq!(s, 200);
    let (_, metrics) = d.get("/metrics").await;
    let m = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        m.lines().any(|l| l.contains("status=\"429\"")),
        "429s are counted: {m}"
    );
    d.stop().await;
}

/// Two products watching one feed: the second product's source used to send the first one's
/// `If-None-Match` on its own first poll, get 304 and store nothing. Validators belong to one
/// source, and a source sends them only for pages whose items it has stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_products_on_one_feed_both_read_it() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/rss",
        vec![Reply::ok(fixture("feeds/acme_rss.xml")).header("etag", "\"v1\"")],
    );
    let dir = tempfile::tempdir().unwrap();
    let second_product = format!(
        "\n[[products]]\nid = \"acme-case\"\nname = \"Acme Case\"\nkeywords = [\"Acme Phone\", \"Acme\"]\n{}",
        rss_source("case-rss", &srv.url("/rss"))
    );
    let text = config_text(
        &dir.path().join("db"),
        &(rss_source("phone-rss", &srv.url("/rss")) + &second_product),
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    d.wait_for("/api/v1/sources", "both sources stored the feed", |v| {
        stored(v, "phone-rss") == 3 && stored(v, "case-rss") == 3
    })
    .await;
    let seen = srv.seen("/rss");
    assert!(seen.len() >= 2, "{}", seen.len());
    for s in &seen[..2] {
        assert!(
            !s.headers.contains_key("if-none-match"),
            "a source's first poll is unconditional: {:?}",
            s.headers
        );
    }
    assert_eq!(total_posts(&d, "acme-phone").await, 3);
    assert_eq!(total_posts(&d, "acme-case").await, 3);
    d.stop().await;
}

/// HN answered page 0 and then 503 on page 1, every time: the poll used to fail as a whole and
/// store nothing. What was read is stored, the failure shows on `/sources`, the cursor stays
/// where the complete part ends, and the next poll reads the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_after_the_first_keeps_what_was_read() {
    let srv = FixtureServer::start().await;
    let path = "/api/v1/search_by_date";
    let page = |f: &str| Reply::typed("application/json", fixture(&format!("hn/{f}")));
    srv.script(path, vec![page("page0.json"), Reply::status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let hn = format!(
        "\n[[products.sources]]\nkind = \"hn\"\nname = \"hn\"\nquery = \"Acme Phone\"\ninterval_secs = 10\nbase_url = \"{}\"\n",
        srv.url("")
    );
    let text = config_text(&dir.path().join("db"), &hn);
    let d = Daemon::start(load(&text, dir.path())).await;
    let v = d
        .wait_for("/api/v1/sources", "page 0 stored, page 1 failed", |v| {
            stored(v, "hn") == 2 && source(v, "hn")["last_error"]["reason"] == "http_5xx"
        })
        .await;
    assert!(
        source(&v, "hn")["consecutive_failures"].as_u64() >= Some(1),
        "{v:#}"
    );
    // A page that keeps failing keeps counting as a failure (the backoff grows), though page
    // 0 is read each time; its stories are not stored twice.
    let v = d
        .wait_for("/api/v1/sources", "a second partial poll", |v| {
            source(v, "hn")["consecutive_failures"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(stored(&v, "hn"), 2, "{v:#}");

    // Page 1 answers again: the next poll reads from the old cursor, so page 1's comment
    // arrives and page 0's stories are not stored twice.
    srv.script(path, vec![page("page0.json"), page("page1.json")]);
    let v = d
        .wait_for("/api/v1/sources", "the rest read", |v| stored(v, "hn") == 3)
        .await;
    assert_eq!(source(&v, "hn")["consecutive_failures"], 0, "{v:#}");
    assert!(source(&v, "hn")["duplicates"].as_u64() >= Some(2), "{v:#}");
    assert_eq!(total_posts(&d, "acme-phone").await, 3);
    d.stop().await;
}

/// Validators are kept with the source's cursor, in the same transaction as the posts: after
/// a restart the first poll is conditional instead of a re-download of every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_survive_a_restart_with_the_cursor() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/rss",
        vec![
            Reply::ok(fixture("feeds/acme_rss.xml")).header("etag", "\"v1\""),
            Reply::status(304),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(
        &dir.path().join("db"),
        &rss_source("phone-rss", &srv.url("/rss")),
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    d.wait_for("/api/v1/sources", "the feed stored", |v| {
        stored(v, "phone-rss") == 3
    })
    .await;
    d.stop().await;
    let before = srv.seen("/rss").len();

    let d = Daemon::start(load(&text, dir.path())).await;
    d.wait_for("/api/v1/sources", "a poll after the restart", |_| {
        srv.seen("/rss").len() > before
    })
    .await;
    let seen = srv.seen("/rss");
    assert_eq!(
        seen[before]
            .headers
            .get("if-none-match")
            .map(|v| v.to_str().unwrap().to_string()),
        Some("\"v1\"".to_string()),
        "the first poll after a restart is conditional"
    );
    assert_eq!(
        total_posts(&d, "acme-phone").await,
        3,
        "nothing lost or doubled"
    );
    d.stop().await;
}
