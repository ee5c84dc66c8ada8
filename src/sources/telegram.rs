//! `telegram` source: public channel previews (`t.me/s/{channel}`), the newest messages first
//! and older ones through `?before=`, from the newest message number stored per channel.
//!
//! Quirks handled: a reply quotes its parent in an element of the same text class, so only the
//! message's own text (outside the quote) is read; the "load more" link sits at the top; posts
//! run oldest first on a page; HTML (links, `<br>`, emoji images) becomes text.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use scraper::{ElementRef, Html, Selector};
use serde::{Deserialize, Serialize};

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, Source, SourceError};
use crate::config::sources::TelegramSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct TelegramCursor {
    /// Channel → the newest message number stored.
    newest: BTreeMap<String, u64>,
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

/// Messages of one preview page as (number, item), oldest first, and how many were skipped.
pub fn parse_page(html: &str, channel: &str) -> (Vec<(u64, RawItem)>, u64) {
    let doc = Html::parse_document(html);
    let (msg, own_text, time, owner) = (
        sel(".tgme_widget_message[data-post]"),
        sel(".tgme_widget_message_text"),
        sel(".tgme_widget_message_date time[datetime]"),
        sel(".tgme_widget_message_owner_name"),
    );
    let reply = sel(".tgme_widget_message_reply");
    let mut out = Vec::new();
    let mut skipped = 0;
    for m in doc.select(&msg) {
        let post = m.value().attr("data-post").unwrap_or_default();
        let Some(n) = post
            .rsplit_once('/')
            .and_then(|(_, n)| n.parse::<u64>().ok())
        else {
            skipped += 1;
            continue;
        };
        // The quoted parent of a reply uses the same class: take the first text element that
        // is not inside the quote.
        let quoted: Vec<ElementRef<'_>> = m.select(&reply).collect();
        let text_el = m.select(&own_text).find(|t| {
            !quoted
                .iter()
                .any(|q| q.descendants().any(|d| d.id() == t.id()))
        });
        let body = text_el
            .map(|t| text::html_to_text(&t.inner_html()))
            .unwrap_or_default();
        if body.is_empty() {
            // Photos or stickers without a caption carry nothing to read.
            continue;
        }
        let published_ms = m
            .select(&time)
            .next()
            .and_then(|t| t.value().attr("datetime"))
            .and_then(crate::domain::time::parse_time_ms);
        let author = m
            .select(&owner)
            .next()
            .map(|o| text::normalise_ws(&o.text().collect::<String>()))
            .filter(|a| !a.is_empty());
        out.push((
            n,
            RawItem {
                external_id: format!("{channel}/{n}"),
                url: Some(format!("https://t.me/{channel}/{n}")),
                author,
                published_ms,
                title: None,
                text: text::cap_chars(&body, text::MAX_POST_CHARS).to_string(),
                rating: None,
                channel: Some(format!("telegram/{channel}")),
            },
        ));
    }
    (out, skipped)
}

pub struct TelegramSource {
    cfg: TelegramSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl TelegramSource {
    pub fn new(cfg: TelegramSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        TelegramSource {
            cfg,
            fetcher,
            max_items,
        }
    }
}

#[async_trait]
impl Source for TelegramSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "telegram"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let mut cur: TelegramCursor = super::decode_cursor(&self.cfg.name, cursor);
        let before_cursor = cur.clone();
        let mut poll = Poll::default();
        let mut read_any = false;
        'channels: for channel in &self.cfg.channels {
            let stored = cur.newest.get(channel).copied().unwrap_or(0);
            let mut newest = stored;
            let mut before: Option<u64> = None;
            for _ in 0..self.cfg.max_pages {
                let mut url = format!("{}/s/{channel}", self.cfg.base_url.trim_end_matches('/'));
                if let Some(b) = before {
                    url.push_str(&format!("?before={b}"));
                }
                let body = match self.fetcher.get(&url, FetchKind::Feed).await {
                    Ok(Fetched::NotModified) => break,
                    Ok(Fetched::Fresh(b)) => b,
                    Err(e) if !read_any => return Err(e.into()),
                    // What was read is stored; this channel's cursor stays put (pages run
                    // newest first), so its older pages are read again next time.
                    Err(e) => {
                        poll.failed = Some(e.into());
                        continue 'channels;
                    }
                };
                read_any = true;
                let (msgs, skipped) = parse_page(&String::from_utf8_lossy(&body.bytes), channel);
                poll.skipped += skipped;
                let Some(lowest) = msgs.iter().map(|(n, _)| *n).min() else {
                    break;
                };
                // Newest first across pages: a page runs oldest first, so walk it backwards.
                for (n, item) in msgs.into_iter().rev() {
                    // Older pages hold only messages below the bound asked for.
                    if n <= stored || before.is_some_and(|b| n >= b) {
                        continue;
                    }
                    newest = newest.max(n);
                    if poll.items.len() < self.max_items {
                        poll.items.push(item);
                    }
                }
                if lowest <= stored + 1 || before == Some(lowest) {
                    break;
                }
                before = Some(lowest);
            }
            if newest > stored {
                cur.newest.insert(channel.clone(), newest);
            }
        }
        poll.cursor = super::moved_cursor(&before_cursor, &cur);
        Ok(poll)
    }
}
