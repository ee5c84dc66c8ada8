//! Every byte layout of the store: keys are fixed-width big-endian so that sled's lexicographic
//! order is time order, and range scans need no decoding. Nothing outside this file builds a key.

use crate::domain::{PostId, SignalKind};

/// Bumped whenever a layout below changes; the store refuses to open a newer version and migrates
/// older ones.
pub const SCHEMA_VERSION: u32 = 4;

pub const META_SCHEMA: &[u8] = b"schema_version";
pub const META_LABELS: &[u8] = b"label_slots";
/// Progress of a schema migration under way: a phase byte, then (phase 1) the last `posts`
/// key already upgraded.
pub const META_MIGRATION: &[u8] = b"migration";

/// Width of product and source keys: 8 bytes of a keyed hash of the name.
pub type NameKey = [u8; 8];

pub fn name_key(kind: &str, name: &str) -> NameKey {
    let mut h = blake3::Hasher::new();
    h.update(kind.as_bytes());
    h.update(&[0]);
    h.update(name.as_bytes());
    let mut k = [0u8; 8];
    k.copy_from_slice(&h.finalize().as_bytes()[..8]);
    k
}

pub fn product_key(product: &str) -> NameKey {
    name_key("product", product)
}

pub fn source_key(source: &str) -> NameKey {
    name_key("source", source)
}

/// i64 → bytes whose unsigned order equals the signed order (flip the sign bit).
pub fn ts_bytes(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1u64 << 63)).to_be_bytes()
}

pub fn ts_from_bytes(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    (u64::from_be_bytes(a) ^ (1u64 << 63)) as i64
}

/// `posts` tree: product(8) | published ms(8) | post id(16) → the post record. Time-ordered, so
/// ingest (which arrives roughly in time order) appends instead of writing random leaves, and a
/// listing is one range scan.
pub const POST_KEY_LEN: usize = 32;

pub fn post_key(product: &str, published_ms: i64, id: &PostId) -> [u8; POST_KEY_LEN] {
    let mut k = [0u8; POST_KEY_LEN];
    k[..8].copy_from_slice(&product_key(product));
    k[8..16].copy_from_slice(&ts_bytes(published_ms));
    k[16..].copy_from_slice(&id.0);
    k
}

/// Bounds of a product's posts with `from_ms <= published < to_ms`.
pub fn post_range(product: &str, from_ms: i64, to_ms: i64) -> ([u8; 16], [u8; 16]) {
    let p = product_key(product);
    let mut lo = [0u8; 16];
    lo[..8].copy_from_slice(&p);
    lo[8..].copy_from_slice(&ts_bytes(from_ms));
    let mut hi = [0u8; 16];
    hi[..8].copy_from_slice(&p);
    hi[8..].copy_from_slice(&ts_bytes(to_ms));
    (lo, hi)
}

pub fn split_post_key(k: &[u8]) -> Option<(i64, PostId)> {
    if k.len() != POST_KEY_LEN {
        return None;
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&k[16..32]);
    Some((ts_from_bytes(&k[8..16]), PostId(id)))
}

/// `post_index` tree: product(8) | term(3) | published(8) | id(16); see store/index.rs.
pub const INDEX_KEY_LEN: usize = 35;

const INDEX_LABEL: u8 = 1;
const INDEX_SIGNAL: u8 = 2;
const INDEX_SUSPICIOUS: u8 = 3;

/// What an index range holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTerm {
    Label(u16),
    Signal(SignalKind),
    Suspicious,
}

impl IndexTerm {
    pub fn bytes(self) -> [u8; 3] {
        let (k, v) = match self {
            IndexTerm::Label(slot) => (INDEX_LABEL, slot),
            // Signal kinds have stable numbers (they are stored in post records too).
            IndexTerm::Signal(s) => (INDEX_SIGNAL, s as u16),
            IndexTerm::Suspicious => (INDEX_SUSPICIOUS, 0),
        };
        let v = v.to_be_bytes();
        [k, v[0], v[1]]
    }
}

/// The entry of `term` for the post stored under `post_key`.
pub fn index_key(post_key: &[u8], term: IndexTerm) -> [u8; INDEX_KEY_LEN] {
    let mut k = [0u8; INDEX_KEY_LEN];
    k[..8].copy_from_slice(&post_key[..8]);
    k[8..11].copy_from_slice(&term.bytes());
    k[11..].copy_from_slice(&post_key[8..POST_KEY_LEN]);
    k
}

/// The `posts` key an index entry points at.
pub fn post_key_of_index(index_key: &[u8]) -> Option<[u8; POST_KEY_LEN]> {
    if index_key.len() != INDEX_KEY_LEN {
        return None;
    }
    let mut k = [0u8; POST_KEY_LEN];
    k[..8].copy_from_slice(&index_key[..8]);
    k[8..].copy_from_slice(&index_key[11..]);
    Some(k)
}

/// A bound of one term's range: `post_part` is a `post_range` bound or a post key.
pub fn index_bound(post_part: &[u8], term: IndexTerm) -> Vec<u8> {
    let mut k = Vec::with_capacity(INDEX_KEY_LEN);
    k.extend_from_slice(&post_part[..8]);
    k.extend_from_slice(&term.bytes());
    k.extend_from_slice(&post_part[8..]);
    k
}

/// `post_ids` tree: post id(16) → its `posts` key (32). Small entries, so the duplicate check of
/// every ingested post reads a compact tree instead of the records.
pub fn id_key(id: &PostId) -> [u8; 16] {
    id.0
}

/// `meta` key of the number of stored posts (u64 big-endian), kept in the ingest transaction so
/// counting never scans.
pub const META_POST_COUNT: &[u8] = b"post_count";

pub fn count_bytes(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn count_from_bytes(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Bucket widths of the stored aggregates; weeks and months are summed from days at query time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Granularity {
    Hour = 1,
    Day = 2,
}

impl Granularity {
    pub fn millis(self) -> i64 {
        match self {
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    pub fn bucket_start(self, ts_ms: i64) -> i64 {
        ts_ms.div_euclid(self.millis()) * self.millis()
    }
}

/// The pseudo-source under which every bucket also holds the sum over all sources, so that a
/// product's trend is one contiguous range scan of one row per bucket. Source names are
/// `[a-z0-9_-]+`, so this name cannot collide with a real one.
pub const ALL_SOURCES: &str = "*";

/// `aggregates` tree: product(8) | granularity(1) | source(8) | bucket start ms(8).
/// Source before time: one source's (or [`ALL_SOURCES`]') buckets are contiguous and in time order.
pub const AGG_LEN: usize = 25;

pub fn agg_key(product: &str, g: Granularity, source: &str, bucket_ms: i64) -> [u8; AGG_LEN] {
    let mut k = [0u8; AGG_LEN];
    k[..8].copy_from_slice(&product_key(product));
    k[8] = g as u8;
    k[9..17].copy_from_slice(&source_key(source));
    k[17..].copy_from_slice(&ts_bytes(bucket_ms));
    k
}

/// Bounds of one source's buckets of a product with `from_ms <= start < to_ms`.
pub fn agg_range(
    product: &str,
    g: Granularity,
    source: &str,
    from_ms: i64,
    to_ms: i64,
) -> ([u8; AGG_LEN], [u8; AGG_LEN]) {
    (
        agg_key(product, g, source, from_ms),
        agg_key(product, g, source, to_ms),
    )
}

/// Prefix of every bucket of one product and granularity (all sources).
pub fn agg_prefix(product: &str, g: Granularity) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&product_key(product));
    k[8] = g as u8;
    k
}

/// (source key, bucket start) of an aggregate key.
pub fn agg_source_bucket(k: &[u8]) -> Option<(NameKey, i64)> {
    if k.len() != AGG_LEN {
        return None;
    }
    let mut s = [0u8; 8];
    s.copy_from_slice(&k[9..17]);
    Some((s, ts_from_bytes(&k[17..25])))
}

pub fn agg_bucket(k: &[u8]) -> Option<i64> {
    (k.len() == AGG_LEN).then(|| ts_from_bytes(&k[17..25]))
}

/// `cursors` tree: source name as UTF-8 → opaque cursor bytes owned by that source.
pub fn cursor_key(source: &str) -> Vec<u8> {
    source.as_bytes().to_vec()
}

/// `messages` tree: what the daemon produced to deliver, one record per digest or alert.
/// Digests: `d` | product(8) | local date "YYYY-MM-DD" (10), so a product's digests are one
/// date-ordered range. Alerts: `a` | product(8) | fired ms(8) | label (UTF-8).
/// `deliveries` tree: message key | 0x00 | delivery name (UTF-8) → that delivery's record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey(Vec<u8>);

impl MessageKey {
    pub fn digest(product: &str, date: &str) -> MessageKey {
        let mut k = Vec::with_capacity(19);
        k.push(b'd');
        k.extend_from_slice(&product_key(product));
        k.extend_from_slice(date.as_bytes());
        MessageKey(k)
    }

    pub fn alert(product: &str, fired_ms: i64, label: &str) -> MessageKey {
        let mut k = Vec::with_capacity(17 + label.len());
        k.push(b'a');
        k.extend_from_slice(&product_key(product));
        k.extend_from_slice(&ts_bytes(fired_ms));
        k.extend_from_slice(label.as_bytes());
        MessageKey(k)
    }

    /// Every alert of `product` fired in `[from_ms, to_ms)`.
    pub fn alert_range(product: &str, from_ms: i64, to_ms: i64) -> (Vec<u8>, Vec<u8>) {
        let at = |t: i64| {
            let mut k = vec![b'a'];
            k.extend_from_slice(&product_key(product));
            k.extend_from_slice(&ts_bytes(t));
            k
        };
        (at(from_ms), at(to_ms))
    }

    /// Every digest of `product`.
    pub fn digest_prefix(product: &str) -> Vec<u8> {
        let mut k = vec![b'd'];
        k.extend_from_slice(&product_key(product));
        k
    }

    pub fn from_bytes(b: &[u8]) -> MessageKey {
        MessageKey(b.to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn delivery(&self, name: &str) -> Vec<u8> {
        let mut k = self.0.clone();
        k.push(0);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The key's readable form, for logs and delivery ids: `digest:<date>` or
    /// `alert:<ms>:<label>` (the product travels separately).
    pub fn describe(&self) -> String {
        match self.0.first() {
            Some(b'd') => format!("digest:{}", String::from_utf8_lossy(&self.0[9..])),
            Some(b'a') if self.0.len() >= 17 => format!(
                "alert:{}:{}",
                ts_from_bytes(&self.0[9..17]),
                String::from_utf8_lossy(&self.0[17..])
            ),
            _ => hex::encode(&self.0),
        }
    }
}

/// `alert_state` tree: product(8) | label → whether a spike is on and when it last alerted.
pub fn alert_state_key(product: &str, label: &str) -> Vec<u8> {
    let mut k = product_key(product).to_vec();
    k.extend_from_slice(label.as_bytes());
    k
}

/// `meta` key: the first local day the digest scheduler considered for `product` (no digest
/// is produced for earlier days, so a first start does not send weeks of old digests).
pub fn digest_since_key(product: &str) -> Vec<u8> {
    let mut k = b"digest_since/".to_vec();
    k.extend_from_slice(&product_key(product));
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_order_as_bytes() {
        let ts = [-5_000_000_000_000i64, -1, 0, 1, 1_700_000_000_000];
        for w in ts.windows(2) {
            assert!(ts_bytes(w[0]) < ts_bytes(w[1]));
        }
        for t in ts {
            assert_eq!(ts_from_bytes(&ts_bytes(t)), t);
        }
    }

    #[test]
    fn post_keys_sort_by_time_within_a_product() {
        let id = PostId::new("p", "s", "x");
        let a = post_key("p", 10, &id);
        let b = post_key("p", 11, &id);
        assert!(a < b);
        let (lo, hi) = post_range("p", 10, 11);
        assert!(a[..] >= lo[..] && a[..] < hi[..]);
        assert!(b[..] >= hi[..]);
        assert_eq!(split_post_key(&a), Some((10, id)));
        assert_eq!(count_from_bytes(&count_bytes(42)), Some(42));
    }

    #[test]
    fn a_sources_buckets_are_one_contiguous_time_ordered_range() {
        let day = Granularity::Day;
        let (lo, hi) = agg_range("p", day, ALL_SOURCES, 0, 10 * 86_400_000);
        let inside = agg_key("p", day, ALL_SOURCES, 3 * 86_400_000);
        assert!(inside > lo && inside < hi);
        for other in [
            agg_key("p", day, "web", 3 * 86_400_000),
            agg_key("p", Granularity::Hour, ALL_SOURCES, 3 * 86_400_000),
            agg_key("q", day, ALL_SOURCES, 3 * 86_400_000),
        ] {
            assert!(!(other >= lo && other < hi));
        }
        assert!(agg_key("p", day, "web", 1) < agg_key("p", day, "web", 2));
        assert_eq!(agg_bucket(&inside), Some(3 * 86_400_000));
    }

    #[test]
    fn bucket_start_floors_negative_times() {
        assert_eq!(Granularity::Hour.bucket_start(-1), -3_600_000);
        assert_eq!(Granularity::Day.bucket_start(86_400_001), 86_400_000);
    }

    #[test]
    fn message_keys_order_by_date_and_time_within_a_product() {
        let a = MessageKey::digest("p", "2026-11-09");
        let b = MessageKey::digest("p", "2026-11-10");
        assert!(a < b && a.as_bytes().starts_with(&MessageKey::digest_prefix("p")));
        assert!(!MessageKey::digest("q", "2026-11-09")
            .as_bytes()
            .starts_with(&MessageKey::digest_prefix("p")));
        assert_eq!(b.describe(), "digest:2026-11-10");
        let (lo, hi) = MessageKey::alert_range("p", 100, 200);
        let x = MessageKey::alert("p", 150, "emotions.anger");
        assert!(x.as_bytes() >= &lo[..] && x.as_bytes() < &hi[..]);
        assert!(MessageKey::alert("p", 200, "x").as_bytes() >= &hi[..]);
        assert_eq!(x.describe(), "alert:150:emotions.anger");
        assert!(a.delivery("mail") != a.delivery("mail2"));
    }
}
