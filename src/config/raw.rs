//! The config file's shape: every key, its default and its meaning, as serde structs.
//!
//! This is the reference for `config/cxpulse.toml`; each field's doc comment is the key's doc.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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

/// When each authenticity signal fires (see src/authenticity/mod.rs and BENCHMARKS.md for how
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

/// Keys every source kind has.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommonSource {
    /// Unique name across the config (default: `<product>-<kind>-<index>`).
    #[serde(default)]
    pub name: String,
    /// Seconds between polls.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

fn default_interval() -> u64 {
    900
}

/// One source of posts, chosen by `kind`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// A CSV or JSONL export on disk, read incrementally and watched for appended rows.
    File(Box<FileSourceConfig>),
    /// An RSS 2.0 or Atom feed.
    Rss(RssSourceConfig),
    /// Hacker News stories and comments through the Algolia search API.
    Hn(HnSourceConfig),
    /// Mastodon hashtag timelines on a list of instances.
    Mastodon(MastodonSourceConfig),
    /// Apple App Store customer reviews of one app, per country.
    #[serde(rename = "appstore")]
    AppStore(AppStoreSourceConfig),
    /// Lemmy posts and comments matching a query, on a list of instances.
    Lemmy(LemmySourceConfig),
    /// Product pages with schema.org `Review` markup (JSON-LD or microdata).
    Jsonld(JsonLdSourceConfig),
    /// Any review page, through CSS selectors.
    Selectors(SelectorsSourceConfig),
    /// Public Telegram channels, through their web previews.
    Telegram(TelegramSourceConfig),
    /// Bluesky posts live from the Jetstream firehose, kept when they match the product.
    BlueskyJetstream(JetstreamSourceConfig),
    /// Bluesky search (`app.bsky.feed.searchPosts`) with the user's app password.
    BlueskySearch(BlueskySearchSourceConfig),
    /// YouTube comment threads of videos or channels, with the user's API key.
    Youtube(YoutubeSourceConfig),
    /// Reddit search and subreddit comments, with the user's OAuth app.
    Reddit(RedditSourceConfig),
}

/// A credential, from the config file or (better) the environment. It is never printed:
/// `Debug` and `check-config` show `********`, and only the request that needs it reads it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one header or body that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("********")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JetstreamSourceConfig {
    #[serde(default)]
    pub name: String,
    /// Seconds between hand-overs of what the stream matched (the connection stays open).
    #[serde(default = "default_stream_interval")]
    pub interval_secs: u64,
    /// The Jetstream `subscribe` endpoint.
    #[serde(default = "default_jetstream_endpoint")]
    pub endpoint: String,
    /// Keep only posts tagged with one of these languages (e.g. ["en", "de"]); empty: all.
    #[serde(default)]
    pub langs: Vec<String>,
    /// Matched posts held between hand-overs; when full, reading pauses and the stream is
    /// resumed from its cursor later, so nothing is dropped.
    #[serde(default = "default_stream_buffer")]
    pub buffer_posts: usize,
}

fn default_stream_interval() -> u64 {
    60
}
fn default_jetstream_endpoint() -> String {
    "wss://jetstream2.us-east.bsky.network/subscribe".into()
}
fn default_stream_buffer() -> usize {
    1000
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskySearchSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Search query (Lucene-like syntax, e.g. `"nordwind" -job`).
    pub query: String,
    /// The account's handle or email, e.g. "brand.bsky.social".
    pub identifier: String,
    /// An app password (Settings → App passwords). Prefer `app_password_env`.
    #[serde(default)]
    pub app_password: Option<Secret>,
    /// The environment variable holding the app password.
    #[serde(default)]
    pub app_password_env: Option<String>,
    /// Only posts in this language (e.g. "en").
    #[serde(default)]
    pub lang: Option<String>,
    /// Most result pages (100 posts each) read per poll; the newest come first.
    #[serde(default = "default_hn_pages")]
    pub max_pages: u32,
    /// Look back this far on the first poll.
    #[serde(default = "default_hn_backfill")]
    pub backfill_days: u32,
    /// The account's service (PDS or entryway).
    #[serde(default = "default_bsky_service")]
    pub service: String,
}

fn default_bsky_service() -> String {
    "https://bsky.social".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct YoutubeSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Video ids (the `v=` of a watch URL) whose comments are read.
    #[serde(default)]
    pub video_ids: Vec<String>,
    /// Channel ids (`UC…`): comments on all of the channel's videos.
    #[serde(default)]
    pub channel_ids: Vec<String>,
    /// A YouTube Data API v3 key. Prefer `api_key_env`.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Quota units this source may spend per day (a page costs 1; the project default is
    /// 10 000 a day for everything that uses the key). The day ends at midnight Pacific time.
    #[serde(default = "default_youtube_quota")]
    pub daily_quota_units: u32,
    /// Most pages (100 threads each) read per video or channel per poll.
    #[serde(default = "default_hn_pages")]
    pub max_pages: u32,
    /// Also keep the replies that come with each thread.
    #[serde(default = "default_true")]
    pub include_replies: bool,
    /// Comments under the brand's own videos rarely name the product: by default all are kept.
    #[serde(default)]
    pub require_keywords: bool,
    /// The API's base URL (tests point it at a local server).
    #[serde(default = "default_youtube_base")]
    pub base_url: String,
}

fn default_youtube_quota() -> u32 {
    2000
}
fn default_youtube_base() -> String {
    "https://www.googleapis.com".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedditSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Search all of Reddit for posts matching this query.
    #[serde(default)]
    pub query: Option<String>,
    /// Subreddits (without `r/`) whose new comments are read.
    #[serde(default)]
    pub subreddits: Vec<String>,
    /// The OAuth app's client id (reddit.com/prefs/apps).
    pub client_id: String,
    /// The app's secret. Prefer `client_secret_env`.
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The environment variable holding the app's secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// For a "script" app: the account it runs as (otherwise the app reads anonymously).
    #[serde(default)]
    pub username: Option<String>,
    /// The environment variable holding that account's password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Resolved from `password_env`; never read from the file.
    #[serde(skip_deserializing)]
    pub password: Option<Secret>,
    /// Most listing pages (100 items each) read per query or subreddit per poll.
    #[serde(default = "default_reddit_pages")]
    pub max_pages: u32,
    /// The OAuth API's base URL (tests point it at a local server).
    #[serde(default = "default_reddit_api")]
    pub api_base: String,
    /// Where access tokens come from.
    #[serde(default = "default_reddit_token_url")]
    pub token_url: String,
}

fn default_reddit_pages() -> u32 {
    3
}
fn default_reddit_api() -> String {
    "https://oauth.reddit.com".into()
}
fn default_reddit_token_url() -> String {
    "https://www.reddit.com/api/v1/access_token".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Public channel names, as in t.me/s/<name>.
    pub channels: Vec<String>,
    /// Preview pages (about 20 messages each) read per channel per poll.
    #[serde(default = "default_mastodon_pages")]
    pub max_pages: u32,
    /// The preview site's base URL (tests point it at a local server).
    #[serde(default = "default_telegram_base")]
    pub base_url: String,
}

fn default_telegram_base() -> String {
    "https://t.me".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorsSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Pages to read (robots.txt is honoured for each).
    pub urls: Vec<String>,
    /// CSS selector of one review.
    pub item: String,
    /// Inside a review: its text (several matches are joined).
    pub text: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    /// Inside a review: its rating; the first number of its `content`, `data-rating`,
    /// `aria-label` or `title` attribute, else of its text.
    #[serde(default)]
    pub rating: Option<String>,
    /// The top of the site's rating scale.
    #[serde(default = "default_rating_max")]
    pub rating_max: f64,
    /// Inside a review: its date (`datetime` or `content` attribute, else text).
    #[serde(default)]
    pub date: Option<String>,
    /// chrono format of that date, e.g. "%d.%m.%Y"; default: RFC 3339 and common forms.
    #[serde(default)]
    pub date_format: Option<String>,
    /// Inside a review: a link to it (its `href` becomes the post's URL and id).
    #[serde(default)]
    pub link: Option<String>,
    /// The link to the next page of reviews.
    #[serde(default)]
    pub next_selector: Option<String>,
    #[serde(default = "default_jsonld_pages")]
    pub max_pages: u32,
    /// Kept unless this is set (a product's review page rarely repeats its name).
    #[serde(default)]
    pub require_keywords: bool,
}

fn default_rating_max() -> f64 {
    5.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JsonLdSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Product or review pages (robots.txt is honoured for each).
    pub urls: Vec<String>,
    /// CSS selector of the link to the next page of reviews, e.g. "a[rel=next]".
    #[serde(default)]
    pub next_selector: Option<String>,
    /// Most pages read from each URL per poll.
    #[serde(default = "default_jsonld_pages")]
    pub max_pages: u32,
    /// Reviews on a product's own page rarely repeat its name: kept unless this is set.
    #[serde(default)]
    pub require_keywords: bool,
}

fn default_jsonld_pages() -> u32 {
    5
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LemmySourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Instance base URLs, e.g. "https://lemmy.world".
    pub instances: Vec<String>,
    /// Search words (Lemmy's full-text search; keywords and exclusions still decide).
    pub query: String,
    /// `All` (default), `Posts` or `Comments`.
    #[serde(default = "default_lemmy_type")]
    pub search_type: String,
    /// Most pages (50 results each) read per instance per poll.
    #[serde(default = "default_mastodon_pages")]
    pub max_pages: u32,
    /// Look back this far on the first poll.
    #[serde(default = "default_hn_backfill")]
    pub backfill_days: u32,
}

fn default_lemmy_type() -> String {
    "All".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppStoreSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// The app's numeric id (the digits after `id` in its App Store URL).
    pub app_id: String,
    /// Two-letter storefront codes, e.g. ["us", "de"].
    #[serde(default = "default_countries")]
    pub countries: Vec<String>,
    /// Pages of 50 read per country (Apple serves at most 10).
    #[serde(default = "default_appstore_pages")]
    pub max_pages: u32,
    /// Reviews of an app rarely name it: by default every review is kept.
    #[serde(default)]
    pub require_keywords: bool,
    /// The feed's base URL (tests point it at a local server).
    #[serde(default = "default_appstore_base")]
    pub base_url: String,
}

fn default_countries() -> Vec<String> {
    vec!["us".into()]
}
fn default_appstore_pages() -> u32 {
    10
}
fn default_appstore_base() -> String {
    "https://itunes.apple.com".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Instance base URLs, e.g. "https://mastodon.social".
    pub instances: Vec<String>,
    /// Hashtags without `#`, e.g. "nordwind".
    pub tags: Vec<String>,
    /// Most pages (40 statuses each) read per instance and tag per poll.
    #[serde(default = "default_mastodon_pages")]
    pub max_pages: u32,
}

fn default_mastodon_pages() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    pub path: PathBuf,
    /// `csv` or `jsonl`; default from the file extension.
    #[serde(default)]
    pub format: Option<FileFormat>,
    #[serde(default)]
    pub columns: FileColumns,
    /// The top of the rating scale in the file (5 for stars); ratings are stored as 0–1.
    #[serde(default)]
    pub rating_max: Option<f64>,
    /// Skip rows whose text matches none of the product's keywords (false for exports that are
    /// already about the product, e.g. a review tool's per-product export).
    #[serde(default = "default_true")]
    pub require_keywords: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Jsonl,
}

/// Which column holds what. Only `text` is required.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileColumns {
    pub text: String,
    pub id: Option<String>,
    pub title: Option<String>,
    pub author: Option<String>,
    pub published: Option<String>,
    pub rating: Option<String>,
    pub url: Option<String>,
    /// A column naming the channel (webshop, forum…), kept as the post's segment.
    pub channel: Option<String>,
}

impl Default for FileColumns {
    fn default() -> Self {
        FileColumns {
            text: "text".into(),
            id: Some("id".into()),
            title: None,
            author: Some("author".into()),
            published: Some("published".into()),
            rating: Some("rating".into()),
            url: Some("url".into()),
            channel: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RssSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Feed URL (RSS 2.0 or Atom).
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HnSourceConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Full-text query (Algolia also matches split words: keep the product's keywords and
    /// exclusions for the final say).
    pub query: String,
    /// `story`, `comment`, or both (default).
    #[serde(default = "default_hn_tags")]
    pub tags: Vec<String>,
    /// Most result pages read per poll (100 hits each); the newest come first.
    #[serde(default = "default_hn_pages")]
    pub max_pages: u32,
    /// Look back this far on the first poll.
    #[serde(default = "default_hn_backfill")]
    pub backfill_days: u32,
    /// The API's base URL (tests point it at a local server).
    #[serde(default = "default_hn_base")]
    pub base_url: String,
}

fn default_hn_tags() -> Vec<String> {
    vec!["story".into(), "comment".into()]
}
fn default_hn_pages() -> u32 {
    5
}
fn default_hn_backfill() -> u32 {
    7
}
fn default_hn_base() -> String {
    "https://hn.algolia.com".into()
}

/// Runs `$body` with `$c` bound to whichever kind's config `$s` holds (every kind has `name`
/// and `interval_secs`).
macro_rules! each_kind {
    ($s:expr, $c:ident => $body:expr) => {
        match $s {
            SourceConfig::File($c) => $body,
            SourceConfig::Rss($c) => $body,
            SourceConfig::Hn($c) => $body,
            SourceConfig::Mastodon($c) => $body,
            SourceConfig::AppStore($c) => $body,
            SourceConfig::Lemmy($c) => $body,
            SourceConfig::Jsonld($c) => $body,
            SourceConfig::Selectors($c) => $body,
            SourceConfig::Telegram($c) => $body,
            SourceConfig::BlueskyJetstream($c) => $body,
            SourceConfig::BlueskySearch($c) => $body,
            SourceConfig::Youtube($c) => $body,
            SourceConfig::Reddit($c) => $body,
        }
    };
}

impl SourceConfig {
    pub fn common(&self) -> CommonSource {
        each_kind!(self, c => CommonSource {
            name: c.name.clone(),
            interval_secs: c.interval_secs,
        })
    }

    pub fn common_mut(&mut self) -> CommonMut<'_> {
        each_kind!(self, c => CommonMut {
            name: &mut c.name,
            interval_secs: &mut c.interval_secs,
        })
    }

    /// Whether items must mention a product keyword to be kept: web sources yes; an export or
    /// an app's reviews only when configured so.
    pub fn require_keywords(&self) -> bool {
        match self {
            SourceConfig::File(f) => f.require_keywords,
            SourceConfig::AppStore(a) => a.require_keywords,
            SourceConfig::Jsonld(j) => j.require_keywords,
            SourceConfig::Selectors(c) => c.require_keywords,
            SourceConfig::Youtube(c) => c.require_keywords,
            SourceConfig::BlueskyJetstream(_)
            | SourceConfig::BlueskySearch(_)
            | SourceConfig::Reddit(_)
            | SourceConfig::Rss(_)
            | SourceConfig::Hn(_)
            | SourceConfig::Mastodon(_)
            | SourceConfig::Lemmy(_)
            | SourceConfig::Telegram(_) => true,
        }
    }

    pub fn name(&self) -> &str {
        each_kind!(self, c => &c.name)
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            SourceConfig::File(_) => "file",
            SourceConfig::Rss(_) => "rss",
            SourceConfig::Hn(_) => "hn",
            SourceConfig::Mastodon(_) => "mastodon",
            SourceConfig::AppStore(_) => "appstore",
            SourceConfig::Lemmy(_) => "lemmy",
            SourceConfig::Jsonld(_) => "jsonld",
            SourceConfig::Selectors(_) => "selectors",
            SourceConfig::Telegram(_) => "telegram",
            SourceConfig::BlueskyJetstream(_) => "bluesky_jetstream",
            SourceConfig::BlueskySearch(_) => "bluesky_search",
            SourceConfig::Youtube(_) => "youtube",
            SourceConfig::Reddit(_) => "reddit",
        }
    }

    /// The source as TOML lines; credentials show as `********` (see [`Secret`]).
    pub fn describe_toml(&self) -> String {
        let Ok(toml::Value::Table(t)) = toml::Value::try_from(self) else {
            return String::new();
        };
        // `kind` first, then the rest; nested tables inline so they stay inside this source.
        let mut out = format!("kind = \"{}\"\n", self.kind_name());
        for (k, v) in t.iter().filter(|(k, _)| k.as_str() != "kind") {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out
    }
}

pub struct CommonMut<'a> {
    pub name: &'a mut String,
    pub interval_secs: &'a mut u64,
}

/// The 1-based line of a dotted key path like `products[0].sources[1].url` in `text`; when the
/// key itself is absent, the line of its deepest present parent (where it would have to go).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut start: Option<usize> = None;
    let root_value = DeValue::Table(root.into_inner());
    let mut cur: &DeValue<'_> = &root_value;
    for part in key.split('.') {
        let (name, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        let DeValue::Table(t) = cur else { break };
        let Some((k, v)) = t.iter().find(|(k, _)| k.get_ref().as_ref() == name) else {
            break;
        };
        // Point at the key for scalars (`x = 1` is on the key's line), at the value otherwise.
        start = Some(k.span().start);
        cur = v.get_ref();
        if let Some(i) = index {
            let DeValue::Array(a) = cur else { break };
            let Some(item) = a.get(i) else { break };
            start = Some(item.span().start);
            cur = item.get_ref();
        }
    }
    start.map(|s| text[..s.min(text.len())].matches('\n').count() + 1)
}
