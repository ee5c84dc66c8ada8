//! Backups: a consistent snapshot of every tree in one file, and its restore into a new store.
//!
//! The snapshot is taken under the store's write gate, so no transaction is half in it: every
//! writer holds the gate's shared side while it writes, the backup its exclusive side while it
//! reads. The file is `MAGIC`, the format and schema versions, then per tree a name and its
//! entries, then an end mark and a BLAKE3 hash of all that came before, so a truncated or
//! altered file is refused before anything is written.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{keys, Store, StoreError};

const MAGIC: &[u8; 15] = b"CXPULSE-BACKUP\n";
const FORMAT_VERSION: u32 = 1;
const TAG_TREE: u8 = 1;
const TAG_ENTRY: u8 = 2;
const TAG_END: u8 = 0;

/// What a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupSummary {
    pub trees: usize,
    pub entries: u64,
    pub posts: u64,
}

/// Hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: blake3::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backup(e.to_string())
}

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Backup(msg.into())
}

impl Store {
    /// Writes a consistent snapshot of the whole store to `out`. Writers wait while it runs.
    pub fn backup(&self, out: impl Write) -> Result<BackupSummary, StoreError> {
        // The gate first, the trees second, as in `try_recover`: the other order would hold
        // the old trees while a reopen waits for them under the gate.
        let _exclusive = self.gate.write().expect("write gate poisoned");
        let t = self.t()?;
        let mut w = Hashing {
            inner: BufWriter::new(out),
            hash: blake3::Hasher::new(),
        };
        w.write_all(MAGIC).map_err(io)?;
        w.write_all(&FORMAT_VERSION.to_be_bytes()).map_err(io)?;
        w.write_all(&keys::SCHEMA_VERSION.to_be_bytes())
            .map_err(io)?;
        let mut summary = BackupSummary::default();
        for name in t.db.tree_names() {
            // sled's own default tree is empty here; it is kept for completeness.
            let tree = t.db.open_tree(&name)?;
            w.write_all(&[TAG_TREE]).map_err(io)?;
            write_chunk(&mut w, &name)?;
            summary.trees += 1;
            for kv in tree.iter() {
                let (k, v) = kv?;
                w.write_all(&[TAG_ENTRY]).map_err(io)?;
                write_chunk(&mut w, &k)?;
                write_chunk(&mut w, &v)?;
                summary.entries += 1;
                if &*name == b"posts" {
                    summary.posts += 1;
                }
            }
        }
        w.write_all(&[TAG_END]).map_err(io)?;
        let hash = w.hash.finalize();
        let mut inner = w.inner;
        inner.write_all(hash.as_bytes()).map_err(io)?;
        inner.flush().map_err(io)?;
        Ok(summary)
    }
}

fn write_chunk(w: &mut impl Write, bytes: &[u8]) -> Result<(), StoreError> {
    let len = u32::try_from(bytes.len()).map_err(|_| bad("a record over 4 GiB"))?;
    w.write_all(&len.to_be_bytes()).map_err(io)?;
    w.write_all(bytes).map_err(io)
}

fn read_exact<const N: usize>(r: &mut impl Read) -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)
        .map_err(|_| bad("the backup ends early (truncated?)"))?;
    Ok(b)
}

fn read_chunk(r: &mut impl Read, limit: u64) -> Result<Vec<u8>, StoreError> {
    let len = u32::from_be_bytes(read_exact::<4>(r)?) as u64;
    if len > limit {
        return Err(bad(
            "a record is longer than the file: not a cxpulse backup",
        ));
    }
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v)
        .map_err(|_| bad("the backup ends early (truncated?)"))?;
    Ok(v)
}

/// Reads a backup; `apply` gets each (tree, key, value) once the header checks out. Checks the
/// end mark and the hash at the end, so the caller learns of damage only after `apply` ran:
/// [`restore`] therefore reads a file twice, once to check and once to apply.
fn read_backup(
    file: &Path,
    mut apply: impl FnMut(&[u8], Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
) -> Result<BackupSummary, StoreError> {
    let f = std::fs::File::open(file).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let size = f.metadata().map_err(io)?.len();
    let mut r = Hashing {
        inner: BufReader::new(f),
        hash: blake3::Hasher::new(),
    };
    if &read_exact::<15>(&mut r)? != MAGIC {
        return Err(bad(format!("{} is not a cxpulse backup", file.display())));
    }
    let format = u32::from_be_bytes(read_exact::<4>(&mut r)?);
    if format != FORMAT_VERSION {
        return Err(bad(format!(
            "backup format {format} is not supported by this build (it reads {FORMAT_VERSION})"
        )));
    }
    let schema = u32::from_be_bytes(read_exact::<4>(&mut r)?);
    // Older schemas restore as they were and are migrated when the store is next opened.
    if !(super::migrate::OLDEST_MIGRATABLE..=keys::SCHEMA_VERSION).contains(&schema) {
        return Err(bad(format!(
            "the backup holds a store of schema {schema}; this build uses {} (restore it with the cxpulse version that wrote it)",
            keys::SCHEMA_VERSION
        )));
    }
    let mut summary = BackupSummary::default();
    let mut tree: Option<Vec<u8>> = None;
    loop {
        match read_exact::<1>(&mut r)?[0] {
            TAG_TREE => {
                tree = Some(read_chunk(&mut r, size)?);
                summary.trees += 1;
            }
            TAG_ENTRY => {
                let t = tree
                    .as_deref()
                    .ok_or_else(|| bad("an entry before any tree"))?;
                let k = read_chunk(&mut r, size)?;
                let v = read_chunk(&mut r, size)?;
                summary.entries += 1;
                if t == b"posts" {
                    summary.posts += 1;
                }
                apply(t, k, v)?;
            }
            TAG_END => break,
            other => return Err(bad(format!("unknown record tag {other}: damaged backup"))),
        }
    }
    let computed = r.hash.finalize();
    let stored = read_exact::<32>(&mut r.inner)?;
    if computed.as_bytes() != &stored {
        return Err(bad("the backup's checksum does not match: damaged file"));
    }
    if r.inner.read(&mut [0u8; 1]).map_err(io)? != 0 {
        return Err(bad("bytes after the end of the backup: damaged file"));
    }
    Ok(summary)
}

/// Checks a backup file end to end without writing anything.
pub fn check(file: &Path) -> Result<BackupSummary, StoreError> {
    read_backup(file, |_, _, _| Ok(()))
}

/// Restores `file` as the store at `target`. The file is checked first; the new store is built
/// beside `target`, verified, and only then moved into place. An existing store is kept,
/// renamed to the returned path.
pub fn restore(file: &Path, target: &Path) -> Result<(BackupSummary, Option<PathBuf>), StoreError> {
    let summary = check(file)?;
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db".into());
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let staging = parent.join(format!(".{name}.restoring-{stamp}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io)?;
    }
    {
        let db = sled::Config::new().path(&staging).open()?;
        let mut current: Option<(Vec<u8>, sled::Tree)> = None;
        let mut batch = sled::Batch::default();
        let mut pending = 0usize;
        read_backup(file, |t, k, v| {
            if current.as_ref().is_none_or(|(n, _)| n.as_slice() != t) {
                if let Some((_, tree)) = &current {
                    tree.apply_batch(std::mem::take(&mut batch))?;
                    pending = 0;
                }
                current = Some((t.to_vec(), db.open_tree(t)?));
            }
            batch.insert(k, v);
            pending += 1;
            if pending >= 10_000 {
                let (_, tree) = current.as_ref().expect("set above");
                tree.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
            Ok(())
        })?;
        if let Some((_, tree)) = &current {
            tree.apply_batch(batch)?;
        }
        db.flush()?;
    }
    let restored = Store::open_waiting(&staging, super::REOPEN_LOCK_WAIT)?;
    let report = restored.verify()?;
    drop(restored);
    if !report.problems.is_empty() {
        return Err(bad(format!(
            "the restored store does not verify ({} problems); {} left for inspection",
            report.problems.len(),
            staging.display()
        )));
    }
    let kept = if target.exists() {
        let aside = parent.join(format!("{name}.before-restore-{stamp}"));
        std::fs::rename(target, &aside).map_err(io)?;
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staging, target).map_err(io)?;
    Ok((summary, kept))
}
