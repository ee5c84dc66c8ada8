//! The config file's shape: every key, its default and its meaning, as serde structs.
//!
//! This is the reference for `config/cxpulse.toml`; each field's doc comment is the key's doc.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::sources::SourceConfig;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub model: RawModel,
    #[serde(default)]
    pub fetch: RawFetch,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub authenticity: RawAuthenticity,
    #[serde(default)]
    pub digest: RawDigest,
    #[serde(default)]
    pub alerts: RawAlerts,
    /// Where digests and alerts go; several at once. None: digests are still produced and
    /// stored (API, CLI), just not sent.
    #[serde(default)]
    pub deliver: Vec<DeliverConfig>,
    /// The products this instance watches.
    #[serde(default)]
    pub products: Vec<RawProduct>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Address of the HTTP API and dashboard. Loopback by default: exposing it is a decision.
    pub bind: String,
    /// Bearer token required by every write endpoint (16+ characters). Unset: writes are refused.
    pub api_token: Option<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most texts accepted by one `POST /classify` or ingest request.
    pub max_batch_texts: usize,
    /// Requests per second each client (peer IP address) may make on average; 0 turns the
    /// limit off. Behind a reverse proxy every client shares the proxy's address: limit there.
    pub rate_limit_per_client_rps: u32,
    /// Requests a client may make at once before the average applies (a dashboard load).
    pub rate_limit_burst: u32,
    /// Memory for finished answers to trend and post queries, reused until the product's
    /// data changes (a dashboard refresh costs nothing); 0 turns the cache off.
    pub response_cache_mib: usize,
    /// Seconds a client has to send a request's headers once it has started them; a client
    /// trickling a header line at a time is disconnected after this.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's whole body; past it the answer is 408.
    pub body_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit with no request before it is closed.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Trend, post, summary and report queries computed at once; 0: two per CPU core.
    pub max_concurrent_queries: usize,
    /// Queries that may wait for a free slot; past that (or past the wait below) the answer
    /// is 503 `overloaded` with `Retry-After`.
    pub max_queued_queries: usize,
    /// Milliseconds a query may wait for a slot before it is refused as `overloaded`.
    pub query_queue_timeout_ms: u64,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            bind: "127.0.0.1:7878".into(),
            api_token: None,
            max_body_bytes: 1024 * 1024,
            max_batch_texts: 256,
            rate_limit_per_client_rps: 100,
            rate_limit_burst: 200,
            response_cache_mib: 16,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            idle_timeout_secs: 60,
            max_connections: 1024,
            max_concurrent_queries: 0,
            max_queued_queries: 64,
            query_queue_timeout_ms: 40,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStorage {
    /// Folder of the sled database (relative paths are relative to this config file).
    pub path: PathBuf,
    /// Secret salt for pseudonymising author names (8+ characters; prefer CXPULSE_AUTHOR_SALT).
    pub author_salt: Option<String>,
    /// Store authors as salted hashes (true) or as given (false).
    pub pseudonymise_authors: bool,
    /// Delete posts published more than this many days ago, with their share of the trends
    /// (checked daily). 0 keeps everything. At least 35 (the digest's 28-day baseline and a
    /// week of catch-up) and more than `authenticity.window_days`.
    pub retain_days: u32,
}

impl Default for RawStorage {
    fn default() -> Self {
        RawStorage {
            path: "data/cxpulse.sled".into(),
            author_salt: None,
            pseudonymise_authors: true,
            retain_days: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawModel {
    /// Model folder: model.onnx, tokenizer.json, labels.json, README.md.
    pub dir: PathBuf,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
    /// Path of libonnxruntime.so; default: ORT_DYLIB_PATH, then where scripts/setup.sh put it.
    pub ort_dylib_path: Option<PathBuf>,
}

impl Default for RawModel {
    fn default() -> Self {
        RawModel {
            dir: "../models/tiny-test".into(),
            batch_size: 32,
            threads: 2,
            ort_dylib_path: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFetch {
    /// Contact (URL or e-mail) put in the User-Agent so site owners can reach the operator.
    pub contact: String,
    pub connect_timeout_secs: u64,
    pub read_timeout_secs: u64,
    /// Larger responses are cut off and reported, never parsed.
    pub max_body_bytes: u64,
    /// Retries after a failed request (5xx, 429, timeouts), with exponential backoff and jitter.
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    /// Ceiling of the retry delay and of a source's backoff between failing polls.
    pub backoff_max_secs: u64,
    /// Minimum gap between two requests to the same host.
    pub per_host_min_interval_ms: u64,
    /// Requests in flight to one host at once.
    pub per_host_concurrency: usize,
    /// Honour robots.txt for page fetches.
    pub respect_robots: bool,
    /// After robots.txt could not be read (5xx or no answer), pages of that host wait this many
    /// seconds before it is asked again (RFC 9309: assume "disallow" meanwhile); the wait
    /// doubles while it stays unreadable, up to `backoff_max_secs`. A 4xx means "no rules".
    pub robots_retry_secs: u64,
    /// Hard cap on items taken from one poll of one source.
    pub max_items_per_fetch: usize,
}

impl Default for RawFetch {
    fn default() -> Self {
        RawFetch {
            contact: String::new(),
            connect_timeout_secs: 10,
            read_timeout_secs: 30,
            max_body_bytes: 5 * 1024 * 1024,
            max_retries: 3,
            backoff_base_ms: 500,
            backoff_max_secs: 600,
            per_host_min_interval_ms: 1000,
            per_host_concurrency: 2,
            respect_robots: true,
            robots_retry_secs: 60,
            max_items_per_fetch: 1000,
        }
    }
}

/// Daily digests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDigest {
    /// IANA time zone whose calendar days the digests cover (e.g. "Europe/Berlin").
    pub timezone: String,
    /// Produce and deliver each product's digest of the previous day by itself.
    pub enabled: bool,
    /// Local time ("HH:MM", in `timezone`) at which the previous day's digest is produced.
    pub send_at: String,
    /// After downtime, missed days up to this many back are produced (oldest first); older
    /// ones are left out. Days before the first start of the scheduler are never produced.
    pub catch_up_days: u32,
}

impl Default for RawDigest {
    fn default() -> Self {
        RawDigest {
            timezone: "UTC".into(),
            enabled: true,
            send_at: "07:00".into(),
            catch_up_days: 7,
        }
    }
}

/// Intraday alerts: a spike of a negative emotion, or of suspicious reviews, in the last hours
/// against the product's trailing 28 days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAlerts {
    pub enabled: bool,
    /// How often every product is checked.
    pub check_interval_secs: u64,
    /// The recent window tested: this many whole hours before the current one, and the
    /// current hour so far.
    pub window_hours: u32,
    /// Fewest scored posts in the window before anything can alert.
    pub min_posts: u64,
    /// Smallest rise of a share (absolute, 0–1) that alerts.
    pub min_share_change: f64,
    /// One-sided z of the two-proportion test from which a rise alerts. High, because every
    /// product is tested every few minutes on a dozen labels.
    pub min_z: f64,
    /// After an alert, the same product and kind stays quiet this long, even if the spike
    /// ends and comes back.
    pub cooldown_hours: u32,
    /// Emotion labels watched for spikes.
    pub negative_emotions: Vec<String>,
}

impl Default for RawAlerts {
    fn default() -> Self {
        RawAlerts {
            enabled: true,
            check_interval_secs: 600,
            window_hours: 3,
            min_posts: 20,
            min_share_change: 0.10,
            min_z: 4.5,
            cooldown_hours: 12,
            negative_emotions: [
                "anger",
                "annoyance",
                "disappointment",
                "disapproval",
                "disgust",
                "fear",
                "sadness",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// One place digests and alerts are delivered to, chosen by `kind`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeliverConfig {
    /// Files in a folder: `<path>/<product>/<date>.<format>` and `<path>/<product>/alerts/`.
    Folder(FolderDeliverConfig),
    /// An HTTP POST of JSON: generic, or a Slack-compatible `{"text": …}` payload.
    Webhook(WebhookDeliverConfig),
    /// E-mail over SMTP.
    Smtp(SmtpDeliverConfig),
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FolderDeliverConfig {
    /// Unique among deliveries; default `folder`, `folder-2`, … Delivery records are kept
    /// under it, so renaming a delivery makes it deliver again.
    #[serde(default)]
    pub name: String,
    /// Relative paths are relative to the config file.
    pub path: PathBuf,
    /// Any of `md`, `html`, `json`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    #[serde(default = "yes")]
    pub digests: bool,
    #[serde(default = "yes")]
    pub alerts: bool,
}

fn default_formats() -> Vec<String> {
    vec!["md".into(), "html".into(), "json".into()]
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookDeliverConfig {
    #[serde(default)]
    pub name: String,
    /// http(s) URL. It often embeds a secret (Slack's does): `check-config` masks its path.
    /// Or set `url_env` instead.
    #[serde(default)]
    pub url: Option<String>,
    /// Name of an environment variable holding the URL.
    #[serde(default)]
    pub url_env: Option<String>,
    /// `json` (the digest or alert as JSON, with Markdown) or `slack` (`{"text": …}`).
    #[serde(default = "default_webhook_format")]
    pub format: String,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Tries per message, with exponential backoff between them (429, 5xx and network
    /// errors are retried; other statuses fail at once).
    #[serde(default = "default_webhook_attempts")]
    pub max_attempts: u32,
    #[serde(default = "yes")]
    pub digests: bool,
    #[serde(default = "yes")]
    pub alerts: bool,
}

fn default_webhook_format() -> String {
    "json".into()
}
fn default_webhook_timeout() -> u64 {
    10
}
fn default_webhook_attempts() -> u32 {
    4
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpDeliverConfig {
    #[serde(default)]
    pub name: String,
    pub host: String,
    /// Default: 587 for `starttls`, 465 for `tls`, 25 for `none`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (upgrade a plain connection; required, never skipped), `tls` (TLS from the
    /// first byte) or `none` (plain text: only for a relay on the same host).
    #[serde(default = "default_smtp_tls")]
    pub tls: String,
    /// Extra PEM root certificate for a server with a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Sender, e.g. "cxpulse <cx@example.com>".
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Environment variables holding the login; both unset means no authentication.
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "yes")]
    pub digests: bool,
    #[serde(default = "yes")]
    pub alerts: bool,
}

fn default_smtp_tls() -> String {
    "starttls".into()
}

/// When each authenticity signal fires (see src/domain/signal.rs and BENCHMARKS.md for how
/// the defaults were measured on injected campaigns).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAuthenticity {
    /// How far apart two posts may be to count as near-copies or one author's pattern.
    pub window_days: u64,
    /// Recent posts (all products together) kept in memory for near-copy and author matching:
    /// about 4 KB each with their LSH entries, measured (BENCHMARKS.md, daemon RSS).
    pub max_indexed_posts: usize,
    /// Estimated Jaccard similarity of character 5-grams from which texts by different authors
    /// are near-copies, when a text has at least two of them (a cluster).
    pub copy_paste_min_similarity: f64,
    /// Similarity from which a single pair is enough. Higher, because reviews written from the
    /// same habits ("comfortable right out of the box") share phrases pairwise; campaigns repeat.
    pub copy_paste_pair_similarity: f64,
    /// Shorter texts never count as copies: short praise ("Great shoes, love them") repeats
    /// naturally.
    pub copy_paste_min_words: usize,
    /// Fewest posts (or 5★/1★ reviews) in an hour or day that can be a burst.
    pub burst_min_posts: u64,
    /// A burst's count must be this unlikely under the source's baseline.
    pub burst_max_p_value: f64,
    /// …and at least this many times the baseline's expectation.
    pub burst_min_ratio: f64,
    /// Posts by one author within `author_window_hours` (any watched product) that raise the
    /// author signal.
    pub author_max_posts: usize,
    pub author_window_hours: u64,
    /// Machine-generated head probability from which its signal fires (0.98 keeps it under 2% of
    /// held-out human reviews with the shipped model; BENCHMARKS.md).
    pub machine_generated_min: f32,
    /// Deceptive head probability from which its signal fires. Unset (the default) means off:
    /// the head learned deception from hotel reviews only, and nothing checks it on other
    /// products (BENCHMARKS.md). Set it for hotel and travel products.
    pub deceptive_min: Option<f32>,
    /// Brand-authenticity head probability of `genuine` for the brand_genuine perception signal
    /// (set where it fires on at most 2% of ordinary reviews).
    pub brand_genuine_min: f32,
    /// …and of `fake` for brand_fake.
    pub brand_fake_min: f32,
    /// Sentiment probability against the rating (negative under 5★, positive under 1★).
    pub mismatch_min: f32,
}

impl Default for RawAuthenticity {
    fn default() -> Self {
        RawAuthenticity {
            window_days: 30,
            max_indexed_posts: 20_000,
            copy_paste_min_similarity: 0.5,
            copy_paste_pair_similarity: 0.75,
            copy_paste_min_words: 12,
            burst_min_posts: 8,
            burst_max_p_value: 1e-4,
            burst_min_ratio: 3.0,
            author_max_posts: 3,
            author_window_hours: 168,
            machine_generated_min: 0.98,
            deceptive_min: None,
            brand_genuine_min: 0.5,
            brand_fake_min: 0.5,
            mismatch_min: 0.8,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    /// A tracing filter: `info`, `debug`, `cxpulse=debug,info`…
    pub level: String,
    /// `text` for people, `json` for log shippers.
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProduct {
    /// Stable id used in URLs and the store (a-z, 0-9, '-', '_').
    pub id: String,
    /// Display name.
    pub name: String,
    /// A post is kept only if it contains one of these (case-insensitive, whole words).
    pub keywords: Vec<String>,
    /// …and none of these (e.g. "apple pie" for a brand called Apple).
    #[serde(default)]
    pub exclusions: Vec<String>,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
}
