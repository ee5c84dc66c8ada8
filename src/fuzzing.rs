//! The bodies of the fuzz targets (`fuzz/`), here so that `tests/it/fuzz.rs` replays every saved
//! crash input through exactly the code the fuzzer ran. Each function takes arbitrary bytes and
//! must return without panicking; `api_query` also fails on any 5xx answer.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::OnceLock;

/// RSS 2.0 / Atom feeds.
pub fn feed(data: &[u8]) {
    if let Ok(items) = crate::sources::rss::parse_feed(data, 100) {
        assert!(items.len() <= 100, "the item cap holds");
    }
}

/// schema.org reviews in JSON-LD and microdata.
pub fn jsonld(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let page = url::Url::parse("https://shop.example.com/p/1").expect("static URL");
    let sel = scraper::Selector::parse("a[rel=next]").expect("static selector");
    let found = crate::sources::jsonld::parse_page(&html, &page, Some(&sel));
    for item in &found.items {
        assert!(
            item.rating.is_none_or(|r| (0.0..=1.0).contains(&r)),
            "ratings are 0–1"
        );
    }
}

/// The `selectors` source: lines 1–3 are the item, text and rating selectors, line 4 a date
/// format, the rest the page.
pub fn selectors(data: &[u8]) {
    let input = String::from_utf8_lossy(data);
    let mut lines = input.splitn(5, '\n');
    let mut next = || lines.next().unwrap_or("").to_string();
    let (item, text, rating, date_format, html) = (next(), next(), next(), next(), next());
    let cfg = crate::config::sources::SelectorsSourceConfig {
        name: "fuzz".into(),
        interval_secs: 60,
        urls: vec!["https://forum.example.com/t/1".into()],
        item,
        text,
        title: Some("h3".into()),
        author: Some(".user".into()),
        rating: Some(rating),
        rating_max: 5.0,
        date: Some("time".into()),
        date_format: Some(date_format).filter(|f| !f.is_empty()),
        link: Some("a".into()),
        next_selector: Some("a.next".into()),
        max_pages: 1,
        require_keywords: false,
    };
    let page = url::Url::parse("https://forum.example.com/t/1").expect("static URL");
    let found = crate::sources::selectors::extract(&html, &page, &cfg);
    for item in &found.items {
        assert!(
            item.rating.is_none_or(|r| (0.0..=1.0).contains(&r)),
            "ratings are 0–1"
        );
        assert!(!item.text.trim().is_empty(), "no empty posts");
    }
}

/// Config text: a `Config` or a `ConfigError`, whatever the input.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::config::from_str(
        &text,
        "fuzz.toml",
        Path::new("/nonexistent-cxpulse-fuzz"),
        Default::default(),
    );
}

/// Text clean-up, Telegram previews and the time and window parsers of the API.
pub fn text(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    let _ = crate::domain::text::html_to_text(&s);
    let _ = crate::domain::text::markdown_to_text(&s);
    let _ = crate::domain::text::decode_entities(&s);
    let capped = crate::domain::text::cap_chars(&s, 100);
    assert!(capped.chars().count() <= 100);
    let _ = crate::sources::telegram::parse_page(&s, "fuzz_channel");
    let _ = crate::domain::time::parse_time_ms(&s);
    let _ = crate::domain::time::parse_window_ms(&s);
    let mut mid = s.len() / 2;
    while !s.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = s.split_at(mid);
    if let Ok((from, to)) = crate::domain::time::parse_range(Some(a), Some(b), str::to_string) {
        assert!(from < to);
    }
}

/// The routes that take query parameters; the first input byte picks one.
const ROUTES: &[&str] = &[
    "/api/v1/products/acme/posts",
    "/api/v1/products/acme/trends",
    "/api/v1/products/acme/summary",
    "/api/v1/products/acme/authenticity",
    "/api/v1/products/acme/alerts",
    "/api/v1/products/acme/digests",
    "/api/v1/products/acme/digests/2026-01-05",
    "/api/v1/products/nope/posts",
    "/api/v1/sources",
];

/// One request with a hostile query string to a real daemon; panics on a 5xx.
pub fn api_query(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let route = ROUTES[pick as usize % ROUTES.len()];
    // Bytes that cannot appear in a request target are escaped; everything else (including
    // stray `%`) goes through as the fuzzer made it.
    let mut query = String::new();
    for &b in rest.iter().take(4096) {
        if b.is_ascii_graphic() && b != b'#' {
            query.push(b as char);
        } else {
            query.push_str(&format!("%{b:02X}"));
        }
    }
    let addr = fuzz_daemon();
    let mut conn = std::net::TcpStream::connect(addr).expect("the fuzz daemon listens");
    write!(
        conn,
        "GET {route}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("request sent");
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {head:?}"));
    assert!(
        status < 500,
        "{route}?{query} answered {status}: {}",
        String::from_utf8_lossy(&answer)
    );
}

/// A daemon for the whole fuzzing run: tiny test model, empty store in a temporary folder, no
/// sources, no rate limit.
fn fuzz_daemon() -> SocketAddr {
    static DAEMON: OnceLock<(tokio::runtime::Runtime, SocketAddr, tempfile::TempDir)> =
        OnceLock::new();
    DAEMON
        .get_or_init(|| {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
            let dir = tempfile::tempdir().expect("temporary folder");
            let ort = repo.join(".cxpulse/lib/libonnxruntime.so");
            let text = format!(
                r#"
[server]
bind = "127.0.0.1:0"
rate_limit_per_client_rps = 0

[storage]
path = "{store}"
author_salt = "fuzz-salt-123"

[model]
dir = "{model}"
threads = 1
{ort}

[fetch]
contact = "fuzz@example.com"

[log]
level = "error"

[[products]]
id = "acme"
name = "Acme"
keywords = ["Acme"]
"#,
                store = dir.path().join("db").display(),
                model = repo.join("models/tiny-test").display(),
                ort = if ort.exists() {
                    format!("ort_dylib_path = \"{}\"", ort.display())
                } else {
                    String::new()
                },
            );
            let cfg = crate::config::from_str(&text, "fuzz.toml", dir.path(), Default::default())
                .expect("the fuzz config is valid");
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            let running = rt
                .block_on(crate::start(
                    cfg,
                    tokio_util::sync::CancellationToken::new(),
                ))
                .expect("the fuzz daemon starts (run scripts/setup.sh first)");
            (rt, running.addr, dir)
        })
        .1
}
