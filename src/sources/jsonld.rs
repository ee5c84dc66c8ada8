//! `jsonld` source: reviews on product pages marked up with schema.org `Review`, in JSON-LD
//! (`@graph`, arrays, `review` nested in a `Product`) and in microdata, following a configured
//! next-page link.
//!
//! Quirks handled: ratings as strings or numbers, normalised with `bestRating`/`worstRating`
//! (default 5 and 1); authors as strings or `Person` objects; one broken JSON-LD block is
//! skipped and counted without losing the rest of the page; a paginator that loops is stopped
//! at the first page seen twice.

use std::sync::Arc;

use async_trait::async_trait;
use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use super::fetch::Fetcher;
use super::pages::{content_id, crawl, next_link, PageReviews};
use super::{Poll, Source, SourceError};
use crate::config::sources::JsonLdSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

fn is_type(v: &Value, t: &str) -> bool {
    match v.get("@type") {
        Some(Value::String(s)) => s == t || s.ends_with(&format!("/{t}")),
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
}

/// Rating in 0–1 from value, best and worst (defaults 5 and 1).
/// schema.org's `ratingValue` on its `bestRating` scale (default 5); `worstRating` only
/// bounds what is valid. Value over best, as the site shows it: 4 of 5 is 4★, not 0.75.
fn normalise_rating(value: f64, best: Option<f64>, worst: Option<f64>) -> Option<f32> {
    let (best, worst) = (best.unwrap_or(5.0), worst.unwrap_or(1.0).min(1.0));
    if value < worst {
        return None;
    }
    crate::domain::post::rating_from_scale(value, best)
}

fn string_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_string),
        Value::Array(a) => string_of(a.first()),
        _ => None,
    }
}

fn item(
    id: Option<String>,
    body: Option<String>,
    title: Option<String>,
    author: Option<String>,
    date: Option<String>,
    rating: Option<f32>,
    page: &url::Url,
) -> Option<RawItem> {
    let body = text::html_to_text(&body?);
    if body.is_empty() {
        return None;
    }
    let body = text::cap_chars(&body, text::MAX_POST_CHARS).to_string();
    let author = author
        .map(|a| text::html_to_text(&a))
        .filter(|a| !a.is_empty());
    let published_ms = date.as_deref().and_then(crate::domain::time::parse_time_ms);
    let external_id = id.unwrap_or_else(|| {
        content_id(&[
            page.as_str(),
            author.as_deref().unwrap_or(""),
            date.as_deref().unwrap_or(""),
            &body,
        ])
    });
    Some(RawItem {
        external_id,
        url: Some(page.to_string()),
        author,
        published_ms,
        title: title
            .map(|t| text::html_to_text(&t))
            .filter(|t| !t.is_empty()),
        text: body,
        rating,
        channel: Some("reviews".into()),
    })
}

fn review_from_ld(v: &Value, page: &url::Url) -> Option<RawItem> {
    let r = v.get("reviewRating");
    let rating = number(r.and_then(|r| r.get("ratingValue"))).and_then(|x| {
        normalise_rating(
            x,
            number(r.and_then(|r| r.get("bestRating"))),
            number(r.and_then(|r| r.get("worstRating"))),
        )
    });
    item(
        string_of(v.get("@id")).or_else(|| string_of(v.get("url"))),
        string_of(v.get("reviewBody")).or_else(|| string_of(v.get("description"))),
        string_of(v.get("name")).or_else(|| string_of(v.get("headline"))),
        string_of(v.get("author")),
        string_of(v.get("datePublished")),
        rating,
        page,
    )
}

/// Every `Review` in a JSON-LD value, wherever it nests.
fn collect_ld(v: &Value, page: &url::Url, out: &mut Vec<RawItem>, skipped: &mut u64, depth: u32) {
    if depth > 16 {
        return;
    }
    match v {
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_ld(x, page, out, skipped, depth + 1)),
        Value::Object(o) => {
            if is_type(v, "Review") {
                match review_from_ld(v, page) {
                    Some(i) => out.push(i),
                    None => *skipped += 1,
                }
                return;
            }
            for (k, x) in o {
                if k == "@graph" || k == "review" || k == "reviews" || x.is_object() || x.is_array()
                {
                    collect_ld(x, page, out, skipped, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// The value of an itemprop: `content`, `datetime` or `href` attributes first, else text.
fn prop(scope: ElementRef<'_>, name: &str) -> Option<String> {
    let s = Selector::parse(&format!("[itemprop~=\"{name}\"]")).ok()?;
    let e = scope.select(&s).next()?;
    let v = e.value();
    v.attr("content")
        .or_else(|| v.attr("datetime"))
        .map(str::to_string)
        .or_else(|| Some(e.text().collect::<Vec<_>>().join(" ")))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn reviews_from_microdata(doc: &Html, page: &url::Url, out: &mut Vec<RawItem>, skipped: &mut u64) {
    let reviews = sel("[itemscope][itemtype$=\"schema.org/Review\"]");
    for r in doc.select(&reviews) {
        let rating_scope = r
            .select(&sel("[itemprop~=\"reviewRating\"]"))
            .next()
            .unwrap_or(r);
        let num =
            |n: &str| prop(rating_scope, n).and_then(|s| s.replace(',', ".").parse::<f64>().ok());
        let rating = num("ratingValue")
            .and_then(|x| normalise_rating(x, num("bestRating"), num("worstRating")));
        let author = r
            .select(&sel("[itemprop~=\"author\"]"))
            .next()
            .map(|a| prop(a, "name").unwrap_or_else(|| a.text().collect::<Vec<_>>().join(" ")));
        let found = item(
            r.value().attr("itemid").map(str::to_string),
            prop(r, "reviewBody").or_else(|| prop(r, "description")),
            prop(r, "name"),
            author,
            prop(r, "datePublished"),
            rating,
            page,
        );
        match found {
            Some(i) => out.push(i),
            None => *skipped += 1,
        }
    }
}

/// The reviews of one HTML page, and its next page through `next_selector`.
pub fn parse_page(html: &str, page: &url::Url, next_selector: Option<&Selector>) -> PageReviews {
    let doc = Html::parse_document(html);
    let mut out = PageReviews::default();
    for script in doc.select(&sel("script[type=\"application/ld+json\"]")) {
        let raw: String = script.text().collect();
        match serde_json::from_str::<Value>(raw.trim()) {
            Ok(v) => collect_ld(&v, page, &mut out.items, &mut out.skipped, 0),
            Err(_) => out.skipped += 1,
        }
    }
    reviews_from_microdata(&doc, page, &mut out.items, &mut out.skipped);
    out.next = next_link(&doc, page, next_selector);
    out
}

pub struct JsonLdSource {
    cfg: JsonLdSourceConfig,
    next: Option<Selector>,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl JsonLdSource {
    pub fn new(cfg: JsonLdSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        // The selector was checked when the config was validated.
        let next = cfg
            .next_selector
            .as_deref()
            .and_then(|s| Selector::parse(s).ok());
        JsonLdSource {
            cfg,
            next,
            fetcher,
            max_items,
        }
    }
}

#[async_trait]
impl Source for JsonLdSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "jsonld"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let next = self.next.as_ref();
        crawl(
            &self.cfg.name,
            &self.fetcher,
            &self.cfg.urls,
            self.cfg.max_pages,
            self.max_items,
            cursor,
            |html, url| parse_page(html, url, next),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_normalise_with_their_scale() {
        assert_eq!(normalise_rating(4.0, None, None), Some(0.8));
        assert_eq!(normalise_rating(1.0, None, None), Some(0.2));
        assert_eq!(normalise_rating(8.0, Some(10.0), Some(0.0)), Some(0.8));
        // 8.5 out of 10 reads 4.25 stars, as the site shows it.
        let r = normalise_rating(8.5, Some(10.0), Some(1.0)).unwrap();
        assert!((crate::domain::post::as_stars(r) - 4.25).abs() < 1e-6);
        assert_eq!(normalise_rating(6.0, None, None), None);
        assert_eq!(normalise_rating(0.0, None, None), None, "below worstRating");
        assert_eq!(number(Some(&Value::String("4,5".into()))), Some(4.5));
    }
}
