//! `import` and `fetch`: the commands that bring posts in outside the daemon's schedule.

use std::sync::Arc;

use anyhow::{anyhow, Context};

use crate::config::{self, Config, FileColumns, FileFormat};
use crate::domain::RawItem;
use crate::ingest::classifier::Classifier;
use crate::ingest::pipeline::{CursorUpdate, Pipeline};
use crate::ingest::position::Position;
use crate::metrics::Metrics;
use crate::sources::file::{read_slice, FileSpec};
use crate::store::Store;

use super::args::{FetchArgs, ImportArgs, InputFormat};
use super::{usage, CliError};

pub(super) async fn import(cfg: Config, a: &ImportArgs) -> Result<(), CliError> {
    if cfg.product(&a.product).is_none() {
        return Err(usage(anyhow!("no product `{}` in the config", a.product)));
    }
    if !config::valid_id(&a.source) {
        return Err(usage(anyhow!(
            "--source must be 1-64 characters of a-z, 0-9, '-' or '_'"
        )));
    }
    let path = std::fs::canonicalize(&a.file)
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    let spec = FileSpec::new(
        path.clone(),
        a.format.map(|f| match f {
            InputFormat::Csv => FileFormat::Csv,
            InputFormat::Jsonl => FileFormat::Jsonl,
        }),
        FileColumns {
            text: a.text_col.clone(),
            id: Some(a.id_col.clone()),
            title: a.title_col.clone(),
            author: Some(a.author_col.clone()),
            published: Some(a.published_col.clone()),
            rating: Some(a.rating_col.clone()),
            url: Some(a.url_col.clone()),
            channel: a.channel_col.clone(),
        },
        Some(a.rating_max),
    );
    let store = Store::open(&cfg.storage.path)?;
    let model = cfg.model.clone();
    let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model))
        .await
        .context("model thread")??;
    store.register_slots(&classifier.spec().slots())?;
    let pipeline = {
        let (cfg, store) = (cfg.clone(), store.clone());
        tokio::task::spawn_blocking(move || {
            Pipeline::new(&cfg, classifier, store, Arc::new(Metrics::new()))
        })
        .await
        .context("authenticity index")??
    };
    // One cursor per product, source and file, so an interrupted import resumes where it stopped.
    let cursor_key = format!("import:{}:{}:{}", a.product, a.source, path.display());
    let total = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}",
        )
        .expect("static template"),
    );
    let mut totals = crate::ingest::pipeline::IngestReport::default();
    let mut skipped = 0u64;
    loop {
        let cursor = store.cursor(&cursor_key)?;
        let s = spec.clone();
        let batch = a.batch.max(1);
        let (poll, cur, _) =
            tokio::task::spawn_blocking(move || read_slice(&s, cursor.as_deref(), batch))
                .await
                .context("reader thread")??;
        bar.set_position(cur.offset);
        skipped += poll.skipped;
        let more = poll.more;
        let r = pipeline
            .process(
                &a.product,
                &a.source,
                poll.items,
                a.require_keywords,
                poll.cursor.map(|value| CursorUpdate {
                    key: cursor_key.clone(),
                    value,
                }),
            )
            .await?;
        totals.received += r.received;
        totals.stored += r.stored;
        totals.duplicates += r.duplicates;
        totals.irrelevant += r.irrelevant;
        bar.set_message(format!(
            "{} stored, {} duplicates",
            totals.stored, totals.duplicates
        ));
        if !more {
            break;
        }
    }
    bar.finish_and_clear();
    println!(
        "imported {}: {} rows read, {} stored, {} duplicates skipped, {} not about the product, {} malformed rows skipped",
        path.display(),
        totals.received,
        totals.stored,
        totals.duplicates,
        totals.irrelevant,
        skipped
    );
    Ok(())
}

pub(super) async fn fetch_now(cfg: Config, a: &FetchArgs) -> Result<(), CliError> {
    let product = cfg
        .product(&a.product)
        .ok_or_else(|| usage(anyhow!("unknown product `{}`", a.product)))?
        .clone();
    let sources: Vec<&crate::config::SourceConfig> = product
        .sources
        .iter()
        .filter(|s| a.source.as_deref().is_none_or(|n| n == s.name()))
        .collect();
    if sources.is_empty() {
        return Err(usage(anyhow!(
            "product `{}` has no source{}",
            product.id,
            a.source
                .as_deref()
                .map(|n| format!(" named `{n}`"))
                .unwrap_or_default()
        )));
    }
    let metrics = Arc::new(Metrics::new());
    let fetcher = Arc::new(
        crate::sources::Fetcher::new(cfg.fetch.clone(), metrics.clone())
            .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))?,
    );
    // A dry run reads the stored cursors when it can, and goes on without them while the
    // daemon holds the store; a real fetch needs the store.
    let store = match Store::open(&cfg.storage.path) {
        Ok(s) => Some(s),
        Err(crate::store::StoreError::Locked { .. }) if a.dry_run => {
            eprintln!("(the daemon holds the store: polling without stored cursors)");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let pipeline = match (&store, a.dry_run) {
        (Some(store), false) => Some(open_pipeline(&cfg, store, &metrics).await?),
        _ => None,
    };
    let run = FetchRun {
        product: &product,
        store: store.as_ref(),
        pipeline: pipeline.as_ref(),
        matcher: crate::sources::relevance::Matcher::new(&product.keywords, &product.exclusions),
        json: a.json,
    };
    let mut failed = 0;
    for sc in sources {
        let own = Arc::new(fetcher.for_source());
        let source =
            crate::sources::build(sc, own.clone(), cfg.fetch.max_items_per_fetch, &run.matcher);
        if !run.source(sc, source.as_ref(), &own).await? {
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(anyhow!("{failed} source(s) failed").into());
    }
    Ok(())
}

/// The model and the pipeline a real (not dry) fetch stores through.
async fn open_pipeline(
    cfg: &Config,
    store: &Store,
    metrics: &Arc<Metrics>,
) -> Result<Pipeline, CliError> {
    let model = cfg.model.clone();
    let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model))
        .await
        .context("model thread")??;
    store.register_slots(&classifier.spec().slots())?;
    let (c, st, m) = (cfg.clone(), store.clone(), metrics.clone());
    Ok(
        tokio::task::spawn_blocking(move || Pipeline::new(&c, classifier, st, m))
            .await
            .context("authenticity index")??,
    )
}

/// One `cxpulse fetch`: what every source of the product is polled with.
struct FetchRun<'a> {
    product: &'a crate::config::Product,
    store: Option<&'a Store>,
    /// `None` for a dry run: items are printed, not stored.
    pipeline: Option<&'a Pipeline>,
    matcher: crate::sources::relevance::Matcher,
    json: bool,
}

impl FetchRun<'_> {
    /// Polls one source until it has no more; `false` when a poll failed.
    async fn source(
        &self,
        sc: &crate::config::SourceConfig,
        source: &dyn crate::sources::Source,
        fetcher: &crate::sources::Fetcher,
    ) -> Result<bool, CliError> {
        let name = sc.name().to_string();
        let mut totals = crate::ingest::pipeline::IngestReport::default();
        let mut skipped = 0;
        let mut ok = true;
        let stored = |s: Option<&Store>| -> Result<Position, CliError> {
            Ok(Position::decode(match s {
                Some(s) => s.cursor(&name)?,
                None => None,
            }))
        };
        // The daemon's validators: a fetch after it re-downloads nothing unchanged.
        stored(self.store)?.restore_validators(fetcher);
        loop {
            let position = stored(self.store)?;
            let mut poll = match source.poll(position.cursor.as_deref()).await {
                Ok(p) => p,
                Err(e) => {
                    println!("{name}: error ({}): {e}", e.reason());
                    ok = false;
                    break;
                }
            };
            skipped += poll.skipped;
            let Some(p) = self.pipeline else {
                for item in &poll.items {
                    self.print_item(&name, sc, item);
                }
                totals.received += poll.items.len();
                if let Some(e) = &poll.failed {
                    println!(
                        "{name}: error ({}): {e} (after the items above)",
                        e.reason()
                    );
                    ok = false;
                }
                break;
            };
            let more = poll.more;
            let failed = poll.failed.take();
            let update = Some(crate::ingest::pipeline::CursorUpdate {
                key: name.clone(),
                value: position.after_poll(poll.cursor.as_deref(), fetcher, failed.is_none()),
            });
            let r = p
                .process(
                    &self.product.id,
                    &name,
                    poll.items,
                    sc.require_keywords(),
                    update,
                )
                .await
                .map_err(|e| anyhow!("{name}: {e}"))?;
            if failed.is_none() {
                fetcher.commit_validators();
            } else {
                fetcher.discard_validators();
            }
            totals.received += r.received;
            totals.stored += r.stored;
            totals.duplicates += r.duplicates;
            totals.irrelevant += r.irrelevant;
            if let Some(e) = failed {
                println!(
                    "{name}: error ({}): {e} (what was read before it is kept)",
                    e.reason()
                );
                ok = false;
                break;
            }
            if !more {
                break;
            }
        }
        if self.pipeline.is_some() {
            println!(
                "{name}: {} fetched, {} stored, {} duplicates, {} irrelevant, {skipped} skipped",
                totals.received, totals.stored, totals.duplicates, totals.irrelevant
            );
        } else if !self.json {
            println!(
                "{name}: {} items (dry run: nothing stored), {skipped} skipped",
                totals.received
            );
        }
        Ok(ok)
    }

    /// A dry run's line (or JSON object) for one item, with whether it would be kept.
    fn print_item(&self, name: &str, sc: &crate::config::SourceConfig, item: &RawItem) {
        let relevant = !sc.require_keywords()
            || self.matcher.matches(&item.text)
            || item
                .title
                .as_deref()
                .is_some_and(|t| self.matcher.matches(t));
        let published = item.published_ms.map(crate::domain::time::format_ms);
        if self.json {
            println!(
                "{}",
                serde_json::json!({"source": name, "external_id": item.external_id, "url": item.url,
                       "author": item.author, "published": published,
                       "title": item.title, "text": item.text, "rating": item.rating,
                       "channel": item.channel, "relevant": relevant})
            );
        } else {
            let excerpt: String = item.text.chars().take(90).collect();
            println!(
                "{name}\t{}\t{}\t{}\t{}",
                published.unwrap_or_else(|| "-".into()),
                if relevant { "relevant" } else { "irrelevant" },
                item.external_id,
                excerpt.replace(['\n', '\t'], " ")
            );
        }
    }
}
