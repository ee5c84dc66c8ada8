//! `classify`, `eval` and `eval-authenticity`: the commands that run the model itself.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::{anyhow, Context};

use crate::config::Config;
use crate::ingest::classifier::Classifier;
use crate::ingest::pipeline::Pipeline;
use crate::metrics::Metrics;
use crate::store::Store;

use super::args::{EvalArgs, EvalAuthenticityArgs};
use super::{runtime, usage, CliError};

/// Blocking on purpose: stdin is read line by line here, and only the model calls run on the
/// runtime.
pub(super) fn classify(cfg: Config, texts: &[String]) -> Result<(), CliError> {
    let rt = runtime()?;
    let model = cfg.model.clone();
    let classifier = Classifier::start(&model)?;
    let mut out = std::io::stdout().lock();
    let mut emit = |batch: Vec<String>| -> Result<(), CliError> {
        for r in rt.block_on(classifier.classify(batch))? {
            serde_json::to_writer(&mut out, &r).context("writing output")?;
            writeln!(out).context("writing output")?;
        }
        Ok(())
    };
    if !texts.is_empty() {
        return emit(texts.to_vec());
    }
    let mut batch = Vec::new();
    for line in std::io::stdin().lock().lines() {
        batch.push(line.context("reading stdin")?);
        if batch.len() >= 64 {
            emit(std::mem::take(&mut batch))?;
        }
    }
    if !batch.is_empty() {
        emit(batch)?;
    }
    Ok(())
}

pub(super) async fn eval_authenticity(
    cfg: Config,
    a: &EvalAuthenticityArgs,
) -> Result<(), CliError> {
    use crate::eval::authenticity as ae;
    let data = ae::load(&a.data).map_err(usage)?;
    let model = cfg.model.clone();
    let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model))
        .await
        .context("model thread")??;
    // Every distinct text is classified once.
    let mut texts: Vec<String> = data
        .salminen_heldout
        .iter()
        .chain(&data.op_spam)
        .map(|l| l.text.clone())
        .chain(data.genuine.iter().map(|g| g.0.clone()))
        .collect();
    texts.sort();
    texts.dedup();
    eprintln!("classifying {} labelled texts…", texts.len());
    let mut by_text = std::collections::HashMap::new();
    for chunk in texts.chunks(256) {
        let out = classifier.classify_all(chunk.to_vec()).await?;
        by_text.extend(chunk.iter().cloned().zip(out));
    }
    let cls = |l: &[crate::eval::authenticity::Labelled]| -> Vec<crate::domain::Classification> {
        l.iter().map(|x| by_text[&x.text].clone()).collect()
    };
    let calibration = ae::calibrate(
        &data.salminen_heldout,
        &cls(&data.salminen_heldout),
        &data.op_spam,
        &cls(&data.op_spam),
    );
    if a.write_calibration {
        use crate::ingest::classifier::model_dir;
        let file = model_dir::CalibrationFile {
            calibration: calibration.calibration,
            fitted_on: "held-out fifth of fake_reviews_salminen (CG = not genuine), the rows train/train.py never trains on".into(),
            reproduce: "cxpulse eval-authenticity --data ../shared/data --write-calibration".into(),
            metrics: [
                ("salminen_heldout_crossfit", serde_json::to_value(&calibration.salminen_heldout_crossfit)?),
                ("op_spam_in_sample", serde_json::to_value(&calibration.op_spam_in_sample)?),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        let path = model_dir::write_calibration(&cfg.model.dir, &file)?;
        eprintln!("wrote {}", path.display());
    }

    let genuine: Vec<_> = data
        .genuine
        .iter()
        .map(|(t, o)| (t.clone(), *o, by_text[t].clone()))
        .collect();
    let (stream, shape) = ae::build_stream(&genuine, &data.bought, a.seed);
    let tmp = tempfile::tempdir().context("temporary store")?;
    let mut scfg = cfg.clone();
    scfg.storage.path = tmp.path().join("eval.sled");
    scfg.products = ae::PRODUCTS
        .iter()
        .map(|p| crate::config::Product {
            id: p.to_string(),
            name: p.to_string(),
            keywords: vec![p.to_string()],
            exclusions: vec![],
            sources: vec![],
        })
        .collect();
    let store = Store::open(&scfg.storage.path)?;
    store.register_slots(&classifier.spec().slots())?;
    let pipeline = {
        let (scfg, store, classifier) = (scfg.clone(), store.clone(), classifier.clone());
        tokio::task::spawn_blocking(move || {
            Pipeline::new(&scfg, classifier, store, Arc::new(Metrics::new()))
        })
        .await
        .context("pipeline")??
    };
    eprintln!("ingesting a stream of {} posts…", stream.len());
    ae::ingest_stream(&pipeline, &stream).await?;
    let report = ae::score_stream(&store, &stream, shape)?;
    let verify = store.verify()?;
    let out = serde_json::json!({
        "model": cfg.model.dir.display().to_string(),
        "seed": a.seed,
        "genuineness_score": calibration,
        "stream": report,
        "store_verified": verify.problems.is_empty(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).context("encoding")?
    );
    if !verify.problems.is_empty() {
        return Err(anyhow!("store verify found problems: {:?}", verify.problems).into());
    }
    Ok(())
}

pub(super) async fn eval(cfg: Config, a: &EvalArgs) -> Result<(), CliError> {
    let task: crate::eval::model::Task = a
        .task
        .parse()
        .map_err(|e: String| usage(anyhow!("--task: {e}")))?;
    let model = cfg.model.clone();
    let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model))
        .await
        .context("model thread")??;
    let names = crate::eval::model::tsv_label_names(classifier.spec());
    let examples = crate::eval::model::read_examples(&a.data, &names).map_err(usage)?;
    let bar = indicatif::ProgressBar::new(examples.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} texts",
        )
        .expect("static template"),
    );
    let report = crate::eval::model::evaluate(&classifier, &task, &examples, |n| {
        bar.set_position(n as u64)
    })
    .await
    .map_err(|e| match e {
        crate::eval::model::EvalError::UnknownHead(_)
        | crate::eval::model::EvalError::UnknownGroup(..) => usage(e),
        other => other.into(),
    })?;
    bar.finish_and_clear();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("encoding")?
        );
        return Ok(());
    }
    println!(
        "model {} · task {} · {} examples",
        classifier.spec().name,
        report.task,
        report.n
    );
    println!("macro-F1 {:.4}", report.macro_f1);
    if let Some(acc) = report.accuracy {
        println!("accuracy {acc:.4}");
    }
    for (l, f) in &report.per_label_f1 {
        println!("  {l:<16} F1 {f:.4}");
    }
    if let Some(c) = &report.confusion {
        println!(
            "confusion (rows gold, columns predicted: {})",
            report.labels.join(", ")
        );
        for (l, row) in report.labels.iter().zip(c) {
            println!(
                "  {l:<16} {}",
                row.iter().map(|x| format!("{x:>6}")).collect::<String>()
            );
        }
    }
    Ok(())
}
