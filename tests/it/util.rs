//! Test harness: temp configs, a booted daemon, and a programmable fixture HTTP server on
//! 127.0.0.1 that serves files from tests/fixtures with the statuses and headers a test scripts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio_util::sync::CancellationToken;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    let p = repo().join("tests/fixtures").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/rss+xml".into())],
            body,
        }
    }
    /// A 200 with this content type (HTML pages, JSON APIs).
    pub fn typed(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: b"error".to_vec(),
        }
    }
    /// This reply with another status (error bodies in an API's JSON shape).
    pub fn with_status(mut self, status: u16) -> Reply {
        self.status = status;
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// What the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub at: Instant,
    pub headers: HeaderMap,
    pub method: String,
    pub query: String,
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    /// Per path: replies served in order; the last one repeats.
    script: HashMap<String, Vec<Reply>>,
    served: HashMap<String, usize>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
pub struct FixtureServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FixtureServer { addr, inner }
    }

    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        let mut i = self.inner.lock().unwrap();
        i.script.insert(path.to_string(), replies);
        i.served.insert(path.to_string(), 0);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn serve(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let mut i = inner.lock().unwrap();
    i.seen.push(Seen {
        path: path.clone(),
        at: Instant::now(),
        headers: parts.headers,
        method: parts.method.to_string(),
        query,
        body,
    });
    let n = *i.served.get(&path).unwrap_or(&0);
    let reply = match i.script.get(&path) {
        Some(r) if !r.is_empty() => r[n.min(r.len() - 1)].clone(),
        _ => Reply::status(404),
    };
    i.served.insert(path, n + 1);
    let mut b = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (k, v) in &reply.headers {
        b = b.header(k, v);
    }
    b.body(Body::from(reply.body)).unwrap()
}

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A config for product `acme-phone` with extra source tables appended.
pub fn config_text(store: &Path, sources: &str) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
api_token = "{TOKEN}"
max_body_bytes = 65536
max_batch_texts = 20

[storage]
path = "{store}"
author_salt = "test-salt-123"

[model]
dir = "{model}"
batch_size = 8
threads = 1

[fetch]
contact = "tests@example.com"
connect_timeout_secs = 2
read_timeout_secs = 5
max_body_bytes = 20000
max_retries = 3
backoff_base_ms = 50
backoff_max_secs = 3
per_host_min_interval_ms = 0

[log]
level = "warn"

[[products]]
id = "acme-phone"
name = "Acme Phone"
keywords = ["Acme Phone", "Acme"]
exclusions = ["Acme Corp Tower"]
{sources}
"#,
        store = store.display(),
        model = repo().join("models/tiny-test").display(),
    )
}

pub fn load(text: &str, dir: &Path) -> cxpulse::config::Config {
    cxpulse::config::from_str(text, "test.toml", dir, Default::default())
        .expect("test config is valid")
}

pub struct Daemon {
    pub addr: SocketAddr,
    pub token: CancellationToken,
    running: Option<cxpulse::Running>,
    pub http: reqwest::Client,
}

impl Daemon {
    pub async fn start(cfg: cxpulse::config::Config) -> Daemon {
        let token = CancellationToken::new();
        let running = cxpulse::start(cfg, token.clone())
            .await
            .expect("daemon starts");
        Daemon {
            addr: running.addr,
            token,
            running: Some(running),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut r = self.http.post(self.url(path)).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Polls `path` until `pred` holds on the JSON body, or panics with the last body.
    pub async fn wait_for(
        &self,
        path: &str,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (_, v) = self.get(path).await;
            if pred(&v) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; last {path}: {v:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        r.text().await.unwrap()
    }

    pub async fn stop(mut self) {
        self.token.cancel();
        self.running
            .take()
            .unwrap()
            .wait()
            .await
            .expect("clean shutdown");
    }
}

/// Total of posts stored by the daemon for a product over all time.
pub async fn total_posts(d: &Daemon, product: &str) -> u64 {
    let (_, v) = d
        .get(&format!(
            "/api/v1/products/{product}/trends?from=2000-01-01&interval=month"
        ))
        .await;
    v["total"]["volume"].as_u64().unwrap_or(0)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cxpulse")
}

/// A config for a daemon process of its own, on a free port, written to `dir/cxpulse.toml`
/// with `sources` appended: its path and the daemon's API base URL.
pub fn daemon_config(dir: &Path, sources: &str) -> (PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = config_text(&dir.join("db"), sources).replace(
        "bind = \"127.0.0.1:0\"",
        &format!("bind = \"127.0.0.1:{port}\""),
    );
    let path = dir.join("cxpulse.toml");
    std::fs::write(&path, text).unwrap();
    (path, format!("http://127.0.0.1:{port}/api/v1"))
}

/// A `file` source table named `rows` for the export at `path`.
pub fn file_source(path: &Path) -> String {
    format!(
        "\n[[products.sources]]\nkind = \"file\"\nname = \"rows\"\npath = \"{}\"\ninterval_secs = 10\n",
        path.display()
    )
}

/// The command of `cxpulse run` on `cfg`, its output discarded.
pub fn daemon_command(cfg: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("--config")
        .arg(cfg)
        .arg("run")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// `cxpulse run` on `cfg` as a child process, its output discarded.
pub fn spawn_daemon(cfg: &Path) -> Proc {
    Proc::new(daemon_command(cfg).spawn().unwrap())
}

/// A child process that is killed and reaped when dropped, so a failing test leaves no daemon
/// or import behind.
pub struct Proc(Option<std::process::Child>);

impl Proc {
    pub fn new(c: std::process::Child) -> Proc {
        Proc(Some(c))
    }

    /// Waits for the process to end by itself and collects its output.
    pub fn output(mut self) -> std::process::Output {
        self.0.take().expect("running").wait_with_output().unwrap()
    }
}

impl std::ops::Deref for Proc {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("running")
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("running")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Processes whose command line mentions `needle` (from `/proc`): what a test left running.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// Opens the store a killed process left behind and requires it sound: `verify` clean and no
/// fewer posts than `last`. Returns the store and its post count.
pub fn sound_after_kill(db: &Path, round: u32, last: usize) -> (cxpulse::store::Store, usize) {
    let store = cxpulse::store::Store::open_waiting(db, cxpulse::store::REOPEN_LOCK_WAIT).unwrap();
    let r = store.verify().unwrap();
    assert!(r.problems.is_empty(), "round {round}: {:?}", r.problems);
    assert!(
        r.posts >= last,
        "round {round}: posts went from {last} to {}",
        r.posts
    );
    (store, r.posts)
}
