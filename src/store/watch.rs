//! Watches the store's disk: while it refuses writes (full, read-only), reports it and retries
//! until it takes them again, then reopens the store so writes and fetching resume.
//!
//! The store notices the failure itself (the first refused write); sources pause on
//! `Store::storage_failure` and the API answers writes with `storage_unavailable`. This task
//! is the only one that ends the failure.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::store::Store;

/// How often the disk is tried again while it refuses writes. Each try writes and removes a
/// few MiB (see `Store::try_recover`), so not much more often.
const RECHECK: Duration = Duration::from_secs(2);

pub async fn run(store: Store, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    metrics.store_writable.set(1);
    let mut reported = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RECHECK) => {}
            _ = shutdown.cancelled() => return,
        }
        let Some(failure) = store.storage_failure() else {
            continue;
        };
        metrics.store_writable.set(0);
        if !reported {
            tracing::error!(error = %failure, path = %store.path().display(),
                "storage refuses writes: sources paused, reads still served; retrying every {}s",
                RECHECK.as_secs());
            reported = true;
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.try_recover()).await {
            Ok(Ok(true)) => {
                metrics.store_writable.set(1);
                metrics.stored_posts.set(store.post_count() as i64);
                reported = false;
            }
            Ok(Ok(false)) => metrics.store_writable.set(1),
            Ok(Err(e)) => tracing::debug!(error = %e, "storage still refuses writes"),
            Err(e) => tracing::error!(error = %e, "storage recovery task failed"),
        }
    }
}
