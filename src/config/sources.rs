//! The source kinds' keys, each kind's struct with its validation beside it: what a
//! `[[products.sources]]` table may say and what makes it invalid. The credentialed kinds
//! (Bluesky, YouTube, Reddit) live in `social.rs`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::check::Check;
use super::defaults::{default_hn_backfill, default_hn_pages, default_interval, default_true};
use super::social::{
    BlueskySearchSourceConfig, JetstreamSourceConfig, RedditSourceConfig, YoutubeSourceConfig,
};
use super::ConfigError;

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

impl TelegramSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        let ok_name = |ch: &String| {
            (4..=64).contains(&ch.len())
                && ch.chars().all(|x| x.is_ascii_alphanumeric() || x == '_')
        };
        if self.channels.is_empty() || !self.channels.iter().all(ok_name) {
            return Err(c.err(
                "channels",
                "list public channel names as in t.me/s/<name> (letters, digits, `_`)",
            ));
        }
        c.pages(self.max_pages, 20)?;
        c.http_url("base_url", &self.base_url)
    }
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

impl SelectorsSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.http_urls("urls", &self.urls, "name at least one page", "")?;
        let selectors = [
            ("item", Some(&self.item)),
            ("text", Some(&self.text)),
            ("title", self.title.as_ref()),
            ("author", self.author.as_ref()),
            ("rating", self.rating.as_ref()),
            ("date", self.date.as_ref()),
            ("link", self.link.as_ref()),
            ("next_selector", self.next_selector.as_ref()),
        ];
        for (k, v) in selectors {
            if let Some(v) = v {
                if v.trim().is_empty() {
                    return Err(c.err(k, format!("`{v}` is not a CSS selector")));
                }
                c.selector(k, v)?;
            }
        }
        if !self.rating_max.is_finite() || self.rating_max <= 0.0 {
            return Err(c.err("rating_max", "must be positive"));
        }
        c.pages(self.max_pages, 50)
    }
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

impl JsonLdSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.http_urls("urls", &self.urls, "name at least one page", "")?;
        if let Some(sel) = &self.next_selector {
            c.selector("next_selector", sel)?;
        }
        c.pages(self.max_pages, 50)
    }
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

impl LemmySourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.http_urls(
            "instances",
            &self.instances,
            "name at least one instance",
            " like https://lemmy.world",
        )?;
        c.not_empty("query", &self.query)?;
        if !matches!(self.search_type.as_str(), "All" | "Posts" | "Comments") {
            return Err(c.err("search_type", "must be `All`, `Posts` or `Comments`"));
        }
        c.pages(self.max_pages, 20)
    }
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

impl AppStoreSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        if self.app_id.is_empty() || !self.app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(c.err(
                "app_id",
                format!(
                    "`{}` is not an app id (digits, as in …/id1234567890)",
                    self.app_id
                ),
            ));
        }
        let storefront = |s: &String| s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase());
        if self.countries.is_empty() || !self.countries.iter().all(storefront) {
            return Err(c.err(
                "countries",
                "list two-letter lowercase storefront codes like \"us\"",
            ));
        }
        if !(1..=10).contains(&self.max_pages) {
            return Err(c.err("max_pages", "must be 1 to 10 (Apple serves no more)"));
        }
        c.http_url("base_url", &self.base_url)
    }
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

impl MastodonSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.http_urls(
            "instances",
            &self.instances,
            "name at least one instance",
            " like https://mastodon.social",
        )?;
        let hashtag =
            |t: &String| !t.is_empty() && t.chars().all(|x| x.is_alphanumeric() || x == '_');
        if self.tags.is_empty() || !self.tags.iter().all(hashtag) {
            return Err(c.err("tags", "list hashtags without `#` (letters, digits, `_`)"));
        }
        c.pages(self.max_pages, 20)
    }
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

impl FileSourceConfig {
    fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        self.path = c.resolve(&self.path);
        if self.columns.text.trim().is_empty() {
            return Err(c.err("columns.text", "must name a column"));
        }
        match self.rating_max {
            Some(m) if m <= 0.0 => Err(c.err("rating_max", "must be positive")),
            _ => Ok(()),
        }
    }
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
    /// Most feed pages read per poll when the feed is paged (RFC 5005 `rel="next"` links, in
    /// Atom or as `atom:link` in RSS); paging stops earlier at a page whose items are all
    /// known, and never visits a page twice.
    #[serde(default = "default_feed_pages")]
    pub max_pages: u32,
}

fn default_feed_pages() -> u32 {
    10
}

impl RssSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        let u = url::Url::parse(&self.url)
            .map_err(|e| c.err("url", format!("`{}` is not a URL: {e}", self.url)))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(c.err("url", "must be http or https"));
        }
        c.pages(self.max_pages, 50)
    }
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

impl HnSourceConfig {
    fn validate(&self, c: &Check<'_>) -> Result<(), ConfigError> {
        c.not_empty("query", &self.query)?;
        let known = |t: &String| matches!(t.as_str(), "story" | "comment");
        if self.tags.is_empty() || !self.tags.iter().all(known) {
            return Err(c.err("tags", "must list `story`, `comment` or both"));
        }
        c.pages(self.max_pages, 20)?;
        c.http_url("base_url", &self.base_url)
    }
}

fn default_hn_tags() -> Vec<String> {
    vec!["story".into(), "comment".into()]
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
    /// Checks the kind's own keys (the common ones are checked by the caller) and resolves its
    /// paths and credentials.
    pub(super) fn validate(&mut self, c: &Check<'_>) -> Result<(), ConfigError> {
        match self {
            SourceConfig::File(s) => s.validate(c),
            SourceConfig::Rss(s) => s.validate(c),
            SourceConfig::Hn(s) => s.validate(c),
            SourceConfig::Mastodon(s) => s.validate(c),
            SourceConfig::AppStore(s) => s.validate(c),
            SourceConfig::Lemmy(s) => s.validate(c),
            SourceConfig::Jsonld(s) => s.validate(c),
            SourceConfig::Selectors(s) => s.validate(c),
            SourceConfig::Telegram(s) => s.validate(c),
            SourceConfig::BlueskyJetstream(s) => s.validate(c),
            SourceConfig::BlueskySearch(s) => s.validate(c),
            SourceConfig::Youtube(s) => s.validate(c),
            SourceConfig::Reddit(s) => s.validate(c),
        }
    }

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

    /// The source as TOML lines; credentials show as `********` (see [`super::social::Secret`]).
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
