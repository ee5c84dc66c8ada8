//! Source kinds polled directly against fixture servers on 127.0.0.1 serving files in the real
//! APIs' shape: paging to the end, the stored cursor in the next request, malformed hits
//! skipped and counted, truncated JSON as a parse error, 429 + Retry-After.

use std::sync::Arc;
use std::time::Duration;

use cxpulse::config::sources::HnSourceConfig;
use cxpulse::config::FetchConfig;
use cxpulse::metrics::Metrics;
use cxpulse::sources::hn::HnSource;
use cxpulse::sources::relevance::Matcher;
use cxpulse::sources::{Fetcher, Source, SourceError};

use crate::util::*;

pub fn fetcher() -> Arc<Fetcher> {
    // API pages and product pages are larger than the fetch tests' 10 kB cap.
    let cfg = FetchConfig {
        max_body_bytes: 100_000,
        ..crate::fetch::cfg()
    };
    Arc::new(Fetcher::new(cfg, Arc::new(Metrics::new())).unwrap())
}

pub fn json(body: &str) -> Reply {
    Reply::typed("application/json", body.as_bytes().to_vec())
}

fn html(file: &str) -> Reply {
    Reply::typed("text/html; charset=utf-8", fixture(file))
}

#[tokio::test]
async fn hn_pages_through_results_and_resumes_from_its_cursor() {
    let srv = FixtureServer::start().await;
    let path = "/api/v1/search_by_date";
    let page = |f: &str| json(&String::from_utf8(fixture(&format!("hn/{f}"))).unwrap());
    srv.script(path, vec![page("page0.json"), page("page1.json")]);
    let hn = HnSource::new(
        HnSourceConfig {
            name: "hn".into(),
            interval_secs: 600,
            query: "Acme Phone".into(),
            tags: vec!["story".into(), "comment".into()],
            max_pages: 5,
            backfill_days: 7,
            base_url: srv.url(""),
        },
        fetcher(),
        1000,
    );

    let poll = hn.poll(None).await.unwrap();
    let seen = srv.seen(path);
    assert_eq!(seen.len(), 2, "two pages, then nbPages says stop");
    let q0 = url::form_urlencoded::parse(seen[0].query.as_bytes())
        .into_owned()
        .collect::<std::collections::HashMap<String, String>>();
    assert_eq!(q0["query"], "Acme Phone");
    assert_eq!(q0["tags"], "(story,comment)");
    assert_eq!(q0["page"], "0");
    let since: i64 = q0["numericFilters"]
        .strip_prefix("created_at_i>=")
        .unwrap()
        .parse()
        .unwrap();
    let week_ago = cxpulse::domain::time::now_ms() / 1000 - 7 * 86_400;
    assert!(
        (since - week_ago).abs() < 60,
        "first poll looks back backfill_days"
    );
    assert!(seen[1].query.contains("page=1"));

    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["41000123", "41000050", "41000040", "41000010"]);
    assert_eq!(poll.skipped, 1, "the hit without id and time");
    let comment = &poll.items[0];
    assert_eq!(
        comment.text,
        "Switched to the Acme Phone last month / the battery easily lasts two days, and the camera's night mode is really good."
    );
    assert_eq!(comment.author.as_deref(), Some("tinkerer"));
    assert_eq!(comment.channel.as_deref(), Some("comment"));
    assert_eq!(
        poll.items[1].text,
        "Acme Phone 3 teardown: the glue is gone"
    );
    assert_eq!(poll.items[1].channel.as_deref(), Some("story"));
    // Algolia matched "Acme Corp Tower"; the product's exclusions have the last word.
    let m = Matcher::new(
        &["Acme Phone".to_string(), "Acme".to_string()],
        &["Acme Corp Tower".to_string()],
    );
    let relevant: Vec<&str> = poll
        .items
        .iter()
        .filter(|i| m.matches(&i.text))
        .map(|i| i.external_id.as_str())
        .collect();
    assert_eq!(relevant, ["41000123", "41000050", "41000010"]);

    // The next poll starts at the newest stored second; a truncated body is a parse error.
    let cursor = poll.cursor.expect("cursor advanced");
    srv.script(path, vec![json("{\"hits\":[{\"objectID\":\"1\",")]);
    let err = hn.poll(Some(&cursor)).await.unwrap_err();
    assert!(matches!(err, SourceError::Parse { .. }), "{err}");
    assert_eq!(err.reason(), "parse");
    assert!(srv.seen(path)[2]
        .query
        .contains("numericFilters=created_at_i%3E%3D1763633702"));

    // Rate limited once, then the new comment.
    srv.script(
        path,
        vec![
            Reply::status(429).header("retry-after", "1"),
            page("later.json"),
        ],
    );
    let poll = hn.poll(Some(&cursor)).await.unwrap();
    assert_eq!(poll.items.len(), 1);
    assert_eq!(poll.items[0].external_id, "41000900");
    let seen = srv.seen(path);
    assert!(
        seen[4].at - seen[3].at >= Duration::from_millis(900),
        "Retry-After honoured"
    );
    let next: serde_json::Value = serde_json::from_slice(&poll.cursor.unwrap()).unwrap();
    assert_eq!(next["newest"], 1763708400);
}

#[tokio::test]
async fn mastodon_pages_by_link_header_keeps_originals_once_and_resumes() {
    use cxpulse::config::sources::MastodonSourceConfig;
    use cxpulse::sources::mastodon::MastodonSource;

    let srv = FixtureServer::start().await;
    let a = "/a/api/v1/timelines/tag/acmephone";
    let b = "/b/api/v1/timelines/tag/acmephone";
    let file = |f: &str| fixture(&format!("mastodon/{f}"));
    srv.script(
        a,
        vec![
            Reply::ok(file("a_page1.json")).header(
                "link",
                &format!(
                    "<{}?limit=40&max_id=111>; rel=\"next\", <{}?limit=40&min_id=113>; rel=\"prev\"",
                    srv.url(a),
                    srv.url(a)
                ),
            ),
            Reply::ok(file("a_page2.json")),
        ],
    );
    srv.script(b, vec![Reply::ok(file("b_page1.json"))]);
    let m = MastodonSource::new(
        MastodonSourceConfig {
            name: "fedi".into(),
            interval_secs: 600,
            instances: vec![srv.url("/a"), srv.url("/b")],
            tags: vec!["acmephone".into()],
            max_pages: 3,
        },
        fetcher(),
        1000,
    );
    let poll = m.poll(None).await.unwrap();
    assert_eq!(
        srv.seen(a).len(),
        2,
        "followed the Link header once, then no next"
    );
    assert!(srv.seen(a)[1].query.contains("max_id=111"));
    assert_eq!(srv.seen(b).len(), 1);
    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "https://a.example/users/dave/statuses/113",
            "https://b.example/users/carol/statuses/109876543210000001",
            "https://a.example/users/frank/statuses/111",
            "https://a.example/users/gina/statuses/110",
        ],
        "the boost is its original, and the original seen again on instance b is not repeated"
    );
    assert_eq!(poll.skipped, 1, "the status without content");
    let boosted = &poll.items[1];
    assert_eq!(boosted.author.as_deref(), Some("carol@b.example"));
    assert_eq!(
        boosted.text,
        "Three weeks with the #AcmePhone: the battery is great, the camera app crashes daily & support says \"wait for 3.1\"."
    );
    assert_eq!(
        poll.items[2].text,
        "ads rant: The Acme Phone ad on the tram is everywhere. Feels like hype more than a phone."
    );
    assert_eq!(
        poll.items[0].published_ms,
        Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-21T08:00:01Z")
                .unwrap()
                .timestamp_millis()
        )
    );
    let m_ = Matcher::new(
        &["Acme Phone".to_string(), "AcmePhone".to_string()],
        &["Acme Corp Tower".to_string()],
    );
    assert_eq!(poll.items.iter().filter(|i| m_.matches(&i.text)).count(), 3);

    // Next poll: each instance is asked only for what is newer than what was stored.
    let cursor = poll.cursor.expect("cursor advanced");
    srv.script(a, vec![Reply::ok(b"[]".to_vec())]);
    srv.script(b, vec![Reply::ok(b"[]".to_vec())]);
    let again = m.poll(Some(&cursor)).await.unwrap();
    assert!(again.items.is_empty() && again.cursor.is_none());
    assert!(
        srv.seen(a)[2].query.contains("since_id=113"),
        "{:?}",
        srv.seen(a)[2].query
    );
    assert!(srv.seen(b)[1].query.contains("since_id=9"));

    // A server that ignores since_id cannot bring old statuses back.
    srv.script(a, vec![Reply::ok(file("a_page2.json"))]);
    let ignored = m.poll(Some(&cursor)).await.unwrap();
    assert!(ignored.items.is_empty());

    // A challenge page instead of JSON is reported as such, never parsed; a broken body is a
    // parse error.
    srv.script(
        a,
        vec![Reply::ok(
            b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head><body><div id=\"challenge-platform\"></div></body></html>".to_vec(),
        )],
    );
    assert_eq!(m.poll(Some(&cursor)).await.unwrap_err().reason(), "captcha");
    srv.script(
        a,
        vec![Reply::ok(b"[{\"id\": \"120\", \"content\": ".to_vec())],
    );
    assert!(matches!(
        m.poll(Some(&cursor)).await.unwrap_err(),
        SourceError::Parse { .. }
    ));
}

#[tokio::test]
async fn appstore_reads_each_shape_of_the_feed_and_stops_at_what_it_has() {
    use cxpulse::config::sources::AppStoreSourceConfig;
    use cxpulse::sources::appstore::AppStoreSource;

    let srv = FixtureServer::start().await;
    let page = |cc: &str, n: u32| {
        format!("/{cc}/rss/customerreviews/page={n}/id=1234567890/sortby=mostrecent/json")
    };
    let file = |f: &str| fixture(&format!("appstore/{f}"));
    srv.script(&page("us", 1), vec![Reply::ok(file("us_page1.json"))]);
    // Page 2 holds one review: `entry` is an object, not an array. Page 3 has no `entry`.
    srv.script(&page("us", 2), vec![Reply::ok(file("us_page2.json"))]);
    srv.script(&page("us", 3), vec![Reply::ok(file("us_page3.json"))]);
    srv.script(&page("de", 1), vec![Reply::ok(file("us_page3.json"))]);
    let a = AppStoreSource::new(
        AppStoreSourceConfig {
            name: "ios".into(),
            interval_secs: 3600,
            app_id: "1234567890".into(),
            countries: vec!["us".into(), "de".into()],
            max_pages: 10,
            require_keywords: false,
            base_url: srv.url(""),
        },
        fetcher(),
        1000,
    );
    let poll = a.poll(None).await.unwrap();
    for n in 1..=3 {
        assert_eq!(srv.seen(&page("us", n)).len(), 1, "page {n}");
    }
    assert!(
        srv.seen(&page("us", 4)).is_empty(),
        "a page without entries ends it"
    );
    assert_eq!(srv.seen(&page("de", 1)).len(), 1);
    let got: Vec<(&str, Option<f32>)> = poll
        .items
        .iter()
        .map(|i| (i.external_id.as_str(), i.rating))
        .collect();
    assert_eq!(
        got,
        [
            // 1★, 5★ and 3★ on the 0–1 scale every source uses (stars / 5).
            ("us:11900000003", Some(0.2)),
            ("us:11900000002", Some(1.0)),
            ("us:11800000000", Some(0.6))
        ],
        "the app's own entry is not a review"
    );
    assert_eq!(poll.skipped, 1, "the review rated \"six\"");
    // Reviews link to the app's page in their storefront (they have no page of their own).
    assert!(
        poll.items.iter().all(|i| i.url.as_deref()
            == Some(
                &format!(
                    "https://apps.apple.com/{}/app/id1234567890",
                    &i.external_id[..2]
                )[..]
            )),
        "{:?}",
        poll.items.iter().map(|i| &i.url).collect::<Vec<_>>()
    );
    let first = &poll.items[0];
    assert_eq!(
        first.text,
        "Since the update the app crashes every time I open the camera settings. Useless & frustrating."
    );
    assert_eq!(first.title.as_deref(), Some("Crashes since 3.1"));
    assert_eq!(first.author.as_deref(), Some("nightowl_77"));
    assert_eq!(first.channel.as_deref(), Some("appstore-us"));
    assert_eq!(
        first.published_ms,
        Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-21T08:02:03Z")
                .unwrap()
                .timestamp_millis()
        )
    );

    // The next poll stops at the first review it already has: one request, nothing new.
    let cursor = poll.cursor.expect("cursor advanced");
    let again = a.poll(Some(&cursor)).await.unwrap();
    assert!(again.items.is_empty() && again.cursor.is_none());
    assert_eq!(srv.seen(&page("us", 1)).len(), 2);
    assert_eq!(srv.seen(&page("us", 2)).len(), 1);

    // A body over the size cap is refused, not parsed.
    srv.script(&page("us", 1), vec![Reply::ok(vec![b' '; 200_000])]);
    let err = a.poll(Some(&cursor)).await.unwrap_err();
    assert_eq!(err.reason(), "too_large", "{err}");
}

#[tokio::test]
async fn lemmy_search_keeps_live_items_as_text_and_resumes_from_time() {
    use cxpulse::config::sources::LemmySourceConfig;
    use cxpulse::sources::lemmy::LemmySource;

    let srv = FixtureServer::start().await;
    let path = "/a/api/v3/search";
    let file = |f: &str| Reply::ok(fixture(&format!("lemmy/{f}")));
    let empty = || {
        Reply::ok(
            br#"{"type_":"All","comments":[],"posts":[],"communities":[],"users":[]}"#.to_vec(),
        )
    };
    srv.script(
        path,
        vec![
            file("search_page1.json"),
            file("search_page2_old.json"),
            empty(),
        ],
    );
    let l = LemmySource::new(
        LemmySourceConfig {
            name: "lemmy".into(),
            interval_secs: 900,
            instances: vec![srv.url("/a")],
            query: "Acme Phone".into(),
            search_type: "All".into(),
            max_pages: 5,
            backfill_days: 3650,
        },
        fetcher(),
        1000,
    );
    let poll = l.poll(None).await.unwrap();
    let seen = srv.seen(path);
    // Page 1 holds fewer than the 50 asked for: it is the last (pages 2 and 3 are never asked).
    assert_eq!(seen.len(), 1, "a short page ends the search");
    assert!(seen[0].query.contains("sort=New") && seen[0].query.contains("q=Acme+Phone"));
    let got: Vec<(&str, &str)> = poll
        .items
        .iter()
        .map(|i| (i.external_id.as_str(), i.text.as_str()))
        .collect();
    assert_eq!(
        got[..3],
        [
            (
                "https://lemmy.a.example/post/501",
                "Verdict\nsolid, but the update broke Bluetooth"
            ),
            (
                "https://lemmy.a.example/comment/9002",
                "Mine too. The Acme Phone camera is great but\nbattery rant\nit drains ~30% overnight, see my log"
            ),
            (
                "https://lemmy.a.example/comment/9001",
                "Acme Phone support replaced mine in two days."
            ),
        ],
        "removed and deleted items are not posts"
    );
    assert_eq!(
        poll.items.len(),
        3,
        "the old item of page 2 is never reached"
    );
    assert_eq!(
        poll.items[0].title.as_deref(),
        Some("Acme Phone 3 after a month")
    );
    assert_eq!(poll.items[1].author.as_deref(), Some("ben@lemmy.a.example"));
    assert_eq!(poll.items[1].channel.as_deref(), Some("lemmy/phones"));
    // A time without zone is UTC.
    assert_eq!(
        poll.items[2].published_ms,
        Some(
            chrono::DateTime::parse_from_rfc3339("2026-11-21T08:00:00.123Z")
                .unwrap()
                .timestamp_millis()
        )
    );

    // Next poll: only what is at least as new as the newest stored item.
    let cursor = poll.cursor.expect("cursor advanced");
    srv.script(
        path,
        vec![file("search_page1.json"), file("search_page2_old.json")],
    );
    let again = l.poll(Some(&cursor)).await.unwrap();
    assert_eq!(srv.seen(path).len(), 2, "a short page ends it");
    let ids: Vec<&str> = again.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["https://lemmy.a.example/comment/9002"],
        "its second is asked again; the pipeline skips it by id"
    );
    assert!(again.cursor.is_none());
}

#[tokio::test]
async fn jsonld_reads_json_ld_and_microdata_reviews_and_stops_a_looping_pager() {
    use cxpulse::config::sources::JsonLdSourceConfig;
    use cxpulse::sources::jsonld::JsonLdSource;

    let srv = FixtureServer::start().await;
    let html = |f: &str| html(&format!("pages/{f}"));
    srv.script("/shop/acme-phone-3", vec![html("product_page1.html")]);
    srv.script("/shop/reviews/2", vec![html("product_page2.html")]);
    let src = JsonLdSource::new(
        JsonLdSourceConfig {
            name: "shop".into(),
            interval_secs: 3600,
            urls: vec![srv.url("/shop/acme-phone-3")],
            next_selector: Some("a[rel=next]".into()),
            max_pages: 10,
            require_keywords: false,
        },
        fetcher(),
        1000,
    );
    let poll = src.poll(None).await.unwrap();
    assert_eq!(
        srv.seen("/shop/acme-phone-3").len(),
        1,
        "the pager's loop back is not followed"
    );
    assert_eq!(srv.seen("/shop/reviews/2").len(), 1);
    let got: Vec<(&str, Option<f32>)> = poll
        .items
        .iter()
        .map(|i| (i.external_id.as_str(), i.rating))
        .collect();
    assert_eq!(
        got,
        [
            (
                "https://shop.example.com/acme-phone-3#review-881",
                Some(0.8)
            ),
            (
                "https://shop.example.com/acme-phone-3#review-880",
                Some(0.4)
            ),
            (
                "https://shop.example.com/acme-phone-3#review-879",
                Some(0.8)
            ),
            (
                "https://shop.example.com/acme-phone-3#review-870",
                Some(0.2)
            ),
        ]
    );
    assert_eq!(
        poll.skipped, 2,
        "the cut-off JSON-LD block and the review without text"
    );
    let first = &poll.items[0];
    assert_eq!(
        first.text,
        "The screen is gorgeous & bright. Battery lasts a day, not two as advertised."
    );
    assert_eq!(first.title.as_deref(), Some("Great screen, so-so battery"));
    assert_eq!(first.author.as_deref(), Some("Priya N."));
    assert_eq!(poll.items[1].author.as_deref(), Some("Tom"));
    assert_eq!(poll.items[2].author.as_deref(), Some("Lena"));
    let micro = &poll.items[3];
    assert_eq!(micro.author.as_deref(), Some("Joé"));
    assert_eq!(micro.title.as_deref(), Some("Camera app crashes"));
    assert_eq!(
        micro.text,
        "Since 3.1 the camera app crashes whenever I switch to night mode."
    );
    assert_eq!(
        micro.published_ms,
        cxpulse::domain::time::parse_time_ms("2026-11-10")
    );
    assert_eq!(
        poll.items[1].published_ms,
        cxpulse::domain::time::parse_time_ms("2026-11-17T17:20:00Z")
    );

    // Pages are read again each poll; what the last stored poll saw is not handed on twice.
    let cursor = poll.cursor.expect("cursor");
    let again = src.poll(Some(&cursor)).await.unwrap();
    assert!(again.items.is_empty() && again.cursor.is_none());
}

#[tokio::test]
async fn selectors_read_any_review_page_up_to_the_page_cap() {
    use cxpulse::config::sources::SelectorsSourceConfig;
    use cxpulse::sources::selectors::SelectorsSource;

    let srv = FixtureServer::start().await;
    let html = |f: &str| html(&format!("pages/{f}"));
    // The fixture server ignores query strings: page 2 is `/forum/t/88` again.
    srv.script(
        "/forum/t/88",
        vec![html("forum_page1.html"), html("forum_page2.html")],
    );
    srv.script("/forum/t/88/page3", vec![html("forum_page1.html")]);
    let s = SelectorsSource::new(
        SelectorsSourceConfig {
            name: "forum".into(),
            interval_secs: 3600,
            urls: vec![srv.url("/forum/t/88")],
            item: "article.review".into(),
            text: ".r-body".into(),
            title: Some(".r-title".into()),
            author: Some(".who b".into()),
            rating: Some(".stars".into()),
            rating_max: 5.0,
            date: Some("time.when".into()),
            date_format: Some("%d.%m.%Y".into()),
            link: Some("a.permalink".into()),
            next_selector: Some("a.pg-next".into()),
            max_pages: 2,
            require_keywords: false,
        },
        fetcher(),
        1000,
    );
    let poll = s.poll(None).await.unwrap();
    assert_eq!(srv.seen("/forum/t/88").len(), 2);
    assert!(srv.seen("/forum/t/88/page3").is_empty(), "max_pages = 2");
    let got: Vec<(String, Option<f32>, Option<&str>)> = poll
        .items
        .iter()
        .map(|i| {
            (
                i.external_id.replace(&srv.url(""), ""),
                i.rating,
                i.author.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/forum/t/88#p1".to_string(), Some(0.8), Some("Katrin")),
            ("/forum/t/88#p2".to_string(), Some(0.2), Some("mk_1983")),
            ("/forum/t/88#p9".to_string(), Some(1.0), Some("Ole")),
        ]
    );
    assert_eq!(poll.skipped, 1, "the review without text");
    assert_eq!(
        poll.items[0].text,
        "Acme Phone 3 since two weeks: the battery easily lasts two days. Low-light photos are noisy."
    );
    assert_eq!(
        poll.items[0].title.as_deref(),
        Some("Akku top, Kamera mäßig")
    );
    assert_eq!(
        poll.items[1].text,
        "Screen flickers at low brightness <sigh>. Sent it back."
    );
    assert_eq!(
        poll.items[1].published_ms,
        cxpulse::domain::time::parse_time_ms("2026-11-18")
    );
    // An empty `datetime` attribute falls back to the element's text.
    assert_eq!(
        poll.items[0].published_ms,
        cxpulse::domain::time::parse_time_ms("2026-11-19")
    );
}

#[tokio::test]
async fn telegram_reads_previews_newest_first_without_quoted_parents() {
    let srv = FixtureServer::start().await;
    let html = |f: &str| html(&format!("telegram/{f}"));
    // The fixture server ignores the query: `?before=` pages come in order on one path.
    srv.script(
        "/s/acmenews",
        vec![html("page_newest.html"), html("page_before_120.html")],
    );
    let t = telegram_source(&srv);
    let poll = t.poll(None).await.unwrap();
    let seen = srv.seen("/s/acmenews");
    assert_eq!(
        seen.len(),
        3,
        "newest, before=120, before=117 (nothing older)"
    );
    assert_eq!(seen[1].query, "before=120");
    let got: Vec<(&str, &str)> = poll
        .items
        .iter()
        .map(|i| (i.external_id.as_str(), i.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "acmenews/122",
                "New Acme Phone colours: see them\nMoss & sand."
            ),
            (
                "acmenews/120",
                "Yes: the Acme Phone 3.1 update fixes the camera crash. Roll-out starts today."
            ),
            (
                "acmenews/119",
                "Acme Phone support hours extended over the holidays."
            ),
            ("acmenews/118", "Will 3.1 fix the Acme Phone camera crash?"),
            ("acmenews/117", "Acme Phone 3 is sold out in Berlin stores."),
        ],
        "the reply's quote is not its text; the photo without caption is not a post"
    );
    assert_eq!(poll.items[0].author.as_deref(), Some("Acme News"));
    assert_eq!(
        poll.items[0].url.as_deref(),
        Some("https://t.me/acmenews/122")
    );
    assert_eq!(
        poll.items[0].published_ms,
        cxpulse::domain::time::parse_time_ms("2026-11-21T11:30:00Z")
    );

    // Next poll: the newest page holds nothing new and reaches what is stored: one request.
    let cursor = poll.cursor.expect("cursor");
    srv.script("/s/acmenews", vec![html("page_newest.html")]);
    let again = t.poll(Some(&cursor)).await.unwrap();
    assert!(again.items.is_empty() && again.cursor.is_none());
    assert_eq!(srv.seen("/s/acmenews").len(), 4);
}

/// A `?before=` page that fails after the newest page was read: the newest page's messages
/// are kept, the failure is reported with the poll, and the channel's cursor does not move.
#[tokio::test]
async fn telegram_keeps_the_newest_page_when_an_older_one_fails() {
    let srv = FixtureServer::start().await;
    srv.script(
        "/s/acmenews",
        vec![html("telegram/page_newest.html"), Reply::status(500)],
    );
    let t = telegram_source(&srv);
    let poll = t.poll(None).await.unwrap();
    assert!(!poll.items.is_empty(), "the newest page is kept");
    assert!(poll.items.iter().any(|i| i.external_id == "acmenews/122"));
    let failed = poll
        .failed
        .as_ref()
        .expect("the failure travels with the poll");
    assert_eq!(failed.reason(), "http_5xx");
    assert!(
        poll.cursor.is_none(),
        "the channel's cursor stays where it was"
    );

    // The first page failing is still a failed poll.
    srv.script("/s/acmenews", vec![Reply::status(500)]);
    assert_eq!(t.poll(None).await.unwrap_err().reason(), "http_5xx");
}

fn atom_page(entries: &[&str], next: Option<&str>) -> Reply {
    let next = next
        .map(|n| format!("<link rel=\"next\" href=\"{n}\"/>"))
        .unwrap_or_default();
    let entries: String = entries
        .iter()
        .map(|e| {
            format!(
                "<entry><id>urn:{e}</id><title>Acme Phone {e}</title><updated>2026-11-20T10:00:00Z</updated>\
                 <content type=\"text\">The Acme Phone review {e}.</content></entry>"
            )
        })
        .collect();
    Reply::typed(
        "application/atom+xml",
        format!(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>f</title>\
             <id>urn:f</id><updated>2026-11-20T10:00:00Z</updated>{next}{entries}</feed>"
        )
        .into_bytes(),
    )
}

fn rss_source(url: String) -> cxpulse::sources::rss::RssSource {
    use cxpulse::config::sources::RssSourceConfig;
    cxpulse::sources::rss::RssSource::new(
        RssSourceConfig {
            name: "feed".into(),
            interval_secs: 600,
            url,
            max_pages: 10,
        },
        fetcher(),
        1000,
    )
}

/// Paged feeds (RFC 5005): entries beyond page 1 used to be never read. Next links are
/// followed (relative ones against the page), a loop back to a visited page stops, and a poll
/// that already knows a whole page goes no further.
#[tokio::test]
async fn paged_atom_feeds_are_followed_and_a_next_link_loop_stops() {
    let srv = FixtureServer::start().await;
    srv.script("/feed", vec![atom_page(&["e5", "e4"], Some("/feed/p2"))]);
    srv.script("/feed/p2", vec![atom_page(&["e3", "e2"], Some("p3"))]);
    // p3 links back to page 1: a loop.
    srv.script("/feed/p3", vec![atom_page(&["e1"], Some("/feed"))]);
    let src = rss_source(srv.url("/feed"));
    let poll = src.poll(None).await.unwrap();
    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["urn:e5", "urn:e4", "urn:e3", "urn:e2", "urn:e1"]);
    assert!(poll.failed.is_none());
    assert_eq!(
        srv.seen("/feed").len(),
        1,
        "the loop back to page 1 is not followed"
    );

    // One new entry on page 1: the next poll stops after page 2, whose entries it knows.
    srv.script("/feed", vec![atom_page(&["e6", "e5"], Some("/feed/p2"))]);
    let poll = src.poll(poll.cursor.as_deref()).await.unwrap();
    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["urn:e6"]);
    assert_eq!(
        srv.seen("/feed/p3").len(),
        1,
        "no need to read below a known page"
    );
}

/// RSS 2.0 pages through `atom:link rel="next"`; a next page that fails keeps page 1's items
/// and leaves the cursor where it was, so the next poll reads page 2.
#[tokio::test]
async fn rss_next_links_are_followed_and_a_failing_page_keeps_page_one() {
    let srv = FixtureServer::start().await;
    let rss = |items: &[&str], next: &str| {
        let items: String = items
            .iter()
            .map(|i| format!("<item><guid>{i}</guid><title>Acme Phone {i}</title><description>Acme Phone note {i}</description></item>"))
            .collect();
        Reply::typed(
            "application/rss+xml",
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>t</title><link>http://x/</link><description>d</description>{next}{items}</channel></rss>"
            )
            .into_bytes(),
        )
    };
    let next = format!("<atom:link rel=\"next\" href=\"{}\"/>", srv.url("/rss/2"));
    srv.script("/rss", vec![rss(&["r3", "r2"], &next)]);
    srv.script("/rss/2", vec![Reply::status(500)]);
    let src = rss_source(srv.url("/rss"));
    let poll = src.poll(None).await.unwrap();
    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["r3", "r2"], "page 1 is kept");
    assert_eq!(poll.failed.as_ref().map(|e| e.reason()), Some("http_5xx"));
    assert!(poll.cursor.is_none());

    srv.script("/rss/2", vec![rss(&["r1"], "")]);
    let poll = src.poll(None).await.unwrap();
    let ids: Vec<&str> = poll.items.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(ids, ["r3", "r2", "r1"], "page 2 is read next time");
    assert!(poll.failed.is_none() && poll.cursor.is_some());
}

/// The `acmenews` channel on the fixture server, five pages at most.
fn telegram_source(srv: &FixtureServer) -> cxpulse::sources::telegram::TelegramSource {
    cxpulse::sources::telegram::TelegramSource::new(
        cxpulse::config::sources::TelegramSourceConfig {
            name: "tg".into(),
            interval_secs: 600,
            channels: vec!["acmenews".into()],
            max_pages: 5,
            base_url: srv.url(""),
        },
        fetcher(),
        1000,
    )
}

fn rss_doc(items: &str) -> Reply {
    Reply::typed(
        "application/rss+xml",
        format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Acme blog</title><link>https://blog.example.com/</link>{items}</channel></rss>").into_bytes(),
    )
}

fn rss_item(guid: &str, link: &str, date: &str, text: &str) -> String {
    format!("<item><guid isPermaLink=\"false\">{guid}</guid><link>{link}</link><pubDate>{date}</pubDate><description>{text}</description></item>")
}

/// A feed that re-issues its items under new `guid`s (same link, same time; CMS migrations do
/// this) posts nothing new: the second poll returns none of them. A really new item still comes.
#[tokio::test]
async fn an_rss_item_under_a_new_guid_is_not_a_new_post() {
    let srv = FixtureServer::start().await;
    let a = |g: &str| {
        rss_item(
            g,
            "https://blog.example.com/acme-review",
            "Fri, 20 Nov 2026 10:00:00 +0000",
            "Acme Phone review",
        )
    };
    let b = |g: &str| {
        rss_item(
            g,
            "https://blog.example.com/acme-case",
            "Fri, 20 Nov 2026 12:00:00 +0000",
            "Acme case",
        )
    };
    let c = rss_item(
        "c-1",
        "https://blog.example.com/acme-new",
        "Sat, 21 Nov 2026 09:00:00 +0000",
        "Acme news",
    );
    srv.script(
        "/feed",
        vec![
            rss_doc(&format!("{}{}", a("wp-1"), b("wp-2"))),
            rss_doc(&format!("{c}{}{}", a("ghost-91"), b("ghost-92"))),
        ],
    );
    let src = rss_source(srv.url("/feed"));
    let first = src.poll(None).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let second = src.poll(first.cursor.as_deref()).await.unwrap();
    let ids: Vec<&str> = second
        .items
        .iter()
        .map(|i| i.external_id.as_str())
        .collect();
    assert_eq!(ids, ["c-1"], "only the new item");
}

/// A 403 Cloudflare marks `cf-mitigated: challenge` is a captcha; a page source that gets a
/// JSON (or any non-HTML) body reports `parse` instead of a quiet "0 reviews".
#[tokio::test]
async fn challenges_and_non_html_pages_say_what_they_are() {
    use cxpulse::config::sources::JsonLdSourceConfig;
    use cxpulse::sources::jsonld::JsonLdSource;

    let srv = FixtureServer::start().await;
    srv.script(
        "/shop/challenged",
        vec![
            Reply::typed("text/html", b"<html><body>...</body></html>".to_vec())
                .with_status(403)
                .header("cf-mitigated", "challenge"),
        ],
    );
    srv.script(
        "/shop/api",
        vec![Reply::typed(
            "application/json",
            b"{\"error\":\"moved\"}".to_vec(),
        )],
    );
    let src = |path: &str| {
        JsonLdSource::new(
            JsonLdSourceConfig {
                name: "shop".into(),
                interval_secs: 3600,
                urls: vec![srv.url(path)],
                next_selector: None,
                max_pages: 1,
                require_keywords: false,
            },
            fetcher(),
            1000,
        )
    };
    let e = src("/shop/challenged").poll(None).await.unwrap_err();
    assert_eq!(e.reason(), "captcha", "{e}");
    let e = src("/shop/api").poll(None).await.unwrap_err();
    assert_eq!(e.reason(), "parse", "{e}");
    assert!(e.to_string().contains("application/json"), "{e}");
}

/// A full page (50, the limit asked for) means there may be more: the next page is read; the
/// short one after it ends the search.
#[tokio::test]
async fn lemmy_reads_on_after_a_full_page_only() {
    use cxpulse::config::sources::LemmySourceConfig;
    use cxpulse::sources::lemmy::LemmySource;

    let page = |from: usize, n: usize| {
        let posts: Vec<serde_json::Value> = (from..from + n)
            .map(|i| serde_json::json!({
                "post": {"ap_id": format!("https://lemmy.a.example/post/{i}"), "name": format!("Acme Phone note {i}"),
                         "body": "Acme Phone is fine", "published": format!("2026-11-21T{:02}:{:02}:00Z", 23 - i / 60, 59 - i % 60)},
                "creator": {"name": "zoe", "actor_id": "https://lemmy.a.example/u/zoe"},
                "community": {"name": "phones"}
            }))
            .collect();
        Reply::ok(
            serde_json::to_vec(
                &serde_json::json!({"type_": "All", "posts": posts, "comments": []}),
            )
            .unwrap(),
        )
    };
    let srv = FixtureServer::start().await;
    let path = "/a/api/v3/search";
    srv.script(path, vec![page(0, 50), page(50, 7), page(57, 50)]);
    let l = LemmySource::new(
        LemmySourceConfig {
            name: "lemmy".into(),
            interval_secs: 900,
            instances: vec![srv.url("/a")],
            query: "Acme Phone".into(),
            search_type: "All".into(),
            max_pages: 5,
            backfill_days: 3650,
        },
        fetcher(),
        1000,
    );
    let poll = l.poll(None).await.unwrap();
    assert_eq!(srv.seen(path).len(), 2);
    assert_eq!(poll.items.len(), 57);
}
