//! The polite fetch layer every web source uses: one User-Agent with a contact, timeouts, a body
//! size cap, retries with exponential backoff and jitter that honour `Retry-After`, conditional
//! GET (ETag / Last-Modified), a per-host rate limit and concurrency cap, robots.txt for pages,
//! and the servers' own rate-limit headers (`X-Ratelimit-*`, `RateLimit-*`). Credentialed API
//! calls ([`Fetcher::call`]) go through the same path; their secrets travel only in headers and
//! bodies, never in the URLs that errors and logs show.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::{HeaderMap, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use thiserror::Error;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::FetchConfig;
use crate::domain::retry::{backoff, parse_retry_after};
use crate::metrics::Metrics;

/// The robots.txt product token cxpulse answers to.
pub const ROBOTS_AGENT: &str = "cxpulse";

/// How long a host's robots.txt is trusted before it is fetched again.
const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Error)]
pub enum FetchError {
    #[error("invalid URL `{0}`")]
    InvalidUrl(String),
    #[error("{url} is disallowed by the site's robots.txt")]
    Robots { url: String },
    /// The host's robots.txt could not be read (5xx or no answer): RFC 9309 says to assume
    /// "disallow" for now, so the page is not fetched; robots.txt is asked again after `wait`.
    #[error("{url}: the site's robots.txt could not be read; pages of the host wait, next try in {}s", wait.as_secs())]
    RobotsUnavailable { url: String, wait: Duration },
    #[error("{url} answered HTTP {status}")]
    Status {
        url: String,
        status: u16,
        /// What the server asked for in `Retry-After`, if anything.
        retry_after: Option<Duration>,
        /// The start of the error body (APIs say why there: `ExpiredToken`, `quotaExceeded`);
        /// kept out of the message, which goes to logs and `/sources`.
        detail: Option<String>,
    },
    /// The server's rate-limit headers said the budget is spent until later: nothing was sent.
    #[error("{url}: the server's rate limit is spent for {}s", wait.as_secs())]
    Throttled { url: String, wait: Duration },
    #[error("{url}: response larger than the {limit}-byte cap (fetch.max_body_bytes)")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: timed out")]
    Timeout { url: String },
    #[error("{url}: cannot connect ({message})")]
    Connect { url: String, message: String },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    /// The server answered with a captcha, a login wall or an "access denied" page instead of
    /// content: never parsed as posts.
    #[error("{url}: the site answered with a {what} page instead of content")]
    Blocked { url: String, what: &'static str },
}

impl FetchError {
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::Robots { .. } => "robots",
            FetchError::RobotsUnavailable { .. } => "robots_unavailable",
            FetchError::Status { status: 429, .. } => "rate_limited",
            FetchError::Status { status, .. } if *status >= 500 => "http_5xx",
            FetchError::Status { .. } => "http_4xx",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Timeout { .. } => "timeout",
            FetchError::Connect { .. } => "unreachable",
            FetchError::Transport { .. } => "transport",
            FetchError::Blocked { what, .. } => what,
            FetchError::Throttled { .. } => "rate_limited",
        }
    }

    /// Worth another try later (as opposed to a request that will never succeed as it is).
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::Timeout { .. }
            | FetchError::Connect { .. }
            | FetchError::Transport { .. } => true,
            _ => false,
        }
    }

    /// The delay the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            FetchError::Throttled { wait, .. } | FetchError::RobotsUnavailable { wait, .. } => {
                Some(*wait)
            }
            _ => None,
        }
    }
}

/// How long a request waits inside a poll for a host's spent rate limit to reset; longer waits
/// end the poll with [`FetchError::Throttled`] and the scheduler comes back after the reset.
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The start of an error body kept in [`FetchError::Status`].
const ERROR_DETAIL_BYTES: usize = 2048;

/// One API request beyond a plain GET: a method, headers (credentials among them) and a body.
#[derive(Clone)]
pub struct ApiRequest {
    pub method: reqwest::Method,
    pub url: String,
    /// Sent as given; every value is marked sensitive, so no debug output shows it.
    pub headers: Vec<(reqwest::header::HeaderName, String)>,
    /// `(content type, bytes)`.
    pub body: Option<(&'static str, Vec<u8>)>,
}

/// Header values and the body may hold credentials: debug output shows neither.
impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.as_ref().map(|(_, b)| b.len()))
            .finish()
    }
}

impl ApiRequest {
    pub fn get(url: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method: reqwest::Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn post(url: impl Into<String>, content_type: &'static str, body: Vec<u8>) -> ApiRequest {
        ApiRequest {
            method: reqwest::Method::POST,
            url: url.into(),
            headers: Vec::new(),
            body: Some((content_type, body)),
        }
    }

    pub fn header(mut self, name: reqwest::header::HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Robots.txt only binds crawlers of pages; feeds and APIs are published for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    Feed,
    Page,
}

#[derive(Debug)]
pub struct Body {
    pub url: Url,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    /// The `rel="next"` target of a `Link` header (API paging, e.g. Mastodon's `max_id`).
    pub next_link: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    Fresh(Body),
    /// The conditional GET said nothing changed since the last fetch.
    NotModified,
}

enum Robots {
    AllowAll,
    Rules(Box<texting_robots::Robot>),
    /// robots.txt answered 5xx or not at all: every page of the host waits until it is read.
    Unavailable,
}

/// A host's robots.txt as last read, and how long that reading holds.
struct RobotsEntry {
    read_at: Instant,
    /// A day for rules read; a short, growing wait while robots.txt cannot be read.
    valid_for: Duration,
    rules: Arc<Robots>,
    /// Reads in a row that found robots.txt unavailable.
    failures: u32,
}

/// What a host's robots.txt says about one page.
enum Verdict {
    Allowed,
    Disallowed,
    /// Unknown for now; ask again after this long.
    Unavailable(Duration),
}

struct Host {
    permits: Semaphore,
    /// Earliest moment the next request to this host may start.
    next_at: tokio::sync::Mutex<Instant>,
    robots: tokio::sync::Mutex<Option<RobotsEntry>>,
    /// Crawl-delay from robots.txt, if longer than the configured interval.
    crawl_delay: Mutex<Option<Duration>>,
    /// Set when the host's rate-limit headers said its budget is spent: no request before this.
    spent_until: Mutex<Option<Instant>>,
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The polite HTTP client. One is built per daemon; each source polls through its own view
/// ([`Fetcher::for_source`]), which shares the per-host state (rate limits, robots.txt) but keeps
/// its own conditional-GET validators: two sources (or products) on one URL must each read the
/// page once, and a source that has stored nothing from a page must never be told "not
/// modified".
pub struct Fetcher {
    client: reqwest::Client,
    cfg: FetchConfig,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    /// Validators this fetcher sends, by URL.
    validators: Mutex<HashMap<String, Validators>>,
    /// A source's fetcher: validators of answers whose items are not stored yet. They are sent
    /// only after [`Fetcher::commit_validators`] (the scheduler calls it once the poll's items
    /// are stored). `None`: a fetcher of its own uses every answer's validators at once.
    pending: Option<Mutex<HashMap<String, Validators>>>,
    metrics: Arc<Metrics>,
}

impl Fetcher {
    pub fn new(cfg: FetchConfig, metrics: Arc<Metrics>) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .connect_timeout(cfg.connect_timeout)
            .read_timeout(cfg.read_timeout)
            .timeout(cfg.read_timeout * 2)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError::Transport {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Fetcher {
            client,
            cfg,
            hosts: Arc::new(Mutex::new(HashMap::new())),
            validators: Mutex::new(HashMap::new()),
            pending: None,
            metrics,
        })
    }

    /// A view for one source: the same client and per-host state, validators of its own that
    /// it sends only for pages whose items it has stored.
    pub fn for_source(&self) -> Fetcher {
        Fetcher {
            client: self.client.clone(),
            cfg: self.cfg.clone(),
            hosts: self.hosts.clone(),
            validators: Mutex::new(HashMap::new()),
            pending: Some(Mutex::new(HashMap::new())),
            metrics: self.metrics.clone(),
        }
    }

    /// The items of the answers read since the last commit are stored: their validators may
    /// be sent from now on.
    pub fn commit_validators(&self) {
        if let Some(p) = &self.pending {
            let fresh = std::mem::take(&mut *p.lock().expect("validators lock poisoned"));
            self.validators
                .lock()
                .expect("validators lock poisoned")
                .extend(fresh);
        }
    }

    /// The items of the answers read since the last commit were not stored: forget their
    /// validators, so the next GET reads those pages again in full.
    pub fn discard_validators(&self) {
        if let Some(p) = &self.pending {
            p.lock().expect("validators lock poisoned").clear();
        }
    }

    /// The validators to keep with the source's position: the committed ones and, when the
    /// poll being stored now is complete (`with_pending`), those of its answers.
    pub fn export_validators(&self, with_pending: bool) -> Vec<u8> {
        let mut all = self
            .validators
            .lock()
            .expect("validators lock poisoned")
            .clone();
        if let (true, Some(p)) = (with_pending, &self.pending) {
            all.extend(p.lock().expect("validators lock poisoned").clone());
        }
        serde_json::to_vec(&all).unwrap_or_default()
    }

    /// Takes back validators kept with the source's position (after a restart). Unreadable
    /// bytes are ignored: the next GETs are then unconditional, which is always safe.
    pub fn import_validators(&self, bytes: &[u8]) {
        if let Ok(map) = serde_json::from_slice::<HashMap<String, Validators>>(bytes) {
            self.validators
                .lock()
                .expect("validators lock poisoned")
                .extend(map);
        }
    }

    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    fn host(&self, url: &Url) -> Arc<Host> {
        let key = host_key(url);
        let mut hosts = self.hosts.lock().expect("hosts lock poisoned");
        hosts
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Semaphore::new(self.cfg.per_host_concurrency),
                    next_at: tokio::sync::Mutex::new(Instant::now()),
                    robots: tokio::sync::Mutex::new(None),
                    crawl_delay: Mutex::new(None),
                    spent_until: Mutex::new(None),
                })
            })
            .clone()
    }

    /// GETs `url` politely: conditional on the last response's validators, retried on transient
    /// failures, capped in size.
    pub async fn get(&self, url: &str, kind: FetchKind) -> Result<Fetched, FetchError> {
        let parsed = Url::parse(url).map_err(|_| FetchError::InvalidUrl(url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::InvalidUrl(url.to_string()));
        }
        let host = self.host(&parsed);
        if kind == FetchKind::Page && self.cfg.respect_robots {
            match self.robots_verdict(&host, &parsed).await? {
                Verdict::Allowed => {}
                Verdict::Disallowed => {
                    self.count(&parsed, "robots");
                    return Err(FetchError::Robots {
                        url: url.to_string(),
                    });
                }
                Verdict::Unavailable(wait) => {
                    self.count(&parsed, "robots_unavailable");
                    return Err(FetchError::RobotsUnavailable {
                        url: url.to_string(),
                        wait,
                    });
                }
            }
        }
        let req = ApiRequest::get(url);
        self.with_retries(&host, &parsed, &req, true).await
    }

    /// Sends an API request (credentials in its headers or body) with the same politeness as
    /// [`Fetcher::get`] but never conditionally: an authenticated answer is not cached.
    pub async fn call(&self, req: &ApiRequest) -> Result<Body, FetchError> {
        let parsed =
            Url::parse(&req.url).map_err(|_| FetchError::InvalidUrl(req.url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(FetchError::InvalidUrl(req.url.to_string()));
        }
        let host = self.host(&parsed);
        match self.with_retries(&host, &parsed, req, false).await? {
            Fetched::Fresh(b) => Ok(b),
            Fetched::NotModified => Err(FetchError::Transport {
                url: req.url.clone(),
                message: "304 Not Modified to an unconditional request".into(),
            }),
        }
    }

    async fn with_retries(
        &self,
        host: &Host,
        parsed: &Url,
        req: &ApiRequest,
        conditional: bool,
    ) -> Result<Fetched, FetchError> {
        let url = req.url.as_str();
        let mut attempt = 0u32;
        loop {
            let r = self.attempt(host, parsed, req, conditional).await;
            match r {
                Err(e) if e.is_transient() && attempt < self.cfg.max_retries => {
                    let delay = self.retry_delay(attempt, e.retry_after());
                    tracing::debug!(url, attempt, delay_ms = delay.as_millis() as u64, error = %e, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Exponential backoff with "equal jitter" (half fixed, half random) so that many sources
    /// failing together do not retry in lockstep; a server's `Retry-After` wins when it is longer.
    fn retry_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        backoff(
            self.cfg.backoff_base,
            self.cfg.backoff_max,
            attempt,
            retry_after,
        )
    }

    async fn wait_turn(&self, host: &Host) {
        let interval = {
            let cd = *host.crawl_delay.lock().expect("crawl delay lock poisoned");
            cd.map_or(self.cfg.per_host_min_interval, |d| {
                d.max(self.cfg.per_host_min_interval)
            })
        };
        let start = {
            let mut next = host.next_at.lock().await;
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + interval;
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }

    /// Waits out a spent rate limit when the reset is near; a far one is an error.
    async fn wait_rate_limit(&self, host: &Host, url: &Url) -> Result<(), FetchError> {
        let until = *host.spent_until.lock().expect("rate limit lock poisoned");
        let Some(until) = until else { return Ok(()) };
        let wait = until.saturating_duration_since(Instant::now());
        if wait > MAX_RATE_LIMIT_WAIT {
            self.count(url, "rate_limited");
            return Err(FetchError::Throttled {
                url: url.to_string(),
                wait,
            });
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// Remembers a spent budget announced by `X-Ratelimit-Remaining`/`-Reset` (Reddit: reset in
    /// seconds) or `RateLimit-Remaining`/`-Reset` (Bluesky: reset as a Unix time).
    ///
    /// `RateLimit-*` budgets are per endpoint (Bluesky's sign-in has its own daily one), so they
    /// hold the host back only when a request was refused with 429; Reddit's `X-Ratelimit-*`
    /// is the client's whole budget and counts as soon as it is spent.
    fn note_rate_limit(&self, host: &Host, headers: &HeaderMap, status: StatusCode) {
        if status != StatusCode::TOO_MANY_REQUESTS && !headers.contains_key("x-ratelimit-remaining")
        {
            return;
        }
        let Some(wait) = spent_rate_limit(headers) else {
            return;
        };
        let mut slot = host.spent_until.lock().expect("rate limit lock poisoned");
        let until = Instant::now() + wait;
        *slot = Some(slot.map_or(until, |u| u.max(until)));
    }

    async fn attempt(
        &self,
        host: &Host,
        url: &Url,
        spec: &ApiRequest,
        conditional: bool,
    ) -> Result<Fetched, FetchError> {
        let _permit = host
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        self.wait_turn(host).await;
        self.wait_rate_limit(host, url).await?;
        let key = url.to_string();
        let mut req = self.client.request(spec.method.clone(), url.clone());
        for (name, value) in &spec.headers {
            let mut v = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                FetchError::Transport {
                    url: key.clone(),
                    message: format!("header {name} is not a valid header value"),
                }
            })?;
            v.set_sensitive(true);
            req = req.header(name, v);
        }
        if let Some((content_type, body)) = &spec.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, *content_type)
                .body(body.clone());
        }
        if conditional {
            let v = self
                .validators
                .lock()
                .expect("validators lock poisoned")
                .get(&key)
                .cloned()
                .unwrap_or_default();
            if let Some(e) = v.etag {
                req = req.header(IF_NONE_MATCH, e);
            }
            if let Some(l) = v.last_modified {
                req = req.header(IF_MODIFIED_SINCE, l);
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let err = classify_reqwest(&key, &e);
                self.count(url, err.reason());
                return Err(err);
            }
        };
        let status = resp.status();
        self.note_rate_limit(host, resp.headers(), status);
        if status == StatusCode::NOT_MODIFIED {
            self.count(url, "not_modified");
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            // Cloudflare marks a challenge page in a header: it is a captcha, whatever the body.
            let challenged = header_str(
                resp.headers(),
                reqwest::header::HeaderName::from_static("cf-mitigated"),
            )
            .is_some_and(|v| v.eq_ignore_ascii_case("challenge"));
            if challenged {
                self.count(url, "captcha");
                return Err(FetchError::Blocked {
                    url: key,
                    what: "captcha",
                });
            }
            let retry_after = parse_retry_after(resp.headers());
            let detail = error_detail(resp).await;
            let err = FetchError::Status {
                url: key,
                status: status.as_u16(),
                retry_after,
                detail,
            };
            self.count(url, err.reason());
            return Err(err);
        }
        let limit = self.cfg.max_body_bytes;
        if resp.content_length().is_some_and(|l| l > limit) {
            self.count(url, "too_large");
            return Err(FetchError::TooLarge { url: key, limit });
        }
        let validators = Validators {
            etag: header_str(resp.headers(), ETAG),
            last_modified: header_str(resp.headers(), LAST_MODIFIED),
        };
        let content_type = header_str(resp.headers(), reqwest::header::CONTENT_TYPE);
        let next_link =
            header_str(resp.headers(), reqwest::header::LINK).and_then(|l| parse_next_link(&l));
        let final_url = resp.url().clone();
        let mut stream = resp.bytes_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify_reqwest(&key, &e))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                self.count(url, "too_large");
                return Err(FetchError::TooLarge { url: key, limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        if let Some(what) = blocked_page(&bytes) {
            self.count(url, what);
            return Err(FetchError::Blocked { url: key, what });
        }
        if validators.etag.is_some() || validators.last_modified.is_some() {
            self.pending
                .as_ref()
                .unwrap_or(&self.validators)
                .lock()
                .expect("validators lock poisoned")
                .insert(key, validators);
        }
        self.count(url, "ok");
        Ok(Fetched::Fresh(Body {
            url: final_url,
            content_type,
            bytes,
            next_link,
        }))
    }

    /// Forgets the validators of `url`, so the next GET is unconditional (used when a source
    /// must re-read a feed whose last body it could not store).
    pub fn forget_validators(&self, url: &str) {
        self.validators
            .lock()
            .expect("validators lock poisoned")
            .remove(url);
        if let Some(p) = &self.pending {
            p.lock().expect("validators lock poisoned").remove(url);
        }
    }

    async fn robots_verdict(&self, host: &Host, url: &Url) -> Result<Verdict, FetchError> {
        let mut slot = host.robots.lock().await;
        let fresh = slot
            .as_ref()
            .is_some_and(|e| e.read_at.elapsed() < e.valid_for);
        if !fresh {
            let rules = self.fetch_robots(host, url).await?;
            let (valid_for, failures) = match rules {
                // A transient failure must not block the host for a day (RFC 9309 §2.3.1.4):
                // ask again soon, less often while it stays unreadable.
                Robots::Unavailable => {
                    let failures = slot.as_ref().map_or(0, |e| e.failures) + 1;
                    let wait = self
                        .cfg
                        .robots_retry
                        .saturating_mul(1u32 << (failures - 1).min(16))
                        .min(self.cfg.backoff_max.max(self.cfg.robots_retry));
                    (wait, failures)
                }
                _ => (ROBOTS_TTL, 0),
            };
            *slot = Some(RobotsEntry {
                read_at: Instant::now(),
                valid_for,
                rules: Arc::new(rules),
                failures,
            });
        }
        let e = slot.as_ref().expect("just filled");
        Ok(match e.rules.as_ref() {
            Robots::AllowAll => Verdict::Allowed,
            Robots::Rules(r) if r.allowed(url.as_str()) => Verdict::Allowed,
            Robots::Rules(_) => Verdict::Disallowed,
            Robots::Unavailable => {
                Verdict::Unavailable(e.valid_for.saturating_sub(e.read_at.elapsed()))
            }
        })
    }

    /// RFC 9309: a missing robots.txt (4xx) allows everything; an unreachable one (5xx, network)
    /// means "assume complete disallow" until it can be read, which is soon asked again.
    async fn fetch_robots(&self, host: &Host, url: &Url) -> Result<Robots, FetchError> {
        let mut robots_url = url.clone();
        robots_url.set_path("/robots.txt");
        robots_url.set_query(None);
        robots_url.set_fragment(None);
        let req = ApiRequest::get(robots_url.as_str());
        Ok(match self.attempt(host, &robots_url, &req, false).await {
            Ok(Fetched::Fresh(b)) => match texting_robots::Robot::new(ROBOTS_AGENT, &b.bytes) {
                Ok(r) => {
                    if let Some(d) = r.delay {
                        *host.crawl_delay.lock().expect("crawl delay lock poisoned") =
                            Some(Duration::from_secs_f32(d.clamp(0.0, 60.0)));
                    }
                    Robots::Rules(Box::new(r))
                }
                Err(_) => Robots::AllowAll,
            },
            Ok(Fetched::NotModified) => Robots::AllowAll,
            Err(FetchError::Status { status, .. }) if (400..500).contains(&status) => {
                Robots::AllowAll
            }
            // Our own hold on a spent rate limit says nothing about the rules: pass it up,
            // uncached, instead of a day of "disallowed".
            Err(e @ FetchError::Throttled { .. }) => return Err(e),
            Err(_) => Robots::Unavailable,
        })
    }

    fn count(&self, url: &Url, outcome: &str) {
        self.metrics
            .fetch_requests
            .with_label_values(&[&host_key(url), outcome])
            .inc();
    }
}

fn host_key(url: &Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_string(),
    }
}

fn header_str(h: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    h.get(name)?.to_str().ok().map(str::to_string)
}

/// What kind of wall an HTML body is (`captcha`, `login_wall`, `access_denied`), if it is one.
/// Only HTML documents are looked at, and only at their title and at markup that challenge
/// pages use, so a review that merely mentions a captcha is still content.
pub fn blocked_page(bytes: &[u8]) -> Option<&'static str> {
    let head = &bytes[..bytes.len().min(32 * 1024)];
    let doc = String::from_utf8_lossy(head).to_ascii_lowercase();
    let start = doc.trim_start();
    if !(start.starts_with("<!doctype html") || start.starts_with("<html")) {
        return None;
    }
    let title = doc
        .split_once("<title")
        .and_then(|(_, r)| r.split_once('>'))
        .and_then(|(_, r)| r.split_once("</title"))
        .map(|(t, _)| t.trim().to_string())
        .unwrap_or_default();
    let title_has = |ws: &[&str]| ws.iter().any(|w| title.contains(w));
    // Cloudflare's block page ("Attention Required! | Cloudflare", "Sorry, you have been
    // blocked") is a refusal, not a challenge: solving nothing will get through.
    if title_has(&["you have been blocked"])
        || doc.contains("data-translate=\"block_headline\"")
        || (doc.contains("cf-error-details") && doc.contains("you have been blocked"))
    {
        return Some("blocked");
    }
    let markup = [
        "g-recaptcha",
        "h-captcha",
        "cf-challenge",
        "cf_chl_",
        "challenge-platform",
        "px-captcha",
        "captcha-delivery",
    ];
    if title_has(&[
        "just a moment",
        "are you a robot",
        "verify you are human",
        "captcha",
        "security check",
    ]) || markup.iter().any(|m| doc.contains(m))
    {
        return Some("captcha");
    }
    if title_has(&["access denied", "403 forbidden"]) {
        return Some("access_denied");
    }
    if title_has(&["request blocked"]) {
        return Some("blocked");
    }
    if title_has(&["log in", "login", "sign in", "sign-in"]) && doc.contains("type=\"password\"") {
        return Some("login_wall");
    }
    None
}

/// The target of `rel="next"` in an RFC 8288 `Link` header value.
pub fn parse_next_link(v: &str) -> Option<String> {
    v.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "rel=\"next\"" || p == "rel=next"
        });
        next.then(|| target.to_string())
    })
}

/// How long until a spent rate limit resets, when the headers say it is spent.
pub fn spent_rate_limit(h: &HeaderMap) -> Option<Duration> {
    let num = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| h.get(*n)?.to_str().ok()?.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite())
    };
    let remaining = num(["x-ratelimit-remaining", "ratelimit-remaining"])?;
    if remaining >= 1.0 {
        return None;
    }
    let reset = num(["x-ratelimit-reset", "ratelimit-reset"])?;
    // Above a billion it is a Unix time (no window lasts 30 years).
    let secs = if reset > 1e9 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        reset - now
    } else {
        reset
    };
    Some(Duration::from_secs_f64(secs.clamp(0.0, 24.0 * 3600.0)))
}

/// The start of an error response's body, as text.
async fn error_detail(resp: reqwest::Response) -> Option<String> {
    let mut stream = resp.bytes_stream();
    let mut bytes = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= ERROR_DETAIL_BYTES {
            break;
        }
    }
    bytes.truncate(ERROR_DETAIL_BYTES);
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn classify_reqwest(url: &str, e: &reqwest::Error) -> FetchError {
    let url = url.to_string();
    if e.is_timeout() {
        FetchError::Timeout { url }
    } else if e.is_connect() {
        FetchError::Connect {
            url,
            message: root_cause(e),
        }
    } else {
        FetchError::Transport {
            url,
            message: root_cause(e),
        }
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {

    /// Cloudflare's block page is `blocked`, its challenge `captcha`: they call for different
    /// things (a challenge may pass later, a block will not).
    #[test]
    fn a_cloudflare_block_is_blocked_and_its_challenge_a_captcha() {
        let block = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body><div id=\"cf-error-details\"><h1 data-translate=\"block_headline\">Sorry, you have been blocked</h1><h2>You are unable to access shop.example.com</h2></div></body></html>";
        assert_eq!(blocked_page(block.as_bytes()), Some("blocked"));
        let challenge = "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body><script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1\"></script></body></html>";
        assert_eq!(blocked_page(challenge.as_bytes()), Some("captcha"));
        let review = "<!DOCTYPE html><html><head><title>Acme Phone reviews</title></head><body><p>The app said you have been blocked, then it worked.</p></body></html>";
        assert_eq!(blocked_page(review.as_bytes()), None);
    }

    #[test]
    fn walls_are_recognised_and_reviews_mentioning_them_are_not() {
        let page = |title: &str, body: &str| {
            format!("<!DOCTYPE html><html><head><title>{title}</title></head><body>{body}</body></html>")
        };
        assert_eq!(
            blocked_page(page("Just a moment...", "").as_bytes()),
            Some("captcha")
        );
        assert_eq!(
            blocked_page(page("Reviews", "<div class=\"g-recaptcha\"></div>").as_bytes()),
            Some("captcha")
        );
        assert_eq!(
            blocked_page(page("Access Denied", "").as_bytes()),
            Some("access_denied")
        );
        assert_eq!(
            blocked_page(page("Log in to continue", "<input type=\"password\">").as_bytes()),
            Some("login_wall")
        );
        assert_eq!(
            blocked_page(
                page(
                    "Acme Phone reviews",
                    "The captcha at checkout was annoying."
                )
                .as_bytes()
            ),
            None
        );
        assert_eq!(blocked_page(b"{\"title\": \"Just a moment\"}"), None);
    }

    use super::*;

    #[test]
    fn spent_rate_limits_in_seconds_or_unix_time() {
        let h = |pairs: &[(&'static str, String)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        // Reddit: floats, reset in seconds.
        let reddit = h(&[
            ("x-ratelimit-remaining", "0.0".into()),
            ("x-ratelimit-reset", "412".into()),
        ]);
        assert_eq!(spent_rate_limit(&reddit), Some(Duration::from_secs(412)));
        let left = h(&[
            ("x-ratelimit-remaining", "12.0".into()),
            ("x-ratelimit-reset", "412".into()),
        ]);
        assert_eq!(spent_rate_limit(&left), None);
        // Bluesky: reset as a Unix time.
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 300;
        let bsky = h(&[
            ("ratelimit-remaining", "0".into()),
            ("ratelimit-reset", at.to_string()),
        ]);
        let d = spent_rate_limit(&bsky).unwrap();
        assert!(
            d > Duration::from_secs(290) && d <= Duration::from_secs(300),
            "{d:?}"
        );
        assert_eq!(
            spent_rate_limit(&h(&[("x-ratelimit-remaining", "0".into())])),
            None
        );
    }
}
