//! `mastodon` source: hashtag timelines (`/api/v1/timelines/tag/{tag}`) on a list of
//! instances, newest first, from a stored `since_id` per instance and tag.
//!
//! Quirks handled: ids are strings that order as integers; content is HTML; paging is in the
//! `Link` header (`max_id`); a boost (`reblog`) wraps the original, which is what is kept. The
//! external id is the status's `uri`, the same on every instance, so a status seen on two
//! instances (or boosted) is one post.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::MastodonSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// Mastodon's largest page.
const PAGE_LIMIT: u32 = 40;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct MastodonCursor {
    /// "instance tag" → newest status id stored.
    since: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Account {
    #[serde(default)]
    acct: String,
}

#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    uri: Option<String>,
    url: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    spoiler_text: String,
    account: Option<Account>,
    reblog: Option<Box<Status>>,
}

/// Compares two Mastodon ids numerically (they are decimal strings of varying length).
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

pub struct MastodonSource {
    cfg: MastodonSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl MastodonSource {
    pub fn new(cfg: MastodonSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        MastodonSource {
            cfg,
            fetcher,
            max_items,
        }
    }

    fn first_url(&self, instance: &str, tag: &str, since: Option<&str>) -> String {
        let mut u = format!(
            "{}/api/v1/timelines/tag/{}?limit={PAGE_LIMIT}",
            instance.trim_end_matches('/'),
            url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()
        );
        if let Some(s) = since {
            u.push_str(&format!("&since_id={s}"));
        }
        u
    }
}

fn item_of(s: Status) -> Option<RawItem> {
    // A boost carries the original: keep the original, once.
    let s = match s.reblog {
        Some(orig) => *orig,
        None => s,
    };
    let body = text::html_to_text(&s.content);
    let warning = text::html_to_text(&s.spoiler_text);
    let text_ = match (warning.is_empty(), body.is_empty()) {
        (_, true) => return None,
        (true, false) => body,
        (false, false) => format!("{warning}: {body}"),
    };
    let published_ms = s
        .created_at
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis());
    Some(RawItem {
        external_id: s.uri.clone().unwrap_or(s.id),
        url: s.url.or(s.uri),
        author: s.account.map(|a| a.acct).filter(|a| !a.is_empty()),
        published_ms,
        title: None,
        text: text::cap_chars(&text_, text::MAX_POST_CHARS).to_string(),
        rating: None,
        channel: Some("mastodon".into()),
    })
}

#[async_trait]
impl Source for MastodonSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "mastodon"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let mut cur: MastodonCursor = super::decode_cursor(&self.cfg.name, cursor);
        let mut poll = Poll::default();
        // One status reached twice (boosted, or federated to two instances) is one item.
        let mut seen: HashSet<String> = HashSet::new();
        let before = cur.clone();
        for instance in &self.cfg.instances {
            for tag in &self.cfg.tags {
                let key = format!("{instance} {tag}");
                let since = cur.since.get(&key).cloned();
                let mut url = self.first_url(instance, tag, since.as_deref());
                let mut newest = since.clone();
                for _ in 0..self.cfg.max_pages {
                    let body = match self.fetcher.get(&url, FetchKind::Feed).await? {
                        Fetched::NotModified => break,
                        Fetched::Fresh(b) => b,
                    };
                    let page: Vec<serde_json::Value> = serde_json::from_slice(&body.bytes)
                        .map_err(|e| SourceError::Parse {
                            what: "mastodon timeline",
                            message: e.to_string(),
                        })?;
                    if page.is_empty() {
                        break;
                    }
                    for v in page {
                        // Ids are decimal strings; anything else is a malformed status and
                        // must not move the cursor.
                        let st = match serde_json::from_value::<Status>(v) {
                            Ok(st)
                                if !st.id.is_empty()
                                    && st.id.bytes().all(|b| b.is_ascii_digit()) =>
                            {
                                st
                            }
                            _ => {
                                poll.skipped += 1;
                                continue;
                            }
                        };
                        // Paging stops at what was stored even if a server ignores since_id.
                        if since
                            .as_deref()
                            .is_some_and(|s| cmp_ids(&st.id, s) != Ordering::Greater)
                        {
                            continue;
                        }
                        if newest
                            .as_deref()
                            .is_none_or(|n| cmp_ids(&st.id, n) == Ordering::Greater)
                        {
                            newest = Some(st.id.clone());
                        }
                        match item_of(st) {
                            Some(i) if !seen.insert(i.external_id.clone()) => {}
                            Some(i) if poll.items.len() < self.max_items => poll.items.push(i),
                            Some(_) => {}
                            None => poll.skipped += 1,
                        }
                    }
                    // The next (older) page keeps since_id, so it ends at what was stored.
                    let Some(next) = body.next_link else { break };
                    url = match &since {
                        Some(s) if !next.contains("since_id=") => format!("{next}&since_id={s}"),
                        _ => next,
                    };
                }
                if let Some(n) = newest {
                    cur.since.insert(key, n);
                }
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
    fn ids_order_as_integers_and_boosts_keep_the_original() {
        assert_eq!(cmp_ids("99", "100"), Ordering::Less);
        assert_eq!(cmp_ids("113", "112"), Ordering::Greater);
        let boost: Status = serde_json::from_str(
            r#"{"id":"200","uri":"https://a.example/users/b/statuses/200/activity","content":"",
                "account":{"acct":"booster"},
                "reblog":{"id":"150","uri":"https://b.example/users/c/statuses/9","url":"https://b.example/@c/9",
                          "created_at":"2026-11-20T10:00:00.000Z","content":"<p>My <a href=\"x\">#AcmePhone</a> &amp; me</p>",
                          "spoiler_text":"","account":{"acct":"c@b.example"}}}"#,
        )
        .unwrap();
        let i = item_of(boost).unwrap();
        assert_eq!(i.external_id, "https://b.example/users/c/statuses/9");
        assert_eq!(i.author.as_deref(), Some("c@b.example"));
        assert_eq!(i.text, "My #AcmePhone & me");
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let l = r#"<https://m.example/api/v1/timelines/tag/acme?limit=40&max_id=111>; rel="next", <https://m.example/api/v1/timelines/tag/acme?limit=40&min_id=120>; rel="prev""#;
        assert_eq!(
            super::super::fetch::parse_next_link(l).as_deref(),
            Some("https://m.example/api/v1/timelines/tag/acme?limit=40&max_id=111")
        );
        assert_eq!(
            super::super::fetch::parse_next_link(r#"<x>; rel="prev""#),
            None
        );
    }
}
