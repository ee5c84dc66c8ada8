//! Admission control for queries: a bounded number compute at once on blocking threads, a
//! short queue waits for a slot, and past it the answer is 503 `overloaded` at once. A query
//! whose client has gone is told to stop (its [`Cancel`] is raised when the handler is dropped).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::{ApiError, Code};
use crate::domain::Cancel;
use crate::metrics::Metrics;

pub struct Admission {
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    max_queued: usize,
    max_wait: Duration,
    metrics: Arc<Metrics>,
}

impl Admission {
    pub fn new(
        concurrent: usize,
        max_queued: usize,
        max_wait: Duration,
        metrics: Arc<Metrics>,
    ) -> Admission {
        Admission {
            slots: Arc::new(Semaphore::new(concurrent.max(1))),
            queued: AtomicUsize::new(0),
            max_queued,
            max_wait,
            metrics,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free, or refuses it as `overloaded`.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Cancel) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let slot = self.admit().await?;
        let cancel = Cancel::default();
        let mut abandon = Abandon {
            cancel: cancel.clone(),
            metrics: &self.metrics,
            armed: true,
        };
        let metrics = self.metrics.clone();
        let out = tokio::task::spawn_blocking(move || {
            // The slot travels with the work: a query cancelled mid-chunk still holds it
            // until it has actually stopped.
            metrics.queries_in_flight.inc();
            let r = work(&cancel);
            drop(slot);
            metrics.queries_in_flight.dec();
            r
        })
        .await
        .map_err(ApiError::internal)?;
        abandon.armed = false;
        out
    }

    async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.queued.fetch_add(1, Ordering::Relaxed) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(self.shed());
        }
        let _waiting = Waiting::enter(self);
        let waited = tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned()).await;
        match waited {
            Ok(Ok(p)) => Ok(p),
            _ => Err(self.shed()),
        }
    }

    fn shed(&self) -> ApiError {
        self.metrics.queries_shed.inc();
        ApiError::new(
            Code::Overloaded,
            "the server is busy with other queries; retry after the Retry-After seconds",
        )
    }
}

/// One place in the queue, given back also when the client leaves while waiting.
struct Waiting<'a>(&'a Admission);

impl<'a> Waiting<'a> {
    fn enter(a: &'a Admission) -> Waiting<'a> {
        a.metrics.queries_queued.inc();
        Waiting(a)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.metrics.queries_queued.dec();
        self.0.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Raises the query's cancel flag if the handler is dropped before the work came back.
struct Abandon<'a> {
    cancel: Cancel,
    metrics: &'a Metrics,
    armed: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.cancel();
            self.metrics.queries_abandoned.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn admission(concurrent: usize, queued: usize, wait_ms: u64) -> Arc<Admission> {
        Arc::new(Admission::new(
            concurrent,
            queued,
            Duration::from_millis(wait_ms),
            Arc::new(Metrics::new()),
        ))
    }

    /// Work that holds its slot until `release` is set, or until it is cancelled.
    fn hold(
        release: Arc<std::sync::atomic::AtomicBool>,
    ) -> impl FnOnce(&Cancel) -> Result<bool, ApiError> {
        move |cancel: &Cancel| {
            while !release.load(Ordering::Relaxed) {
                if cancel.is_cancelled() {
                    return Ok(false);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(true)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_queries_are_refused_at_once_and_within_the_wait() {
        let a = admission(1, 1, 100);
        let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let busy = tokio::spawn({
            let (a, r) = (a.clone(), release.clone());
            async move { a.run(hold(r)).await }
        });
        while a.metrics.queries_in_flight.get() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // One may wait in the queue: it is refused when the wait runs out.
        let queued = tokio::spawn({
            let a = a.clone();
            async move {
                let t = Instant::now();
                (a.run(|_| Ok(())).await, t.elapsed())
            }
        });
        while a.metrics.queries_queued.get() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // The queue is full: refused at once.
        let t = Instant::now();
        let e = a.run(|_| Ok(())).await.unwrap_err();
        assert_eq!(e.code, Code::Overloaded);
        assert!(t.elapsed() < Duration::from_millis(20), "{:?}", t.elapsed());
        let (r, waited) = queued.await.unwrap();
        assert_eq!(r.unwrap_err().code, Code::Overloaded);
        assert!(
            waited >= Duration::from_millis(90) && waited < Duration::from_millis(600),
            "{waited:?}"
        );
        assert_eq!(a.metrics.queries_shed.get(), 2);
        assert_eq!(a.metrics.queries_queued.get(), 0);
        release.store(true, Ordering::Relaxed);
        assert!(busy.await.unwrap().unwrap());
        // The slot is free again.
        a.run(|_| Ok(())).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_whose_client_left_is_cancelled_and_frees_its_slot() {
        let a = admission(1, 0, 10);
        let never = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let client = tokio::spawn({
            let (a, never, seen) = (a.clone(), never.clone(), seen.clone());
            async move {
                a.run(move |c| {
                    let r = hold(never)(c);
                    seen.store(c.is_cancelled(), Ordering::Relaxed);
                    r
                })
                .await
            }
        });
        while a.metrics.queries_in_flight.get() == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        client.abort(); // the client goes away: the handler future is dropped
        let deadline = Instant::now() + Duration::from_secs(2);
        while a.metrics.queries_in_flight.get() != 0 {
            assert!(Instant::now() < deadline, "the work did not stop");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(seen.load(Ordering::Relaxed), "the work saw its cancel flag");
        assert_eq!(a.metrics.queries_abandoned.get(), 1);
        a.run(|_| Ok(())).await.unwrap();
    }
}
