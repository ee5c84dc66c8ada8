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
    /// Link and publication time of the same items: a feed that re-issues an item under a
    /// new `guid` (same link, same time) is not posting a new one.
    /// `(print, guid)` pairs.
    #[serde(default)]
    prints: Vec<(String, String)>,
}

/// An item's identity apart from its `guid`, when it has both a link and a time.
fn print(i: &RawItem) -> Option<String> {
    Some(format!("{} {}", i.published_ms?, i.url.as_deref()?))
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
    parse_feed_page(bytes, None, max_items).map(|(items, _)| items)
}

/// Items of one feed page and its `rel="next"` link (RFC 5005 paging), as written in the
/// document (possibly relative). Relative item links are resolved against `base` (the page's
/// URL) and any `xml:base` in the document; Google redirect links are unwrapped.
pub fn parse_feed_page(
    bytes: &[u8],
    base: Option<&str>,
    max_items: usize,
) -> Result<(Vec<RawItem>, Option<String>), SourceError> {
    let feed = feed_rs::parser::Builder::new()
        .base_uri(base)
        .build()
        .parse(bytes)
        .map_err(|e| SourceError::Parse {
            what: "feed",
            message: e.to_string(),
        })?;
    // Atom: an entry without an author has the feed's.
    let feed_author = feed
        .authors
        .first()
        .map(|a| a.name.clone())
        .filter(|a| !a.is_empty());
    let next = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("next"))
        .map(|l| l.href.clone());
    let mut items = Vec::new();
    for e in feed.entries.into_iter().take(max_items) {
        let link = e.links.first().map(|l| text::unwrap_redirect(&l.href));
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
                .filter(|a| !a.is_empty())
                .or_else(|| feed_author.clone()),
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
            let (page_items, next) =
                match parse_feed_page(&body.bytes, Some(body.url.as_str()), room) {
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
        let prints_now: Vec<(String, String)> = items
            .iter()
            .filter_map(|i| Some((print(i)?, i.external_id.clone())))
            .take(MAX_REMEMBERED_IDS)
            .collect();
        let mut prints: std::collections::HashMap<String, String> =
            prev.prints.into_iter().collect();
        poll.items = items
            .into_iter()
            .filter(|i| !prev.seen.contains(&i.external_id))
            // A new guid on a link and time already read is the same item re-issued (the same
            // guid twice is left to the pipeline, which counts it as a duplicate).
            .filter(|i| match print(i) {
                Some(p) => {
                    prints.entry(p).or_insert_with(|| i.external_id.clone()) == &i.external_id
                }
                None => true,
            })
            .collect();
        // After a failed page the cursor stays, so the next poll walks the pages again and
        // reads what it missed (the items already stored are recognised as duplicates).
        if poll.failed.is_none() {
            let cursor = RssCursor {
                seen: seen_now,
                prints: prints_now,
            };
            poll.cursor = Some(serde_json::to_vec(&cursor).expect("cursor serialises"));
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

    /// Relative links resolve against the feed's URL and `xml:base`; Google Alerts links are
    /// unwrapped to the article; an Atom entry without an author has the feed's.
    #[test]
    fn links_resolve_and_unwrap_and_authors_inherit() {
        let atom = br#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
<updated>2026-11-20T10:00:00Z</updated><author><name>Acme Weekly</name></author>
<entry><id>e1</id><title>Acme one</title><link href="/posts/1"/><updated>2026-11-20T10:00:00Z</updated><content>Acme one</content></entry>
<entry xml:base="https://cdn.example.org/blog/"><id>e2</id><title>Acme two</title><link href="two.html"/><updated>2026-11-20T11:00:00Z</updated><content>Acme two</content><author><name>Jo</name></author></entry>
<entry><id>e3</id><title>Acme three</title><link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example.com/acme-3&amp;ct=ga"/><updated>2026-11-20T12:00:00Z</updated><content>Acme three</content></entry>
</feed>"#;
        let (items, _) =
            parse_feed_page(atom, Some("https://blog.example.com/feed.xml"), 10).unwrap();
        let got: Vec<(Option<&str>, Option<&str>)> = items
            .iter()
            .map(|i| (i.url.as_deref(), i.author.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some("https://blog.example.com/posts/1"),
                    Some("Acme Weekly")
                ),
                (Some("https://cdn.example.org/blog/two.html"), Some("Jo")),
                (Some("https://news.example.com/acme-3"), Some("Acme Weekly")),
            ]
        );
    }
}
