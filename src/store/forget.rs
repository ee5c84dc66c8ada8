//! Forgetting posts: a person's posts deleted together with their share of every aggregate,
//! and their quotes taken out of stored digests and alerts.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::codec::{self, Aggregate, StoredMessage};
use super::keys::{self, MessageKey};
use super::{corrupt, count_post, Store, StoreError};
use crate::domain::PostId;

/// What [`Store::forget`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ForgetOutcome {
    pub posts: usize,
    /// Stored digests and alerts that quoted one of the posts.
    pub messages_scrubbed: usize,
}

impl Store {
    /// The posts whose stored author is `author` (the pseudonym when authors are
    /// pseudonymised), in one product or all of them: a full scan of those posts.
    pub fn posts_by_author(
        &self,
        product: Option<&str>,
        author: &str,
    ) -> Result<Vec<PostId>, StoreError> {
        let t = self.t()?;
        let slots = self.slots();
        let iter = match product {
            Some(p) => {
                let (lo, hi) = keys::post_range(p, i64::MIN, i64::MAX);
                t.posts.range(lo..hi)
            }
            None => t.posts.range::<&[u8], _>(..),
        };
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            let (_, id) =
                keys::split_post_key(&k).ok_or_else(|| corrupt("posts", "key of wrong length"))?;
            let p = codec::decode_post(id, &v, &slots).map_err(|e| corrupt("posts", e))?;
            if p.author.as_deref() == Some(author) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Up to `limit` ids of `product`'s posts published before `before_ms`, oldest first (a
    /// key-only scan: nothing is decoded).
    pub fn post_ids_before(
        &self,
        product: &str,
        before_ms: i64,
        limit: usize,
    ) -> Result<Vec<PostId>, StoreError> {
        let t = self.t()?;
        let (lo, hi) = keys::post_range(product, i64::MIN, before_ms);
        let mut out = Vec::new();
        for k in t.posts.range(lo..hi).keys().take(limit) {
            let k = k?;
            let (_, id) =
                keys::split_post_key(&k).ok_or_else(|| corrupt("posts", "key of wrong length"))?;
            out.push(id);
        }
        Ok(out)
    }

    /// Deletes the posts `ids` (unknown ids are skipped), subtracting each one's contribution
    /// from its buckets in the same transaction, so `verify` holds afterwards; then removes
    /// their quotes from stored digests and alerts (whose counts stay what was sent).
    pub fn forget(&self, ids: &[PostId]) -> Result<ForgetOutcome, StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        let slots = self.slots();
        let trees = (&t.posts, &t.post_ids, &t.aggregates, &t.meta, &t.post_index);
        let res = trees.transaction(|(tp, ti, ta, tm, tx)| {
            let mut deltas: HashMap<[u8; keys::AGG_LEN], Aggregate> = HashMap::new();
            let mut removed = 0u64;
            // Per product, the publication range of what goes: only messages of that time
            // can quote it.
            let mut spans: HashMap<String, (i64, i64)> = HashMap::new();
            for id in ids {
                let ik = keys::id_key(id);
                let Some(k) = ti.get(ik)? else { continue };
                let Some(bytes) = tp.get(&k)? else { continue };
                let p = codec::decode_post(*id, &bytes, &slots)
                    .map_err(|e| ConflictableTransactionError::Abort(corrupt("posts", e)))?;
                count_post(&mut deltas, &p, &slots);
                let span = spans
                    .entry(p.product.clone())
                    .or_insert((p.published_ms, p.published_ms));
                *span = (span.0.min(p.published_ms), span.1.max(p.published_ms));
                for (e, _) in super::index::entries_of_record(&k, &p, &slots) {
                    tx.remove(&e[..])?;
                }
                tp.remove(&k)?;
                ti.remove(&ik[..])?;
                removed += 1;
            }
            for (k, d) in &deltas {
                let Some(b) = ta.get(k)? else { continue };
                let mut a = codec::decode_aggregate(&b)
                    .map_err(|e| ConflictableTransactionError::Abort(corrupt("aggregates", e)))?;
                a.remove(d);
                if a.count == 0 {
                    ta.remove(&k[..])?;
                } else {
                    ta.insert(&k[..], codec::encode_aggregate(&a))?;
                }
            }
            let before = match tm.get(keys::META_POST_COUNT)? {
                Some(b) => keys::count_from_bytes(&b).unwrap_or(0),
                None => 0,
            };
            tm.insert(
                keys::META_POST_COUNT,
                &keys::count_bytes(before.saturating_sub(removed))[..],
            )?;
            Ok((removed, spans))
        });
        let (removed, spans) = match res {
            Ok(r) => r,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(self.sled_err(e)),
        };
        self.count.fetch_sub(removed, Ordering::Relaxed);
        self.changes.touch(spans.keys().map(String::as_str));
        let hex: HashSet<String> = ids.iter().map(|i| i.to_hex()).collect();
        let mut scrubbed = 0;
        for (product, (from, to)) in &spans {
            for key in self.messages_near(product, *from, *to)? {
                let Some(v) = t.messages.get(&key)? else {
                    continue;
                };
                let mut m: StoredMessage = codec::decode(&v).map_err(|e| corrupt("messages", e))?;
                let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&m.json) else {
                    continue;
                };
                if drop_quotes(&mut doc, &hex) {
                    m.json = doc.to_string();
                    t.messages
                        .insert(key, codec::encode(&m))
                        .map_err(|e| self.sled_err(e))?;
                    scrubbed += 1;
                }
            }
        }
        t.db.flush().map_err(|e| self.sled_err(e))?;
        Ok(ForgetOutcome {
            posts: removed as usize,
            messages_scrubbed: scrubbed,
        })
    }
}

impl Store {
    /// Keys of the messages of `product` that can quote a post published in `[from, to]`: the
    /// digests of the local days around it (any zone is within a day of UTC) and the alerts
    /// fired while it was in their window (at most 48 hours and the current one after it).
    fn messages_near(
        &self,
        product: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<sled::IVec>, StoreError> {
        let t = self.t()?;
        const DAY: i64 = 86_400_000;
        let date = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.date_naive().to_string())
                .unwrap_or_default()
        };
        let lo = MessageKey::digest(product, &date(from - DAY));
        let hi = MessageKey::digest(product, &date(to + 2 * DAY));
        let (alo, ahi) = MessageKey::alert_range(product, from, to + 50 * 3_600_000);
        let mut keys = Vec::new();
        for r in t
            .messages
            .range(lo.as_bytes().to_vec()..hi.as_bytes().to_vec())
            .keys()
            .chain(t.messages.range(alo..ahi).keys())
        {
            keys.push(r?);
        }
        Ok(keys)
    }
}

/// Removes, from every array in `v`, the objects whose `id` is one of `ids` (quotes and
/// examples carry the post's id). Returns whether anything was removed.
fn drop_quotes(v: &mut serde_json::Value, ids: &HashSet<String>) -> bool {
    use serde_json::Value;
    match v {
        Value::Array(items) => {
            let before = items.len();
            items.retain(
                |x| !matches!(x.get("id").and_then(Value::as_str), Some(id) if ids.contains(id)),
            );
            let mut changed = items.len() != before;
            for x in items.iter_mut() {
                changed |= drop_quotes(x, ids);
            }
            changed
        }
        Value::Object(map) => {
            let mut changed = false;
            for x in map.values_mut() {
                changed |= drop_quotes(x, ids);
            }
            changed
        }
        _ => false,
    }
}
