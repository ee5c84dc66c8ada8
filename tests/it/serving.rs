//! The API under hostile and slow clients: every error in the table's JSON shape, unknown
//! parameters refused everywhere, post URLs that cannot leave their link, and connections
//! closed at the configured timeouts while normal requests go on being served.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::*;

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

/// Sends `raw` on a fresh connection and reads the answer until the server closes it or
/// `within` passes; returns the status line's code and the body as JSON.
async fn raw_request(d: &Daemon, raw: &[u8]) -> (u16, Value, String) {
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_of_the_table_and_unknown_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(load(&config_text(&dir.path().join("db"), ""), dir.path())).await;

    // A path that does not decode as UTF-8.
    let (s, v) = d.get("/api/v1/products/%FF%FE/trends").await;
    assert_eq!((s, code(&v)), (400, "invalid_parameter"), "{v}");

    let long = format!(
        "GET /api/v1/health?x={} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "a".repeat(9000)
    );
    let (s, v, text) = raw_request(&d, long.as_bytes()).await;
    assert_eq!((s, code(&v)), (414, "uri_too_long"), "{text}");
    assert!(text
        .to_ascii_lowercase()
        .contains("content-type: application/json"));

    let mut many = String::from("GET /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for i in 0..80 {
        many.push_str(&format!("X-Filler-{i}: {}\r\n", "v".repeat(20)));
    }
    many.push_str("\r\n");
    let (s, v, text) = raw_request(&d, many.as_bytes()).await;
    assert_eq!((s, code(&v)), (431, "headers_too_large"), "{text}");

    for path in [
        "/api/v1/health?verbose=1",
        "/api/v1/products?all=true",
        "/api/v1/sources?x=1",
        "/api/v1/products/acme-phone/digests?limit=3",
        "/api/v1/openapi.json?v=2",
        "/metrics?format=json",
        "/api/v1/products/acme-phone/posts?labl=joy",
    ] {
        let (s, v) = d.get(path).await;
        assert_eq!((s, code(&v)), (400, "invalid_parameter"), "{path}: {v}");
    }
    for path in [
        "/api/v1/classify?debug=1",
        "/api/v1/products/acme-phone/posts?dry_run=1",
    ] {
        let (s, v) = d
            .post(path, Some(TOKEN), json!({"texts": ["x"], "posts": []}))
            .await;
        assert_eq!((s, code(&v)), (400, "invalid_parameter"), "{path}: {v}");
    }
    // Unknown heads and labels are named, not answered with an empty page.
    for (q, known) in [
        ("label=nope", "joy"),
        ("label=emotions.nope", "joy"),
        ("label=nohead.joy", "emotions"),
    ] {
        let (s, v) = d
            .get(&format!("/api/v1/products/acme-phone/posts?{q}"))
            .await;
        assert_eq!((s, code(&v)), (400, "invalid_parameter"), "{q}: {v}");
        assert!(v["message"].as_str().unwrap().contains(known), "{q}: {v}");
    }

    // RFC 7235: the scheme is case-insensitive.
    let r = d
        .http
        .post(d.url("/api/v1/products/acme-phone/posts"))
        .header("Authorization", format!("bearer {TOKEN}"))
        .json(&json!({"posts": [{"id": "b1", "text": "Acme Phone arrived"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // Every answer carries nosniff; HTML (the digest) a CSP of its own.
    let r = d
        .http
        .get(d.url("/api/v1/products/acme-phone/digests/2026-11-01?format=html"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let r = d.http.get(d.url("/api/v1/health")).send().await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posts_url_is_kept_only_as_a_plain_link_and_cannot_inject_markup() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(load(&config_text(&dir.path().join("db"), ""), dir.path())).await;
    let path = "/api/v1/products/acme-phone/posts";
    for bad in [
        "javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "/relative",
    ] {
        let (s, v) = d
            .post(
                path,
                Some(TOKEN),
                json!({"posts": [{"text": "Acme Phone ok", "url": bad}]}),
            )
            .await;
        assert_eq!((s, code(&v)), (400, "invalid_parameter"), "{bad}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("posts[0].url"),
            "{v}"
        );
    }
    let hostile = "https://ok.example/a\n\n<script>alert(1)</script>";
    let (s, v) = d
        .post(
            path,
            Some(TOKEN),
            json!({"posts": [{"id": "h1", "text": "Acme Phone: the courier lost it, furious",
                "url": hostile, "published": "2026-11-20T10:00:00Z"}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = d
        .get(&format!("{path}?from=2026-11-20&to=2026-11-21"))
        .await;
    assert_eq!(
        v["posts"][0]["url"], "https://ok.example/a%3Cscript%3Ealert(1)%3C/script%3E",
        "stored neutralised"
    );
    let md = d
        .http
        .get(d.url("/api/v1/products/acme-phone/digests/2026-11-20?format=md"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!md.contains("<script"), "{md}");
    d.stop().await;
}

/// Slow clients are cut off at the configured timeouts, each counted, while a normal client
/// on its own connection is served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_at_their_timeouts_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&dir.path().join("db"), "").replace(
        "max_batch_texts = 20\n",
        "max_batch_texts = 20\nheader_read_timeout_secs = 2\nbody_read_timeout_secs = 1\nidle_timeout_secs = 1\n",
    );
    let d = Daemon::start(load(&text, dir.path())).await;

    // Headers one line at a time, never finished.
    let trickle = {
        let addr = d.addr;
        tokio::spawn(async move {
            let t = Instant::now();
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /api/v1/health HTTP/1.1\r\n")
                .await
                .unwrap();
            for i in 0..30 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if s.write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
                let mut b = [0u8; 64];
                match tokio::time::timeout(Duration::from_millis(1), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    _ => {}
                }
            }
            t.elapsed()
        })
    };
    // Half a body, then nothing.
    let half = {
        let addr = d.addr;
        tokio::spawn(async move {
            let t = Instant::now();
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"POST /api/v1/classify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"texts\": [")
                .await
                .unwrap();
            let mut buf = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
            (t.elapsed(), String::from_utf8_lossy(&buf).to_string())
        })
    };
    // One request, then an idle keep-alive connection.
    let idle = {
        let addr = d.addr;
        tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n")
                .await
                .unwrap();
            let mut b = vec![0u8; 4096];
            let n = s.read(&mut b).await.unwrap();
            assert!(String::from_utf8_lossy(&b[..n]).starts_with("HTTP/1.1 200"));
            let t = Instant::now();
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
            t.elapsed()
        })
    };
    // Meanwhile a normal client is served promptly, again and again.
    for _ in 0..10 {
        let t = Instant::now();
        let (s, _) = d.get("/api/v1/health").await;
        assert_eq!(s, 200);
        assert!(t.elapsed() < Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let trickled = trickle.await.unwrap();
    assert!(
        trickled >= Duration::from_millis(1900) && trickled < Duration::from_secs(5),
        "header trickle cut after {trickled:?}"
    );
    let (halved, answer) = half.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    assert!(
        halved >= Duration::from_millis(900) && halved < Duration::from_secs(4),
        "half body cut after {halved:?}"
    );
    let idled = idle.await.unwrap();
    assert!(
        idled >= Duration::from_millis(900) && idled < Duration::from_secs(4),
        "idle connection closed after {idled:?}"
    );
    let m = d.metrics().await;
    for kind in ["header_read", "body_read", "idle"] {
        assert!(
            m.lines()
                .any(|l| l.starts_with(&format!("cxpulse_http_timeouts_total{{kind=\"{kind}\"}}"))),
            "{kind} timeout counted:\n{m}"
        );
    }
    d.stop().await;
}

/// Past `server.max_connections` a client waits in the listen backlog, not refused and not
/// costing a task; it is served as soon as a connection closes (here: idle ones timing out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_clients_wait_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&dir.path().join("db"), "").replace(
        "max_batch_texts = 20\n",
        "max_batch_texts = 20\nmax_connections = 2\nidle_timeout_secs = 2\n",
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    let t = Instant::now();
    let _idle: Vec<TcpStream> = vec![
        TcpStream::connect(d.addr).await.unwrap(),
        TcpStream::connect(d.addr).await.unwrap(),
    ];
    // Give the accept loop a moment to take both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, v) = d.get("/api/v1/health").await;
    let waited = t.elapsed();
    assert_eq!(s, 200, "{v}");
    assert!(
        waited >= Duration::from_millis(1800) && waited < Duration::from_secs(6),
        "served after {waited:?}: the third connection waited for an idle one to close"
    );
    d.stop().await;
}
