//! Configuration: the documented TOML tree, env/CLI overrides, and validation into typed values.
//!
//! Loading is three steps, each with its own failure mode:
//! 1. parse the file strictly (`deny_unknown_fields` everywhere) into the raw tree in [`raw`];
//! 2. apply overrides, file < environment (`CXPULSE_…`) < command line ([`Overrides`]);
//! 3. validate once into [`Config`], whose values are typed (durations, sockets, paths resolved
//!    against the config file's folder) so nothing downstream re-checks them.
//!
//! Every error names the key (`products[0].sources[1].url`) and, when the key is in the file, its line.

mod check;
mod defaults;
pub mod notify;
pub mod raw;
pub mod reference;
pub mod social;
pub mod sources;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use thiserror::Error;

pub use notify::{AlertsConfig, Delivery, DigestConfig, Format, SmtpLogin, SmtpTls, Target};
pub use raw::{RawConfig, RawProduct};
pub use sources::{FileColumns, FileFormat, SourceConfig};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{}{key}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
    Invalid {
        key: String,
        line: Option<usize>,
        message: String,
    },
}

/// Values given on the command line or in the environment, applied over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub api_token: Option<String>,
    pub storage_path: Option<PathBuf>,
    pub author_salt: Option<String>,
    pub model_dir: Option<PathBuf>,
    pub model_threads: Option<String>,
    pub model_batch_size: Option<String>,
    pub ort_dylib_path: Option<PathBuf>,
    pub contact: Option<String>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
}

impl Overrides {
    /// Reads the `CXPULSE_…` variables through `get` (a function so tests need not touch the
    /// process environment, which is shared between test threads). This is the one list of them;
    /// the only other variable cxpulse reads is ONNX Runtime's own `ORT_DYLIB_PATH`, a fallback
    /// below `model.ort_dylib_path` (`classifier::dylib_candidates`).
    pub fn from_env_with(get: impl Fn(&str) -> Option<String>) -> Self {
        let g = |k: &str| get(k).filter(|v| !v.is_empty());
        Overrides {
            bind: g("CXPULSE_SERVER_BIND"),
            api_token: g("CXPULSE_API_TOKEN"),
            storage_path: g("CXPULSE_STORAGE_PATH").map(PathBuf::from),
            author_salt: g("CXPULSE_AUTHOR_SALT"),
            model_dir: g("CXPULSE_MODEL_DIR").map(PathBuf::from),
            model_threads: g("CXPULSE_MODEL_THREADS"),
            model_batch_size: g("CXPULSE_MODEL_BATCH_SIZE"),
            ort_dylib_path: g("CXPULSE_ORT_DYLIB_PATH").map(PathBuf::from),
            contact: g("CXPULSE_FETCH_CONTACT"),
            log_level: g("CXPULSE_LOG_LEVEL"),
            log_format: g("CXPULSE_LOG_FORMAT"),
        }
    }

    pub fn from_env() -> Self {
        Self::from_env_with(|k| std::env::var(k).ok())
    }

    /// Paths given on the command line or in the environment are relative to the working
    /// directory, as a user typing them expects (paths in the file are relative to the file).
    pub fn relative_to_cwd(mut self) -> Overrides {
        let abs = |p: Option<PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
        self.storage_path = abs(self.storage_path);
        self.model_dir = abs(self.model_dir);
        self.ort_dylib_path = abs(self.ort_dylib_path);
        self
    }

    /// `self` over `lower`: a value set here wins.
    pub fn over(self, lower: Overrides) -> Overrides {
        Overrides {
            bind: self.bind.or(lower.bind),
            api_token: self.api_token.or(lower.api_token),
            storage_path: self.storage_path.or(lower.storage_path),
            author_salt: self.author_salt.or(lower.author_salt),
            model_dir: self.model_dir.or(lower.model_dir),
            model_threads: self.model_threads.or(lower.model_threads),
            model_batch_size: self.model_batch_size.or(lower.model_batch_size),
            ort_dylib_path: self.ort_dylib_path.or(lower.ort_dylib_path),
            contact: self.contact.or(lower.contact),
            log_level: self.log_level.or(lower.log_level),
            log_format: self.log_format.or(lower.log_format),
        }
    }
}

/// The validated configuration every other module receives.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of the config file; relative paths in the file were resolved against it.
    pub base_dir: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub model: ModelConfig,
    pub fetch: FetchConfig,
    pub log: LogConfig,
    pub authenticity: AuthenticityConfig,
    pub digest: DigestConfig,
    pub alerts: AlertsConfig,
    /// Where digests and alerts go, in config order.
    pub deliveries: Vec<Delivery>,
    pub products: Vec<Product>,
}

/// Validated `[authenticity]`: see `RawAuthenticity` for each key's meaning.
#[derive(Debug, Clone)]
pub struct AuthenticityConfig {
    pub window_ms: i64,
    pub max_indexed_posts: usize,
    pub copy_paste_min_similarity: f64,
    pub copy_paste_pair_similarity: f64,
    pub copy_paste_min_words: usize,
    pub burst_min_posts: u64,
    pub burst_max_p_value: f64,
    pub burst_min_ratio: f64,
    pub author_max_posts: usize,
    pub author_window_ms: i64,
    pub machine_generated_min: f32,
    pub deceptive_min: Option<f32>,
    pub brand_genuine_min: f32,
    pub brand_fake_min: f32,
    pub mismatch_min: f32,
}

impl Default for AuthenticityConfig {
    fn default() -> Self {
        validate::validate_authenticity(&raw::RawAuthenticity::default(), "")
            .expect("the default [authenticity] section is valid")
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Bearer token for write endpoints; `None` means writes are refused (never "open").
    pub api_token: Option<String>,
    pub max_body_bytes: usize,
    pub max_batch_texts: usize,
    /// Per-client token bucket: `(requests per second, burst)`; `None` when turned off.
    pub rate_limit: Option<(u32, u32)>,
    /// Bytes of query answers kept (api/cache.rs); 0: none.
    pub response_cache_bytes: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Resolved: never 0.
    pub max_concurrent_queries: usize,
    pub max_queued_queries: usize,
    pub query_queue_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub path: PathBuf,
    pub author_salt: String,
    pub pseudonymise_authors: bool,
    /// `None`: keep posts forever.
    pub retain_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub dir: PathBuf,
    pub batch_size: usize,
    pub threads: usize,
    pub ort_dylib_path: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_retries: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub per_host_min_interval: Duration,
    pub per_host_concurrency: usize,
    pub respect_robots: bool,
    /// First wait before asking an unreadable robots.txt again; it doubles, up to `backoff_max`.
    pub robots_retry: Duration,
    pub max_items_per_fetch: usize,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub level: String,
    pub json: bool,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub keywords: Vec<String>,
    pub exclusions: Vec<String>,
    pub sources: Vec<SourceConfig>,
}

/// Loads, overrides and validates the config at `path`.
pub fn load(path: &Path, overrides: Overrides) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    from_str(&text, &path.display().to_string(), &base, overrides)
}

/// Parses and validates config text; `origin` names it in errors, `base_dir` resolves relative paths.
pub fn from_str(
    text: &str,
    origin: &str,
    base_dir: &Path,
    overrides: Overrides,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        message: parse_message(text, &e),
    })?;
    let base_dir = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
    validate::validate(raw, text, &base_dir, overrides)
}

/// toml's message, made precise for unknown keys: inside a tagged `[[products.sources]]` table
/// the parser can only point at the table header, so the offending key's own line is added.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let msg = e.to_string().trim_end().to_string();
    let unknown = e
        .message()
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next());
    let (Some(key), Some(span)) = (unknown, e.span()) else {
        return msg;
    };
    let from_line = text[..span.start.min(text.len())].matches('\n').count();
    let hit = text.lines().enumerate().skip(from_line).find(|(_, l)| {
        let l = l.trim_start();
        l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    match hit {
        Some((i, _)) => format!("unknown key `{key}` at line {}\n{msg}", i + 1),
        None => msg,
    }
}

/// Product ids and source names appear in URLs and metric labels, so they are kept plain.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Config {
    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// The effective config as TOML with secrets masked, for `check-config`.
    pub fn to_masked_toml(&self) -> String {
        let mask = |s: &Option<String>| match s {
            Some(_) => "\"********\"".to_string(),
            None => "(unset)".to_string(),
        };
        let mut out = String::new();
        out.push_str(
            "# effective configuration (file < environment < command line); secrets masked\n",
        );
        let (rps, burst) = self.server.rate_limit.unwrap_or((0, 0));
        out.push_str(&format!("[server]\nbind = \"{}\"\napi_token = {}\nmax_body_bytes = {}\nmax_batch_texts = {}\nrate_limit_per_client_rps = {rps}\nrate_limit_burst = {burst}\nresponse_cache_mib = {}\n",
            self.server.bind, mask(&self.server.api_token), self.server.max_body_bytes, self.server.max_batch_texts, self.server.response_cache_bytes / (1024 * 1024)));
        let sv = &self.server;
        out.push_str(&format!(
            "header_read_timeout_secs = {}\nbody_read_timeout_secs = {}\nidle_timeout_secs = {}\nmax_connections = {}\nmax_concurrent_queries = {}\nmax_queued_queries = {}\nquery_queue_timeout_ms = {}\n\n",
            sv.header_read_timeout.as_secs(), sv.body_read_timeout.as_secs(), sv.idle_timeout.as_secs(),
            sv.max_connections, sv.max_concurrent_queries, sv.max_queued_queries, sv.query_queue_timeout.as_millis()
        ));
        out.push_str(&format!(
            "[storage]\npath = {:?}\nauthor_salt = {}\npseudonymise_authors = {}\nretain_days = {}\n\n",
            self.storage.path,
            if self.storage.author_salt.is_empty() {
                "(unset)"
            } else {
                "\"********\""
            },
            self.storage.pseudonymise_authors,
            self.storage.retain_days.unwrap_or(0)
        ));
        out.push_str(&format!(
            "[model]\ndir = {:?}\nbatch_size = {}\nthreads = {}\nort_dylib_path = {}\n\n",
            self.model.dir,
            self.model.batch_size,
            self.model.threads,
            self.model
                .ort_dylib_path
                .as_ref()
                .map(|p| format!("{p:?}"))
                .unwrap_or_else(|| "(auto)".into())
        ));
        let f = &self.fetch;
        out.push_str(&format!(
            "[fetch]\nuser_agent = {:?}\nconnect_timeout_secs = {}\nread_timeout_secs = {}\nmax_body_bytes = {}\nmax_retries = {}\nbackoff_base_ms = {}\nbackoff_max_secs = {}\nper_host_min_interval_ms = {}\nper_host_concurrency = {}\nrespect_robots = {}\nrobots_retry_secs = {}\nmax_items_per_fetch = {}\n\n",
            f.user_agent, f.connect_timeout.as_secs(), f.read_timeout.as_secs(), f.max_body_bytes,
            f.max_retries, f.backoff_base.as_millis(), f.backoff_max.as_secs(),
            f.per_host_min_interval.as_millis(), f.per_host_concurrency, f.respect_robots, f.robots_retry.as_secs(), f.max_items_per_fetch
        ));
        out.push_str(&format!(
            "[log]\nlevel = {:?}\nformat = \"{}\"\n",
            self.log.level,
            if self.log.json { "json" } else { "text" }
        ));
        let a = &self.authenticity;
        out.push_str(&format!(
            "\n[authenticity]\nwindow_days = {}\nmax_indexed_posts = {}\ncopy_paste_min_similarity = {}\ncopy_paste_pair_similarity = {}\ncopy_paste_min_words = {}\nburst_min_posts = {}\nburst_max_p_value = {:e}\nburst_min_ratio = {}\nauthor_max_posts = {}\nauthor_window_hours = {}\nmachine_generated_min = {}\ndeceptive_min = {}\nbrand_genuine_min = {}\nbrand_fake_min = {}\nmismatch_min = {}\n",
            a.window_ms / 86_400_000, a.max_indexed_posts, a.copy_paste_min_similarity,
            a.copy_paste_pair_similarity,
            a.copy_paste_min_words, a.burst_min_posts, a.burst_max_p_value, a.burst_min_ratio,
            a.author_max_posts, a.author_window_ms / 3_600_000, a.machine_generated_min,
            a.deceptive_min.map(|d| d.to_string()).unwrap_or_else(|| "(off)".into()),
            a.brand_genuine_min, a.brand_fake_min, a.mismatch_min
        ));
        let d = &self.digest;
        out.push_str(&format!(
            "\n[digest]\ntimezone = \"{}\"\nenabled = {}\nsend_at = \"{}\"\ncatch_up_days = {}\n",
            d.timezone,
            d.enabled,
            d.send_at.format("%H:%M"),
            d.catch_up_days
        ));
        let a = &self.alerts;
        out.push_str(&format!(
            "\n[alerts]\nenabled = {}\ncheck_interval_secs = {}\nwindow_hours = {}\nmin_posts = {}\nmin_share_change = {}\nmin_z = {}\ncooldown_hours = {}\nnegative_emotions = {:?}\n",
            a.enabled, a.check_interval.as_secs(), a.window_hours, a.min_posts,
            a.min_share_change, a.min_z, a.cooldown_ms / 3_600_000, a.negative_emotions
        ));
        for d in &self.deliveries {
            out.push_str("\n[[deliver]]\n");
            out.push_str(&d.describe_toml());
        }
        for p in &self.products {
            out.push_str(&format!(
                "\n[[products]]\nid = {:?}\nname = {:?}\nkeywords = {:?}\nexclusions = {:?}\n",
                p.id, p.name, p.keywords, p.exclusions
            ));
            for s in &p.sources {
                out.push_str("\n[[products.sources]]\n");
                out.push_str(&s.describe_toml());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[storage]
path = "data/db"
author_salt = "pepper-pepper"

[fetch]
contact = "ops@example.com"

[[products]]
id = "acme-phone"
name = "Acme Phone"
keywords = ["Acme Phone", "AcmePhone"]

[[products.sources]]
kind = "rss"
name = "acme-blog"
url = "http://127.0.0.1:9/feed.xml"
interval_secs = 60
"#;

    fn load_str(t: &str) -> Result<Config, ConfigError> {
        from_str(t, "test.toml", Path::new("/tmp/cfg"), Overrides::default())
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = load_str(MINIMAL).unwrap();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:7878");
        assert_eq!(c.storage.path, PathBuf::from("/tmp/cfg/data/db"));
        assert_eq!(c.products[0].sources[0].common().name, "acme-blog");
        assert!(c.fetch.user_agent.contains("ops@example.com"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let t = MINIMAL.replace("interval_secs = 60", "interval_secs = 60\nintervall = 5");
        let e = load_str(&t).unwrap_err().to_string();
        assert!(e.contains("intervall"), "{e}");
        assert!(e.contains("line 19"), "{e}");
    }

    #[test]
    fn invalid_value_names_key_and_line() {
        let t = MINIMAL.replace("interval_secs = 60", "interval_secs = 1");
        let e = load_str(&t).unwrap_err().to_string();
        assert!(e.contains("products[0].sources[0].interval_secs"), "{e}");
        assert!(e.contains("line 18"), "{e}");
    }

    #[test]
    fn authenticity_keys_are_checked_and_named() {
        let t = format!("[authenticity]\ncopy_paste_min_similarity = 1.5\n{MINIMAL}");
        let e = load_str(&t).unwrap_err().to_string();
        assert!(e.contains("authenticity.copy_paste_min_similarity"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let t = format!("[authenticity]\ndeceptive_min = 0.95\nwindow_days = 7\n{MINIMAL}");
        let c = load_str(&t).unwrap();
        assert_eq!(c.authenticity.deceptive_min, Some(0.95));
        assert_eq!(c.authenticity.window_ms, 7 * 86_400_000);
        assert_eq!(load_str(MINIMAL).unwrap().authenticity.deceptive_min, None);
        let e = load_str(&format!("[authenticity]\nburst_min_posts = 0\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("authenticity.burst_min_posts"), "{e}");
    }

    #[test]
    fn digest_timezone_is_checked() {
        let e = load_str(&format!("[digest]\ntimezone = \"Mars/Olympus\"\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("digest.timezone") && e.contains("line 2"), "{e}");
        let c = load_str(&format!(
            "[digest]\ntimezone = \"Europe/Berlin\"\n{MINIMAL}"
        ))
        .unwrap();
        assert_eq!(c.digest.timezone, chrono_tz::Europe::Berlin);
    }

    #[test]
    fn web_source_kinds_are_checked_key_by_key() {
        let case = |src: &str| {
            load_str(&format!("{MINIMAL}\n[[products.sources]]\n{src}"))
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string())
        };
        let e =
            case("kind = \"mastodon\"\ninstances = [\"https://m.example\"]\ntags = [\"#acme\"]\n");
        assert!(e.contains("products[0].sources[1].tags"), "{e}");
        let e = case("kind = \"mastodon\"\ninstances = [\"m.example\"]\ntags = [\"acme\"]\n");
        assert!(e.contains("sources[1].instances"), "{e}");
        let e = case("kind = \"appstore\"\napp_id = \"id123\"\n");
        assert!(e.contains("sources[1].app_id"), "{e}");
        let e = case("kind = \"appstore\"\napp_id = \"123\"\ncountries = [\"USA\"]\n");
        assert!(e.contains("sources[1].countries"), "{e}");
        let e = case("kind = \"hn\"\nquery = \"acme\"\ntags = [\"poll\"]\n");
        assert!(e.contains("sources[1].tags"), "{e}");
        assert_eq!(case("kind = \"appstore\"\napp_id = \"123\"\n"), "");
        assert_eq!(
            case("kind = \"mastodon\"\ninstances = [\"https://m.example\"]\ntags = [\"acme_phone\"]\n"),
            ""
        );
    }

    #[test]
    fn retention_must_cover_the_digest_baseline() {
        let e = load_str(&MINIMAL.replace("[storage]\n", "[storage]\nretain_days = 10\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("storage.retain_days") && e.contains("at least 35"),
            "{e}"
        );
        let c =
            load_str(&MINIMAL.replace("[storage]\n", "[storage]\nretain_days = 400\n")).unwrap();
        assert_eq!(c.storage.retain_days, Some(400));
        assert_eq!(load_str(MINIMAL).unwrap().storage.retain_days, None);
    }

    #[test]
    fn digest_schedule_and_alerts_are_checked() {
        let e = load_str(&format!("[digest]\nsend_at = \"7am\"\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("digest.send_at") && e.contains("line 2"), "{e}");
        let e = load_str(&format!("[alerts]\nmin_share_change = 2.0\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("alerts.min_share_change"), "{e}");
        let c = load_str(&format!(
            "[digest]\nsend_at = \"06:30\"\n[alerts]\ncooldown_hours = 2\n{MINIMAL}"
        ))
        .unwrap();
        assert_eq!(
            c.digest.send_at,
            chrono::NaiveTime::from_hms_opt(6, 30, 0).unwrap()
        );
        assert_eq!(c.alerts.cooldown_ms, 2 * 3_600_000);
        assert!(c.deliveries.is_empty());
    }

    #[test]
    fn deliveries_are_checked_key_by_key() {
        let case = |t: &str| {
            load_str(&format!("{MINIMAL}\n{t}"))
                .unwrap_err()
                .to_string()
        };
        let e = case("[[deliver]]\nkind = \"webhook\"\nurl = \"ftp://x\"\n");
        assert!(e.contains("deliver[0].url"), "{e}");
        let e = case("[[deliver]]\nkind = \"webhook\"\nurl_env = \"CXPULSE_TEST_UNSET_HOOK\"\n");
        assert!(
            e.contains("deliver[0].url_env") && e.contains("not set"),
            "{e}"
        );
        let e = case("[[deliver]]\nkind = \"folder\"\npath = \"d\"\nformats = [\"pdf\"]\n");
        assert!(e.contains("deliver[0].formats") && e.contains("pdf"), "{e}");
        let e = case("[[deliver]]\nkind = \"folder\"\npath = \"a\"\nname = \"x\"\n[[deliver]]\nkind = \"folder\"\npath = \"b\"\nname = \"x\"\n");
        assert!(
            e.contains("deliver[1].name") && e.contains("two deliveries"),
            "{e}"
        );
        let e = case("[[deliver]]\nkind = \"smtp\"\nhost = \"mx\"\nfrom = \"not an address\"\nto = [\"a@example.com\"]\n");
        assert!(e.contains("deliver[0].from"), "{e}");
        // Variables cargo sets for every test process: no set_var racing other threads.
        let e = case("[[deliver]]\nkind = \"smtp\"\nhost = \"mx\"\ntls = \"none\"\nfrom = \"a@example.com\"\nto = [\"b@example.com\"]\nusername_env = \"CARGO_PKG_NAME\"\npassword_env = \"CARGO_MANIFEST_DIR\"\n");
        assert!(
            e.contains("deliver[0].tls") && e.contains("plain text"),
            "{e}"
        );
        let e = case("[[deliver]]\nkind = \"pigeon\"\n");
        assert!(e.contains("pigeon"), "{e}");
    }

    #[test]
    fn check_config_masks_webhook_urls_and_smtp_logins() {
        let secret = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it for tests");
        let c = load_str(&format!(
            "{MINIMAL}\n[[deliver]]\nkind = \"webhook\"\nformat = \"slack\"\nurl = \"https://hooks.slack.com/services/T000/B000/XXXXSECRET\"\n\n[[deliver]]\nkind = \"smtp\"\nhost = \"smtp.example.com\"\nfrom = \"cx@example.com\"\nto = [\"team@example.com\"]\nusername_env = \"CARGO_PKG_NAME\"\npassword_env = \"CARGO_MANIFEST_DIR\"\n"
        ))
        .unwrap();
        assert_eq!(c.deliveries.len(), 2);
        assert_eq!(c.deliveries[0].name, "webhook");
        let shown = c.to_masked_toml();
        assert!(
            !shown.contains("XXXXSECRET") && !shown.contains(&secret),
            "{shown}"
        );
        assert!(
            shown.contains("hooks.slack.com") && shown.contains("port = 587"),
            "{shown}"
        );
    }

    #[test]
    fn bad_url_and_kind_are_reported() {
        let e = load_str(&MINIMAL.replace("http://127.0.0.1:9/feed.xml", "not a url"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("products[0].sources[0].url"), "{e}");
        let e = load_str(&MINIMAL.replace("kind = \"rss\"", "kind = \"gopher\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gopher"), "{e}");
    }

    #[test]
    fn env_overrides_file_and_cli_overrides_env() {
        let env = Overrides::from_env_with(|k| match k {
            "CXPULSE_SERVER_BIND" => Some("127.0.0.1:9000".into()),
            "CXPULSE_MODEL_THREADS" => Some("3".into()),
            _ => None,
        });
        let cli = Overrides {
            bind: Some("127.0.0.1:9001".into()),
            ..Default::default()
        };
        let c = from_str(MINIMAL, "t", Path::new("/tmp"), cli.over(env)).unwrap();
        assert_eq!(c.server.bind.port(), 9001);
        assert_eq!(c.model.threads, 3);
    }

    #[test]
    fn bad_env_number_names_the_key() {
        let env =
            Overrides::from_env_with(|k| (k == "CXPULSE_MODEL_THREADS").then(|| "many".into()));
        let e = from_str(MINIMAL, "t", Path::new("/tmp"), env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.threads"), "{e}");
        let env = Overrides::from_env_with(|k| (k == "CXPULSE_MODEL_THREADS").then(|| "0".into()));
        let e = from_str(MINIMAL, "t", Path::new("/tmp"), env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("environment or command line") && !e.contains("line "),
            "{e}"
        );
    }

    #[test]
    fn masked_output_hides_secrets() {
        let t = MINIMAL.replace(
            "[fetch]",
            "[server]\napi_token = \"super-secret-token-123\"\n\n[fetch]",
        );
        let c = load_str(&t).unwrap();
        let out = c.to_masked_toml();
        assert!(!out.contains("super-secret-token-123"));
        assert!(!out.contains("pepper-pepper"));
        assert!(out.contains("********"));
        assert!(out.contains("acme-blog"));
    }

    #[test]
    fn duplicate_source_names_rejected() {
        let t = format!(
            "{MINIMAL}\n[[products.sources]]\nkind = \"rss\"\nname = \"acme-blog\"\nurl = \"http://x/\"\n"
        );
        let e = load_str(&t).unwrap_err().to_string();
        assert!(e.contains("duplicate source name"), "{e}");
    }

    #[test]
    fn answer_cache_size_is_checked_and_shown() {
        let with = |mib: &str| {
            MINIMAL.replace(
                "[fetch]",
                &format!("[server]\nresponse_cache_mib = {mib}\n\n[fetch]"),
            )
        };
        let c = load_str(&with("0")).unwrap();
        assert_eq!(c.server.response_cache_bytes, 0);
        let c = load_str(&with("64")).unwrap();
        assert_eq!(c.server.response_cache_bytes, 64 * 1024 * 1024);
        assert!(c.to_masked_toml().contains("response_cache_mib = 64"));
        let e = load_str(&with("100000")).unwrap_err().to_string();
        assert!(e.contains("server.response_cache_mib"), "{e}");
    }

    #[test]
    fn missing_salt_is_an_error_naming_the_key() {
        let e = load_str(&MINIMAL.replace("author_salt = \"pepper-pepper\"", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("storage.author_salt"), "{e}");
    }
}
