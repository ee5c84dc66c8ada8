//! `bluesky_jetstream` source: new Bluesky posts live from the Jetstream WebSocket firehose,
//! kept when they match the product's keywords.
//!
//! One reader task per source holds the connection and hands matched posts to [`Source::poll`]
//! through a bounded channel. When the channel is full the reader stops reading; Jetstream
//! then drops the slow connection and the reader comes back with `cursor=` (the `time_us` of
//! the last event it read), so a backlog waits on the server, never in memory, and nothing is
//! lost. The stored cursor is the newest `time_us` handed over, so a restart resumes there
//! too. Reconnects back off exponentially with jitter. Only `commit`/`create` events of
//! `app.bsky.feed.post` are read; identity and account events, deletes and other collections
//! are ignored. The post's `at://` URI is its id, the same one `bluesky_search` gives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

use super::bluesky_search::{item_of, PostRecord};
use super::{FetchError, Poll, Source, SourceError};
use crate::config::social::JetstreamSourceConfig;
use crate::domain::retry::backoff;
use crate::domain::RawItem;
use crate::sources::relevance::Matcher;

/// The first poll waits this long for the stream, so `cxpulse fetch` shows what is flowing.
const FIRST_POLL_WAIT: Duration = Duration::from_secs(3);

/// A progress mark (the newest `time_us` read) is sent at most this often, so the cursor moves
/// through stretches where nothing matches.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Posts are short; a frame larger than this is not a post and ends the connection.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

const RECONNECT_BASE: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(120);

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct JetstreamCursor {
    /// `time_us` of the newest event handed to the pipeline.
    time_us: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Event {
    did: String,
    time_us: i64,
    kind: String,
    commit: Option<Commit>,
}

#[derive(Debug, Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    record: Option<PostRecord>,
}

enum Handover {
    Post(Box<RawItem>, i64),
    Progress(i64),
}

/// What the reader reports about the connection, for `poll` to surface.
#[derive(Default)]
struct ReaderState {
    connected: bool,
    last_error: Option<String>,
}

struct Running {
    rx: tokio::sync::Mutex<mpsc::Receiver<Handover>>,
    state: Arc<Mutex<ReaderState>>,
    skipped: Arc<AtomicU64>,
    task: tokio::task::AbortHandle,
}

pub struct JetstreamSource {
    cfg: JetstreamSourceConfig,
    user_agent: String,
    matcher: Matcher,
    max_items: usize,
    running: Mutex<Option<Arc<Running>>>,
    /// The last poll's posts: taken out of the stream, so if storing them fails (`rewind`)
    /// they are handed over again, since the stream will not bring them back.
    last: Mutex<Vec<RawItem>>,
    replay: std::sync::atomic::AtomicBool,
}

impl JetstreamSource {
    pub fn new(
        cfg: JetstreamSourceConfig,
        user_agent: String,
        matcher: Matcher,
        max_items: usize,
    ) -> Self {
        JetstreamSource {
            cfg,
            user_agent,
            matcher,
            max_items,
            running: Mutex::new(None),
            last: Mutex::new(Vec::new()),
            replay: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The reader, started on the first poll from the stored cursor. Returns whether it was
    /// just started.
    fn reader(&self, cursor: Option<i64>) -> (Arc<Running>, bool) {
        let mut slot = self.running.lock().expect("jetstream lock poisoned");
        if let Some(r) = slot.as_ref() {
            return (r.clone(), false);
        }
        // Bounded by `buffer_posts`: a slow pipeline pauses reading instead of growing memory.
        let (tx, rx) = mpsc::channel(self.cfg.buffer_posts);
        let state = Arc::new(Mutex::new(ReaderState::default()));
        let skipped = Arc::new(AtomicU64::new(0));
        let reader = Reader {
            name: self.cfg.name.clone(),
            endpoint: self.cfg.endpoint.clone(),
            user_agent: self.user_agent.clone(),
            langs: self.cfg.langs.clone(),
            matcher: self.matcher.clone(),
            tx,
            state: state.clone(),
            skipped: skipped.clone(),
        };
        let task = tokio::spawn(reader.run(cursor)).abort_handle();
        let r = Arc::new(Running {
            rx: tokio::sync::Mutex::new(rx),
            state,
            skipped,
            task,
        });
        *slot = Some(r.clone());
        (r, true)
    }
}

impl Drop for JetstreamSource {
    fn drop(&mut self) {
        if let Some(r) = self.running.lock().ok().and_then(|mut s| s.take()) {
            r.task.abort();
        }
    }
}

#[async_trait]
impl Source for JetstreamSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "bluesky_jetstream"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let prev: JetstreamCursor = super::decode_cursor(&self.cfg.name, cursor);
        let (running, first) = self.reader(prev.time_us);
        let mut rx = running.rx.lock().await;
        let mut poll = Poll::default();
        if self.replay.swap(false, Ordering::SeqCst) {
            poll.items = std::mem::take(&mut *self.last.lock().expect("jetstream lock poisoned"));
        }
        let mut newest = prev.time_us;
        let deadline = Instant::now()
            + if first {
                FIRST_POLL_WAIT
            } else {
                Duration::ZERO
            };
        while poll.items.len() < self.max_items {
            let next = match rx.try_recv() {
                Ok(h) => h,
                Err(mpsc::error::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() || !poll.items.is_empty() {
                        break;
                    }
                    match tokio::time::timeout(left, rx.recv()).await {
                        Ok(Some(h)) => h,
                        _ => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            let at = match next {
                Handover::Post(item, at) => {
                    poll.items.push(*item);
                    at
                }
                Handover::Progress(at) => at,
            };
            newest = Some(newest.map_or(at, |n| n.max(at)));
        }
        poll.more = poll.items.len() >= self.max_items && !rx.is_empty();
        poll.skipped = running.skipped.swap(0, Ordering::Relaxed);
        if poll.items.is_empty() {
            // Nothing to hand over, so nothing to replay either.
            let st = running.state.lock().expect("jetstream state poisoned");
            if let (false, Some(e)) = (st.connected, &st.last_error) {
                return Err(SourceError::Fetch(FetchError::Connect {
                    url: self.cfg.endpoint.clone(),
                    message: e.clone(),
                }));
            }
        }
        poll.cursor = super::moved_cursor(&prev, &JetstreamCursor { time_us: newest });
        *self.last.lock().expect("jetstream lock poisoned") = poll.items.clone();
        Ok(poll)
    }

    fn rewind(&self) {
        self.replay.store(true, Ordering::SeqCst);
    }
}

/// The task that holds the connection.
struct Reader {
    name: String,
    endpoint: String,
    user_agent: String,
    langs: Vec<String>,
    matcher: Matcher,
    tx: mpsc::Sender<Handover>,
    state: Arc<Mutex<ReaderState>>,
    skipped: Arc<AtomicU64>,
}

/// Why a connection ended.
enum Ended {
    /// The poller is gone (the source was dropped): stop for good.
    Closed,
    /// The connection dropped or could not open: reconnect after a pause.
    Lost(String),
}

impl Reader {
    async fn run(self, mut cursor: Option<i64>) {
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            match self.connection(&mut cursor).await {
                Ended::Closed => return,
                Ended::Lost(why) => {
                    {
                        let mut st = self.state.lock().expect("jetstream state poisoned");
                        st.connected = false;
                        st.last_error = Some(why.clone());
                    }
                    // A connection that lived a while was healthy: start the backoff over.
                    if started.elapsed() > RECONNECT_MAX {
                        failures = 0;
                    }
                    let delay = backoff(RECONNECT_BASE, RECONNECT_MAX, failures, None);
                    failures = failures.saturating_add(1);
                    tracing::warn!(source = %self.name, error = %why, cursor,
                        retry_in_ms = delay.as_millis() as u64, "jetstream disconnected");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn url(&self, cursor: Option<i64>) -> String {
        let mut u = url::Url::parse(&self.endpoint).expect("validated");
        u.query_pairs_mut()
            .append_pair("wantedCollections", "app.bsky.feed.post");
        if let Some(c) = cursor {
            u.query_pairs_mut().append_pair("cursor", &c.to_string());
        }
        u.into()
    }

    /// Reads one connection until it ends; `cursor` follows every event read.
    async fn connection(&self, cursor: &mut Option<i64>) -> Ended {
        let mut req = match self.url(*cursor).into_client_request() {
            Ok(r) => r,
            Err(e) => return Ended::Lost(e.to_string()),
        };
        if let Ok(ua) = self.user_agent.parse() {
            req.headers_mut().insert(reqwest::header::USER_AGENT, ua);
        }
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let (mut ws, _) =
            match tokio_tungstenite::connect_async_with_config(req, Some(config), false).await {
                Ok(c) => c,
                Err(e) => return Ended::Lost(e.to_string()),
            };
        {
            let mut st = self.state.lock().expect("jetstream state poisoned");
            st.connected = true;
            st.last_error = None;
        }
        tracing::info!(source = %self.name, cursor = *cursor, "jetstream connected");
        let mut last_progress = Instant::now();
        loop {
            let msg = match ws.next().await {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Ended::Lost(e.to_string()),
                None => return Ended::Lost("the server closed the stream".into()),
            };
            let bytes = match msg {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(_) => return Ended::Lost("the server closed the stream".into()),
                _ => continue,
            };
            let ev: Event = match serde_json::from_slice(&bytes) {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!(source = %self.name, error = %e, "jetstream event skipped");
                    self.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            *cursor = Some(ev.time_us);
            let handover = match self.item(&ev) {
                Some(item) => Some(Handover::Post(Box::new(item), ev.time_us)),
                None if last_progress.elapsed() >= PROGRESS_EVERY => {
                    Some(Handover::Progress(ev.time_us))
                }
                None => None,
            };
            match handover {
                Some(h @ Handover::Post(..)) => {
                    // Waits while the buffer is full: this is the backpressure.
                    if self.tx.send(h).await.is_err() {
                        return Ended::Closed;
                    }
                    last_progress = Instant::now();
                }
                Some(h) => {
                    // A progress mark is worth nothing to a full buffer; drop it.
                    match self.tx.try_send(h) {
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ended::Closed,
                        _ => last_progress = Instant::now(),
                    }
                }
                None => {}
            }
        }
    }

    /// The event as an item, when it is a new post in a wanted language that matches.
    fn item(&self, ev: &Event) -> Option<RawItem> {
        let c = ev.commit.as_ref()?;
        if ev.kind != "commit" || c.operation != "create" || c.collection != "app.bsky.feed.post" {
            return None;
        }
        let record = c.record.as_ref()?;
        if !self.langs.is_empty() && !record.langs.iter().any(|l| self.langs.contains(l)) {
            return None;
        }
        if !self.matcher.matches(&record.text) {
            return None;
        }
        let uri = format!("at://{}/app.bsky.feed.post/{}", ev.did, c.rkey);
        item_of(&uri, &ev.did, record, Some(ev.time_us / 1000))
    }
}
