//! Crawling paginated HTML pages for the page-based sources (`jsonld`, `selectors`): follow
//! a next-page link up to a cap, stop a pager that loops, and hand on only the reviews the last
//! stored poll did not already see (pages are read again on every poll).

use std::collections::HashSet;

use scraper::{Html, Selector};
use serde::{Deserialize, Serialize};

use super::fetch::{FetchKind, Fetched, Fetcher};
use super::{Poll, SourceError};
use crate::domain::RawItem;

/// Ids of the reviews of the last stored poll.
const MAX_REMEMBERED_IDS: usize = 5000;

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct SeenCursor {
    seen: Vec<String>,
}

/// What one page holds.
#[derive(Debug, Default)]
pub struct PageReviews {
    pub items: Vec<RawItem>,
    /// Broken blocks and reviews without text.
    pub skipped: u64,
    /// The next page's URL, resolved against the page's.
    pub next: Option<String>,
}

/// The `href` of the first element `sel` matches, resolved against `page` (http(s) only).
pub fn next_link(doc: &Html, page: &url::Url, sel: Option<&Selector>) -> Option<String> {
    sel.and_then(|s| doc.select(s).next())
        .and_then(|a| a.value().attr("href"))
        .and_then(|h| page.join(h).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from)
}

/// Reads every start URL and its next pages (at most `max_pages` each) with `parse`.
pub async fn crawl(
    source: &str,
    fetcher: &Fetcher,
    urls: &[String],
    max_pages: u32,
    max_items: usize,
    cursor: Option<&[u8]>,
    parse: impl Fn(&str, &url::Url) -> PageReviews,
) -> Result<Poll, SourceError> {
    let prev: SeenCursor = super::decode_cursor(source, cursor);
    let known: HashSet<&str> = prev.seen.iter().map(String::as_str).collect();
    let mut poll = Poll::default();
    let mut seen_now: Vec<String> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    for start in urls {
        let mut visited: HashSet<String> = HashSet::new();
        let mut url = Some(start.clone());
        let mut pages = 0;
        while let Some(u) = url.take() {
            if pages == max_pages {
                break;
            }
            if !visited.insert(u.clone()) {
                tracing::warn!(source, url = %u, "the pager loops back; stopped");
                break;
            }
            pages += 1;
            let body = match fetcher.get(&u, FetchKind::Page).await? {
                Fetched::NotModified => break,
                Fetched::Fresh(b) => b,
            };
            if !looks_like_html(body.content_type.as_deref(), &body.bytes) {
                // A JSON error, an image or a PDF where a page was expected: a parse failure
                // the operator sees, never a quiet "0 reviews".
                return Err(SourceError::Parse {
                    what: "page",
                    message: format!(
                        "{u} answered {}, not an HTML page",
                        body.content_type
                            .as_deref()
                            .unwrap_or("a body without a content type")
                    ),
                });
            }
            let parsed = parse(&String::from_utf8_lossy(&body.bytes), &body.url);
            poll.skipped += parsed.skipped;
            for i in parsed.items {
                if !ids.insert(i.external_id.clone()) {
                    continue;
                }
                seen_now.push(i.external_id.clone());
                if !known.contains(i.external_id.as_str()) && poll.items.len() < max_items {
                    poll.items.push(i);
                }
            }
            url = parsed.next;
        }
    }
    seen_now.truncate(MAX_REMEMBERED_IDS);
    poll.cursor = super::moved_cursor(&prev, &SeenCursor { seen: seen_now });
    Ok(poll)
}

/// Whether a page body is HTML: by its content type when it has one, else by its first byte.
fn looks_like_html(content_type: Option<&str>, bytes: &[u8]) -> bool {
    match content_type.map(|c| c.to_ascii_lowercase()) {
        Some(c) if c.contains("html") || c.contains("xml") => true,
        // Servers label HTML text/plain or octet-stream often enough to look at the body.
        Some(c) if !(c.starts_with("text/plain") || c.contains("octet-stream")) => false,
        _ => bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'<'),
    }
}

/// A content hash as the id of a review that has none of its own.
pub fn content_id(parts: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    format!("h:{}", &h.finalize().to_hex()[..24])
}
