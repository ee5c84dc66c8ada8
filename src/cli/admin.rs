//! `backup`, `restore`, `forget` and `export`: the commands that act on the store as a whole.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Context};
use serde_json::Value;

use crate::config::Config;
use crate::store::Store;

use super::args::{BackupArgs, ExportArgs, ExportFormat, ForgetArgs, RestoreArgs};
use super::reader::{enc, ApiClient, Reader};
use super::show::range;
use super::{usage, CliError};

pub(super) fn backup(cfg: &Config, a: &BackupArgs) -> Result<(), CliError> {
    use std::io::Write;
    // Opening a missing store would create an empty one and "back it up".
    if !cfg.storage.path.exists() {
        return Err(usage(anyhow!(
            "there is no store at {} (storage.path) to back up",
            cfg.storage.path.display()
        )));
    }
    // Written under a temporary name and renamed when complete: a file with the final name is
    // always a whole backup.
    let dir = a
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let posts = match Store::open(&cfg.storage.path) {
        Ok(store) => store.backup(tmp.as_file_mut())?.posts,
        Err(crate::store::StoreError::Locked { .. }) => {
            let token = cfg.server.api_token.as_deref().ok_or_else(|| {
                usage(anyhow!(
                    "the daemon is running and a backup through its API needs server.api_token (or CXPULSE_API_TOKEN)"
                ))
            })?;
            let api = ApiClient::new(cfg)?;
            eprintln!(
                "(the daemon is running: taking the backup through its API at {})",
                api.base
            );
            api.download("/api/v1/backup", token, tmp.as_file_mut())?
        }
        Err(e) => return Err(e.into()),
    };
    tmp.as_file_mut().flush()?;
    tmp.as_file().sync_all()?;
    let summary = crate::store::backup::check(tmp.path())?;
    if summary.posts != posts {
        return Err(anyhow!(
            "the backup holds {} posts, the daemon said {posts}",
            summary.posts
        )
        .into());
    }
    tmp.persist_noclobber(&a.out)
        .map_err(|e| anyhow!("cannot create {}: {}", a.out.display(), e.error))?;
    println!(
        "backup written to {}: {} posts, {} records in {} trees, checksum verified",
        a.out.display(),
        summary.posts,
        summary.entries,
        summary.trees
    );
    Ok(())
}

pub(super) fn restore(cfg: &Config, a: &RestoreArgs) -> Result<(), CliError> {
    let summary = crate::store::backup::check(&a.from)?;
    println!(
        "{}: a whole backup of {} posts ({} records in {} trees)",
        a.from.display(),
        summary.posts,
        summary.entries,
        summary.trees
    );
    if !a.yes {
        println!(
            "nothing changed; run again with --yes to replace the store at {}",
            cfg.storage.path.display()
        );
        return Ok(());
    }
    // The daemon must not hold the store: it would keep writing into the one moved aside.
    // (A missing store is not opened, which would create an empty one to move aside.)
    let locked = cfg.storage.path.exists()
        && matches!(
            Store::open(&cfg.storage.path).map(drop),
            Err(crate::store::StoreError::Locked { .. })
        );
    if locked {
        return Err(usage(anyhow!(
            "the store at {} is in use: stop the daemon first",
            cfg.storage.path.display()
        )));
    }
    let (_, kept) = crate::store::backup::restore(&a.from, &cfg.storage.path)?;
    println!(
        "restored {} posts into {}; the store verifies",
        summary.posts,
        cfg.storage.path.display()
    );
    if let Some(k) = kept {
        println!("the previous store is kept at {}", k.display());
    }
    Ok(())
}

pub(super) fn forget(cfg: &Config, a: &ForgetArgs) -> Result<(), CliError> {
    if let Some(p) = &a.product {
        cfg.product(p)
            .ok_or_else(|| usage(anyhow!("unknown product `{p}`")))?;
    }
    let store = Store::open(&cfg.storage.path)?;
    use crate::domain::PostId;
    let ids: Vec<PostId> = match &a.author {
        Some(name) => {
            let stored_as = crate::ingest::pipeline::Normaliser::new(cfg).author(name);
            store.posts_by_author(a.product.as_deref(), &stored_as)?
        }
        None => {
            let mut ids = Vec::new();
            for hex in &a.post {
                let id = PostId::from_hex(hex.trim())
                    .ok_or_else(|| usage(anyhow!("--post: `{hex}` is not a post id")))?;
                match store.get_post(&id)? {
                    Some(p) if a.product.as_deref().is_none_or(|want| want == p.product) => {
                        ids.push(id)
                    }
                    _ => eprintln!("no stored post {hex}"),
                }
            }
            ids
        }
    };
    if !a.yes {
        println!(
            "would delete {} post(s); run again with --yes to delete them",
            ids.len()
        );
        return Ok(());
    }
    let done = store.forget(&ids)?;
    println!(
        "deleted {} post(s) and their share of the trends; {} stored digest(s) or alert(s) no longer quote them",
        done.posts, done.messages_scrubbed
    );
    Ok(())
}

pub(super) fn export(cfg: &Config, a: &ExportArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    let reader = Reader::open(cfg)?;
    let sink: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut w = Exporter::new(a.format, sink, reader.slot_names()?);
    match &reader {
        Reader::Store(store) => {
            for p in store.scan_posts(&a.range.product, from, to) {
                let p = p?;
                if a.range.source.as_ref().is_none_or(|s| s == &p.source) {
                    w.write(&crate::api::post_json(&p))?;
                }
            }
        }
        Reader::Api(api) => {
            let mut cursor: Option<String> = None;
            loop {
                let mut q = format!(
                    "/api/v1/products/{}/posts?from={from}&to={to}&limit=500",
                    a.range.product
                );
                if let Some(s) = &a.range.source {
                    q.push_str(&format!("&source={}", enc(s)));
                }
                if let Some(c) = &cursor {
                    q.push_str(&format!("&cursor={}", enc(c)));
                }
                let page = api.get(&q)?;
                for p in page["posts"].as_array().into_iter().flatten() {
                    w.write(p)?;
                }
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
        }
    }
    let n = w.finish()?;
    eprintln!("exported {n} posts");
    if n == 0 && a.range.from.is_none() {
        return Err(
            anyhow!("no posts in the last 90 days; pass --from to export older posts").into(),
        );
    }
    Ok(())
}

/// Writes post views as JSON lines or CSV (one score column per `head.label`).
pub(super) struct Exporter {
    format: ExportFormat,
    jsonl: Option<Box<dyn Write>>,
    csv: Option<csv::Writer<Box<dyn Write>>>,
    slots: Vec<(String, String)>,
    n: usize,
}

const CSV_COLUMNS: &[&str] = &[
    "id",
    "product",
    "source",
    "external_id",
    "published",
    "language",
    "rating",
    "author",
    "url",
    "channel",
    "title",
    "text",
    "labels",
];

impl Exporter {
    pub(super) fn new(
        format: ExportFormat,
        sink: Box<dyn Write>,
        slots: Vec<(String, String)>,
    ) -> Exporter {
        match format {
            ExportFormat::Jsonl => Exporter {
                format,
                jsonl: Some(sink),
                csv: None,
                slots,
                n: 0,
            },
            ExportFormat::Csv => Exporter {
                format,
                jsonl: None,
                csv: Some(csv::Writer::from_writer(sink)),
                slots,
                n: 0,
            },
        }
    }

    pub(super) fn write(&mut self, p: &Value) -> Result<(), CliError> {
        if self.n == 0 {
            if let Some(w) = &mut self.csv {
                let mut header: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
                header.extend(self.slots.iter().map(|(h, l)| format!("{h}.{l}")));
                w.write_record(&header).context("writing")?;
            }
        }
        self.n += 1;
        match self.format {
            ExportFormat::Jsonl => {
                let w = self.jsonl.as_mut().expect("jsonl sink");
                writeln!(w, "{p}").context("writing")?;
            }
            ExportFormat::Csv => {
                let heads = &p["classification"]["heads"];
                let mut labels = Vec::new();
                let mut scores = Vec::new();
                for (h, l) in &self.slots {
                    let head = &heads[h];
                    let score = if head["score"].is_number() {
                        &head["score"]
                    } else {
                        &head["scores"][l]
                    };
                    scores.push(
                        score
                            .as_f64()
                            .map(|s| format!("{s:.4}"))
                            .unwrap_or_default(),
                    );
                    let on = head["labels"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == l.as_str()))
                        || (head["score"].as_f64().is_some_and(|s| s >= 0.5));
                    if on {
                        labels.push(format!("{h}.{l}"));
                    }
                }
                let field = |k: &str| match &p[k] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let mut row: Vec<String> = CSV_COLUMNS[..12].iter().map(|k| field(k)).collect();
                row.push(labels.join(";"));
                row.extend(scores);
                self.csv
                    .as_mut()
                    .expect("csv sink")
                    .write_record(&row)
                    .context("writing")?;
            }
        }
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<usize, CliError> {
        if let Some(w) = &mut self.jsonl {
            w.flush().context("writing")?;
        }
        if let Some(w) = &mut self.csv {
            w.flush().context("writing")?;
        }
        Ok(self.n)
    }
}
