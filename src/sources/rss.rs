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
    let feed = feed_rs::parser::parse(bytes).map_err(|e| SourceError::Parse {
        what: "feed",
        message: e.to_string(),
    })?;
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
    Ok(items)
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
        let body = match self.fetcher.get(&self.cfg.url, FetchKind::Feed).await? {
            Fetched::NotModified => return Ok(Poll::default()),
            Fetched::Fresh(b) => b,
        };
        let items = match parse_feed(&body.bytes, self.max_items) {
            Ok(i) => i,
            Err(e) => {
                // The next poll must re-read the feed even if the server says "not modified".
                self.fetcher.forget_validators(&self.cfg.url);
                return Err(e);
            }
        };
        let seen_now: Vec<String> = items
            .iter()
            .map(|i| i.external_id.clone())
            .take(MAX_REMEMBERED_IDS)
            .collect();
        let fresh: Vec<RawItem> = items
            .into_iter()
            .filter(|i| !prev.seen.contains(&i.external_id))
            .collect();
        Ok(Poll {
            items: fresh,
            cursor: Some(
                serde_json::to_vec(&RssCursor { seen: seen_now }).expect("cursor serialises"),
            ),
            skipped: 0,
            more: false,
            failed: None,
        })
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
