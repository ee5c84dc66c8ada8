//! `reddit` source: Reddit search (posts) and subreddit comments through the OAuth API, with
//! the user's own app credentials, newest first, from a stored time per listing.
//!
//! Quirks handled: logged-out JSON and robots.txt forbid scraping, so only `oauth.reddit.com`
//! is read, with a bearer token from the app's client credentials (or a script app's password
//! grant, which answers a bad password with `200 {"error": "invalid_grant"}`). Tokens last a
//! day and are renewed a minute early or on a 401. `raw_json=1` turns off the HTML-escaping of
//! text; bodies are Markdown. Removed and deleted items are skipped. The `X-Ratelimit-*`
//! headers are honoured by the fetch layer for every request to the host.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use super::fetch::{ApiRequest, Fetcher};
use super::{FetchError, Poll, Source, SourceError};
use crate::config::social::RedditSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// A listing's largest page.
const PAGE_LIMIT: u32 = 100;

/// Tokens are renewed this long before they expire, so none dies mid-poll.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct RedditCursor {
    /// Listing ("search" or "r/<name>") → creation time (ms) of the newest item stored.
    newest: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Debug, Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<serde_json::Value>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Thing {
    kind: String,
    data: ThingData,
}

#[derive(Debug, Deserialize)]
struct ThingData {
    name: String,
    created_utc: f64,
    author: Option<String>,
    permalink: Option<String>,
    subreddit: Option<String>,
    title: Option<String>,
    #[serde(default)]
    selftext: String,
    body: Option<String>,
    link_title: Option<String>,
}

struct Token {
    value: String,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    error: Option<serde_json::Value>,
}

pub struct RedditSource {
    cfg: RedditSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
    token: tokio::sync::Mutex<Option<Token>>,
}

/// Markers Reddit leaves where text was taken down.
fn is_gone(t: &str) -> bool {
    matches!(t.trim(), "[removed]" | "[deleted]" | "")
}

fn item_of(t: Thing) -> Option<RawItem> {
    let d = t.data;
    let (text_, title) = match t.kind.as_str() {
        "t3" => {
            let title = d.title.filter(|t| !t.trim().is_empty());
            if is_gone(&d.selftext) {
                (title.clone()?, title)
            } else {
                (text::markdown_to_text(&d.selftext), title)
            }
        }
        "t1" => {
            let body = d.body.filter(|b| !is_gone(b))?;
            (text::markdown_to_text(&body), d.link_title)
        }
        _ => return None,
    };
    if text_.trim().is_empty() {
        return None;
    }
    Some(RawItem {
        external_id: d.name,
        url: d.permalink.map(|p| format!("https://www.reddit.com{p}")),
        author: d.author.filter(|a| a != "[deleted]" && !a.is_empty()),
        published_ms: Some((d.created_utc * 1000.0) as i64),
        title,
        text: text::cap_chars(&text_, text::MAX_POST_CHARS).to_string(),
        rating: None,
        channel: d.subreddit.map(|s| format!("r/{s}")),
    })
}

impl RedditSource {
    pub fn new(cfg: RedditSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        RedditSource {
            cfg,
            fetcher,
            max_items,
            token: tokio::sync::Mutex::new(None),
        }
    }

    /// A live bearer token; `stale` forces a new one (the API answered 401).
    async fn token(&self, stale: bool) -> Result<String, SourceError> {
        let mut slot = self.token.lock().await;
        let fresh = slot.as_ref().is_some_and(|t| Instant::now() < t.renew_at);
        if stale || !fresh {
            *slot = Some(self.request_token().await?);
        }
        Ok(slot.as_ref().map(|t| t.value.clone()).expect("just filled"))
    }

    async fn request_token(&self) -> Result<Token, SourceError> {
        let secret = self
            .cfg
            .client_secret
            .as_ref()
            .map(|s| s.expose())
            .unwrap_or_default();
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{secret}", self.cfg.client_id));
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            match (&self.cfg.username, &self.cfg.password) {
                (Some(u), Some(p)) => form
                    .append_pair("grant_type", "password")
                    .append_pair("username", u)
                    .append_pair("password", p.expose()),
                _ => form.append_pair("grant_type", "client_credentials"),
            };
            form.finish()
        };
        let req = ApiRequest::post(
            &self.cfg.token_url,
            "application/x-www-form-urlencoded",
            form.into_bytes(),
        )
        .header(AUTHORIZATION, format!("Basic {basic}"));
        let refused = |why: String| SourceError::Auth {
            message: format!("Reddit refused the app {} ({why})", self.cfg.client_id),
        };
        let body = match self.fetcher.call(&req).await {
            Ok(b) => b,
            Err(FetchError::Status {
                status: code @ (400 | 401 | 403),
                ..
            }) => return Err(refused(format!("HTTP {code}"))),
            Err(e) => return Err(e.into()),
        };
        let answer: TokenAnswer =
            serde_json::from_slice(&body.bytes).map_err(|e| SourceError::Parse {
                what: "reddit token answer",
                message: e.to_string(),
            })?;
        match (answer.access_token, answer.error) {
            (Some(value), None) => {
                let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
                Ok(Token {
                    value,
                    renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
                })
            }
            (_, Some(e)) => Err(refused(e.to_string().trim_matches('"').to_string())),
            (None, None) => Err(refused("no token in the answer".into())),
        }
    }

    async fn authed_get(&self, url: &str) -> Result<Vec<u8>, SourceError> {
        let mut stale = false;
        loop {
            let token = self.token(stale).await?;
            let req = ApiRequest::get(url).header(AUTHORIZATION, format!("bearer {token}"));
            match self.fetcher.call(&req).await {
                Ok(b) => return Ok(b.bytes),
                Err(FetchError::Status { status: 401, .. }) if !stale => stale = true,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The listings this source reads: (cursor key, URL without paging).
    fn listings(&self) -> Vec<(String, url::Url)> {
        let base = self.cfg.api_base.trim_end_matches('/');
        let mut out = Vec::new();
        if let Some(q) = self.cfg.query.as_deref().filter(|q| !q.trim().is_empty()) {
            let mut u = url::Url::parse(&format!("{base}/search")).expect("validated");
            u.query_pairs_mut()
                .append_pair("q", q)
                .append_pair("sort", "new")
                .append_pair("type", "link");
            out.push(("search".to_string(), u));
        }
        for sub in &self.cfg.subreddits {
            let u = url::Url::parse(&format!("{base}/r/{sub}/comments")).expect("validated");
            out.push((format!("r/{sub}"), u));
        }
        for (_, u) in &mut out {
            u.query_pairs_mut()
                .append_pair("limit", &PAGE_LIMIT.to_string())
                .append_pair("raw_json", "1");
        }
        out
    }
}

#[async_trait]
impl Source for RedditSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "reddit"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let before: RedditCursor = super::decode_cursor(&self.cfg.name, cursor);
        let mut cur = before.clone();
        let mut poll = Poll::default();
        for (key, first) in self.listings() {
            let stored = before.newest.get(&key).copied();
            let mut newest = stored;
            let mut after: Option<String> = None;
            for _ in 0..self.cfg.max_pages {
                let mut url = first.clone();
                if let Some(a) = &after {
                    url.query_pairs_mut().append_pair("after", a);
                }
                let bytes = match self.authed_get(url.as_str()).await {
                    Ok(b) => b,
                    // A private, quarantined or banned subreddit: skip it, keep the others.
                    Err(SourceError::Fetch(FetchError::Status {
                        status: status @ (403 | 404),
                        ..
                    })) if key != "search" => {
                        tracing::warn!(source = %self.cfg.name, listing = %key, status,
                            "subreddit not readable; skipped");
                        poll.skipped += 1;
                        break;
                    }
                    Err(e) => return Err(e),
                };
                let listing: Listing =
                    serde_json::from_slice(&bytes).map_err(|e| SourceError::Parse {
                        what: "reddit listing",
                        message: e.to_string(),
                    })?;
                let mut reached_stored = false;
                for v in listing.data.children {
                    let Ok(t) = serde_json::from_value::<Thing>(v) else {
                        poll.skipped += 1;
                        continue;
                    };
                    let at = (t.data.created_utc * 1000.0) as i64;
                    // Same-second items at the cursor come again; the store knows them by id.
                    if stored.is_some_and(|s| at < s) {
                        reached_stored = true;
                        continue;
                    }
                    if poll.items.len() >= self.max_items {
                        // The hard cap: older items of this poll are left out.
                        reached_stored = true;
                        break;
                    }
                    match item_of(t) {
                        Some(i) => {
                            newest = Some(newest.map_or(at, |n| n.max(at)));
                            poll.items.push(i);
                        }
                        None => poll.skipped += 1,
                    }
                }
                match listing.data.after {
                    Some(a) if !reached_stored && after.as_deref() != Some(&a) => after = Some(a),
                    _ => break,
                }
            }
            if let Some(n) = newest {
                cur.newest.insert(key, n);
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
    fn posts_and_comments_become_items_and_removed_ones_do_not() {
        let t: Thing = serde_json::from_str(
            r#"{"kind":"t1","data":{"name":"t1_k2","id":"k2","created_utc":1763632800.0,
                "author":"sam","permalink":"/r/headphones/comments/abc/x/k2/","subreddit":"headphones",
                "body":"The **Acme** buds & case are fine","link_title":"Acme buds?"}}"#,
        )
        .unwrap();
        let i = item_of(t).unwrap();
        assert_eq!(i.external_id, "t1_k2");
        assert_eq!(i.text, "The Acme buds & case are fine");
        assert_eq!(i.channel.as_deref(), Some("r/headphones"));
        assert_eq!(i.published_ms, Some(1_763_632_800_000));
        let removed: Thing = serde_json::from_str(
            r#"{"kind":"t1","data":{"name":"t1_x","created_utc":1.0,"body":"[removed]","author":"[deleted]"}}"#,
        )
        .unwrap();
        assert!(item_of(removed).is_none());
        let link: Thing = serde_json::from_str(
            r#"{"kind":"t3","data":{"name":"t3_y","created_utc":1.0,"title":"Acme Phone 3 is out","selftext":""}}"#,
        )
        .unwrap();
        assert_eq!(item_of(link).unwrap().text, "Acme Phone 3 is out");
    }
}
