//! Sources of posts: one file per kind behind the [`Source`] trait, plus the polite fetch layer
//! they all share. Sources never touch the store: they return items and a cursor, and the
//! pipeline decides what to keep and when the cursor may advance.

pub mod appstore;
pub mod bluesky_jetstream;
pub mod bluesky_search;
pub mod fetch;
pub mod file;
pub mod hn;
pub mod jsonld;
pub mod lemmy;
pub mod mastodon;
pub mod pages;
pub mod reddit;
pub mod relevance;
pub mod rss;
pub mod selectors;
pub mod telegram;
pub mod youtube;

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use crate::config::SourceConfig;
use crate::domain::RawItem;
use crate::sources::relevance::Matcher;
pub use fetch::{FetchError, Fetcher};

#[derive(Debug, Error)]
pub enum SourceError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    #[error("unparseable {what}: {message}")]
    Parse { what: &'static str, message: String },
    /// The service refused the configured credentials (the message never holds them).
    #[error("the credentials were refused: {message}")]
    Auth { message: String },
    /// The API's daily quota is spent (this source's share or the whole key's).
    #[error("the API quota is spent until it resets in {}s", retry_after.as_secs())]
    Quota { retry_after: std::time::Duration },
}

impl SourceError {
    /// A short, stable reason for metrics labels and `/sources`.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Fetch(f) => f.reason(),
            SourceError::Io { .. } => "io",
            SourceError::Parse { .. } => "parse",
            SourceError::Auth { .. } => "auth_failed",
            SourceError::Quota { .. } => "quota_exceeded",
        }
    }

    /// How long the scheduler should wait before the next poll, when the error says.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            SourceError::Fetch(f) => f.retry_after(),
            SourceError::Quota { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct Poll {
    pub items: Vec<RawItem>,
    /// The cursor to store once these items are durably stored; `None` leaves it unchanged.
    pub cursor: Option<Vec<u8>>,
    /// Items that were malformed and skipped (counted, logged, never fatal).
    pub skipped: u64,
    /// More items are ready right away (a large file read in slices): poll again without waiting.
    pub more: bool,
    /// A later request of the poll failed after earlier ones were read (page 2 of 5): the items
    /// read are stored, the cursor stays where the complete part ends, and the failure is
    /// reported and backed off like a failed poll, so the rest is read next time.
    pub failed: Option<SourceError>,
}

#[async_trait]
pub trait Source: Send + Sync {
    fn name(&self) -> &str;
    fn kind(&self) -> &'static str;
    /// Fetches what is new since `cursor` (the value this source returned last time, once stored).
    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError>;

    /// Called when the items of the last poll could not be stored: forget anything that would
    /// make the next poll skip them (e.g. a conditional-GET validator).
    fn rewind(&self) {}
}

/// A source's stored cursor, or the default (start over) when it cannot be read — logged, since
/// starting over re-reads old items (they are recognised as duplicates, so nothing is counted twice).
pub fn decode_cursor<T: serde::de::DeserializeOwned + Default>(
    source: &str,
    cursor: Option<&[u8]>,
) -> T {
    match cursor.map(serde_json::from_slice::<T>) {
        None => T::default(),
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            tracing::warn!(source, error = %e, "stored cursor is unreadable; starting over");
            T::default()
        }
    }
}

/// The cursor to store after a poll: `now` encoded, or `None` when the poll did not move it
/// (nothing is written then).
pub fn moved_cursor<T: serde::Serialize + PartialEq>(before: &T, now: &T) -> Option<Vec<u8>> {
    (before != now).then(|| serde_json::to_vec(now).expect("a cursor serialises"))
}

/// Builds the source a config entry describes. `matcher` is the product's: a firehose keeps
/// only what matches it, since handing every post on the network to the pipeline would drown it.
pub fn build(
    cfg: &SourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
    matcher: &Matcher,
) -> Box<dyn Source> {
    match cfg {
        SourceConfig::File(c) => Box::new(file::FileSource::new((**c).clone(), max_items)),
        SourceConfig::Rss(c) => Box::new(rss::RssSource::new(c.clone(), fetcher, max_items)),
        SourceConfig::Hn(c) => Box::new(hn::HnSource::new(c.clone(), fetcher, max_items)),
        SourceConfig::Mastodon(c) => {
            Box::new(mastodon::MastodonSource::new(c.clone(), fetcher, max_items))
        }
        SourceConfig::Telegram(c) => {
            Box::new(telegram::TelegramSource::new(c.clone(), fetcher, max_items))
        }
        SourceConfig::Selectors(c) => Box::new(selectors::SelectorsSource::new(
            c.clone(),
            fetcher,
            max_items,
        )),
        SourceConfig::Jsonld(c) => {
            Box::new(jsonld::JsonLdSource::new(c.clone(), fetcher, max_items))
        }
        SourceConfig::Lemmy(c) => Box::new(lemmy::LemmySource::new(c.clone(), fetcher, max_items)),
        SourceConfig::AppStore(c) => {
            Box::new(appstore::AppStoreSource::new(c.clone(), fetcher, max_items))
        }
        SourceConfig::BlueskyJetstream(c) => Box::new(bluesky_jetstream::JetstreamSource::new(
            c.clone(),
            fetcher.config().user_agent.clone(),
            matcher.clone(),
            max_items,
        )),
        SourceConfig::BlueskySearch(c) => Box::new(bluesky_search::BlueskySearchSource::new(
            c.clone(),
            fetcher,
            max_items,
        )),
        SourceConfig::Youtube(c) => {
            Box::new(youtube::YoutubeSource::new(c.clone(), fetcher, max_items))
        }
        SourceConfig::Reddit(c) => {
            Box::new(reddit::RedditSource::new(c.clone(), fetcher, max_items))
        }
    }
}
