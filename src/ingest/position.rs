//! A source's stored position: the cursor its last stored poll returned and the conditional-GET
//! validators of the pages that poll read, kept together in the one value the ingest
//! transaction writes, so a restart (or `cxpulse fetch`) neither re-downloads every page nor
//! sends validators of pages whose items were never stored.

/// Marks a value with validators; a plain cursor from an older build never starts with it
/// (source cursors are JSON or text).
const MAGIC: &[u8] = b"\xffcxpos1";
const NO_CURSOR: u32 = u32::MAX;

/// A stored position, read back.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub cursor: Option<Vec<u8>>,
    /// As [`crate::sources::Fetcher::export_validators`] wrote them.
    pub validators: Option<Vec<u8>>,
}

impl Position {
    /// Reads what the store holds under a source's cursor key.
    pub fn decode(stored: Option<Vec<u8>>) -> Position {
        let Some(b) = stored else {
            return Position::default();
        };
        let Some(rest) = b.strip_prefix(MAGIC) else {
            // Written before validators were kept: the whole value is the cursor.
            return Position {
                cursor: Some(b),
                validators: None,
            };
        };
        let Some((len, rest)) = rest.split_first_chunk::<4>() else {
            return Position::default();
        };
        let len = u32::from_be_bytes(*len);
        let (cursor, validators) = if len == NO_CURSOR {
            (None, rest)
        } else if (len as usize) <= rest.len() {
            let (c, v) = rest.split_at(len as usize);
            (Some(c.to_vec()), v)
        } else {
            return Position::default();
        };
        Position {
            cursor,
            validators: Some(validators.to_vec()),
        }
    }

    /// Hands the kept validators to `fetcher`. Once per run, before the first poll: later, a
    /// validator the fetcher has forgotten on purpose (a page to read in full) would return.
    pub fn restore_validators(&self, fetcher: &crate::sources::Fetcher) {
        if let Some(v) = &self.validators {
            fetcher.import_validators(v);
        }
    }

    /// The value to store after a poll that started here: its cursor (or this one, when it
    /// returned none) and the fetcher's validators, this poll's only if it is `complete`.
    pub fn after_poll(
        &self,
        poll_cursor: Option<&[u8]>,
        fetcher: &crate::sources::Fetcher,
        complete: bool,
    ) -> Vec<u8> {
        Position::encode(
            poll_cursor.or(self.cursor.as_deref()),
            &fetcher.export_validators(complete),
        )
    }

    pub fn encode(cursor: Option<&[u8]>, validators: &[u8]) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(MAGIC.len() + 4 + cursor.map_or(0, <[u8]>::len) + validators.len());
        out.extend_from_slice(MAGIC);
        match cursor {
            Some(c) => {
                out.extend_from_slice(&(c.len() as u32).to_be_bytes());
                out.extend_from_slice(c);
            }
            None => out.extend_from_slice(&NO_CURSOR.to_be_bytes()),
        }
        out.extend_from_slice(validators);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_old_cursors_still_read() {
        for (c, v) in [
            (Some(&b"{\"n\":3}"[..]), &b"{}"[..]),
            (None, &b"{\"u\":1}"[..]),
            (Some(&b""[..]), &b""[..]),
        ] {
            let p = Position::decode(Some(Position::encode(c, v)));
            assert_eq!(p.cursor.as_deref(), c);
            assert_eq!(p.validators.as_deref(), Some(v));
        }
        let old = Position::decode(Some(b"{\"offset\":40}".to_vec()));
        assert_eq!(old.cursor.as_deref(), Some(&b"{\"offset\":40}"[..]));
        assert_eq!(old.validators, None);
        assert_eq!(Position::decode(None), Position::default());
        // A truncated value is no position, not a panic.
        let mut cut = Position::encode(Some(b"abcdef"), b"");
        cut.truncate(cut.len() - 3);
        assert_eq!(Position::decode(Some(cut)), Position::default());
    }
}
