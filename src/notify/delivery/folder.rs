//! The `folder` target: `<dir>/<product>/<date>.<ext>` for digests and
//! `<dir>/<product>/alerts/<time>-<label>.<ext>` for alerts, each written whole (a temporary
//! file renamed into place), so a reader never sees half a digest and a repeat is a rewrite.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{DeliveryError, Message};
use crate::config::Format;

pub async fn write(dir: &Path, formats: &[Format], msg: &Message) -> Result<(), DeliveryError> {
    let base = dir.join(&msg.product).join(&msg.file_stem);
    let files: Vec<(PathBuf, Vec<u8>)> = formats
        .iter()
        .map(|f| {
            let mut p = base.clone().into_os_string();
            p.push(".");
            p.push(f.extension());
            (PathBuf::from(p), msg.body(*f).as_bytes().to_vec())
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        for (path, bytes) in files {
            write_whole(&path, &bytes).map_err(|source| DeliveryError::Io {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
