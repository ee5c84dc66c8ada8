//! Retention: posts older than `storage.retain_days` are deleted once a day, with their share
//! of the trends (through `Store::forget`, so every aggregate still equals a recount).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Posts deleted per transaction: small enough that ingest never waits long behind a sweep.
const CHUNK: usize = 1_000;
const DAY_MS: i64 = 86_400_000;
/// First sweep shortly after start (the daemon is busy loading then), then daily.
const FIRST_SWEEP_DELAY: Duration = Duration::from_secs(60);
const SWEEP_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Deletes every post of `products` published before `now_ms − retain_days`, a chunk per
/// transaction, stopping between chunks once `stop` is cancelled. Returns how many.
pub fn sweep(
    store: &Store,
    products: &[String],
    retain_days: u32,
    now_ms: i64,
    stop: &CancellationToken,
) -> Result<usize, StoreError> {
    let cutoff = now_ms - retain_days as i64 * DAY_MS;
    let mut total = 0;
    for p in products {
        while !stop.is_cancelled() {
            let ids = store.post_ids_before(p, cutoff, CHUNK)?;
            if ids.is_empty() {
                break;
            }
            let done = store.forget(&ids)?;
            total += done.posts;
            if done.posts == 0 {
                // Ids without records: nothing more this pass can remove.
                break;
            }
        }
    }
    Ok(total)
}

/// The daily sweep, until `shutdown`. Does nothing when retention is off.
pub async fn run(
    config: Arc<Config>,
    store: Store,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let Some(days) = config.storage.retain_days else {
        return;
    };
    let products: Vec<String> = config.products.iter().map(|p| p.id.clone()).collect();
    let mut wait = FIRST_SWEEP_DELAY;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = SWEEP_INTERVAL;
        let (s, ps, stop) = (store.clone(), products.clone(), shutdown.clone());
        let now = crate::domain::time::now_ms();
        match tokio::task::spawn_blocking(move || sweep(&s, &ps, days, now, &stop)).await {
            Ok(Ok(n)) => {
                metrics.posts_expired.inc_by(n as u64);
                metrics.stored_posts.set(store.post_count() as i64);
                if n > 0 {
                    tracing::info!(
                        deleted = n,
                        retain_days = days,
                        "retention: old posts deleted"
                    );
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed; retrying tomorrow"),
            Err(e) => tracing::error!(error = %e, "retention sweep panicked"),
        }
    }
}
