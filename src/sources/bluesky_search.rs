//! `bluesky_search` source: Bluesky posts through `app.bsky.feed.searchPosts`, signed in with
//! the user's app password, newest first, from a stored creation-time cursor.
//!
//! Quirks handled: the session's access token expires after a couple of hours (`400
//! ExpiredToken`), so it is refreshed with the refresh token and, failing that, a new session
//! is created; creating sessions is itself rate-limited, so the session lives as long as the
//! source. `since` is inclusive and compares the index time, so posts at the cursor come back
//! and are skipped here. The post's `at://` URI is its id, the same one Jetstream gives, so a
//! post both sources see is one post.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use serde::{Deserialize, Serialize};

use super::fetch::{ApiRequest, Fetcher};
use super::{FetchError, Poll, Source, SourceError};
use crate::config::social::BlueskySearchSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// searchPosts' largest page.
const PAGE_LIMIT: u32 = 100;

/// How far before the stored cursor each poll asks again.
const OVERLAP_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct SearchCursor {
    /// Creation time (ms) of the newest post stored.
    newest_ms: Option<i64>,
}

/// The part of an `app.bsky.feed.post` record cxpulse reads (Jetstream carries the same).
#[derive(Debug, Deserialize)]
pub struct PostRecord {
    #[serde(default)]
    pub text: String,
    #[serde(rename = "createdAt")]
    pub created_at: Option<String>,
    #[serde(default)]
    pub langs: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Author {
    did: String,
    handle: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PostView {
    uri: String,
    author: Author,
    record: PostRecord,
    #[serde(rename = "indexedAt")]
    indexed_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    posts: Vec<serde_json::Value>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
struct Session {
    #[serde(rename = "accessJwt")]
    access: String,
    #[serde(rename = "refreshJwt")]
    refresh: String,
}

/// Milliseconds since the epoch of an RFC 3339 time.
pub fn parse_ms(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A post record as an item. `author` is the handle when known, else the DID.
pub fn item_of(
    uri: &str,
    author: &str,
    record: &PostRecord,
    fallback_ms: Option<i64>,
) -> Option<RawItem> {
    let body = record.text.trim();
    if body.is_empty() {
        return None;
    }
    let rkey = uri.rsplit('/').next().unwrap_or_default();
    Some(RawItem {
        external_id: uri.to_string(),
        url: Some(format!("https://bsky.app/profile/{author}/post/{rkey}")),
        author: Some(author.to_string()),
        published_ms: record
            .created_at
            .as_deref()
            .and_then(parse_ms)
            .or(fallback_ms),
        title: None,
        text: text::cap_chars(body, text::MAX_POST_CHARS).to_string(),
        rating: None,
        channel: Some("bluesky".into()),
    })
}

pub struct BlueskySearchSource {
    cfg: BlueskySearchSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
    session: tokio::sync::Mutex<Option<Session>>,
}

impl BlueskySearchSource {
    pub fn new(cfg: BlueskySearchSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        BlueskySearchSource {
            cfg,
            fetcher,
            max_items,
            session: tokio::sync::Mutex::new(None),
        }
    }

    fn xrpc(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.cfg.service.trim_end_matches('/'))
    }

    /// A usable access token: the current one, or after `expired`, a refreshed or new session.
    async fn token(&self, expired: bool) -> Result<String, SourceError> {
        let mut slot = self.session.lock().await;
        if expired {
            if let Some(old) = slot.take() {
                let req = ApiRequest::post(
                    self.xrpc("com.atproto.server.refreshSession"),
                    "application/json",
                    Vec::new(),
                )
                .header(AUTHORIZATION, format!("Bearer {}", old.refresh));
                match self.fetcher.call(&req).await {
                    Ok(b) => match serde_json::from_slice::<Session>(&b.bytes) {
                        Ok(s) => *slot = Some(s),
                        Err(_) => {
                            tracing::debug!(source = %self.cfg.name, "refresh answer unreadable")
                        }
                    },
                    Err(e) => {
                        tracing::debug!(source = %self.cfg.name, error = %e, "session refresh failed; signing in again")
                    }
                }
            }
        }
        if slot.is_none() {
            *slot = Some(self.sign_in().await?);
        }
        Ok(slot
            .as_ref()
            .map(|s| s.access.clone())
            .expect("just filled"))
    }

    async fn sign_in(&self) -> Result<Session, SourceError> {
        let password = self
            .cfg
            .app_password
            .as_ref()
            .map(|p| p.expose())
            .unwrap_or_default();
        let body = serde_json::json!({ "identifier": self.cfg.identifier, "password": password });
        let req = ApiRequest::post(
            self.xrpc("com.atproto.server.createSession"),
            "application/json",
            serde_json::to_vec(&body).expect("json"),
        );
        match self.fetcher.call(&req).await {
            Ok(b) => serde_json::from_slice(&b.bytes).map_err(|e| SourceError::Parse {
                what: "bluesky session",
                message: e.to_string(),
            }),
            Err(FetchError::Status {
                status: 400 | 401,
                detail,
                ..
            }) => Err(SourceError::Auth {
                message: format!(
                    "Bluesky refused the app password of {} ({})",
                    self.cfg.identifier,
                    xrpc_error(detail.as_deref()).unwrap_or("no reason given")
                ),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// GETs `url` with the session, renewing it once if the server says it expired.
    async fn authed_get(&self, url: &str) -> Result<Vec<u8>, SourceError> {
        let mut expired = false;
        loop {
            let token = self.token(expired).await?;
            let req = ApiRequest::get(url).header(AUTHORIZATION, format!("Bearer {token}"));
            match self.fetcher.call(&req).await {
                Ok(b) => return Ok(b.bytes),
                Err(FetchError::Status {
                    status: 400 | 401,
                    detail,
                    ..
                }) if !expired
                    && matches!(
                        xrpc_error(detail.as_deref()),
                        Some("ExpiredToken" | "InvalidToken" | "AuthenticationRequired")
                    ) =>
                {
                    expired = true;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn page_url(&self, since_ms: i64, cursor: Option<&str>) -> String {
        let since = chrono::DateTime::from_timestamp_millis(since_ms)
            .unwrap_or_default()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut u = url::Url::parse(&self.xrpc("app.bsky.feed.searchPosts")).expect("validated");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("q", &self.cfg.query)
                .append_pair("sort", "latest")
                .append_pair("limit", &PAGE_LIMIT.to_string())
                .append_pair("since", &since);
            if let Some(l) = &self.cfg.lang {
                q.append_pair("lang", l);
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        u.into()
    }
}

/// The `error` name of an XRPC error body (`{"error":"ExpiredToken","message":…}`).
fn xrpc_error(detail: Option<&str>) -> Option<&str> {
    let d = detail?;
    let start = d.find("\"error\"")? + 7;
    let rest = d[start..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

#[async_trait]
impl Source for BlueskySearchSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "bluesky_search"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let prev: SearchCursor = super::decode_cursor(&self.cfg.name, cursor);
        // Asked again with ten minutes of overlap: posts are indexed a little out of order, and
        // those already stored are known by id.
        let since_ms = prev.newest_ms.map(|n| n - OVERLAP_MS).unwrap_or_else(|| {
            crate::domain::time::now_ms() - self.cfg.backfill_days as i64 * 86_400_000
        });
        let mut poll = Poll::default();
        let mut newest = prev.newest_ms;
        let mut page_cursor: Option<String> = None;
        for page in 0..self.cfg.max_pages {
            let bytes = self
                .authed_get(&self.page_url(since_ms, page_cursor.as_deref()))
                .await?;
            let parsed: Page = serde_json::from_slice(&bytes).map_err(|e| SourceError::Parse {
                what: "bluesky search page",
                message: e.to_string(),
            })?;
            let mut reached_stored = false;
            for v in &parsed.posts {
                let Ok(p) = PostView::deserialize(v) else {
                    poll.skipped += 1;
                    continue;
                };
                let indexed = p.indexed_at.as_deref().and_then(parse_ms);
                let author = p.author.handle.as_deref().unwrap_or(&p.author.did);
                let Some(item) = item_of(&p.uri, author, &p.record, indexed) else {
                    poll.skipped += 1;
                    continue;
                };
                // The cursor follows the search's own time: the post's claimed creation time,
                // but never later than when Bluesky indexed it, nor than now (a post dated
                // 2099 must not stop the source).
                let at = [
                    item.published_ms,
                    indexed,
                    Some(crate::domain::time::now_ms()),
                ]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(since_ms);
                // Older than the overlap: an earlier poll stored it.
                if prev.newest_ms.is_some() && at < since_ms {
                    reached_stored = true;
                    continue;
                }
                if poll.items.len() >= self.max_items {
                    reached_stored = true;
                    break;
                }
                newest = Some(newest.map_or(at, |n| n.max(at)));
                poll.items.push(item);
            }
            match parsed.cursor {
                // A cursor that comes back unchanged would page forever.
                Some(c)
                    if !parsed.posts.is_empty()
                        && !reached_stored
                        && page_cursor.as_deref() != Some(&c) =>
                {
                    page_cursor = Some(c)
                }
                _ => break,
            }
            if page + 1 == self.cfg.max_pages {
                tracing::warn!(source = %self.cfg.name,
                    "more results than max_pages; older ones of this poll are left out");
            }
        }
        poll.cursor = super::moved_cursor(&prev, &SearchCursor { newest_ms: newest });
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xrpc_error_names_are_read_from_bodies() {
        assert_eq!(
            xrpc_error(Some(
                r#"{"error":"ExpiredToken","message":"Token has expired"}"#
            )),
            Some("ExpiredToken")
        );
        assert_eq!(
            xrpc_error(Some(r#"{ "error" : "InvalidRequest" }"#)),
            Some("InvalidRequest")
        );
        assert_eq!(xrpc_error(Some("Bad Gateway")), None);
        assert_eq!(xrpc_error(None), None);
    }

    #[test]
    fn records_become_items_with_web_links() {
        let r: PostRecord = serde_json::from_str(
            r#"{"$type":"app.bsky.feed.post","text":"The Acme Phone camera is great","createdAt":"2026-11-20T10:00:00.000Z","langs":["en"]}"#,
        )
        .unwrap();
        let i = item_of(
            "at://did:plc:abc/app.bsky.feed.post/3lb2xyz",
            "jo.bsky.social",
            &r,
            None,
        )
        .unwrap();
        assert_eq!(
            i.url.as_deref(),
            Some("https://bsky.app/profile/jo.bsky.social/post/3lb2xyz")
        );
        assert_eq!(i.published_ms, Some(1_795_168_800_000));
        let empty: PostRecord = serde_json::from_str(r#"{"text":"  "}"#).unwrap();
        assert!(item_of("at://x/app.bsky.feed.post/1", "x", &empty, None).is_none());
    }
}
