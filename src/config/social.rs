//! The credentialed source kinds (Bluesky, YouTube, Reddit): their keys, and their validation
//! beside them: ids, limits and credentials, which are resolved here, once, from the file or the
//! environment.

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::defaults::{default_hn_backfill, default_hn_pages, default_interval, default_true};
use super::ConfigError;

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

impl JetstreamSourceConfig {
    pub(super) fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        let ok = url::Url::parse(&self.endpoint)
            .is_ok_and(|u| matches!(u.scheme(), "ws" | "wss") && u.has_host());
        if !ok {
            return Err(c.err(
                "endpoint",
                format!(
                    "`{}` is not a ws(s) URL like wss://jetstream2.us-east.bsky.network/subscribe",
                    self.endpoint
                ),
            ));
        }
        if !(10..=100_000).contains(&self.buffer_posts) {
            return Err(c.err("buffer_posts", "must be 10 to 100000"));
        }
        if self.langs.iter().any(|l| !valid_lang(l)) {
            return Err(c.err("langs", "list language codes like \"en\" or \"pt-BR\""));
        }
        Ok(())
    }
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

impl BlueskySearchSourceConfig {
    pub(super) fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.not_empty("query", &self.query)?;
        if self.identifier.trim().is_empty() {
            return Err(c.err(
                "identifier",
                "name the account (handle like brand.bsky.social, or its email)",
            ));
        }
        if self.lang.as_deref().is_some_and(|l| !valid_lang(l)) {
            return Err(c.err("lang", "must be a language code like \"en\""));
        }
        c.pages(self.max_pages, 20)?;
        c.http_url("service", &self.service)?;
        credential(
            c,
            "app_password",
            &mut self.app_password,
            &self.app_password_env,
        )
    }
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

impl YoutubeSourceConfig {
    pub(super) fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        if self.video_ids.is_empty() && self.channel_ids.is_empty() {
            return Err(c.err(
                "video_ids",
                "name at least one video id or channel id (`channel_ids`)",
            ));
        }
        let id_ok = |v: &String| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if let Some(bad) = self.video_ids.iter().find(|v| !id_ok(v)) {
            return Err(c.err(
                "video_ids",
                format!("`{bad}` is not a video id (the `v=` part of a watch URL)"),
            ));
        }
        if let Some(bad) = self.channel_ids.iter().find(|v| !id_ok(v)) {
            return Err(c.err("channel_ids", format!("`{bad}` is not a channel id (UC…)")));
        }
        if self.daily_quota_units == 0 {
            return Err(c.err(
                "daily_quota_units",
                "must be at least 1 (a page costs one unit)",
            ));
        }
        c.pages(self.max_pages, 50)?;
        c.http_url("base_url", &self.base_url)?;
        credential(c, "api_key", &mut self.api_key, &self.api_key_env)
    }
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

impl RedditSourceConfig {
    pub(super) fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        if self.query.as_deref().is_none_or(|q| q.trim().is_empty()) && self.subreddits.is_empty() {
            return Err(c.err("query", "set a search `query`, `subreddits`, or both"));
        }
        let sub_ok = |v: &String| {
            (2..=21).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        if let Some(bad) = self.subreddits.iter().find(|v| !sub_ok(v)) {
            return Err(c.err(
                "subreddits",
                format!("`{bad}` is not a subreddit name (without r/)"),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(c.err(
                "client_id",
                "name the OAuth app's client id (reddit.com/prefs/apps)",
            ));
        }
        c.pages(self.max_pages, 10)?;
        c.http_url("api_base", &self.api_base)?;
        c.http_url("token_url", &self.token_url)?;
        credential(
            c,
            "client_secret",
            &mut self.client_secret,
            &self.client_secret_env,
        )?;
        match (&self.username, &self.password_env) {
            (Some(_), Some(var)) => {
                let p = c.env(var).ok_or_else(|| {
                    c.err(
                        "password_env",
                        format!("the environment variable {var} is not set"),
                    )
                })?;
                self.password = Some(Secret::new(p));
                Ok(())
            }
            (None, None) => Ok(()),
            _ => Err(c.err(
                "username",
                "set both `username` and `password_env` (a script app), or neither",
            )),
        }
    }
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

/// A credential set either inline (`key`) or through the environment (`key_env`), never both,
/// and never empty.
fn credential(
    c: &Check<'_>,
    key: &str,
    inline: &mut Option<Secret>,
    env_name: &Option<String>,
) -> Result<(), ConfigError> {
    let env_key = format!("{key}_env");
    let value = match (inline.take(), env_name) {
        (Some(v), None) => v,
        (None, Some(var)) => Secret::new(c.env(var).ok_or_else(|| {
            c.err(
                &env_key,
                format!("the environment variable {var} is not set"),
            )
        })?),
        _ => return Err(c.err(key, format!("set exactly one of `{key}` and `{env_key}`"))),
    };
    if value.expose().trim().is_empty() {
        return Err(c.err(key, "is empty"));
    }
    *inline = Some(value);
    Ok(())
}

/// A BCP-47-ish language tag: "en", "pt-BR".
fn valid_lang(l: &str) -> bool {
    let mut parts = l.split('-');
    parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()))
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::super::{from_str, ConfigError, Overrides};
    use std::path::Path;

    const BASE: &str = r#"
[storage]
path = "data/db"
author_salt = "pepper-pepper"

[fetch]
contact = "ops@example.com"

[[products]]
id = "acme"
name = "Acme"
keywords = ["Acme"]
"#;

    fn load(source: &str) -> Result<super::super::Config, ConfigError> {
        let text = format!("{BASE}\n[[products.sources]]\n{source}");
        from_str(&text, "t.toml", Path::new("."), Overrides::default())
    }

    fn key_of(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { key, .. } => key,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn credentials_come_from_one_place_and_never_print() {
        let c = load(
            "kind = \"youtube\"\nvideo_ids = [\"dQw4w9WgXcQ\"]\napi_key = \"AIza-secret-key\"",
        )
        .unwrap();
        let masked = c.to_masked_toml();
        assert!(!masked.contains("AIza-secret-key"), "{masked}");
        assert!(masked.contains("api_key = \"********\""), "{masked}");
        assert!(!format!("{:?}", c.products[0].sources[0]).contains("AIza"));

        let e = load("kind = \"youtube\"\nvideo_ids = [\"dQw4w9WgXcQ\"]").unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].api_key");
        let e = load(
            "kind = \"youtube\"\nvideo_ids = [\"x\"]\napi_key_env = \"CXPULSE_TEST_SURELY_UNSET_VAR\"",
        )
        .unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].api_key_env");
        let e = load("kind = \"bluesky_search\"\nquery = \"acme\"\nidentifier = \"a.bsky.social\"\napp_password = \"p\"\napp_password_env = \"X\"").unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].app_password");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("kind = \"bluesky_jetstream\"\nendpoint = \"https://x.example/subscribe\"", "endpoint"),
            ("kind = \"bluesky_jetstream\"\nlangs = [\"english!\"]", "langs"),
            ("kind = \"youtube\"\napi_key = \"k\"", "video_ids"),
            ("kind = \"youtube\"\nvideo_ids = [\"a b\"]\napi_key = \"k\"", "video_ids"),
            ("kind = \"reddit\"\nclient_id = \"id\"\nclient_secret = \"s\"", "query"),
            ("kind = \"reddit\"\nsubreddits = [\"r/headphones\"]\nclient_id = \"id\"\nclient_secret = \"s\"", "subreddits"),
            ("kind = \"reddit\"\nquery = \"acme\"\nclient_id = \"id\"\nclient_secret = \"s\"\nusername = \"u\"", "username"),
            ("kind = \"bluesky_search\"\nquery = \" \"\nidentifier = \"a\"\napp_password = \"p\"", "query"),
        ];
        for (src, key) in cases {
            let e = load(src).unwrap_err();
            assert_eq!(key_of(e), format!("products[0].sources[0].{key}"), "{src}");
        }
        let ok = load("kind = \"bluesky_jetstream\"\nlangs = [\"en\", \"pt-BR\"]").unwrap();
        assert_eq!(ok.products[0].sources[0].kind_name(), "bluesky_jetstream");
    }
}
