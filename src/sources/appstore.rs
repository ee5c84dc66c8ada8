//! `appstore` source: Apple App Store customer reviews through the public JSON feed, per app
//! and country, most recent first, up to 10 pages of 50 (Apple serves no more than that).
//!
//! Quirks handled: `feed.entry` is an object (not an array) when there is one review and absent
//! when there are none; the feed's own first/next/last links point at the XML flavour, so page
//! URLs are built here; older feeds put the app itself first as an entry without a rating,
//! which is not a review; every value sits in a `{"label": …}` object.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::AppStoreSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct AppStoreCursor {
    /// Country → the newest review id stored (ids grow with time).
    newest: BTreeMap<String, u64>,
}

pub struct AppStoreSource {
    cfg: AppStoreSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

fn label<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.get("label")?.as_str()
}

/// One review entry; `Err(())` when it is malformed, `Ok(None)` when it is not a review (the
/// app's own entry).
fn review_of(e: &Value, country: &str, app_id: &str) -> Result<Option<(u64, RawItem)>, ()> {
    let Some(stars) = label(e, "im:rating") else {
        return Ok(None);
    };
    let stars: f32 = stars.trim().parse().map_err(|_| ())?;
    if !(1.0..=5.0).contains(&stars) {
        return Err(());
    }
    let id: u64 = label(e, "id").and_then(|i| i.parse().ok()).ok_or(())?;
    let body = text::decode_entities(label(e, "content").ok_or(())?);
    let body = text::cap_chars(body.trim(), text::MAX_POST_CHARS).to_string();
    if body.is_empty() {
        return Err(());
    }
    let published_ms = label(e, "updated")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    let author = e
        .get("author")
        .and_then(|a| a.get("name"))
        .and_then(|n| n.get("label"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|a| !a.is_empty());
    // A review has no page of its own on the App Store; its entry's link (when there is one) is
    // an iTunes API URL nobody can read. The app's page in that storefront is where it shows.
    let url = Some(format!("https://apps.apple.com/{country}/app/id{app_id}"));
    Ok(Some((
        id,
        RawItem {
            external_id: format!("{country}:{id}"),
            url,
            author,
            published_ms,
            title: label(e, "title")
                .map(text::decode_entities)
                .filter(|t| !t.is_empty()),
            text: body,
            rating: crate::domain::post::rating_from_scale(stars as f64, 5.0),
            channel: Some(format!("appstore-{country}")),
        },
    )))
}

impl AppStoreSource {
    pub fn new(cfg: AppStoreSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        AppStoreSource {
            cfg,
            fetcher,
            max_items,
        }
    }

    fn page_url(&self, country: &str, page: u32) -> String {
        format!(
            "{}/{country}/rss/customerreviews/page={page}/id={}/sortby=mostrecent/json",
            self.cfg.base_url.trim_end_matches('/'),
            self.cfg.app_id
        )
    }
}

#[async_trait]
impl Source for AppStoreSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "appstore"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let mut cur: AppStoreCursor = super::decode_cursor(&self.cfg.name, cursor);
        let before = cur.clone();
        let mut poll = Poll::default();
        for country in &self.cfg.countries {
            let stored = cur.newest.get(country).copied();
            let mut newest = stored;
            'pages: for page in 1..=self.cfg.max_pages {
                let body = match self
                    .fetcher
                    .get(&self.page_url(country, page), FetchKind::Feed)
                    .await?
                {
                    Fetched::NotModified => break,
                    Fetched::Fresh(b) => b,
                };
                let doc: Value =
                    serde_json::from_slice(&body.bytes).map_err(|e| SourceError::Parse {
                        what: "app store feed",
                        message: e.to_string(),
                    })?;
                let feed = doc.get("feed").ok_or_else(|| SourceError::Parse {
                    what: "app store feed",
                    message: "no `feed` object".into(),
                })?;
                let entries: Vec<&Value> = match feed.get("entry") {
                    None => break,
                    Some(Value::Array(a)) => a.iter().collect(),
                    Some(one) => vec![one],
                };
                if entries.is_empty() {
                    break;
                }
                for e in entries {
                    match review_of(e, country, &self.cfg.app_id) {
                        Ok(None) => {}
                        Err(()) => poll.skipped += 1,
                        Ok(Some((id, item))) => {
                            // Most recent first: the first stored review ends this country.
                            if stored.is_some_and(|s| id <= s) {
                                break 'pages;
                            }
                            newest = Some(newest.map_or(id, |n| n.max(id)));
                            if poll.items.len() < self.max_items {
                                poll.items.push(item);
                            }
                        }
                    }
                }
            }
            if let Some(n) = newest {
                cur.newest.insert(country.clone(), n);
            }
        }
        poll.cursor = super::moved_cursor(&before, &cur);
        Ok(poll)
    }
}
