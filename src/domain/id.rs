//! The stable post id every tree keys on.

use std::fmt;

use serde::Serialize;

/// Stable post id: a hash of product, source and the source's own id for the item, so the same
/// item fetched twice (or re-imported) maps to the same key and is stored once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostId(pub [u8; 16]);

impl PostId {
    pub fn new(product: &str, source: &str, external_id: &str) -> Self {
        let mut h = blake3::Hasher::new();
        for part in [product, source, external_id] {
            h.update(&(part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        PostId(id)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s).ok()?;
        Some(PostId(v.try_into().ok()?))
    }
}

impl fmt::Debug for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostId({})", self.to_hex())
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for PostId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_id_is_stable_and_unambiguous() {
        let a = PostId::new("p", "s", "1");
        assert_eq!(a, PostId::new("p", "s", "1"));
        assert_ne!(a, PostId::new("p", "s", "2"));
        // Length-prefixing keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(PostId::new("ab", "c", "x"), PostId::new("a", "bc", "x"));
        assert_eq!(PostId::from_hex(&a.to_hex()), Some(a));
        assert_eq!(PostId::from_hex("zz"), None);
    }
}
