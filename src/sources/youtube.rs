//! `youtube` source: comment threads (and the replies that come with them) of videos or whole
//! channels through the YouTube Data API v3, with the user's API key, newest first, within a
//! daily quota budget.
//!
//! Quirks handled: the key travels in the `X-Goog-Api-Key` header, never in a URL that could be
//! logged. Every request costs a quota unit, and the quota day ends at midnight Pacific time:
//! units spent are counted in the cursor, so a restart does not forget them, and the source
//! stops at `daily_quota_units` or when the API answers `quotaExceeded`. A video with comments
//! turned off (`commentsDisabled`) or gone (`videoNotFound`) is skipped and counted, not fatal.
//! `textFormat=plainText` gives text without the HTML of `textDisplay`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::bluesky_search::parse_ms;
use super::fetch::{ApiRequest, Fetcher};
use super::{FetchError, Poll, Source, SourceError};
use crate::config::social::YoutubeSourceConfig;
use crate::domain::text;
use crate::domain::RawItem;

/// commentThreads' largest page.
const PAGE_LIMIT: u32 = 100;

/// The time zone whose midnight resets YouTube quotas.
const QUOTA_TZ: chrono_tz::Tz = chrono_tz::America::Los_Angeles;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
struct YoutubeCursor {
    /// The quota day (Pacific date) `used` counts for.
    day: Option<NaiveDate>,
    /// Units this source spent that day.
    used: u32,
    /// "video:<id>" or "channel:<id>" → publication time (ms) of the newest comment stored.
    newest: BTreeMap<String, i64>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    items: Vec<serde_json::Value>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Thread {
    snippet: ThreadSnippet,
    replies: Option<Replies>,
}

#[derive(Debug, Deserialize)]
struct ThreadSnippet {
    #[serde(rename = "topLevelComment")]
    top: Comment,
}

#[derive(Debug, Deserialize)]
struct Replies {
    #[serde(default)]
    comments: Vec<Comment>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: String,
    snippet: CommentSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommentSnippet {
    #[serde(default)]
    text_display: String,
    text_original: Option<String>,
    author_display_name: Option<String>,
    video_id: Option<String>,
    published_at: String,
}

/// What an error answer's `error.errors[0].reason` says.
fn api_reason(detail: Option<&str>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(detail?).ok()?;
    let e = &v["error"];
    e["errors"][0]["reason"]
        .as_str()
        .or_else(|| e["status"].as_str())
        .map(str::to_string)
}

fn item_of(c: &Comment, reply: bool) -> Option<RawItem> {
    let s = &c.snippet;
    let body = s.text_original.as_deref().unwrap_or(&s.text_display).trim();
    if body.is_empty() {
        return None;
    }
    let url = s.video_id.as_ref().map(|v| {
        let lc = url::form_urlencoded::byte_serialize(c.id.as_bytes()).collect::<String>();
        format!("https://www.youtube.com/watch?v={v}&lc={lc}")
    });
    Some(RawItem {
        external_id: c.id.clone(),
        url,
        author: s.author_display_name.clone().filter(|a| !a.is_empty()),
        published_ms: parse_ms(&s.published_at),
        title: None,
        text: text::cap_chars(body, text::MAX_POST_CHARS).to_string(),
        rating: None,
        channel: Some(if reply { "youtube_reply" } else { "youtube" }.into()),
    })
}

/// Today's quota day and how long until the next one starts.
fn quota_day(now: chrono::DateTime<Utc>) -> (NaiveDate, Duration) {
    let today = now.with_timezone(&QUOTA_TZ).date_naive();
    let next = today
        .checked_add_days(Days::new(1))
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| d.and_local_timezone(QUOTA_TZ).earliest())
        .map(|d| d.with_timezone(&Utc));
    let left = next
        .and_then(|n| (n - now).to_std().ok())
        .unwrap_or(Duration::from_secs(3600));
    (today, left)
}

pub struct YoutubeSource {
    cfg: YoutubeSourceConfig,
    fetcher: Arc<Fetcher>,
    max_items: usize,
}

impl YoutubeSource {
    pub fn new(cfg: YoutubeSourceConfig, fetcher: Arc<Fetcher>, max_items: usize) -> Self {
        YoutubeSource {
            cfg,
            fetcher,
            max_items,
        }
    }

    fn targets(&self) -> Vec<(String, &'static str, &String)> {
        let videos = self
            .cfg
            .video_ids
            .iter()
            .map(|v| (format!("video:{v}"), "videoId", v));
        let channels = self
            .cfg
            .channel_ids
            .iter()
            .map(|c| (format!("channel:{c}"), "allThreadsRelatedToChannelId", c));
        videos.chain(channels).collect()
    }

    fn page_url(&self, param: &str, id: &str, token: Option<&str>) -> String {
        let mut u = url::Url::parse(&format!(
            "{}/youtube/v3/commentThreads",
            self.cfg.base_url.trim_end_matches('/')
        ))
        .expect("validated");
        {
            let mut q = u.query_pairs_mut();
            q.append_pair(
                "part",
                if self.cfg.include_replies {
                    "snippet,replies"
                } else {
                    "snippet"
                },
            )
            .append_pair(param, id)
            .append_pair("maxResults", &PAGE_LIMIT.to_string())
            .append_pair("order", "time")
            .append_pair("textFormat", "plainText");
            if let Some(t) = token {
                q.append_pair("pageToken", t);
            }
        }
        u.into()
    }
}

/// What a 4xx from the API means for this poll, when it is not an error of the whole poll.
enum Refusal {
    /// The day's quota is spent: stop, and say so unless something was read.
    QuotaSpent,
    /// This video or channel has no comments to read: skip it.
    NoComments,
}

impl YoutubeSource {
    /// Sorts a failed request: quota and missing-comments refusals go on the poll; a refused key
    /// and every other failure fail it.
    fn refusal(&self, e: FetchError, target: &str) -> Result<Refusal, SourceError> {
        let status = match &e {
            FetchError::Status { status, .. } if (400..500).contains(status) => *status,
            _ => return Err(e.into()),
        };
        let FetchError::Status { detail, url, .. } = e else {
            return Err(e.into());
        };
        match api_reason(detail.as_deref()).as_deref() {
            Some("quotaExceeded" | "dailyLimitExceeded" | "rateLimitExceeded") => {
                Ok(Refusal::QuotaSpent)
            }
            Some(r @ ("commentsDisabled" | "videoNotFound" | "channelNotFound" | "forbidden")) => {
                tracing::warn!(source = %self.cfg.name, target = %target, reason = r,
                    "no comments to read here; skipped");
                Ok(Refusal::NoComments)
            }
            Some(r)
                if matches!(r, "keyInvalid" | "accessNotConfigured")
                    || detail
                        .as_deref()
                        .is_some_and(|d| d.contains("API key not valid")) =>
            {
                Err(SourceError::Auth {
                    message: format!("YouTube refused the API key ({r})"),
                })
            }
            _ => Err(SourceError::Fetch(FetchError::Status {
                url,
                status,
                retry_after: None,
                detail,
            })),
        }
    }

    /// Adds a page's threads newer than `stored` to `poll` (replies too when configured) and
    /// moves `newest`; `true` once the stored thread or the item cap is reached (stop paging).
    fn take_page(
        &self,
        threads: Vec<serde_json::Value>,
        stored: Option<i64>,
        newest: &mut Option<i64>,
        poll: &mut Poll,
    ) -> bool {
        let mut reached_stored = false;
        for v in threads {
            let Ok(t) = serde_json::from_value::<Thread>(v) else {
                poll.skipped += 1;
                continue;
            };
            let at = parse_ms(&t.snippet.top.snippet.published_at);
            // The stored newest thread comes again (second resolution); its replies came with
            // it then, and later replies wait for a thread of their own.
            if let (Some(s), Some(a)) = (stored, at) {
                if a <= s {
                    reached_stored = true;
                    continue;
                }
            }
            if poll.items.len() >= self.max_items {
                // The hard cap: older threads of this poll are left out.
                return true;
            }
            let replies = t.replies.map(|r| r.comments).unwrap_or_default();
            let comments =
                std::iter::once((&t.snippet.top, false)).chain(replies.iter().map(|r| (r, true)));
            for (c, reply) in comments {
                if reply && !self.cfg.include_replies {
                    continue;
                }
                match item_of(c, reply) {
                    Some(i) => {
                        if !reply {
                            if let Some(a) = i.published_ms {
                                *newest = Some(newest.map_or(a, |n| n.max(a)));
                            }
                        }
                        poll.items.push(i);
                    }
                    None => poll.skipped += 1,
                }
            }
        }
        reached_stored
    }
}

#[async_trait]
impl Source for YoutubeSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "youtube"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let before: YoutubeCursor = super::decode_cursor(&self.cfg.name, cursor);
        let mut cur = before.clone();
        let (today, until_reset) = quota_day(Utc::now());
        if cur.day != Some(today) {
            cur.day = Some(today);
            cur.used = 0;
        }
        let key = self
            .cfg
            .api_key
            .as_ref()
            .map(|k| k.expose())
            .unwrap_or_default();
        let mut poll = Poll::default();
        let mut spent = false;
        'targets: for (ckey, param, id) in self.targets() {
            let stored = before.newest.get(&ckey).copied();
            let mut newest = stored;
            let mut token: Option<String> = None;
            for _ in 0..self.cfg.max_pages {
                if cur.used >= self.cfg.daily_quota_units {
                    spent = true;
                    break 'targets;
                }
                cur.used += 1;
                let req = ApiRequest::get(self.page_url(param, id, token.as_deref())).header(
                    reqwest::header::HeaderName::from_static("x-goog-api-key"),
                    key,
                );
                let body = match self.fetcher.call(&req).await {
                    Ok(b) => b,
                    Err(e) => match self.refusal(e, &ckey)? {
                        Refusal::QuotaSpent => {
                            cur.used = cur.used.max(self.cfg.daily_quota_units);
                            spent = true;
                            break 'targets;
                        }
                        Refusal::NoComments => {
                            poll.skipped += 1;
                            continue 'targets;
                        }
                    },
                };
                let page: Page =
                    serde_json::from_slice(&body.bytes).map_err(|e| SourceError::Parse {
                        what: "youtube commentThreads page",
                        message: e.to_string(),
                    })?;
                let reached_stored = self.take_page(page.items, stored, &mut newest, &mut poll);
                match page.next_page_token {
                    Some(t) if !reached_stored && token.as_deref() != Some(&t) => token = Some(t),
                    _ => break,
                }
            }
            if let Some(n) = newest {
                cur.newest.insert(ckey, n);
            }
        }
        if spent {
            tracing::warn!(source = %self.cfg.name, used = cur.used,
                resets_in_secs = until_reset.as_secs(), "YouTube quota spent for today");
            if poll.items.is_empty() && cur.newest == before.newest {
                return Err(SourceError::Quota {
                    retry_after: until_reset,
                });
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
    fn the_quota_day_ends_at_midnight_pacific() {
        // 07:30 UTC on 23 November is 23:30 on the 22nd in Los Angeles (PST, UTC-8).
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T07:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (day, left) = quota_day(now);
        assert_eq!(day, NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
        assert_eq!(left, Duration::from_secs(30 * 60));
    }

    #[test]
    fn error_reasons_are_read_from_google_error_bodies() {
        let quota = r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.","errors":[{"message":"x","domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;
        assert_eq!(api_reason(Some(quota)).as_deref(), Some("quotaExceeded"));
        let key = r#"{"error":{"code":400,"message":"API key not valid.","errors":[{"message":"API key not valid.","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(api_reason(Some(key)).as_deref(), Some("badRequest"));
        assert_eq!(api_reason(Some("<html>")), None);
    }
}
