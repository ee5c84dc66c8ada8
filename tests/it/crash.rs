//! Crash consistency under concurrent ingest: the daemon runs a file source, an RSS source and
//! takes API writes at once, and is killed with SIGKILL at pseudo-random moments, fifty times.
//! After every kill the store must verify (every aggregate equals a recount from the posts, the
//! id index matches), never hold fewer posts than before, and hold every API post it
//! acknowledged. At the end every row, feed item and acknowledged post is there exactly once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxpulse::domain::PostId;
use cxpulse::store::Store;

use crate::util::*;

const ROUNDS: u32 = 50;
const ROWS: usize = 4000;

fn write_rows(path: &std::path::Path, n: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            f,
            "{{\"id\":\"row-{i}\",\"text\":\"Acme Phone row {i}: {}\",\"published\":\"2026-{:02}-{:02}T{:02}:00:00Z\"}}",
            ["delivery was late", "great support", "too expensive", "I love it"][i % 4],
            1 + (i / 28) % 11,
            1 + i % 28,
            i % 24
        )
        .unwrap();
    }
}

/// Posts batches of ten through the API until `stop`; records the ids of acknowledged batches.
async fn api_writer(
    base: String,
    round: u32,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let ids: Vec<String> = (0..10).map(|i| format!("api-{round}-{n}-{i}")).collect();
        let posts: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| serde_json::json!({"id": id, "text": format!("Acme Phone via the API ({id}): support was slow"), "published": "2026-06-01T12:00:00Z"}))
            .collect();
        let r = http
            .post(format!("{base}/products/acme-phone/posts"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "posts": posts }))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => acked.lock().unwrap().extend(ids),
            // Killed mid-request: that batch was never acknowledged, so it may or may not be in.
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        n += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sigkills_during_concurrent_ingest_lose_and_duplicate_nothing() {
    let feed = FixtureServer::start().await;
    feed.script("/feed.xml", vec![Reply::ok(fixture("feeds/acme_rss.xml"))]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.jsonl");
    write_rows(&data, ROWS);
    let sources = format!(
        "{}\n[[products.sources]]\nkind = \"rss\"\nname = \"feed\"\nurl = \"{}\"\ninterval_secs = 10\n",
        file_source(&data),
        feed.url("/feed.xml")
    );
    let (cfg, base) = daemon_config(dir.path(), &sources);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut last = 0usize;
    let mut mid_ingest = 0;
    let mut seed = 0x2545_f491_u64;
    for round in 0..ROUNDS {
        let mut daemon = spawn_daemon(&cfg);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/health")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "round {round}: daemon did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(api_writer(base.clone(), round, stop.clone(), acked.clone()));
        // xorshift: a different moment every round, the same sequence every run.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(50 + seed % 700)).await;
        daemon.kill().unwrap(); // SIGKILL
        daemon.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();

        let (store, posts) = sound_after_kill(&dir.path().join("db"), round, last);
        for id in acked.lock().unwrap().iter() {
            assert!(
                store
                    .contains(&PostId::new("acme-phone", "api", id))
                    .unwrap(),
                "round {round}: acknowledged post {id} is gone"
            );
        }
        if posts > last {
            mid_ingest += 1;
        }
        last = posts;
    }
    assert!(
        mid_ingest >= ROUNDS / 2,
        "only {mid_ingest} rounds stored anything"
    );

    // A last run to the end: every row, every feed item and every acknowledged post, once.
    let mut daemon = spawn_daemon(&cfg);
    // Caught up once every row and acknowledged post is in and the count has held still for
    // a while (the feed's items come with the first poll).
    let deadline = Instant::now() + Duration::from_secs(120);
    let expected_min = (ROWS + acked.lock().unwrap().len()) as u64;
    let (mut stored, mut still_since) = (0u64, Instant::now());
    loop {
        let now: u64 = match reqwest::get(format!("{base}/health")).await {
            Ok(r) => r.json::<serde_json::Value>().await.unwrap_or_default()["store"]["posts"]
                .as_u64()
                .unwrap_or(0),
            Err(_) => 0,
        };
        if now != stored {
            (stored, still_since) = (now, Instant::now());
        }
        if stored >= expected_min && still_since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never caught up: {stored} of at least {expected_min}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(daemon.wait().unwrap().success());
    let store =
        Store::open_waiting(&dir.path().join("db"), cxpulse::store::REOPEN_LOCK_WAIT).unwrap();
    let r = store.verify().unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut per_source = std::collections::HashMap::<String, usize>::new();
    for p in store.scan_posts("acme-phone", i64::MIN, i64::MAX) {
        let p = p.unwrap();
        assert!(
            seen.insert((p.source.clone(), p.external_id.clone())),
            "{} {} stored twice",
            p.source,
            p.external_id
        );
        *per_source.entry(p.source).or_default() += 1;
    }
    assert_eq!(per_source.get("rows"), Some(&ROWS), "{per_source:?}");
    assert!(
        per_source.get("feed").is_some_and(|n| *n > 0),
        "{per_source:?}"
    );
    let acked: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(per_source.get("api").copied().unwrap_or(0) >= acked.len());
    assert_eq!(seen.len(), r.posts, "the post count matches the posts");
    println!(
        "crash consistency: {ROUNDS} SIGKILLs ({mid_ingest} with new posts since the last), \
         {} API posts acknowledged, {} posts in the end ({per_source:?}), verify clean every time",
        acked.len(),
        r.posts
    );
}
