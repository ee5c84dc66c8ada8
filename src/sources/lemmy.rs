//! `lemmy` source: posts and comments matching a query, through `/api/v3/search` on a list of
//! instances, newest first (`sort=New`), from a stored publication time per instance.
//!
//! Quirks handled: content is Markdown (with `::: spoiler` blocks); older servers give
//! timestamps without a time zone (UTC); removed and deleted items are not posts; the
//! external id is the item's `ap_id`, the same on every instance, so a federated post is one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::LemmySourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

const PAGE_LIMIT: u32 = 50;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct LemmyCursor {
    /// Instance → publication time (ms) of the newest item stored.
    newest: BTreeMap<String, i64>,
}

/// Lemmy's `published`: RFC 3339, or (older servers) a naive UTC time.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

/// A post view or comment view as an item with its time; `Err(())` when malformed,
/// `Ok(None)` when removed or deleted.
fn item_of(view: &Value, comment: bool) -> Result<Option<(i64, RawItem)>, ()> {
    let inner = view
        .get(if comment { "comment" } else { "post" })
        .ok_or(())?;
    if inner.get("removed").and_then(Value::as_bool) == Some(true)
        || inner.get("deleted").and_then(Value::as_bool) == Some(true)
    {
        return Ok(None);
    }
    let ap_id = inner.get("ap_id").and_then(Value::as_str).ok_or(())?;
    let published = inner
        .get("published")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or(())?;
    let post_title = view
        .get("post")
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let body = inner
        .get(if comment { "content" } else { "body" })
        .and_then(Value::as_str)
        .map(|b| {
            if comment {
                text::markdown_to_text(&without_quotes(b))
            } else {
                text::markdown_to_text(b)
            }
        })
        .unwrap_or_default();
    let text_ = match (body.is_empty(), &post_title) {
        (false, _) => text::cap_chars(&body, text::MAX_POST_CHARS).to_string(),
        (true, Some(t)) if !comment => t.clone(),
        _ => return Err(()),
    };
    let author = view.get("creator").and_then(author_of);
    let community = view
        .get("community")
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("lemmy");
    Ok(Some((
        published,
        RawItem {
            external_id: ap_id.to_string(),
            url: Some(ap_id.to_string()).filter(|u| u.starts_with("https://")),
            author,
            published_ms: Some(published),
            title: post_title,
            text: text_,
            rating: None,
            channel: Some(format!("lemmy/{community}")),
        },
    )))
}

/// A comment's own words: the `> ` lines quote the comment it answers, whose words (and
/// emotions) are someone else's.
fn without_quotes(md: &str) -> String {
    md.lines()
        .filter(|l| !l.trim_start().starts_with('>'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `name@instance`, as Lemmy shows people across instances (`actor_id` is
/// `https://instance/u/name`); the bare name when the instance is unknown.
fn author_of(creator: &Value) -> Option<String> {
    let name = creator
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    let actor = creator.get("actor_id").and_then(Value::as_str);
    let host = actor
        .and_then(|a| url::Url::parse(a).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    match (name, host) {
        (Some(n), Some(h)) => Some(format!("{n}@{h}")),
        (Some(n), None) => Some(n.to_string()),
        (None, _) => actor.map(str::to_string),
    }
}

pub struct LemmySource {
    cfg: LemmySourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl LemmySource {
    pub fn new(cfg: LemmySourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        LemmySource {
            cfg,
            fetcher,
            max_items,
        }
    }

    fn page_url(&self, instance: &str, page: u32) -> String {
        let mut u = format!("{}/api/v3/search?", instance.trim_end_matches('/'));
        u.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", &self.cfg.query)
                .append_pair("type_", &self.cfg.search_type)
                .append_pair("sort", "New")
                .append_pair("listing_type", "All")
                .append_pair("limit", &PAGE_LIMIT.to_string())
                .append_pair("page", &page.to_string())
                .finish(),
        );
        u
    }
}

#[async_trait]
impl Source for LemmySource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "lemmy"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let mut cur: LemmyCursor = super::decode_cursor(&self.cfg.name, cursor);
        let before = cur.clone();
        let mut poll = Poll::default();
        let mut seen: HashSet<String> = HashSet::new();
        let backfill_from =
            crate::domain::time::now_ms() - self.cfg.backfill_days as i64 * 86_400_000;
        for instance in &self.cfg.instances {
            let stored = cur.newest.get(instance).copied();
            // Items published at the stored millisecond are asked for again; their ids are
            // already stored and skipped before classification.
            let from = stored.unwrap_or(backfill_from);
            let mut newest = stored;
            for page in 1..=self.cfg.max_pages {
                let body = match self
                    .fetcher
                    .get(&self.page_url(instance, page), FetchKind::Feed)
                    .await?
                {
                    Fetched::NotModified => break,
                    Fetched::Fresh(b) => b,
                };
                let doc: Value =
                    serde_json::from_slice(&body.bytes).map_err(|e| SourceError::Parse {
                        what: "lemmy search",
                        message: e.to_string(),
                    })?;
                let mut any_new = false;
                let mut on_page = 0u32;
                for (key, comment) in [("posts", false), ("comments", true)] {
                    for view in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
                        on_page += 1;
                        match item_of(view, comment) {
                            Err(()) => poll.skipped += 1,
                            Ok(None) => {}
                            Ok(Some((t, _))) if t < from => {}
                            Ok(Some((t, item))) => {
                                any_new = true;
                                newest = Some(newest.map_or(t, |n| n.max(t)));
                                if seen.insert(item.external_id.clone())
                                    && poll.items.len() < self.max_items
                                {
                                    poll.items.push(item);
                                }
                            }
                        }
                    }
                }
                // Newest first: a page with nothing new means the rest is older still, and a
                // page shorter than asked for is the last one.
                if on_page < PAGE_LIMIT || !any_new {
                    break;
                }
            }
            if let Some(n) = newest {
                cur.newest.insert(instance.clone(), n);
            }
        }
        poll.cursor = super::moved_cursor(&before, &cur);
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_keep_their_own_words_and_authors_their_instance() {
        let view = serde_json::json!({
            "comment": {"ap_id": "https://lemmy.world/comment/77", "published": "2026-11-20T10:00:00Z",
                        "content": "> The Acme Phone is garbage, returning it.\n\nMine has been great for a year, the battery too."},
            "post": {"name": "Acme Phone after a year"},
            "creator": {"name": "alice", "actor_id": "https://lemmy.world/u/alice"},
            "community": {"name": "phones"}
        });
        let (_, item) = item_of(&view, true).unwrap().unwrap();
        assert_eq!(
            item.text,
            "Mine has been great for a year, the battery too."
        );
        assert_eq!(item.author.as_deref(), Some("alice@lemmy.world"));
    }

    #[test]
    fn naive_timestamps_are_utc() {
        assert_eq!(
            parse_time("2026-11-20T10:00:00.123456"),
            parse_time("2026-11-20T10:00:00.123456Z")
        );
        assert!(parse_time("yesterday").is_none());
    }
}
