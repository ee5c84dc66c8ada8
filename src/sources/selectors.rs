//! `selectors` source: reviews on any page, through CSS selectors given in the config (one for
//! each review, and inside it for its text, title, author, rating, date and link), for sites
//! nobody has written a source for. Paging and the seen-reviews cursor are `pages`'.

use std::sync::Arc;

use async_trait::async_trait;
use scraper::{ElementRef, Html, Selector};

use super::fetch::Fetcher;
use super::pages::{content_id, crawl, next_link, PageReviews};
use super::{Poll, Source, SourceError};
use crate::config::sources::SelectorsSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// The config's selectors, parsed once (validation already checked them).
struct Compiled {
    item: Selector,
    text: Selector,
    title: Option<Selector>,
    author: Option<Selector>,
    rating: Option<Selector>,
    date: Option<Selector>,
    link: Option<Selector>,
    next: Option<Selector>,
}

impl Compiled {
    fn new(cfg: &SelectorsSourceConfig) -> Compiled {
        let opt = |s: &Option<String>| s.as_deref().map(compile);
        Compiled {
            item: compile(&cfg.item),
            text: compile(&cfg.text),
            title: opt(&cfg.title),
            author: opt(&cfg.author),
            rating: opt(&cfg.rating),
            date: opt(&cfg.date),
            link: opt(&cfg.link),
            next: opt(&cfg.next_selector),
        }
    }
}

fn compile(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|_| Selector::parse(":not(*)").expect("static selector"))
}

fn text_of(e: ElementRef<'_>) -> String {
    text::normalise_ws(&e.text().collect::<Vec<_>>().join(" "))
}

/// The first number in `s` ("4 out of 5", "Rated 4,5") .
fn first_number(s: &str) -> Option<f64> {
    let start = s.find(|c: char| c.is_ascii_digit())?;
    let num: String = s[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    num.replace(',', ".").trim_end_matches('.').parse().ok()
}

fn parse_date(raw: &str, format: Option<&str>) -> Option<i64> {
    let raw = raw.trim();
    if let Some(f) = format {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(raw, f) {
            return Some(t.and_utc().timestamp_millis());
        }
        if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, f) {
            return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
        }
    }
    crate::domain::time::parse_time_ms(raw)
}

pub struct SelectorsSource {
    cfg: SelectorsSourceConfig,
    sel: Arc<Compiled>,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl SelectorsSource {
    pub fn new(cfg: SelectorsSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        let sel = Arc::new(Compiled::new(&cfg));
        SelectorsSource {
            cfg,
            sel,
            fetcher,
            max_items,
        }
    }
}

/// The reviews of one page by the selectors of `cfg` (compiled here; the source compiles them
/// once). For `cxpulse fetch`-like tools and the fuzz targets.
pub fn extract(html: &str, page: &url::Url, cfg: &SelectorsSourceConfig) -> PageReviews {
    parse_page(html, page, cfg, &Compiled::new(cfg))
}

/// The reviews of one page by `cfg`'s selectors.
fn parse_page(
    html: &str,
    page: &url::Url,
    cfg: &SelectorsSourceConfig,
    sel: &Compiled,
) -> PageReviews {
    let doc = Html::parse_document(html);
    let mut out = PageReviews::default();
    for it in doc.select(&sel.item) {
        let find = |s: &Option<Selector>| s.as_ref().and_then(|s| it.select(s).next());
        let body: String = it
            .select(&sel.text)
            .map(text_of)
            .collect::<Vec<_>>()
            .join("\n");
        if body.trim().is_empty() {
            out.skipped += 1;
            continue;
        }
        let body = text::cap_chars(body.trim(), text::MAX_POST_CHARS).to_string();
        let attr_or_text = |e: ElementRef<'_>, attrs: &[&str]| {
            attrs
                .iter()
                .find_map(|a| e.value().attr(a).filter(|v| !v.trim().is_empty()))
                .map(str::to_string)
                .unwrap_or_else(|| text_of(e))
        };
        let rating = find(&sel.rating)
            .and_then(|e| {
                first_number(&attr_or_text(
                    e,
                    &["content", "data-rating", "aria-label", "title"],
                ))
            })
            .and_then(|r| crate::domain::post::rating_from_scale(r, cfg.rating_max));
        let date = find(&sel.date).map(|e| attr_or_text(e, &["datetime", "content"]));
        let link = find(&sel.link)
            .and_then(|e| e.value().attr("href"))
            .and_then(|h| page.join(h).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from);
        let author = find(&sel.author).map(text_of).filter(|a| !a.is_empty());
        let external_id = link.clone().unwrap_or_else(|| {
            content_id(&[
                page.as_str(),
                author.as_deref().unwrap_or(""),
                date.as_deref().unwrap_or(""),
                &body,
            ])
        });
        out.items.push(RawItem {
            external_id,
            url: link.or_else(|| Some(page.to_string())),
            author,
            published_ms: date
                .as_deref()
                .and_then(|d| parse_date(d, cfg.date_format.as_deref())),
            title: find(&sel.title).map(text_of).filter(|t| !t.is_empty()),
            text: body,
            rating,
            channel: Some("reviews".into()),
        });
    }
    out.next = next_link(&doc, page, sel.next.as_ref());
    out
}

#[async_trait]
impl Source for SelectorsSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "selectors"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        crawl(
            &self.cfg.name,
            &self.fetcher,
            &self.cfg.urls,
            self.cfg.max_pages,
            self.max_items,
            cursor,
            |html, url| parse_page(html, url, &self.cfg, &self.sel),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_come_out_of_page_text() {
        assert_eq!(first_number("Rated 4,5 out of 5"), Some(4.5));
        assert_eq!(first_number("★★★★☆ (4)"), Some(4.0));
        assert_eq!(first_number("no stars"), None);
        assert_eq!(
            parse_date("20.11.2026", Some("%d.%m.%Y")),
            crate::domain::time::parse_time_ms("2026-11-20")
        );
        assert_eq!(
            parse_date("2026-11-20T10:00:00Z", None),
            crate::domain::time::parse_time_ms("2026-11-20T10:00:00Z")
        );
    }
}
