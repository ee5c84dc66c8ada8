//! Runs each configured source on its interval: poll, hand the batch to the pipeline, wait until
//! it is stored, repeat. Failing sources back off exponentially; per-source health is kept here.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::domain::retry::backoff;
use crate::domain::time::now_ms;
use crate::ingest::pipeline::{self, Batch};
use crate::ingest::position::Position;
use crate::metrics::Metrics;
use crate::sources::Source;
use crate::store::Store;

/// The first retry after a failed poll comes after this long, doubling up to `fetch.backoff_max`.
const FIRST_FAILURE_DELAY: Duration = Duration::from_secs(5);
/// While the disk refuses writes, a paused source looks again this often.
const STORAGE_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize, Default)]
pub struct LastError {
    pub at_ms: i64,
    pub reason: String,
    pub message: String,
}

/// What `/api/v1/sources` shows for one source.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SourceHealth {
    pub name: String,
    pub product: String,
    pub kind: String,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<LastError>,
    pub consecutive_failures: u32,
    pub items_fetched: u64,
    pub posts_stored: u64,
    pub duplicates: u64,
    pub irrelevant: u64,
    pub skipped: u64,
    pub backoff_secs: u64,
    pub next_poll_ms: Option<i64>,
    /// Why the source is not polling now (`storage_unavailable`), if it is paused.
    pub paused: Option<&'static str>,
}

pub type HealthMap = Arc<RwLock<BTreeMap<String, SourceHealth>>>;

pub struct SourceTask {
    pub source: Box<dyn Source>,
    /// The source's own view of the fetcher: its conditional-GET validators are committed
    /// once a poll's items are stored, and discarded when they are not.
    pub fetcher: Arc<crate::sources::Fetcher>,
    pub product: String,
    pub interval: Duration,
    pub require_keywords: bool,
}

/// Polls `task.source` until `shutdown`; every batch goes through `tx` and is awaited.
pub async fn run_source(
    task: SourceTask,
    tx: mpsc::Sender<Batch>,
    store: Store,
    health: HealthMap,
    metrics: Arc<Metrics>,
    backoff_max: Duration,
    shutdown: CancellationToken,
) {
    let name = task.source.name().to_string();
    health.write().expect("health lock poisoned").insert(
        name.clone(),
        SourceHealth {
            name: name.clone(),
            product: task.product.clone(),
            kind: task.source.kind().to_string(),
            ..Default::default()
        },
    );
    let runner = Runner {
        task,
        tx,
        store,
        health,
        metrics,
        backoff_max,
        name,
        failures: 0,
    };
    runner.run(shutdown).await;
}

/// One source's loop and its bookkeeping: a poll either stores (success path) or fails and
/// backs off (failure path); either way the next poll is scheduled.
struct Runner {
    task: SourceTask,
    tx: mpsc::Sender<Batch>,
    store: Store,
    health: HealthMap,
    metrics: Arc<Metrics>,
    backoff_max: Duration,
    name: String,
    /// Consecutive failed polls (fetch or store); 0 after a stored poll.
    failures: u32,
}

impl Runner {
    async fn run(mut self, shutdown: CancellationToken) {
        self.position().restore_validators(&self.task.fetcher);
        loop {
            // Fetching what cannot be stored would spend the remote side's patience (and quota)
            // only to fetch it all again: wait for the storage instead.
            if self.paused_for_storage() {
                tokio::select! {
                    _ = tokio::time::sleep(STORAGE_WAIT) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
            let position = self.position();
            let polled = tokio::select! {
                r = self.task.source.poll(position.cursor.as_deref()) => r,
                _ = shutdown.cancelled() => break,
            };
            let delay = match polled {
                Ok(poll) => match self.store_poll(poll, &position).await {
                    Some(d) => d,
                    None => break,
                },
                Err(err) => self.poll_failed(&err),
            };
            self.schedule(delay);
            if delay.is_zero() {
                // Yield so a long backlog cannot starve shutdown or other tasks.
                tokio::task::yield_now().await;
                if shutdown.is_cancelled() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::debug!(source = %self.name, "source stopped");
    }

    /// The stored position (cursor and validators); none when it cannot be read.
    fn position(&self) -> Position {
        Position::decode(match self.store.cursor(&self.name) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(source = %self.name, error = %e, "cannot read cursor");
                None
            }
        })
    }

    fn paused_for_storage(&self) -> bool {
        let paused = self.store.storage_failure().is_some();
        if let Some(e) = self.health_mut().get_mut(&self.name) {
            e.paused = paused.then_some("storage_unavailable");
        }
        paused
    }

    fn health_mut(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, SourceHealth>> {
        self.health.write().expect("health lock poisoned")
    }

    /// Hands the poll's items to the pipeline and waits until they are stored; the delay until
    /// the next poll, or `None` when the pipeline has stopped.
    async fn store_poll(
        &mut self,
        poll: crate::sources::Poll,
        previous: &Position,
    ) -> Option<Duration> {
        let (skipped, more, failed) = (poll.skipped, poll.more, poll.failed);
        let name = self.name.clone();
        if skipped > 0 {
            self.metrics
                .items_skipped
                .with_label_values(&[&name, "malformed_item"])
                .inc_by(skipped);
        }
        let fetched = poll.items.len() as u64;
        // Once handed over, a batch is finished even during shutdown: the pipeline drains its
        // queue before the store closes.
        let r = pipeline::submit(
            &self.tx,
            &self.task.product,
            &name,
            poll.items,
            self.task.require_keywords,
            Some(pipeline::CursorUpdate {
                key: name.clone(),
                value: previous.after_poll(
                    poll.cursor.as_deref(),
                    &self.task.fetcher,
                    failed.is_none(),
                ),
            }),
        )
        .await;
        {
            let mut h = self.health_mut();
            let e = h.get_mut(&name).expect("inserted at start");
            e.items_fetched += fetched;
            e.skipped += skipped;
        }
        match r {
            Ok(rep) => {
                self.stored(&rep, failed.is_none());
                if let Some(err) = failed {
                    // The pages before the failure must be read again next time (a 304 on
                    // the first page would hide the ones after it): poll_failed drops their
                    // validators.
                    return Some(self.poll_failed(&err));
                }
                self.task.fetcher.commit_validators();
                Some(if more {
                    Duration::ZERO
                } else {
                    self.task.interval
                })
            }
            Err(err) => self.store_failed(err),
        }
    }

    /// `complete`: the whole poll was read. A poll cut short by a failing page stores what it
    /// read but keeps counting failures, so a page that always fails backs off further.
    fn stored(&mut self, rep: &pipeline::IngestReport, complete: bool) {
        if complete {
            self.failures = 0;
        }
        let now = now_ms();
        self.metrics
            .source_last_success
            .with_label_values(&[self.name.as_str()])
            .set(now / 1000);
        let mut h = self.health_mut();
        let e = h.get_mut(&self.name).expect("inserted at start");
        e.last_success_ms = Some(now);
        e.consecutive_failures = self.failures;
        e.posts_stored += rep.stored as u64;
        e.duplicates += rep.duplicates as u64;
        e.irrelevant += rep.irrelevant as u64;
        if complete {
            e.backoff_secs = 0;
        }
        if rep.stored > 0 {
            tracing::info!(source = %self.name, product = %self.task.product, stored = rep.stored,
                duplicates = rep.duplicates, irrelevant = rep.irrelevant, "stored new posts");
        }
    }

    /// The items were fetched but not stored: the next poll must see them again.
    fn store_failed(&mut self, err: pipeline::PipelineError) -> Option<Duration> {
        self.task.fetcher.discard_validators();
        self.task.source.rewind();
        self.failures += 1;
        let mut h = self.health_mut();
        let e = h.get_mut(&self.name).expect("inserted at start");
        e.consecutive_failures = self.failures;
        e.last_error = Some(LastError {
            at_ms: now_ms(),
            reason: "pipeline".into(),
            message: err.to_string(),
        });
        if matches!(err, pipeline::PipelineError::Stopped) {
            return None;
        }
        Some(backoff(
            FIRST_FAILURE_DELAY,
            self.backoff_max,
            self.failures - 1,
            None,
        ))
    }

    /// A failed poll: counted by reason, logged, and backed off (at least as long as the
    /// remote side asked for).
    fn poll_failed(&mut self, err: &crate::sources::SourceError) -> Duration {
        // Pages read before the failure were not stored: their validators must not say
        // "not modified" to the next poll.
        self.task.fetcher.discard_validators();
        self.failures += 1;
        let reason = err.reason();
        let name = &self.name;
        self.metrics
            .source_errors
            .with_label_values(&[name, reason])
            .inc();
        if reason == "parse" {
            self.metrics
                .items_skipped
                .with_label_values(&[name, "malformed_page"])
                .inc();
        }
        let d = backoff(
            FIRST_FAILURE_DELAY,
            self.backoff_max,
            self.failures - 1,
            None,
        )
        .max(err.retry_after().unwrap_or_default())
        .min(self.backoff_max);
        tracing::warn!(source = %name, product = %self.task.product, reason, error = %err,
            retry_in_secs = d.as_secs(), failures = self.failures, "source poll failed; backing off");
        let mut h = self.health_mut();
        let e = h.get_mut(name).expect("inserted at start");
        e.consecutive_failures = self.failures;
        e.last_error = Some(LastError {
            at_ms: now_ms(),
            reason: reason.to_string(),
            message: err.to_string(),
        });
        if reason == "parse" {
            e.skipped += 1;
        }
        d
    }

    fn schedule(&self, delay: Duration) {
        let backoff_secs = if self.failures > 0 {
            delay.as_secs()
        } else {
            0
        };
        self.metrics
            .source_backoff_seconds
            .with_label_values(&[&self.name])
            .set(backoff_secs as i64);
        if let Some(e) = self.health_mut().get_mut(&self.name) {
            e.backoff_secs = backoff_secs;
            e.next_poll_ms = Some(now_ms() + delay.as_millis() as i64);
        }
    }
}
