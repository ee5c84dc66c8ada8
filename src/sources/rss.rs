//! `rss` source: RSS 2.0 and Atom feeds (news, blogs, alert feeds), fetched conditionally.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::RssSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// Ids of the items of the last stored poll, so a feed that returns the same items every time
/// costs no classification; bounded because feeds are.
const MAX_REMEMBERED_IDS: usize = 1000;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RssCursor {
    seen: Vec<String>,
}

pub struct RssSource {
    cfg: RssSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl RssSource {
    pub fn new(cfg: RssSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> RssSource {
        RssSource {
            cfg,
            fetcher,
            max_items,
        }
    }
}

/// Items of a feed document; `Err` when the document is not a feed.
pub fn parse_feed(bytes: &[u8], max_items: usize) -> Result<Vec<RawItem>, SourceError> {
    parse_feed_page(bytes, max_items).map(|(items, _)| items)
}

/// Items of one feed page and its `rel="next"` link (RFC 5005 paging), as written in the
/// document (possibly relative).
pub fn parse_feed_page(
    bytes: &[u8],
    max_items: usize,
) -> Result<(Vec<RawItem>, Option<String>), SourceError> {
    let feed = feed_rs::parser::parse(bytes).map_err(|e| SourceError::Parse {
        what: "feed",
        message: e.to_string(),
    })?;
    let next = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("next"))
        .map(|l| l.href.clone());
    let mut items = Vec::new();
    for e in feed.entries.into_iter().take(max_items) {
        let link = e.links.first().map(|l| l.href.clone());
        let title = e.title.map(|t| text::html_to_text(&t.content));
        let body = e
            .content
            .and_then(|c| c.body)
            .or(e.summary.map(|s| s.content))
            .map(|b| text::html_to_text(&b))
            .unwrap_or_default();
        let body = text::cap_chars(&body, text::MAX_POST_CHARS).to_string();
        // A headline-only item (common in alert feeds) is still a post: its title is its text.
        let text_ = if body.is_empty() {
            title.clone().unwrap_or_default()
        } else {
            body
        };
        if text_.is_empty() {
            continue;
        }
        let external_id = if !e.id.is_empty() {
            e.id
        } else if let Some(l) = &link {
            l.clone()
        } else {
            format!("h:{}", &blake3::hash(text_.as_bytes()).to_hex()[..24])
        };
        items.push(RawItem {
            external_id,
            url: link,
            author: e
                .authors
                .first()
                .map(|a| a.name.clone())
                .filter(|a| !a.is_empty()),
            published_ms: e.published.or(e.updated).map(|d| d.timestamp_millis()),
            title,
            text: text_,
            rating: None,
            channel: Some("feed".into()),
        });
    }
    Ok((items, next))
}

#[async_trait]
impl Source for RssSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "rss"
    }

    fn rewind(&self) {
        self.fetcher.forget_validators(&self.cfg.url);
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let prev: RssCursor = super::decode_cursor(&self.cfg.name, cursor);
        let mut poll = Poll::default();
        let mut items: Vec<RawItem> = Vec::new();
        let mut url = self.cfg.url.clone();
        let mut visited = std::collections::HashSet::new();
        for page in 0..self.cfg.max_pages {
            visited.insert(url.clone());
            let body = match self.fetcher.get(&url, FetchKind::Feed).await {
                Ok(Fetched::NotModified) if page == 0 => return Ok(Poll::default()),
                Ok(Fetched::NotModified) => break,
                Ok(Fetched::Fresh(b)) => b,
                Err(e) if page == 0 => return Err(e.into()),
                Err(e) => {
                    poll.failed = Some(e.into());
                    break;
                }
            };
            let room = self.max_items.saturating_sub(items.len());
            let (page_items, next) = match parse_feed_page(&body.bytes, room) {
                Ok(p) => p,
                Err(e) => {
                    // The next poll must re-read the page even if the server says "not modified".
                    self.fetcher.forget_validators(&url);
                    if page == 0 {
                        return Err(e);
                    }
                    poll.failed = Some(e);
                    break;
                }
            };
            let known_page = page_items
                .iter()
                .all(|i| prev.seen.contains(&i.external_id));
            items.extend(page_items);
            // Pages run newest first: below a page this poll already knew, an earlier poll
            // has read the rest. A next link seen before is a loop.
            let next = next
                .and_then(|n| body.url.join(&n).ok())
                .map(|u| u.to_string());
            match next {
                Some(n) if !known_page && !visited.contains(&n) && items.len() < self.max_items => {
                    url = n
                }
                _ => break,
            }
        }
        let seen_now: Vec<String> = items
            .iter()
            .map(|i| i.external_id.clone())
            .take(MAX_REMEMBERED_IDS)
            .collect();
        poll.items = items
            .into_iter()
            .filter(|i| !prev.seen.contains(&i.external_id))
            .collect();
        // After a failed page the cursor stays, so the next poll walks the pages again and
        // reads what it missed (the items already stored are recognised as duplicates).
        if poll.failed.is_none() {
            poll.cursor =
                Some(serde_json::to_vec(&RssCursor { seen: seen_now }).expect("cursor serialises"));
        }
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rss_and_atom() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>a1</guid><title>Acme rocks</title><link>http://x/a1</link>
<description>&lt;p&gt;I &lt;b&gt;love&lt;/b&gt; my Acme&lt;/p&gt;</description>
<pubDate>Fri, 03 Oct 2025 10:00:00 +0000</pubDate></item>
<item><title>Headline only about Acme</title><link>http://x/a2</link></item>
</channel></rss>"#;
        let items = parse_feed(rss, 100).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].external_id, "a1");
        assert_eq!(items[0].text, "I love my Acme");
        assert_eq!(items[0].published_ms, Some(1_759_485_600_000));
        assert_eq!(items[1].text, "Headline only about Acme");

        let atom = br#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title><id>urn:f</id><updated>2025-10-03T10:00:00Z</updated>
<entry><id>urn:e1</id><title>E1</title><updated>2025-10-03T10:00:00Z</updated>
<author><name>Jo</name></author><content type="html">Acme &amp;amp; friends</content></entry></feed>"#;
        let items = parse_feed(atom, 100).unwrap();
        assert_eq!(items[0].external_id, "urn:e1");
        assert_eq!(items[0].author.as_deref(), Some("Jo"));
        assert_eq!(items[0].text, "Acme & friends");

        assert!(parse_feed(b"<html><body>not a feed", 10).is_err());
    }
}
