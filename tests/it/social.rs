//! The credentialed social sources (Bluesky search, Reddit, YouTube) against fixture servers in
//! the real APIs' shape, and Jetstream against a WebSocket server on 127.0.0.1: sign-in and
//! token renewal, credentials only where they belong, paging and cursors, rate-limit headers,
//! quotas, and a stream that drops mid-way and resumes from its cursor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxpulse::config::social::{
    BlueskySearchSourceConfig, JetstreamSourceConfig, RedditSourceConfig, Secret,
    YoutubeSourceConfig,
};
use cxpulse::sources::bluesky_jetstream::JetstreamSource;
use cxpulse::sources::bluesky_search::BlueskySearchSource;
use cxpulse::sources::reddit::RedditSource;
use cxpulse::sources::relevance::Matcher;
use cxpulse::sources::youtube::YoutubeSource;
use cxpulse::sources::{Source, SourceError};

use crate::sources::{fetcher, json};
use crate::util::*;

fn file_json(rel: &str) -> Reply {
    Reply::typed("application/json; charset=utf-8", fixture(rel))
}

fn error_json(status: u16, rel: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: fixture(rel),
    }
}

fn query(s: &Seen) -> HashMap<String, String> {
    url::form_urlencoded::parse(s.query.as_bytes())
        .into_owned()
        .collect()
}

fn header<'a>(s: &'a Seen, name: &str) -> &'a str {
    s.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

fn ids(items: &[cxpulse::domain::RawItem]) -> Vec<&str> {
    items.iter().map(|i| i.external_id.as_str()).collect()
}

fn bluesky(srv: &FixtureServer, password: &str) -> BlueskySearchSource {
    BlueskySearchSource::new(
        BlueskySearchSourceConfig {
            name: "bsky".into(),
            interval_secs: 600,
            query: "acme phone".into(),
            identifier: "acme-insights.bsky.social".into(),
            app_password: Some(Secret::new(password)),
            app_password_env: None,
            lang: Some("en".into()),
            max_pages: 5,
            backfill_days: 7,
            service: srv.url(""),
        },
        fetcher(),
        1000,
    )
}

#[tokio::test]
async fn bluesky_search_signs_in_pages_renews_an_expired_session_and_resumes() {
    let srv = FixtureServer::start().await;
    let create = "/xrpc/com.atproto.server.createSession";
    let refresh = "/xrpc/com.atproto.server.refreshSession";
    let search = "/xrpc/app.bsky.feed.searchPosts";
    srv.script(create, vec![file_json("bluesky/session.json")]);
    srv.script(
        search,
        vec![
            file_json("bluesky/search_page0.json"),
            file_json("bluesky/search_page1.json"),
        ],
    );
    let src = bluesky(&srv, "abcd-efgh-ijkl-mnop");
    let poll = src.poll(None).await.unwrap();

    // One sign-in with the app password in the JSON body, never in a URL.
    let signin = srv.seen(create);
    assert_eq!(signin.len(), 1);
    assert_eq!(signin[0].method, "POST");
    let body: serde_json::Value = serde_json::from_slice(&signin[0].body).unwrap();
    assert_eq!(body["identifier"], "acme-insights.bsky.social");
    assert_eq!(body["password"], "abcd-efgh-ijkl-mnop");
    let pages = srv.seen(search);
    assert_eq!(pages.len(), 2, "the second page has no cursor");
    for p in &pages {
        assert_eq!(
            header(p, "authorization"),
            "Bearer eyJhbGciOiJFUzI1NksifQ.access-one.sig"
        );
        assert!(!p.query.contains("abcd-efgh"));
    }
    let q0 = query(&pages[0]);
    assert_eq!(q0["q"], "acme phone");
    assert_eq!(q0["sort"], "latest");
    assert_eq!(q0["lang"], "en");
    assert!(!q0.contains_key("cursor"));
    assert_eq!(query(&pages[1])["cursor"], "2");

    assert_eq!(
        ids(&poll.items),
        [
            "at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lbt6rzwfxk2c",
            "at://did:plc:b2kqlszt6mn4hp3gg2ja7kvd/app.bsky.feed.post/3lbt5u2m3ak2x",
            "at://did:plc:7hv4eh3dvbpcbycz3gkzbqlp/app.bsky.feed.post/3lbszz7gq4c2d",
        ]
    );
    assert_eq!(poll.skipped, 1, "the post view without a record");
    let first = &poll.items[0];
    assert_eq!(first.author.as_deref(), Some("mira.bsky.social"));
    assert_eq!(
        first.url.as_deref(),
        Some("https://bsky.app/profile/mira.bsky.social/post/3lbt6rzwfxk2c")
    );
    // Search matched "acme" the fruit; the product's exclusions have the last word.
    let m = Matcher::new(&["Acme".to_string()], &["Acme Corp Tower".to_string()]);
    assert_eq!(poll.items.iter().filter(|i| m.matches(&i.text)).count(), 2);

    // The access token expired: refreshed once, the page asked again, and paging stops at the
    // stored post; `since` is the stored time.
    let cursor = poll.cursor.expect("cursor moved");
    srv.script(refresh, vec![file_json("bluesky/refreshed.json")]);
    srv.script(
        search,
        vec![
            json(r#"{"error":"ExpiredToken","message":"Token has expired"}"#).with_status(400),
            file_json("bluesky/search_later.json"),
        ],
    );
    let poll = src.poll(Some(&cursor)).await.unwrap();
    // Ten minutes of overlap bring the newest stored post again (the store knows its id); the
    // one before the overlap ends the paging.
    assert_eq!(
        ids(&poll.items),
        [
            "at://did:plc:zz3qk5lyhcvqk4d6f2qrmrxq/app.bsky.feed.post/3lbuaa2ve3s2p",
            "at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lbt6rzwfxk2c",
        ]
    );
    let r = srv.seen(refresh);
    assert_eq!(r.len(), 1);
    assert_eq!(
        header(&r[0], "authorization"),
        "Bearer eyJhbGciOiJFUzI1NksifQ.refresh-one.sig"
    );
    let pages = srv.seen(search);
    assert_eq!(
        pages.len(),
        4,
        "the expired call and its retry; no third page"
    );
    assert_eq!(query(&pages[2])["since"], "2026-11-21T17:54:11.913Z");
    assert_eq!(
        header(&pages[3], "authorization"),
        "Bearer eyJhbGciOiJFUzI1NksifQ.access-two.sig"
    );
    assert_eq!(srv.seen(create).len(), 1, "no new sign-in was needed");

    // A wrong app password is an auth error that does not repeat the password.
    let bad = FixtureServer::start().await;
    bad.script(
        create,
        vec![json(
            r#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#,
        )
        .with_status(401)],
    );
    let err = bluesky(&bad, "wrong-pass-word-1234")
        .poll(None)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "auth_failed");
    let msg = err.to_string();
    assert!(msg.contains("AuthenticationRequired"), "{msg}");
    assert!(!msg.contains("wrong-pass"), "{msg}");
    assert!(!format!("{err:?}").contains("wrong-pass"));
}

fn reddit(srv: &FixtureServer, subreddits: &[&str], query: Option<&str>) -> RedditSource {
    RedditSource::new(
        RedditSourceConfig {
            name: "reddit".into(),
            interval_secs: 600,
            query: query.map(str::to_string),
            subreddits: subreddits.iter().map(|s| s.to_string()).collect(),
            client_id: "p-jcoLKBynTLew".into(),
            client_secret: Some(Secret::new("gko_LXELoV07ZBNUXrvWZfzE3aI")),
            client_secret_env: None,
            username: None,
            password_env: None,
            password: None,
            max_pages: 3,
            api_base: srv.url(""),
            token_url: srv.url("/api/v1/access_token"),
        },
        fetcher(),
        1000,
    )
}

#[tokio::test]
async fn reddit_gets_a_token_reads_search_and_comments_and_honours_rate_limit_headers() {
    let srv = FixtureServer::start().await;
    let token = "/api/v1/access_token";
    srv.script(
        token,
        vec![
            file_json("reddit/token.json"),
            file_json("reddit/token2.json"),
        ],
    );
    srv.script("/search", vec![file_json("reddit/search.json")]);
    let comments = "/r/headphones/comments";
    srv.script(
        comments,
        vec![
            // The budget is spent until the window resets in a second.
            file_json("reddit/comments0.json")
                .header("x-ratelimit-used", "100")
                .header("x-ratelimit-remaining", "0.0")
                .header("x-ratelimit-reset", "1"),
            file_json("reddit/comments1.json")
                .header("x-ratelimit-remaining", "99.0")
                .header("x-ratelimit-reset", "599"),
        ],
    );
    let src = reddit(&srv, &["headphones"], Some("\"acme phone\""));
    let poll = src.poll(None).await.unwrap();

    let t = srv.seen(token);
    assert_eq!(t.len(), 1, "one token for the whole poll");
    assert_eq!(t[0].method, "POST");
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD
        .encode("p-jcoLKBynTLew:gko_LXELoV07ZBNUXrvWZfzE3aI");
    assert_eq!(header(&t[0], "authorization"), format!("Basic {basic}"));
    assert_eq!(t[0].body, b"grant_type=client_credentials");

    let s = srv.seen("/search");
    let q = query(&s[0]);
    assert_eq!(q["q"], "\"acme phone\"");
    assert_eq!(q["sort"], "new");
    assert_eq!(q["raw_json"], "1");
    assert!(header(&s[0], "authorization").ends_with(".tok-1"));
    let c = srv.seen(comments);
    assert_eq!(c.len(), 2);
    assert_eq!(query(&c[1])["after"], "t1_lz9b002");
    assert!(
        c[1].at - c[0].at >= Duration::from_millis(900),
        "waited for the rate-limit window to reset"
    );
    assert!(
        !s[0].query.contains("gko_"),
        "the secret never travels in a URL"
    );

    assert_eq!(
        ids(&poll.items),
        [
            "t3_1gx9k2q",
            "t3_1gx8zzz",
            "t1_lz9b001",
            "t1_lz9a777",
            "t1_lz9a778"
        ]
    );
    assert_eq!(
        poll.skipped, 3,
        "a removed post, a deleted comment, a `more` stub"
    );
    let post = &poll.items[0];
    assert_eq!(post.title.as_deref(), Some("Acme Phone 3 after a month"));
    assert!(post.text.starts_with("Coming from a Pixel. The Acme Phone 3 has the better battery, but the camera app is slow."), "{}", post.text);
    assert_eq!(post.channel.as_deref(), Some("r/Android"));
    assert_eq!(
        post.url.as_deref(),
        Some("https://www.reddit.com/r/Android/comments/1gx9k2q/acme_phone_3_after_a_month/")
    );
    assert_eq!(
        poll.items[1].text, "Acme Phone 3 box art",
        "a link post is its title"
    );
    let m = Matcher::new(&["Acme".to_string()], &[]);
    assert!(
        !m.matches(&poll.items[4].text),
        "off-topic comments are the matcher's to drop"
    );

    // Next poll: the token was revoked (401): a new one, the call again, and paging stops at
    // what is stored.
    let cursor = poll.cursor.unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&cursor).unwrap();
    assert_eq!(stored["newest"]["search"], 1_795_250_000_000i64);
    assert_eq!(stored["newest"]["r/headphones"], 1_795_251_000_000i64);
    let src2 = reddit(&srv, &[], Some("\"acme phone\""));
    srv.script(
        "/search",
        vec![Reply::status(401), file_json("reddit/search_later.json")],
    );
    // A fresh source signs in once (token 2), is told 401, and signs in again.
    srv.script(
        token,
        vec![
            file_json("reddit/token.json"),
            file_json("reddit/token2.json"),
        ],
    );
    let poll = src2.poll(Some(&cursor)).await.unwrap();
    assert_eq!(ids(&poll.items), ["t3_1gxb001"]);
    let s = srv.seen("/search");
    assert_eq!(header(s.last().unwrap(), "authorization"), "bearer tok-2");
    assert_eq!(s.len(), 3, "no page after the stored post");

    // A script app with a wrong password: Reddit answers 200 with an error.
    let bad = FixtureServer::start().await;
    bad.script(token, vec![json(r#"{"error": "invalid_grant"}"#)]);
    let err = reddit(&bad, &["headphones"], None)
        .poll(None)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "auth_failed");
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(!err.to_string().contains("gko_"));
}

fn youtube(srv: &FixtureServer, videos: &[&str], quota: u32) -> YoutubeSource {
    YoutubeSource::new(
        YoutubeSourceConfig {
            name: "yt".into(),
            interval_secs: 600,
            video_ids: videos.iter().map(|s| s.to_string()).collect(),
            channel_ids: vec![],
            api_key: Some(Secret::new("AIzaSyD-test-key-0000000000000000000")),
            api_key_env: None,
            daily_quota_units: quota,
            max_pages: 5,
            include_replies: true,
            require_keywords: false,
            base_url: srv.url(""),
        },
        fetcher(),
        1000,
    )
}

#[tokio::test]
async fn youtube_reads_threads_with_replies_within_its_quota() {
    let srv = FixtureServer::start().await;
    let path = "/youtube/v3/commentThreads";
    srv.script(
        path,
        vec![
            file_json("youtube/threads0.json"),
            file_json("youtube/threads1.json"),
        ],
    );
    let src = youtube(&srv, &["aCmEph0neR3"], 100);
    let poll = src.poll(None).await.unwrap();
    let seen = srv.seen(path);
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(
            header(s, "x-goog-api-key"),
            "AIzaSyD-test-key-0000000000000000000"
        );
        assert!(!s.query.contains("AIza"), "the key never travels in a URL");
    }
    let q = query(&seen[0]);
    assert_eq!(q["videoId"], "aCmEph0neR3");
    assert_eq!(q["part"], "snippet,replies");
    assert_eq!(q["order"], "time");
    assert_eq!(q["textFormat"], "plainText");
    assert_eq!(
        query(&seen[1])["pageToken"],
        "QURTSl9pM1Bxc0RQdnNfZ2tmMDl5OXNJVkk4dmY2NlJ4X2NpVTFIWGVQVFk"
    );
    assert_eq!(
        ids(&poll.items),
        [
            "UgzQ3l0vA8Kx1nY2b3t4AaABAg",
            "UgzQ3l0vA8Kx1nY2b3t4AaABAg.A9xYzR2kq0qA9xZ1",
            "UgxK8mN2pQ4rS6tU8vW0AaABAg"
        ]
    );
    assert_eq!(poll.skipped, 1, "the thread without a comment snippet");
    assert_eq!(poll.items[1].channel.as_deref(), Some("youtube_reply"));
    assert_eq!(
        poll.items[0].url.as_deref(),
        Some("https://www.youtube.com/watch?v=aCmEph0neR3&lc=UgzQ3l0vA8Kx1nY2b3t4AaABAg")
    );
    let cursor = poll.cursor.unwrap();
    let c: serde_json::Value = serde_json::from_slice(&cursor).unwrap();
    assert_eq!(c["used"], 2, "a unit per page");

    // The next poll stops at the stored thread (one page, no second).
    srv.script(path, vec![file_json("youtube/threads0.json")]);
    let poll = src.poll(Some(&cursor)).await.unwrap();
    assert!(poll.items.is_empty(), "{:?}", ids(&poll.items));
    assert_eq!(srv.seen(path).len(), 3);

    // A video with comments off is skipped and counted; the next one is read.
    srv.script(
        path,
        vec![
            error_json(403, "youtube/comments_disabled.json"),
            file_json("youtube/threads1.json"),
        ],
    );
    let poll = youtube(&srv, &["offVideo001", "aCmEph0neR3"], 100)
        .poll(None)
        .await
        .unwrap();
    assert_eq!(poll.skipped, 1);
    assert_eq!(ids(&poll.items), ["UgxK8mN2pQ4rS6tU8vW0AaABAg"]);

    // This source's own budget: two units a day. Paging stops there, and the next poll sends
    // nothing and reports the quota until the Pacific midnight.
    srv.script(path, vec![file_json("youtube/threads0.json")]);
    let before = srv.seen(path).len();
    let tight = youtube(&srv, &["aCmEph0neR3"], 2);
    let poll = tight.poll(None).await.unwrap();
    assert_eq!(srv.seen(path).len() - before, 2);
    assert!(!poll.items.is_empty());
    let err = tight.poll(poll.cursor.as_deref()).await.unwrap_err();
    assert_eq!(err.reason(), "quota_exceeded");
    let wait = err.retry_after().unwrap();
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(25 * 3600));
    assert_eq!(srv.seen(path).len() - before, 2, "nothing sent once spent");

    // The API's own quotaExceeded, and a refused key.
    srv.script(path, vec![error_json(403, "youtube/quota_exceeded.json")]);
    let err = youtube(&srv, &["aCmEph0neR3"], 100)
        .poll(None)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Quota { .. }), "{err}");
    srv.script(path, vec![error_json(400, "youtube/key_invalid.json")]);
    let err = youtube(&srv, &["aCmEph0neR3"], 100)
        .poll(None)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "auth_failed");
    assert!(!err.to_string().contains("AIza"));
}

/// A Jetstream stand-in: each connection gets the next script of text frames; `None` ends a
/// script by dropping the TCP connection without a close frame (as a crashed server would).
/// The request URI of every connection is recorded.
struct WsServer {
    url: String,
    uris: Arc<Mutex<Vec<String>>>,
}

async fn ws_server(scripts: Vec<Vec<String>>) -> WsServer {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::{handshake::server, Message};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/subscribe", listener.local_addr().unwrap());
    let uris = Arc::new(Mutex::new(Vec::new()));
    let seen = uris.clone();
    tokio::spawn(async move {
        let mut scripts = scripts.into_iter();
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let script = scripts.next();
            tokio::spawn(async move {
                // The callback's signature is tungstenite's (its error type is large).
                #[allow(clippy::result_large_err)]
                let cb = |req: &server::Request, resp: server::Response| {
                    seen.lock().unwrap().push(req.uri().to_string());
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                match script {
                    Some(frames) => {
                        for f in frames {
                            if ws.send(Message::text(f)).await.is_err() {
                                return;
                            }
                        }
                        // Script done: drop the connection mid-stream.
                    }
                    None => {
                        // Out of scripts: stay connected and quiet.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    WsServer { url, uris }
}

fn post_event(did: &str, time_us: i64, rkey: &str, text: &str, lang: &str) -> String {
    serde_json::json!({
        "did": did, "time_us": time_us, "kind": "commit",
        "commit": {"rev": "3lbuxyz2abc2k", "operation": "create", "collection": "app.bsky.feed.post",
            "rkey": rkey, "cid": "bafyreiexample",
            "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-11-23T10:00:00.000Z",
                       "langs": [lang], "text": text}}
    })
    .to_string()
}

fn jetstream(url: &str, buffer: usize, max_items: usize) -> JetstreamSource {
    JetstreamSource::new(
        JetstreamSourceConfig {
            name: "jet".into(),
            interval_secs: 60,
            endpoint: url.to_string(),
            langs: vec!["en".into()],
            buffer_posts: buffer,
        },
        "cxpulse/test (+tests@example.com)".into(),
        Matcher::new(&["Acme".to_string()], &["Acme Corp Tower".to_string()]),
        max_items,
    )
}

/// Polls like the scheduler does (cursor carried over) until `want` items came or time is up.
async fn drain(
    src: &JetstreamSource,
    cursor: &mut Option<Vec<u8>>,
    want: usize,
) -> (Vec<cxpulse::domain::RawItem>, u64) {
    let mut items = Vec::new();
    let mut skipped = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    while items.len() < want && Instant::now() < deadline {
        match src.poll(cursor.as_deref()).await {
            Ok(p) => {
                skipped += p.skipped;
                items.extend(p.items);
                if p.cursor.is_some() {
                    *cursor = p.cursor;
                }
            }
            Err(e) => assert_eq!(e.reason(), "unreachable", "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (items, skipped)
}

#[tokio::test]
async fn jetstream_keeps_matching_posts_reconnects_from_its_cursor_and_resumes_after_restart() {
    let did = "did:plc:k4qvyw7sn4bl6ihqgpnbtfz3";
    let first = vec![
        post_event(did, 1_763_900_000_000_001, "3lc1a", "My Acme Phone arrived, love it", "en"),
        post_event(did, 1_763_900_000_000_002, "3lc1b", "nothing to see here", "en"),
        r#"{"did":"did:plc:x","time_us":1763900000000003,"kind":"identity","identity":{"did":"did:plc:x","handle":"x.bsky.social","seq":1,"time":"2026-11-23T10:00:00Z"}}"#.to_string(),
        "{\"did\":\"did:plc:trunc".to_string(),
        r#"{"did":"did:plc:k4qvyw7sn4bl6ihqgpnbtfz3","time_us":1763900000000004,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.post","rkey":"3lc1a"}}"#.to_string(),
        post_event(did, 1_763_900_000_000_005, "3lc1c", "Meet me at Acme Corp Tower", "en"),
        post_event(did, 1_763_900_000_000_006, "3lc1d", "Acme Telefon ist super", "de"),
        post_event(did, 1_763_900_000_000_007, "3lc1e", "Acme support fixed my phone in a day", "en"),
    ];
    let second = vec![post_event(
        did,
        1_763_900_000_000_010,
        "3lc1f",
        "Second Acme order, still happy",
        "en",
    )];
    let srv = ws_server(vec![first, second]).await;
    let src = jetstream(&srv.url, 100, 1000);
    let mut cursor = None;
    let (items, skipped) = drain(&src, &mut cursor, 3).await;
    assert_eq!(
        ids(&items),
        [
            format!("at://{did}/app.bsky.feed.post/3lc1a"),
            format!("at://{did}/app.bsky.feed.post/3lc1e"),
            format!("at://{did}/app.bsky.feed.post/3lc1f"),
        ]
    );
    assert_eq!(skipped, 1, "the truncated frame");
    assert_eq!(items[0].author.as_deref(), Some(did));
    assert_eq!(
        items[0].url.as_deref(),
        Some(format!("https://bsky.app/profile/{did}/post/3lc1a").as_str())
    );
    let uris = srv.uris.lock().unwrap().clone();
    assert!(
        uris[0].contains("wantedCollections=app.bsky.feed.post"),
        "{uris:?}"
    );
    assert!(!uris[0].contains("cursor="), "a first start is live");
    assert!(
        uris[1].contains("cursor=1763900000000007"),
        "reconnected from the last event read: {uris:?}"
    );
    let stored: serde_json::Value = serde_json::from_slice(cursor.as_ref().unwrap()).unwrap();
    assert_eq!(stored["time_us"], 1_763_900_000_000_010i64);
    // Storing the last hand-over failed (the scheduler rewinds): it comes again, since the
    // stream will not replay it.
    src.rewind();
    let again = src.poll(cursor.as_deref()).await.unwrap();
    assert!(
        ids(&again.items).contains(&format!("at://{did}/app.bsky.feed.post/3lc1f").as_str()),
        "{:?}",
        ids(&again.items)
    );

    // A restarted daemon resumes from the stored cursor.
    drop(src);
    let src = jetstream(&srv.url, 100, 1000);
    let _ = src.poll(cursor.as_deref()).await;
    let uris = srv.uris.lock().unwrap().clone();
    assert!(
        uris.last().unwrap().contains("cursor=1763900000000010"),
        "{uris:?}"
    );
}

#[tokio::test]
async fn jetstream_buffer_is_bounded_and_loses_nothing() {
    let did = "did:plc:burst0000000000000000000";
    let frames: Vec<String> = (0..60)
        .map(|i| {
            post_event(
                did,
                1_763_900_000_000_100 + i,
                &format!("3lc2{i:03}"),
                &format!("Acme review number {i}"),
                "en",
            )
        })
        .collect();
    let srv = ws_server(vec![frames]).await;
    // Five posts of buffer, ten per poll: the reader waits on the poller.
    let src = jetstream(&srv.url, 5, 10);
    let mut cursor = None;
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while all.len() < 60 && Instant::now() < deadline {
        if let Ok(p) = src.poll(cursor.as_deref()).await {
            assert!(p.items.len() <= 10, "a poll hands over at most max_items");
            all.extend(p.items);
            if p.cursor.is_some() {
                cursor = p.cursor;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got: Vec<String> = all.iter().map(|i| i.external_id.clone()).collect();
    let want: Vec<String> = (0..60)
        .map(|i| format!("at://{did}/app.bsky.feed.post/3lc2{i:03}"))
        .collect();
    assert_eq!(got, want, "every post once, in order");
}

/// Every API kind against the same faults: a truncated body is a parse error, a 503 is retried,
/// a body over the size cap is refused, and a paginator that hands back the same token stops.
#[tokio::test]
async fn api_sources_survive_truncated_flaky_oversized_and_looping_answers() {
    type Build = Box<dyn Fn(&FixtureServer) -> Box<dyn Source>>;
    struct Case {
        path: &'static str,
        page: &'static str,
        poll: Build,
    }
    let cases = [
        Case {
            path: "/xrpc/app.bsky.feed.searchPosts",
            page: "bluesky/search_page0.json",
            poll: Box::new(|s| Box::new(bluesky(s, "abcd-efgh-ijkl-mnop"))),
        },
        Case {
            path: "/r/headphones/comments",
            page: "reddit/comments0.json",
            poll: Box::new(|s| Box::new(reddit(s, &["headphones"], None))),
        },
        Case {
            path: "/youtube/v3/commentThreads",
            page: "youtube/threads0.json",
            poll: Box::new(|s| Box::new(youtube(s, &["aCmEph0neR3"], 100))),
        },
    ];
    for c in cases {
        let srv = FixtureServer::start().await;
        srv.script(
            "/xrpc/com.atproto.server.createSession",
            vec![file_json("bluesky/session.json")],
        );
        srv.script("/api/v1/access_token", vec![file_json("reddit/token.json")]);
        let page = fixture(c.page);

        srv.script(
            c.path,
            vec![Reply::typed(
                "application/json",
                page[..page.len() / 2].to_vec(),
            )],
        );
        let err = (c.poll)(&srv).poll(None).await.unwrap_err();
        assert_eq!(err.reason(), "parse", "{}: {err}", c.path);

        srv.script(c.path, vec![Reply::status(503), file_json(c.page)]);
        let before = srv.seen(c.path).len();
        let poll = (c.poll)(&srv).poll(None).await.unwrap();
        assert!(!poll.items.is_empty(), "{}", c.path);
        // The same page (and the same next token) forever: at most one repeat is read.
        let n = srv.seen(c.path).len() - before;
        assert_eq!(n, 3, "{}: the 503, the page, its repeat", c.path);

        let mut huge = b"{\"posts\":[".to_vec();
        huge.resize(200_000, b' ');
        srv.script(c.path, vec![Reply::typed("application/json", huge)]);
        let err = (c.poll)(&srv).poll(None).await.unwrap_err();
        assert_eq!(err.reason(), "too_large", "{}: {err}", c.path);
    }
}
