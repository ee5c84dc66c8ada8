//! Finished JSON bodies of trend and post queries, reused until the product's data changes.
//!
//! Dashboards and scripts ask the same questions over and over (the same product, range and
//! interval every refresh), and a year of trends is ~50,000 numbers to sum and print. An entry
//! is stamped with `Store::data_version(product)` read *before* the query ran, so any write to
//! the product after that makes the entry unusable: a cached answer is never older than a
//! fresh one would be.
//!
//! Bounded by bytes; when full, the least recently used entries go first. Concurrent misses on
//! one key are computed once: later askers wait for the first one's answer (a dashboard
//! refresh right after an ingest would otherwise compute the same year of trends per tab).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::watch;

/// Entries above this share of the capacity are not kept: one huge answer must not evict
/// everything else.
const MAX_ENTRY_SHARE: usize = 4;

pub struct ResponseCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
    /// Recency clock, bumped on every hit and insert; also numbers tickets.
    tick: u64,
    /// Keys being computed right now: the ticket's number and version, and the channel its
    /// answer will arrive on.
    pending: HashMap<String, Pending>,
}

struct Entry {
    version: u64,
    body: Bytes,
    used: u64,
}

struct Pending {
    ticket: u64,
    version: u64,
    rx: watch::Receiver<Option<Answer>>,
}

/// What a computation produced: the body, or `None` when it failed (waiters then compute it
/// themselves and get the error first hand).
type Answer = Option<Bytes>;

/// What [`ResponseCache::lookup`] found.
pub enum Lookup {
    Hit(Bytes),
    /// Compute the answer and [`Ticket::fill`] it (dropping the ticket on error).
    Miss(Ticket),
    /// Someone else is computing this key at this version: [`wait`] for it.
    Wait(watch::Receiver<Option<Answer>>),
}

/// The right, and the duty, to compute one key. Dropping it without [`Ticket::fill`] releases
/// the waiters with nothing.
pub struct Ticket {
    cache: Option<Arc<ResponseCache>>,
    key: String,
    version: u64,
    number: u64,
    tx: Option<watch::Sender<Option<Answer>>>,
}

/// The answer another request is computing; `None` if that computation failed.
pub async fn wait(mut rx: watch::Receiver<Option<Answer>>) -> Option<Bytes> {
    let answer = rx.wait_for(Option::is_some).await.ok()?;
    answer.clone().flatten()
}

impl ResponseCache {
    /// A cache of at most `capacity_bytes` of bodies; 0 keeps nothing (every lookup misses).
    pub fn new(capacity_bytes: usize) -> Arc<ResponseCache> {
        Arc::new(ResponseCache {
            capacity_bytes,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("response cache lock poisoned")
    }

    /// Looks `key` up for the product's data at `version` (`Store::data_version`, read before
    /// calling this).
    pub fn lookup(self: &Arc<Self>, key: String, version: u64) -> Lookup {
        if self.capacity_bytes == 0 {
            return Lookup::Miss(Ticket {
                cache: None,
                key,
                version,
                number: 0,
                tx: None,
            });
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(e) = inner.entries.get_mut(&key) {
            if e.version == version {
                e.used = tick;
                return Lookup::Hit(e.body.clone());
            }
        }
        if let Some(p) = inner.pending.get(&key) {
            // A computation of an older version may not see this caller's data: only the
            // same version is worth waiting for.
            if p.version == version {
                return Lookup::Wait(p.rx.clone());
            }
        }
        let (tx, rx) = watch::channel(None);
        inner.pending.insert(
            key.clone(),
            Pending {
                ticket: tick,
                version,
                rx,
            },
        );
        Lookup::Miss(Ticket {
            cache: Some(self.clone()),
            key,
            version,
            number: tick,
            tx: Some(tx),
        })
    }

    /// Ends ticket `number`'s computation of `key`, keeping `body` if it is at least as new as
    /// what is there.
    fn finish(&self, key: &str, number: u64, version: u64, body: Option<&Bytes>) {
        let mut inner = self.lock();
        if inner.pending.get(key).is_some_and(|p| p.ticket == number) {
            inner.pending.remove(key);
        }
        let Some(body) = body else { return };
        if body.len() > self.capacity_bytes / MAX_ENTRY_SHARE
            || inner.entries.get(key).is_some_and(|e| e.version > version)
        {
            return;
        }
        inner.tick += 1;
        let entry = Entry {
            version,
            body: body.clone(),
            used: inner.tick,
        };
        if let Some(old) = inner.entries.insert(key.to_owned(), entry) {
            inner.bytes -= old.body.len() + key.len();
        }
        inner.bytes += body.len() + key.len();
        while inner.bytes > self.capacity_bytes {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.body.len() + oldest.len();
            }
        }
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.bytes)
    }
}

impl Ticket {
    /// Keeps `body` as the answer for the ticket's key and version and wakes the waiters.
    pub fn fill(mut self, body: &Bytes) {
        self.end(Some(body));
    }

    fn end(&mut self, body: Option<&Bytes>) {
        if let Some(cache) = self.cache.take() {
            cache.finish(&self.key, self.number, self.version, body);
        }
        if let Some(tx) = self.tx.take() {
            tx.send_replace(Some(body.cloned()));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.end(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    fn miss(c: &Arc<ResponseCache>, key: &str, version: u64) -> Ticket {
        match c.lookup(key.into(), version) {
            Lookup::Miss(t) => t,
            Lookup::Hit(_) => panic!("{key}@{version}: unexpected hit"),
            Lookup::Wait(_) => panic!("{key}@{version}: unexpected wait"),
        }
    }

    #[test]
    fn a_new_version_is_a_miss() {
        let c = ResponseCache::new(1000);
        miss(&c, "a", 1).fill(&body(10));
        assert!(matches!(c.lookup("a".into(), 1), Lookup::Hit(b) if b.len() == 10));
        miss(&c, "a", 2).fill(&body(20));
        assert!(matches!(c.lookup("a".into(), 2), Lookup::Hit(b) if b.len() == 20));
        assert_eq!(c.usage(), (1, 21));
    }

    #[test]
    fn an_older_computation_never_replaces_a_newer_answer() {
        let c = ResponseCache::new(1000);
        let old = miss(&c, "a", 1);
        miss(&c, "a", 2).fill(&body(20));
        old.fill(&body(10));
        assert!(matches!(c.lookup("a".into(), 2), Lookup::Hit(b) if b.len() == 20));
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let c = ResponseCache::new(100);
        for k in ["a", "b", "c", "d"] {
            miss(&c, k, 1).fill(&body(20));
        }
        assert!(matches!(c.lookup("a".into(), 1), Lookup::Hit(_)));
        miss(&c, "e", 1).fill(&body(20));
        assert!(matches!(c.lookup("a".into(), 1), Lookup::Hit(_)));
        assert!(matches!(c.lookup("b".into(), 1), Lookup::Miss(_)));
        let (n, bytes) = c.usage();
        assert!(bytes <= 100, "{n} entries, {bytes} bytes");
    }

    #[test]
    fn oversized_answers_and_a_zero_capacity_keep_nothing() {
        let c = ResponseCache::new(100);
        miss(&c, "a", 1).fill(&body(26));
        assert!(matches!(c.lookup("a".into(), 1), Lookup::Miss(_)));
        let off = ResponseCache::new(0);
        miss(&off, "a", 1).fill(&body(1));
        assert!(matches!(off.lookup("a".into(), 1), Lookup::Miss(_)));
        assert_eq!(off.usage(), (0, 0));
    }

    #[tokio::test]
    async fn concurrent_misses_compute_once_and_failures_release_the_waiters() {
        let c = ResponseCache::new(1000);
        let t = miss(&c, "a", 1);
        let Lookup::Wait(rx) = c.lookup("a".into(), 1) else {
            panic!("second asker should wait");
        };
        // A newer version does not wait on an older computation.
        assert!(matches!(c.lookup("a".into(), 2), Lookup::Miss(_)));
        let waiter = tokio::spawn(wait(rx));
        t.fill(&body(7));
        assert_eq!(waiter.await.unwrap().map(|b| b.len()), Some(7));

        let t = miss(&c, "b", 1);
        let Lookup::Wait(rx) = c.lookup("b".into(), 1) else {
            panic!("second asker should wait");
        };
        drop(t);
        assert_eq!(wait(rx).await, None);
        assert!(matches!(c.lookup("b".into(), 1), Lookup::Miss(_)));
    }
}
