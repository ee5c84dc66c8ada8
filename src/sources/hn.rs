//! `hn` source: Hacker News stories and comments through the Algolia search API
//! (`/api/v1/search_by_date`), newest first, from a stored `created_at_i` cursor.
//!
//! Quirks handled: `created_at` comes with or without milliseconds, so `created_at_i` is used;
//! empty fields are omitted; `_highlightResult` wraps matches in `<em>` (even inside URLs), so it
//! is never read; comment and story text is HTML with entities.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::HnSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

const HITS_PER_PAGE: u32 = 100;

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct HnCursor {
    /// `created_at_i` of the newest item stored; the next poll asks for `>=` it (items of
    /// that second already stored are skipped by id before classification).
    newest: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Page {
    hits: Vec<serde_json::Value>,
    #[serde(default, rename = "nbPages")]
    nb_pages: u32,
}

/// The fields of a hit this source reads; everything is optional in the API.
#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    created_at_i: i64,
    author: Option<String>,
    title: Option<String>,
    story_title: Option<String>,
    story_text: Option<String>,
    comment_text: Option<String>,
    #[serde(default, rename = "_tags")]
    tags: Vec<String>,
}

pub struct HnSource {
    cfg: HnSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl HnSource {
    pub fn new(cfg: HnSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> HnSource {
        HnSource {
            cfg,
            fetcher,
            max_items,
        }
    }

    fn page_url(&self, since: i64, page: u32) -> Result<String, SourceError> {
        let mut u = url::Url::parse(&self.cfg.base_url)
            .and_then(|b| b.join("/api/v1/search_by_date"))
            .map_err(|e| SourceError::Parse {
                what: "hn base_url",
                message: e.to_string(),
            })?;
        let tags = if self.cfg.tags.len() == 1 {
            self.cfg.tags[0].clone()
        } else {
            format!("({})", self.cfg.tags.join(","))
        };
        u.query_pairs_mut()
            .append_pair("query", &self.cfg.query)
            .append_pair("tags", &tags)
            .append_pair("numericFilters", &format!("created_at_i>={since}"))
            .append_pair("hitsPerPage", &HITS_PER_PAGE.to_string())
            .append_pair("page", &page.to_string());
        Ok(u.into())
    }
}

/// One hit as an item; `None` when it has no text (a link-only story with no title).
fn item_of(h: Hit) -> Option<RawItem> {
    let is_comment = h.tags.iter().any(|t| t == "comment") || h.comment_text.is_some();
    let body = h
        .comment_text
        .or(h.story_text)
        .map(|t| text::html_to_text(&t))
        .filter(|t| !t.is_empty());
    let title = h
        .title
        .or(h.story_title)
        .map(|t| text::html_to_text(&t))
        .filter(|t| !t.is_empty());
    let text_ = match (&body, &title) {
        (Some(b), _) => text::cap_chars(b, text::MAX_POST_CHARS).to_string(),
        (None, Some(t)) if !is_comment => t.clone(),
        _ => return None,
    };
    Some(RawItem {
        url: Some(format!(
            "https://news.ycombinator.com/item?id={}",
            h.object_id
        )),
        external_id: h.object_id,
        author: h.author.filter(|a| !a.is_empty()),
        published_ms: Some(h.created_at_i * 1000),
        title,
        text: text_,
        rating: None,
        channel: Some(if is_comment { "comment" } else { "story" }.into()),
    })
}

#[async_trait]
impl Source for HnSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "hn"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let prev: HnCursor = super::decode_cursor(&self.cfg.name, cursor);
        let since = prev.newest.unwrap_or_else(|| {
            crate::domain::time::now_ms() / 1000 - self.cfg.backfill_days as i64 * 86_400
        });
        let mut poll = Poll::default();
        let mut newest = prev.newest;
        for page in 0..self.cfg.max_pages {
            let url = self.page_url(since, page)?;
            let body = match self.fetcher.get(&url, FetchKind::Feed).await {
                Ok(Fetched::NotModified) => break,
                Ok(Fetched::Fresh(b)) => b,
                Err(e) if page == 0 => return Err(e.into()),
                // Results run newest first: what page 0 held is stored, but the cursor stays
                // put, so the next poll reads the pages below it again.
                Err(e) => {
                    poll.failed = Some(e.into());
                    poll.cursor = None;
                    return Ok(poll);
                }
            };
            let parsed: Page =
                serde_json::from_slice(&body.bytes).map_err(|e| SourceError::Parse {
                    what: "hn search page",
                    message: e.to_string(),
                })?;
            for v in parsed.hits {
                match serde_json::from_value::<Hit>(v) {
                    Ok(h) => {
                        newest = Some(newest.map_or(h.created_at_i, |n| n.max(h.created_at_i)));
                        match item_of(h) {
                            Some(i) if poll.items.len() < self.max_items => poll.items.push(i),
                            Some(_) => {}
                            None => poll.skipped += 1,
                        }
                    }
                    Err(e) => {
                        tracing::debug!(source = %self.cfg.name, error = %e, "hn hit skipped");
                        poll.skipped += 1;
                    }
                }
            }
            if page + 1 >= parsed.nb_pages {
                break;
            }
            if page + 1 == self.cfg.max_pages {
                tracing::warn!(source = %self.cfg.name, pages = parsed.nb_pages,
                    "more results than max_pages; older ones of this poll are left out");
            }
        }
        poll.cursor = super::moved_cursor(&prev, &HnCursor { newest });
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_become_items_without_highlight_markup() {
        let h: Hit = serde_json::from_str(
            r#"{"objectID":"42","created_at":"2026-11-20T10:00:00Z","created_at_i":1763632800,
               "author":"pg","comment_text":"The Acme Phone&#x27;s battery <i>lasts</i> &amp; lasts",
               "story_title":"Ask HN: phones?","_tags":["comment","author_pg","story_41"],
               "_highlightResult":{"comment_text":{"value":"The <em>Acme</em> Phone"}}}"#,
        )
        .unwrap();
        let i = item_of(h).unwrap();
        assert_eq!(i.text, "The Acme Phone's battery lasts & lasts");
        assert_eq!(i.title.as_deref(), Some("Ask HN: phones?"));
        assert_eq!(i.channel.as_deref(), Some("comment"));
        assert_eq!(i.published_ms, Some(1_763_632_800_000));
        assert_eq!(
            i.url.as_deref(),
            Some("https://news.ycombinator.com/item?id=42")
        );
        // A link-only story is its title; a comment without text is nothing.
        let story: Hit = serde_json::from_str(
            r#"{"objectID":"7","created_at_i":1,"title":"Acme Phone 3 review","_tags":["story"]}"#,
        )
        .unwrap();
        assert_eq!(item_of(story).unwrap().text, "Acme Phone 3 review");
        let empty: Hit =
            serde_json::from_str(r#"{"objectID":"8","created_at_i":1,"_tags":["comment"]}"#)
                .unwrap();
        assert!(item_of(empty).is_none());
    }
}
