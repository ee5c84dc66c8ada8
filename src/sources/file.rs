//! `file` source: a CSV or JSONL export read incrementally from a byte-offset cursor and watched
//! for appended rows. Also the reader behind `cxpulse import`.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Poll, Source, SourceError};
use crate::config::sources::FileSourceConfig;
use crate::config::{FileColumns, FileFormat};
use crate::domain::text;
use crate::domain::time;
use crate::domain::RawItem;

/// Most bytes read in one slice: bounds memory for huge files; the rest comes in the next slice.
const MAX_SLICE_BYTES: u64 = 8 * 1024 * 1024;

/// Bytes at the start of the file hashed to notice that it was replaced rather than appended to.
const FINGERPRINT_BYTES: u64 = 1024;

/// How to read one file: format, column mapping and rating scale.
#[derive(Debug, Clone)]
pub struct FileSpec {
    pub path: PathBuf,
    pub format: FileFormat,
    pub columns: FileColumns,
    pub rating_max: f64,
}

impl FileSpec {
    pub fn new(
        path: PathBuf,
        format: Option<FileFormat>,
        columns: FileColumns,
        rating_max: Option<f64>,
    ) -> FileSpec {
        let format = format.unwrap_or_else(|| guess_format(&path));
        FileSpec {
            path,
            format,
            columns,
            rating_max: rating_max.unwrap_or(5.0),
        }
    }
}

pub fn guess_format(path: &Path) -> FileFormat {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    {
        Some(e) if e == "csv" || e == "tsv" => FileFormat::Csv,
        _ => FileFormat::Jsonl,
    }
}

/// Where reading stopped, and what the file looked like then.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileCursor {
    pub offset: u64,
    /// Hash of the first `fp_len` bytes when the cursor was written.
    pub fp: String,
    pub fp_len: u64,
}

/// One slice of a file: items from `cursor` on, at most `max_items`, ending on a record boundary.
pub fn read_slice(
    spec: &FileSpec,
    cursor: Option<&[u8]>,
    max_items: usize,
) -> Result<(Poll, FileCursor, u64), SourceError> {
    let io = |e: std::io::Error| SourceError::Io {
        path: spec.path.display().to_string(),
        message: e.to_string(),
    };
    let mut f = std::fs::File::open(&spec.path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut cur: FileCursor = super::decode_cursor(&spec.path.display().to_string(), cursor);
    // A file that shrank or whose beginning changed was replaced: start over (already stored
    // rows are recognised as duplicates, so nothing is counted twice).
    if cur.offset > len
        || (cur.fp_len > 0 && fingerprint(&mut f, cur.fp_len).map_err(io)? != cur.fp)
    {
        tracing::info!(path = %spec.path.display(), "file was replaced or truncated; reading it from the start");
        cur = FileCursor::default();
    }
    let fp_len = len.min(FINGERPRINT_BYTES).max(cur.fp_len.min(len));
    let fp = fingerprint(&mut f, fp_len).map_err(io)?;

    // Header line (CSV) is always read from the top of the file.
    let header: Option<csv::StringRecord> = match spec.format {
        FileFormat::Csv => {
            f.seek(SeekFrom::Start(0)).map_err(io)?;
            let mut r = csv::ReaderBuilder::new()
                .delimiter(delimiter(&spec.path))
                .flexible(true)
                .from_reader(std::io::BufReader::new(&mut f));
            let h = r.headers().map_err(|e| SourceError::Parse {
                what: "CSV header",
                message: e.to_string(),
            })?;
            let h = h.clone();
            let header_end = r.position().byte();
            if cur.offset < header_end {
                cur.offset = header_end;
            }
            Some(h)
        }
        FileFormat::Jsonl => None,
    };

    let want = (len - cur.offset).min(MAX_SLICE_BYTES);
    f.seek(SeekFrom::Start(cur.offset)).map_err(io)?;
    let mut buf = vec![0u8; want as usize];
    f.read_exact(&mut buf).map_err(io)?;
    // Only complete lines: a writer may be in the middle of appending the last one.
    let complete = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    let mut poll = Poll::default();
    if complete == 0 && want == MAX_SLICE_BYTES {
        // One line longer than a whole slice: oversized input is skipped, not buffered.
        let skip_to = next_newline(&mut f, cur.offset + want).map_err(io)?;
        tracing::warn!(path = %spec.path.display(), offset = cur.offset, "skipping a record longer than {MAX_SLICE_BYTES} bytes");
        poll.skipped = 1;
        poll.more = skip_to < len;
        let new_cursor = FileCursor {
            offset: skip_to,
            fp,
            fp_len,
        };
        poll.cursor = Some(serde_json::to_vec(&new_cursor).expect("cursor serialises"));
        return Ok((poll, new_cursor, len));
    }
    buf.truncate(complete);

    let consumed = match spec.format {
        FileFormat::Jsonl => parse_jsonl(spec, &buf, max_items, &mut poll),
        FileFormat::Csv => parse_csv(
            spec,
            header.as_ref().expect("csv has header"),
            &buf,
            max_items,
            &mut poll,
        ),
    };
    let new_cursor = FileCursor {
        offset: cur.offset + consumed as u64,
        fp,
        fp_len,
    };
    // Stopped early (item cap or slice cap) with complete records left: poll again at once.
    poll.more = consumed > 0
        && new_cursor.offset < len
        && (poll.items.len() >= max_items || consumed < complete || want == MAX_SLICE_BYTES);
    poll.cursor = Some(serde_json::to_vec(&new_cursor).expect("cursor serialises"));
    Ok((poll, new_cursor, len))
}

fn delimiter(path: &Path) -> u8 {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("tsv") => b'\t',
        _ => b',',
    }
}

/// Offset just past the first newline at or after `from` (or the end of the file).
fn next_newline(f: &mut std::fs::File, from: u64) -> std::io::Result<u64> {
    f.seek(SeekFrom::Start(from))?;
    let mut pos = from;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            return Ok(pos);
        }
        if let Some(i) = chunk[..n].iter().position(|&b| b == b'\n') {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
}

fn fingerprint(f: &mut std::fs::File, n: u64) -> std::io::Result<String> {
    f.seek(SeekFrom::Start(0))?;
    let mut b = vec![0u8; n as usize];
    f.read_exact(&mut b)?;
    Ok(blake3::hash(&b).to_hex()[..16].to_string())
}

/// Returns bytes consumed (always ending after a complete record).
fn parse_jsonl(spec: &FileSpec, buf: &[u8], max_items: usize, poll: &mut Poll) -> usize {
    let mut pos = 0;
    while pos < buf.len() && poll.items.len() < max_items {
        let end = buf[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(buf.len());
        let line = String::from_utf8_lossy(&buf[pos..end]);
        pos = end;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line) {
            Ok(obj) => {
                let get = |col: &Option<String>| -> Option<String> {
                    let v = obj.get(col.as_deref()?)?;
                    match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    }
                };
                match item_from(spec, get) {
                    Some(i) => poll.items.push(i),
                    None => poll.skipped += 1,
                }
            }
            Err(e) => {
                tracing::warn!(path = %spec.path.display(), error = %e, "skipping malformed JSONL line");
                poll.skipped += 1;
            }
        }
    }
    pos
}

fn parse_csv(
    spec: &FileSpec,
    header: &csv::StringRecord,
    buf: &[u8],
    max_items: usize,
    poll: &mut Poll,
) -> usize {
    // Column name → position, built once per slice.
    let columns: std::collections::HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter(&spec.path))
        .from_reader(buf);
    let mut rec = csv::ByteRecord::new();
    let mut consumed = 0usize;
    while poll.items.len() < max_items {
        match r.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let next = r.position().byte() as usize;
                // A record cut by the slice end (open quote) is left for the next slice.
                if next >= buf.len() && buf.last() != Some(&b'\n') {
                    break;
                }
                consumed = next;
                let field = |i: Option<usize>| -> Option<String> {
                    let b = rec.get(i?)?;
                    let s = String::from_utf8_lossy(b).trim().to_string();
                    (!s.is_empty()).then_some(s)
                };
                let get = |col: &Option<String>| field(columns.get(col.as_deref()?).copied());
                match item_from(spec, get) {
                    Some(i) => poll.items.push(i),
                    None => poll.skipped += 1,
                }
            }
            Err(e) => {
                tracing::warn!(path = %spec.path.display(), error = %e, "skipping malformed CSV record");
                poll.skipped += 1;
                consumed = r.position().byte() as usize;
            }
        }
    }
    consumed
}

/// Builds an item from a row through `get(column)`; `None` when the row has no usable text.
fn item_from(spec: &FileSpec, get: impl Fn(&Option<String>) -> Option<String>) -> Option<RawItem> {
    let c = &spec.columns;
    let raw_text = get(&Some(c.text.clone()))?;
    let text = text::normalise_ws(text::cap_chars(&raw_text, text::MAX_POST_CHARS));
    if text.is_empty() {
        return None;
    }
    let published_ms = get(&c.published).and_then(|s| time::parse_time_ms(&s));
    let author = get(&c.author);
    let rating = get(&c.rating)
        .and_then(|s| s.parse::<f64>().ok())
        .and_then(|r| crate::domain::post::rating_from_scale(r, spec.rating_max));
    let external_id = match get(&c.id) {
        Some(id) => id,
        // No id column: the content is the identity, so re-importing the file dedups.
        None => {
            let mut h = blake3::Hasher::new();
            h.update(text.as_bytes());
            h.update(&[0]);
            h.update(author.as_deref().unwrap_or("").as_bytes());
            h.update(&[0]);
            h.update(&published_ms.unwrap_or(0).to_be_bytes());
            format!("h:{}", &h.finalize().to_hex()[..24])
        }
    };
    Some(RawItem {
        external_id,
        url: get(&c.url),
        author,
        published_ms,
        title: get(&c.title).map(|t| text::normalise_ws(text::cap_chars(&t, 500))),
        text,
        rating,
        channel: get(&c.channel),
    })
}

pub struct FileSource {
    cfg: FileSourceConfig,
    spec: FileSpec,
    max_items: usize,
}

impl FileSource {
    pub fn new(cfg: FileSourceConfig, max_items: usize) -> FileSource {
        let spec = FileSpec::new(
            cfg.path.clone(),
            cfg.format,
            cfg.columns.clone(),
            cfg.rating_max,
        );
        FileSource {
            cfg,
            spec,
            max_items,
        }
    }
}

#[async_trait]
impl Source for FileSource {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn kind(&self) -> &'static str {
        "file"
    }

    async fn poll(&self, cursor: Option<&[u8]>) -> Result<Poll, SourceError> {
        let spec = self.spec.clone();
        let cursor = cursor.map(<[u8]>::to_vec);
        let max = self.max_items;
        // File IO is blocking: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            read_slice(&spec, cursor.as_deref(), max).map(|(p, _, _)| p)
        })
        .await
        .map_err(|e| SourceError::Io {
            path: self.cfg.path.display().to_string(),
            message: e.to_string(),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn spec(path: &Path) -> FileSpec {
        FileSpec::new(
            path.to_path_buf(),
            None,
            FileColumns {
                text: "body".into(),
                id: Some("review_id".into()),
                published: Some("created".into()),
                rating: Some("stars".into()),
                ..FileColumns::default()
            },
            Some(5.0),
        )
    }

    #[test]
    fn jsonl_incremental_with_partial_line_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        let mut f = std::fs::File::create(&p).unwrap();
        writeln!(
            f,
            r#"{{"review_id":"1","body":"good","stars":5,"created":"2026-01-01"}}"#
        )
        .unwrap();
        writeln!(f, "{{not json").unwrap();
        writeln!(f, r#"{{"review_id":"2","body":"","stars":3}}"#).unwrap();
        write!(f, r#"{{"review_id":"3","body":"half"#).unwrap();
        f.flush().unwrap();
        let s = spec(&p);
        let (poll, cur, _) = read_slice(&s, None, 100).unwrap();
        assert_eq!(poll.items.len(), 1);
        assert_eq!(poll.items[0].rating, Some(1.0));
        assert_eq!(poll.skipped, 2);
        // Finish the partial line: only the new row is read.
        writeln!(f, r#"","stars":"4"}}"#).unwrap();
        let (poll2, _, _) = read_slice(&s, poll.cursor.as_deref(), 100).unwrap();
        assert_eq!(poll2.items.len(), 1);
        assert_eq!(poll2.items[0].external_id, "3");
        assert_eq!(poll2.items[0].rating, Some(0.8));
        assert!(cur.offset > 0);
    }

    #[test]
    fn csv_with_quotes_limits_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(
            &p,
            "review_id,body,stars,created\n1,\"multi\nline, quoted\",4,2026-01-01\n2,second,9,2026-01-02\n3,third,,\n",
        )
        .unwrap();
        let s = spec(&p);
        let (poll, _, _) = read_slice(&s, None, 2).unwrap();
        assert_eq!(poll.items.len(), 2);
        assert_eq!(poll.items[0].text, "multi\nline, quoted");
        assert_eq!(poll.items[1].rating, None, "9 of 5 stars is not a rating");
        assert!(poll.more);
        let (poll2, _, _) = read_slice(&s, poll.cursor.as_deref(), 2).unwrap();
        assert_eq!(poll2.items.len(), 1);
        assert_eq!(poll2.items[0].external_id, "3");
        assert!(!poll2.more);
        // The file is replaced by a different one: reading restarts at the top.
        std::fs::write(
            &p,
            "review_id,body,stars,created\n9,new file,1,2026-02-01\n",
        )
        .unwrap();
        let (poll3, _, _) = read_slice(&s, poll2.cursor.as_deref(), 10).unwrap();
        assert_eq!(poll3.items.len(), 1);
        assert_eq!(poll3.items[0].external_id, "9");
    }

    #[test]
    fn content_hash_ids_without_id_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(
            &p,
            "{\"body\":\"same\"}\n{\"body\":\"same\"}\n{\"body\":\"other\"}\n",
        )
        .unwrap();
        let mut s = spec(&p);
        s.columns.id = None;
        let (poll, _, _) = read_slice(&s, None, 10).unwrap();
        assert_eq!(poll.items[0].external_id, poll.items[1].external_id);
        assert_ne!(poll.items[0].external_id, poll.items[2].external_id);
    }
}
