//! The dashboard in a real browser: the daemon on the sample data set, Debian's headless
//! Chromium driven through chromedriver (plain WebDriver over HTTP). It picks a product, checks
//! that the charts carry the API's numbers, filters the posts table, checks that hostile post
//! text stays text, and saves a screenshot (`target/dashboard.png`).
//!
//! `scripts/test.sh` installs `chromium` and `chromium-driver`; without them this test fails
//! and says so (it never skips).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    /// The browser's profile; its path names every browser process of this driver.
    profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: install Debian's chromium and chromium-driver (scripts/test.sh does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group: the browser processes chromedriver starts are killed with it.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,2400", format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn eval(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// Clicks the element `css` selects (an `<option>` click selects it and fires `change`).
    async fn click(&self, css: &str) {
        let e = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = e
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_string();
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }

    /// Waits until the page says it has drawn everything for its current state.
    async fn wait_ready(&self) {
        // `ready` goes false first thing on a change; give the page a moment to start.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.eval("return document.body.dataset.ready").await == "true" {
                return;
            }
            if Instant::now() > deadline {
                let status = self
                    .eval("return document.getElementById('status').textContent")
                    .await;
                panic!("the dashboard did not finish drawing: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let b64 = self
            .cmd(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(
                b64.as_str()
                    .unwrap_or_else(|| panic!("no screenshot: {b64}")),
            )
            .unwrap()
    }
}

impl Drop for Driver {
    /// Kills chromedriver's whole process group (it and every browser process), also when the
    /// test failed; killing chromedriver alone left a dozen orphaned Chromium processes.
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
        // Browser processes that left the group still name the profile: kill those too.
        let profile = self.profile.path().display().to_string();
        for p in crate::util::processes_mentioning(&profile) {
            if let Some(pid) = p.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_draws_the_apis_numbers_and_filters_posts() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo().join("config/sample/reviews.jsonl");
    let text = format!(
        "{}\n[[products]]\nid = \"nordwind-trail-2\"\nname = \"Nordwind Trail Runner 2\"\nkeywords = [\"Nordwind\", \"TR2\"]\n\n[[products.sources]]\nkind = \"file\"\nname = \"sample-reviews\"\npath = \"{}\"\nrating_max = 5\nrequire_keywords = false\ncolumns = {{ text = \"body\", id = \"review_id\", title = \"title\", author = \"author\", published = \"created\", rating = \"stars\", url = \"url\", channel = \"channel\" }}\n",
        config_text(&dir.path().join("db"), ""),
        sample.display()
    );
    let d = Daemon::start(load(&text, dir.path())).await;
    let rows = std::fs::read_to_string(&sample).unwrap().lines().count() as u64;
    d.wait_for("/api/v1/sources", "the sample stored", |v| {
        v["sources"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == "sample-reviews"))
            .is_some_and(|s| {
                s["posts_stored"].as_u64().unwrap_or(0) + s["duplicates"].as_u64().unwrap_or(0)
                    >= rows
            })
    })
    .await;
    // A hostile post: markup, a script, a 400-character word, right-to-left text.
    let hostile = format!(
        "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script> Nordwind {} שלום עולם مرحبا",
        "W".repeat(400)
    );
    let (status, body) = d
        .post(
            "/api/v1/products/nordwind-trail-2/posts",
            Some(TOKEN),
            json!({"source": "api", "posts": [{"id": "hostile-1", "text": hostile, "published": "2026-11-19T12:00:00Z",
                   "url": "https://x.example/\"><script>window.__xss=3</script>"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The scheduler stores yesterday's digest once the sources have polled; the page shows it.
    d.wait_for(
        "/api/v1/products/nordwind-trail-2/digests",
        "a stored digest",
        |v| v["digests"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let range = "from=2026-09-20&to=2026-11-20";
    let driver = Driver::start().await;
    driver.goto(&d.url(&format!("/?{range}"))).await;
    driver.wait_ready().await;
    assert_eq!(
        driver
            .eval("return document.getElementById('product').value")
            .await,
        "acme-phone",
        "the first product is shown first"
    );

    // Pick the sample's product.
    driver
        .click("#product option[value='nordwind-trail-2']")
        .await;
    driver.wait_ready().await;
    let url = driver.eval("return location.search").await;
    assert!(
        url.as_str().unwrap().contains("product=nordwind-trail-2"),
        "{url}"
    );

    // The latest digest, rendered in a frame that runs no script.
    let digest = driver
        .eval("const f = document.querySelector('#digests iframe'); return f ? [f.getAttribute('sandbox'), f.srcdoc.includes('daily digest for'), f.dataset.date === document.getElementById('digest-date').value] : null")
        .await;
    assert_eq!(digest, json!(["", true, true]));

    // The charts carry the API's numbers.
    let (_, t) = d
        .get("/api/v1/products/nordwind-trail-2/trends?from=2026-09-20&to=2026-11-21&interval=day")
        .await;
    let drawn_volume = driver
        .eval("return Array.from(document.querySelectorAll('#chart-volume rect')).reduce((a, r) => a + Number(r.dataset.value), 0)")
        .await;
    assert_eq!(drawn_volume.as_u64(), t["total"]["volume"].as_u64());
    assert!(t["total"]["volume"].as_u64().unwrap() > 700);
    let points = driver
        .eval("return Array.from(document.querySelectorAll('#chart-sentiment circle')).map(c => [c.dataset.bucket, Number(c.dataset.value)])")
        .await;
    let expected: Vec<(String, f64)> = t["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .zip(t["sentiment_index"].as_array().unwrap())
        .filter(|(_, v)| !v.is_null())
        .map(|(b, v)| (b.as_str().unwrap().to_string(), v.as_f64().unwrap()))
        .collect();
    let drawn: Vec<(String, f64)> = points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(drawn.len(), expected.len());
    for (a, b) in drawn.iter().zip(&expected) {
        assert_eq!(a.0, b.0);
        assert!((a.1 - b.1).abs() < 1e-9, "{a:?} vs {b:?}");
    }
    let emotion_bars = driver
        .eval("return document.querySelectorAll('#chart-emotions rect').length")
        .await;
    assert!(emotion_bars.as_u64().unwrap() > 50, "{emotion_bars}");
    let kpi = driver
        .eval("return document.querySelector('#kpis .kpi b').textContent")
        .await;
    assert_eq!(
        kpi.as_str(),
        Some(t["total"]["volume"].to_string().as_str())
    );

    // Hostile text is text: no element from it, no script ran, the link is not a link.
    let xss = driver
        .eval("return [typeof window.__xss, document.querySelectorAll('#posts img, #posts script').length, document.querySelector('tr[data-id] a[href^=\"javascript\"]') === null]")
        .await;
    assert_eq!(xss, json!(["undefined", 0, true]));
    let shown = driver
        .eval("return Array.from(document.querySelectorAll('#posts td.text .body')).map(e => e.textContent).find(t => t.includes('onerror')) || null")
        .await;
    assert_eq!(shown.as_str(), Some(hostile.as_str()));

    // Filter the table: suspicious posts only.
    driver.click("#f-suspicious option[value='true']").await;
    driver.wait_ready().await;
    let (_, api_posts) = d
        .get("/api/v1/products/nordwind-trail-2/posts?from=2026-09-20&to=2026-11-21&suspicious=true&limit=100")
        .await;
    let want = api_posts["posts"].as_array().unwrap().len();
    assert!(want > 0, "the sample has suspicious posts");
    let rows = driver
        .eval("return Array.from(document.querySelectorAll('#posts tbody tr')).map(r => r.dataset.suspicious)")
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), want);
    assert!(rows.iter().all(|r| r == "true"));

    // And by an emotion the model found, on top of it.
    let emotion = driver
        .eval("return Array.from(document.querySelectorAll('#f-emotion option')).map(o => o.value).filter(v => v)[0]")
        .await;
    let emotion = emotion.as_str().expect("emotion options").to_string();
    driver
        .click(&format!("#f-emotion option[value='{emotion}']"))
        .await;
    driver.wait_ready().await;
    let tagged = driver
        .eval(&format!(
            "return Array.from(document.querySelectorAll('#posts tbody tr')).map(r => !!r.querySelector('[data-head=emotions][data-label={emotion}]') && r.dataset.suspicious === 'true')"
        ))
        .await;
    assert!(
        tagged.as_array().unwrap().iter().all(|x| x == true),
        "{tagged}"
    );
    assert!(driver
        .eval("return location.search")
        .await
        .as_str()
        .unwrap()
        .contains(&format!("emotion={emotion}")));

    // Back to every post, for the screenshot the README shows.
    driver.click("#f-emotion option[value='']").await;
    driver.wait_ready().await;
    driver.click("#f-suspicious option[value='']").await;
    driver.wait_ready().await;
    let png = driver.screenshot().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The repository's target/ (absent when CARGO_TARGET_DIR points elsewhere).
    let out = repo().join("target/dashboard.png");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, &png).unwrap();
    let profile = driver.profile.path().display().to_string();
    assert!(
        !crate::util::processes_mentioning(&profile).is_empty(),
        "the browser runs under its profile"
    );
    drop(driver);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = crate::util::processes_mentioning(&profile);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "browser processes left: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.stop().await;
}
