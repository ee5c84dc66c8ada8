//! The authenticity layer through the whole daemon: signals on ingest, signals that earlier
//! posts gain later (the first copy of a campaign, the first posts of a burst), the API filters
//! and report, aggregates that still add up, and the detector's memory surviving a restart.

use serde_json::{json, Value};

use crate::util::*;

const ORIGINAL: &str =
    "I bought the Acme Phone for my daughter and the battery easily lasts two full days, \
    the camera takes sharp photos even at night and the screen is bright in the sun.";

/// Near-copies as a campaign posts them: a few words swapped, an opener, a typo.
const COPIES: [&str; 5] = [
    "Honestly, I bought the Acme Phone for my son and the battery easily lasts two full days, \
     the camera takes sharp photos even at night and the screen is bright in the sun.",
    "I bought the Acme Phone for my daughter and the battery easily lasts two whole days, \
     the camera takes crisp photos even at night and the screen is bright in the sun. 10/10.",
    "I purchased the Acme Phone for my daughter and the battery easily lasts two full days, \
     the camera takes sharp pictures even at night and the display is bright in the sun.",
    "Bought the Acme Phone for my daughter and the batery easily lasts two full days, \
     the camera takes sharp photos even at night and the screen is bright in the sun!",
    "I bought the Acme Phone for my wife and the battery easily lasts two full days, \
     the camera takes sharp photos even at night and the screen is very bright in the sun.",
];

fn post(id: &str, text: &str, author: &str, published: &str, rating: f64) -> Value {
    json!({"id": id, "text": text, "author": author, "published": published, "rating": rating})
}

fn ids_with(posts: &Value, kind: &str) -> Vec<String> {
    posts["posts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["signals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["kind"] == kind)
        })
        .map(|p| p["external_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn campaigns_are_flagged_explained_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let cfg = || load(&config_text(&db, ""), dir.path());
    let d = Daemon::start(cfg()).await;
    let path = "/api/v1/products/acme-phone/posts";

    // Three weeks of ordinary traffic (one post a day) make the source's baseline.
    let topics = [
        "battery", "camera", "screen", "speaker", "price", "delivery", "support",
    ];
    let background: Vec<Value> = (1..=21)
        .map(|day| {
            post(
                &format!("bg-{day}"),
                // Short on purpose: texts under copy_paste_min_words never count as copies.
                &format!(
                    "Acme Phone {} still fine after {day} days.",
                    topics[day % topics.len()]
                ),
                &format!("customer-{day}"),
                &format!("2026-10-{day:02}T09:00:00Z"),
                4.0,
            )
        })
        .collect();
    for chunk in background.chunks(10) {
        let (s, v) = d.post(path, Some(TOKEN), json!({"posts": chunk})).await;
        assert_eq!(s, 200, "{v}");
    }

    // The original, then its copies a day later from other authors, in another batch.
    let (s, _) = d
        .post(
            path,
            Some(TOKEN),
            json!({"posts": [post("orig", ORIGINAL, "ann", "2026-10-22T10:00:00Z", 5.0)]}),
        )
        .await;
    assert_eq!(s, 200);
    let copies: Vec<Value> = COPIES
        .iter()
        .enumerate()
        .map(|(i, t)| {
            post(
                &format!("copy-{i}"),
                t,
                &format!("buyer-{i}"),
                &format!("2026-10-23T1{i}:00:00Z"),
                5.0,
            )
        })
        .collect();
    let (s, v) = d.post(path, Some(TOKEN), json!({"posts": copies})).await;
    assert_eq!((s, v["stored"].as_u64()), (200, Some(5)), "{v}");
    assert_eq!(v["updated"], 1, "the original gained the signal: {v}");

    // An incentivised review and an author posting three times in two days.
    let mut more = vec![post(
        "free",
        "Got this Acme Phone at a discount in exchange for my honest review; the battery is fine.",
        "carl",
        "2026-10-24T08:00:00Z",
        5.0,
    )];
    // "Amazon Customer" is many people: no author pattern for placeholder names.
    for i in 0..3 {
        more.push(post(
            &format!("anon-{i}"),
            &format!("Acme Phone arrived, works, {i} stars of joy."),
            "Amazon Customer",
            "2026-10-24T09:00:00Z",
            4.0,
        ));
    }
    for (i, topic) in ["charger", "case", "earbuds"].iter().enumerate() {
        more.push(post(
            &format!("bob-{i}"),
            &format!("The Acme Phone {topic} is worth every cent, I use it every day now."),
            "bob",
            &format!("2026-10-2{}T12:00:00Z", 4 + i / 2),
            5.0,
        ));
    }
    let (s, _) = d.post(path, Some(TOKEN), json!({"posts": more})).await;
    assert_eq!(s, 200);

    // A burst: twelve distinct 5★ posts in one hour, sent in two batches so the first batch's
    // posts only become part of the burst when the second arrives.
    let burst: Vec<Value> = (0..12)
        .map(|i| {
            post(
                &format!("burst-{i}"),
                &format!(
                    "Review number {i}: the Acme Phone {} is simply stunning.",
                    topics[i % 7]
                ),
                &format!("fan-{i}"),
                &format!("2026-10-26T14:{:02}:00Z", i * 4),
                5.0,
            )
        })
        .collect();
    for half in burst.chunks(6) {
        let (s, _) = d.post(path, Some(TOKEN), json!({"posts": half})).await;
        assert_eq!(s, 200);
    }

    let range = "from=2026-10-01&to=2026-11-01";
    let (_, all) = d.get(&format!("{path}?{range}&limit=100")).await;
    let mut copy_ids = ids_with(&all, "copy_paste");
    copy_ids.sort();
    assert_eq!(
        copy_ids,
        ["copy-0", "copy-1", "copy-2", "copy-3", "copy-4", "orig"],
        "the original is flagged once its copies arrive, and no background post is"
    );
    let orig = all["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["external_id"] == "orig")
        .unwrap();
    let sig = orig["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "copy_paste")
        .unwrap();
    assert!(
        !sig["evidence"]["posts"].as_array().unwrap().is_empty(),
        "{sig}"
    );
    assert!(
        sig["evidence"]["detail"]
            .as_str()
            .unwrap()
            .contains("copied"),
        "{sig}"
    );
    assert_eq!(orig["suspicious"], true);
    assert_eq!(ids_with(&all, "incentive"), ["free"]);
    let free = all["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["external_id"] == "free")
        .unwrap();
    let inc = free["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "incentive")
        .unwrap();
    let phrase = inc["evidence"]["phrase"].as_str().unwrap();
    assert!(
        "Got this Acme Phone at a discount in exchange for my honest review".contains(phrase)
            && phrase.len() > 10,
        "the evidence quotes the disclosure: {phrase}"
    );
    let mut bob = ids_with(&all, "author_pattern");
    bob.sort();
    assert_eq!(bob, ["bob-0", "bob-1", "bob-2"]);
    let mut burst_ids = ids_with(&all, "burst");
    burst_ids.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("burst-{i}")).collect();
    want.sort();
    assert_eq!(
        burst_ids, want,
        "the whole burst, the first batch included, and nothing else"
    );
    for p in all["posts"].as_array().unwrap() {
        if p["external_id"].as_str().unwrap().starts_with("bg-") {
            assert_eq!(p["suspicious"], false, "{p}");
        }
    }

    // Filters.
    let (_, v) = d
        .get(&format!("{path}?{range}&signal=copy_paste&limit=100"))
        .await;
    assert_eq!(v["posts"].as_array().unwrap().len(), 6);
    let (_, v) = d
        .get(&format!("{path}?{range}&suspicious=true&limit=100"))
        .await;
    let n_suspicious = v["posts"].as_array().unwrap().len();
    assert!(n_suspicious >= 6 + 1 + 3, "{n_suspicious}");
    for bad in ["signal=bogus", "suspicious=maybe"] {
        let (s, v) = d.get(&format!("{path}?{bad}")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (400, Some("invalid_parameter")),
            "{bad}"
        );
    }

    // The report: index, trend, sources, top signals with examples.
    let (s, r) = d
        .get(&format!(
            "/api/v1/products/acme-phone/authenticity?{range}&interval=week"
        ))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["volume"], 21 + 1 + 5 + 4 + 3 + 12);
    assert_eq!(r["suspicious"].as_u64().unwrap() as usize, n_suspicious);
    let share = r["suspicious_share"].as_f64().unwrap();
    assert!((share - n_suspicious as f64 / 46.0).abs() < 1e-3, "{share}");
    let index = r["index"].as_f64().unwrap();
    assert!(
        index > 0.0 && index < 100.0 * (1.0 - share) + 1e-6,
        "{index}"
    );
    let buckets = r["buckets"].as_array().unwrap().len();
    assert_eq!(r["trend"]["index"].as_array().unwrap().len(), buckets);
    assert_eq!(r["by_source"][0]["source"], "api");
    let top = r["top_signals"].as_array().unwrap();
    let cp = top.iter().find(|t| t["kind"] == "copy_paste").unwrap();
    assert_eq!(cp["posts"], 6);
    assert!(!cp["examples"].as_array().unwrap().is_empty());
    let burst_top = top.iter().find(|t| t["kind"] == "burst").unwrap();
    assert_eq!(burst_top["posts"], 12);
    // The same counts in the trends endpoint's columns.
    let (_, t) = d
        .get(&format!(
            "/api/v1/products/acme-phone/trends?{range}&interval=month"
        ))
        .await;
    assert_eq!(t["total"]["signals"]["copy_paste"], 6);
    assert_eq!(
        t["authenticity"]["signals"]["burst"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum::<u64>(),
        12
    );
    let (s, v) = d
        .get("/api/v1/products/acme-phone/authenticity?interval=year")
        .await;
    assert_eq!((s, v["code"].as_str()), (400, Some("invalid_parameter")));
    let (s, _) = d.get("/api/v1/products/nope/authenticity").await;
    assert_eq!(s, 404);
    let m = d.metrics().await;
    assert!(
        m.contains("cxpulse_signals_total{kind=\"copy_paste\",product=\"acme-phone\"} 6"),
        "{m}"
    );
    d.stop().await;

    // After a restart the detector remembers: one more copy matches the stored campaign.
    let d = Daemon::start(cfg()).await;
    let late = post(
        "copy-late",
        COPIES[2],
        "buyer-late",
        "2026-10-28T10:00:00Z",
        5.0,
    );
    let (s, _) = d.post(path, Some(TOKEN), json!({"posts": [late]})).await;
    assert_eq!(s, 200);
    let (_, v) = d
        .get(&format!("{path}?{range}&signal=copy_paste&limit=100"))
        .await;
    assert_eq!(v["posts"].as_array().unwrap().len(), 7);
    d.stop().await;

    // Retroactive flags changed stored posts and their buckets in one transaction each: the
    // aggregates still equal a recount.
    let store = cxpulse::store::Store::open_waiting(&db, cxpulse::store::REOPEN_LOCK_WAIT).unwrap();
    let report = store.verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.posts, 47);
}

/// A Telegram channel is the author of every one of its posts: that is a publication, not a
/// reviewer posting many reviews, so no `author_pattern` (it flagged every post and dragged
/// the Authenticity Index down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_channel_is_not_an_author_pattern() {
    let srv = FixtureServer::start().await;
    let page = |f: &str| {
        Reply::typed(
            "text/html; charset=utf-8",
            fixture(&format!("telegram/{f}")),
        )
    };
    srv.script(
        "/s/acmenews",
        vec![page("page_newest.html"), page("page_before_120.html")],
    );
    let dir = tempfile::tempdir().unwrap();
    let sources = format!(
        "\n[[products.sources]]\nkind = \"telegram\"\nname = \"tg\"\nchannels = [\"acmenews\"]\nbase_url = \"{}\"\ninterval_secs = 600\n",
        srv.url("")
    );
    let d = Daemon::start(load(
        &config_text(&dir.path().join("db"), &sources),
        dir.path(),
    ))
    .await;
    let range = "from=2026-01-01&to=2027-01-01&limit=100";
    let v = d
        .wait_for(
            &format!("/api/v1/products/acme-phone/posts?{range}"),
            "the channel's posts",
            |v| v["posts"].as_array().is_some_and(|p| p.len() >= 3),
        )
        .await;
    let posts = v["posts"].as_array().unwrap();
    let authors: std::collections::HashSet<_> = posts.iter().map(|p| p["author"].clone()).collect();
    assert_eq!(authors.len(), 1, "one channel wrote them all: {authors:?}");
    let (_, flagged) = d
        .get(&format!(
            "/api/v1/products/acme-phone/posts?{range}&signal=author_pattern"
        ))
        .await;
    assert_eq!(flagged["posts"].as_array().unwrap().len(), 0, "{flagged:#}");
    d.stop().await;
}
