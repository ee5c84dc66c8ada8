//! The command line: argument parsing (clap) and one function per subcommand. `main.rs` only maps
//! the result to an exit code.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, FileColumns, FileFormat, Overrides};
use crate::ingest::classifier::Classifier;
use crate::ingest::pipeline::{CursorUpdate, Pipeline};
use crate::metrics::Metrics;
use crate::query::trends::{self, Interval};
use crate::sources::file::{read_slice, FileSpec};
use crate::store::{PostQuery, Store};

/// Exit status for usage and configuration errors (clap uses 2 for usage errors too).
pub const EXIT_USAGE: i32 = 2;
/// Exit status for failures at run time.
pub const EXIT_FAILURE: i32 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "cxpulse",
    version,
    about = "Customer-experience monitor: emotions and authenticity in reviews and posts"
)]
pub struct Cli {
    /// Config file [default: $CXPULSE_CONFIG, ./config/cxpulse.toml, or the one shipped with the source]
    #[arg(long, short, global = true, env = "CXPULSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter (overrides log.level), e.g. debug or cxpulse=debug
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: fetch, classify, store, serve the API
    Run(RunArgs),
    /// Validate the config and print the effective values (secrets masked)
    CheckConfig(RunArgs),
    /// Classify texts given as arguments, or one per line on stdin; prints one JSON object per text
    Classify(ClassifyArgs),
    /// Import a CSV or JSONL file for a product (resumable; duplicates skipped)
    Import(ImportArgs),
    /// Show a product's trends as a table
    Trends(TrendsArgs),
    /// Show a product's Authenticity Index, its trend, sources and top signals with examples
    Authenticity(AuthenticityArgs),
    /// Print the daily digest of a product for one local day (digest.timezone)
    Digest(DigestArgs),
    /// List a product's posts, newest first
    Posts(PostsArgs),
    /// Export a product's posts with their scores
    Export(ExportArgs),
    /// Poll a product's sources once, now, and print what they found; stores it unless
    /// --dry-run (which also works while the daemon runs)
    Fetch(FetchArgs),
    /// Check that the store's aggregates equal a recount from its posts
    Verify,
    /// Delete a person's posts (--author) or single posts (--post), with their share of every
    /// trend and their quotes in stored digests and alerts. Needs the daemon stopped. Without
    /// --yes it only says what it would delete.
    Forget(ForgetArgs),
    /// Write a consistent snapshot of the whole store to a file; while the daemon runs, through
    /// its API (needs server.api_token)
    Backup(BackupArgs),
    /// Replace the store with a backup (the daemon must be stopped; the old store is kept
    /// aside). Without --yes it only checks the file
    Restore(RestoreArgs),
    /// Score a model on labelled data (the metrics of its model card, from the ONNX file itself)
    Eval(EvalArgs),
    /// Measure the authenticity layer: the genuineness score on labelled reviews, and campaign
    /// detection on a 60-day stream with injected campaigns (the numbers of BENCHMARKS.md)
    EvalAuthenticity(EvalAuthenticityArgs),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Product id from the config
    #[arg(long)]
    pub product: String,
    /// Only this source [default: every source of the product]
    #[arg(long)]
    pub source: Option<String>,
    /// Print what the sources return without storing anything (and without moving cursors)
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: one JSON object per item instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write (it must not exist yet)
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `cxpulse backup`
    #[arg(long)]
    pub from: PathBuf,
    /// Replace the store; without it the file is only checked
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Only this product's posts [default: every product]
    #[arg(long)]
    pub product: Option<String>,
    /// The author's name as the source shows it (it is pseudonymised the way the daemon
    /// stores it)
    #[arg(long, required_unless_present = "post", conflicts_with = "post")]
    pub author: Option<String>,
    /// A post id (32 hex digits, as in `posts --json`); repeat for several
    #[arg(long)]
    pub post: Vec<String>,
    /// Delete; without it nothing changes
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct EvalAuthenticityArgs {
    /// The shared data folder (with fake_reviews_salminen/ and op_spam/)
    #[arg(long)]
    pub data: PathBuf,
    /// Model folder [default: model.dir of the config]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Write the fitted calibration to the model folder's authenticity.json before the stream runs
    #[arg(long)]
    pub write_calibration: bool,
    /// Seed of the injected stream
    #[arg(long, default_value_t = 20261123)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model folder [default: model.dir of the config]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Labelled data: JSONL with `text` and `labels` or `label`, or GoEmotions TSV
    #[arg(long)]
    pub data: PathBuf,
    /// Head to evaluate (emotions, sentiment, touchpoints, brand_authenticity, machine_generated,
    /// deceptive) or a grouping such as emotions.ekman
    #[arg(long)]
    pub task: String,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Listen address (overrides server.bind)
    #[arg(long)]
    pub bind: Option<String>,
    /// Store folder (overrides storage.path)
    #[arg(long)]
    pub storage: Option<PathBuf>,
    /// Model folder (overrides model.dir)
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Texts to classify; none: read one text per line from stdin
    pub texts: Vec<String>,
    /// Model folder (overrides model.dir)
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Product id from the config
    #[arg(long)]
    pub product: String,
    /// The CSV or JSONL file
    pub file: PathBuf,
    /// File format [default: from the extension]
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Source name the posts are filed under
    #[arg(long, default_value = "import")]
    pub source: String,
    /// Column holding the text
    #[arg(long, default_value = "text")]
    pub text_col: String,
    #[arg(long, default_value = "id")]
    pub id_col: String,
    #[arg(long)]
    pub title_col: Option<String>,
    #[arg(long, default_value = "author")]
    pub author_col: String,
    #[arg(long, default_value = "published")]
    pub published_col: String,
    #[arg(long, default_value = "rating")]
    pub rating_col: String,
    #[arg(long, default_value = "url")]
    pub url_col: String,
    #[arg(long)]
    pub channel_col: Option<String>,
    /// Top of the file's rating scale
    #[arg(long, default_value_t = 5.0)]
    pub rating_max: f64,
    /// Keep only rows that mention one of the product's keywords
    #[arg(long)]
    pub require_keywords: bool,
    /// Rows per transaction
    #[arg(long, default_value_t = 512)]
    pub batch: usize,
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// Product id from the config
    #[arg(long)]
    pub product: String,
    /// Start (date or RFC 3339 time) [default: 90 days before --to]
    #[arg(long)]
    pub from: Option<String>,
    /// End, exclusive [default: now]
    #[arg(long)]
    pub to: Option<String>,
    /// Only this source
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// Product id from the config
    #[arg(long)]
    pub product: String,
    /// Local calendar day, YYYY-MM-DD [default: yesterday in digest.timezone]
    #[arg(long)]
    pub date: Option<String>,
    /// md, json or html (e-mail safe, inline sparklines)
    #[arg(long, default_value = "md")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct AuthenticityArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// hour, day, week or month
    #[arg(long, default_value = "week")]
    pub interval: String,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrendsArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// hour, day, week or month
    #[arg(long, default_value = "day")]
    pub interval: String,
    /// Extra label columns, as head.label (e.g. emotions.anger); repeatable
    #[arg(long)]
    pub label: Vec<String>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PostsArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    /// Only posts with this label (head.label or a bare label)
    #[arg(long)]
    pub label: Option<String>,
    /// Minimum probability of --label; without --label, of the strongest non-neutral emotion
    #[arg(long)]
    pub min_score: Option<f32>,
    /// Only posts carrying this authenticity signal (copy_paste, burst, incentive, …)
    #[arg(long)]
    pub signal: Option<String>,
    /// Only posts whose review genuineness is in doubt (`--suspicious false`: only the others)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub suspicious: Option<bool>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON lines instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub range: RangeArgs,
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Output file [default: stdout]
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// An error with the exit code it should produce.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError {
            code: EXIT_FAILURE,
            error: e.into(),
        }
    }
}

fn usage(e: impl Into<anyhow::Error>) -> CliError {
    CliError {
        code: EXIT_USAGE,
        error: e.into(),
    }
}

/// The config file to use when none is given.
pub fn default_config_path() -> PathBuf {
    let local = PathBuf::from("config/cxpulse.toml");
    if local.is_file() {
        return local;
    }
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cxpulse.toml");
    if shipped.is_file() {
        return shipped;
    }
    local
}

fn load_config(
    cli: &Cli,
    run: Option<&RunArgs>,
    model: Option<&PathBuf>,
) -> Result<Config, CliError> {
    let path = cli.config.clone().unwrap_or_else(default_config_path);
    let mut ov = Overrides {
        log_level: cli.log_level.clone(),
        model_dir: model.cloned(),
        ..Default::default()
    };
    if let Some(r) = run {
        ov.bind = r.bind.clone();
        ov.storage_path = r.storage.clone();
        ov.model_dir = ov.model_dir.or(r.model.clone());
    }
    config::load(&path, ov.over(Overrides::from_env()).relative_to_cwd()).map_err(usage)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling the CLI in-process) is harmless: the first one stays.
    let _ = if cfg.log.json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?)
}

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Run(a) => {
            let cfg = load_config(&cli, Some(a), None)?;
            init_logging(&cfg);
            runtime()?.block_on(run_daemon(cfg))
        }
        Command::CheckConfig(a) => {
            let cfg = load_config(&cli, Some(a), None)?;
            print!("{}", cfg.to_masked_toml());
            eprintln!(
                "config OK: {} product(s), {} source(s)",
                cfg.products.len(),
                cfg.products.iter().map(|p| p.sources.len()).sum::<usize>()
            );
            Ok(())
        }
        Command::Classify(a) => {
            let cfg = load_config(&cli, None, a.model.as_ref())?;
            init_logging(&cfg);
            classify(cfg, &a.texts)
        }
        Command::Import(a) => {
            let cfg = load_config(&cli, None, None)?;
            init_logging(&cfg);
            runtime()?.block_on(import(cfg, a))
        }
        Command::Trends(a) => {
            let cfg = load_config(&cli, None, None)?;
            show_trends(&cfg, a)
        }
        Command::Authenticity(a) => {
            let cfg = load_config(&cli, None, None)?;
            show_authenticity(&cfg, a)
        }
        Command::Digest(a) => {
            let cfg = load_config(&cli, None, None)?;
            show_digest(&cfg, a)
        }
        Command::Posts(a) => {
            let cfg = load_config(&cli, None, None)?;
            show_posts(&cfg, a)
        }
        Command::Export(a) => {
            let cfg = load_config(&cli, None, None)?;
            export(&cfg, a)
        }
        Command::Eval(a) => {
            let cfg = load_config(&cli, None, a.model.as_ref())?;
            init_logging(&cfg);
            runtime()?.block_on(eval(cfg, a))
        }
        Command::EvalAuthenticity(a) => {
            let cfg = load_config(&cli, None, a.model.as_ref())?;
            init_logging(&cfg);
            runtime()?.block_on(eval_authenticity(cfg, a))
        }
        Command::Fetch(a) => {
            let cfg = load_config(&cli, None, None)?;
            init_logging(&cfg);
            runtime()?.block_on(fetch_now(cfg, a))
        }
        Command::Forget(a) => {
            let cfg = load_config(&cli, None, None)?;
            forget(&cfg, a)
        }
        Command::Backup(a) => {
            let cfg = load_config(&cli, None, None)?;
            backup(&cfg, a)
        }
        Command::Restore(a) => {
            let cfg = load_config(&cli, None, None)?;
            restore(&cfg, a)
        }
        Command::Verify => {
            let cfg = load_config(&cli, None, None)?;
            let store = Store::open(&cfg.storage.path)?;
            let r = store.verify()?;
            println!("{} posts, {} aggregate buckets checked", r.posts, r.buckets);
            if r.problems.is_empty() {
                println!("store OK: every aggregate equals a recount from the posts");
                Ok(())
            } else {
                for p in &r.problems {
                    println!("problem: {p}");
                }
                Err(anyhow!("{} problem(s) found", r.problems.len()).into())
            }
        }
    }
}

async fn run_daemon(cfg: Config) -> Result<(), CliError> {
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received");
        token.cancel();
    });
    crate::run(cfg, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Blocking on purpose: stdin is read line by line here, and only the model calls run on the
/// runtime.
fn classify(cfg: Config, texts: &[String]) -> Result<(), CliError> {
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

async fn eval_authenticity(cfg: Config, a: &EvalAuthenticityArgs) -> Result<(), CliError> {
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

async fn eval(cfg: Config, a: &EvalArgs) -> Result<(), CliError> {
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

async fn import(cfg: Config, a: &ImportArgs) -> Result<(), CliError> {
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

fn range(cfg: &Config, r: &RangeArgs) -> Result<(i64, i64), CliError> {
    if cfg.product(&r.product).is_none() {
        return Err(usage(anyhow!("no product `{}` in the config", r.product)));
    }
    crate::domain::time::parse_range(r.from.as_deref(), r.to.as_deref(), |p| format!("--{p}"))
        .map_err(|e| usage(anyhow!(e)))
}

fn show_trends(cfg: &Config, a: &TrendsArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    let interval: Interval = a
        .interval
        .parse()
        .map_err(|e: String| usage(anyhow!("--interval: {e}")))?;
    let t = match Reader::open(cfg)? {
        Reader::Store(store) => trends::trends(
            &store,
            &a.range.product,
            from,
            to,
            interval,
            a.range.source.as_deref(),
        )
        .map_err(|e| match e {
            trends::TrendError::Store(s) => CliError::from(s),
            other => usage(other),
        })?,
        Reader::Api(api) => {
            let mut q = format!(
                "/api/v1/products/{}/trends?from={from}&to={to}&interval={}",
                a.range.product, a.interval
            );
            if let Some(s) = &a.range.source {
                q.push_str(&format!("&source={}", enc(s)));
            }
            serde_json::from_value(api.get(&q)?)
                .context("unexpected trends answer from the daemon")?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&t).context("encoding")?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let mut header = format!(
        "{:<20} {:>7} {:>6} {:>9}",
        "start", "volume", "rating", "sentiment"
    );
    for l in &a.label {
        header.push_str(&format!(" {:>18}", l));
    }
    header.push_str("  top emotions (share)");
    writeln!(out, "{header}").context("writing")?;
    for i in 0..t.buckets.len() {
        if t.volume[i] == 0 && a.range.from.is_none() {
            continue;
        }
        let mut line = format!(
            "{:<20} {:>7} {:>6} {:>9}",
            t.buckets[i],
            t.volume[i],
            t.rating_avg[i]
                .map(|r| format!("{:.2}", r * 5.0))
                .unwrap_or_else(|| "-".into()),
            t.sentiment_index[i]
                .map(|s| format!("{s:+.2}"))
                .unwrap_or_else(|| "-".into()),
        );
        for l in &a.label {
            let (h, lab) = l.split_once('.').unwrap_or(("emotions", l.as_str()));
            let v = t
                .labels
                .get(h)
                .and_then(|m| m.get(lab))
                .filter(|_| t.scored[i] > 0)
                .map(|s| format!("{:.2}", s.share[i]));
            line.push_str(&format!(" {:>18}", v.unwrap_or_else(|| "-".into())));
        }
        if let Some(em) = t.labels.get("emotions") {
            let mut v: Vec<(&String, f64)> = em
                .iter()
                .filter(|(l, _)| l.as_str() != "neutral")
                .map(|(l, s)| (l, s.share[i]))
                .collect();
            v.sort_by(|x, y| y.1.total_cmp(&x.1));
            let top: Vec<String> = v
                .iter()
                .take(3)
                .filter(|(_, s)| *s > 0.0)
                .map(|(l, s)| format!("{l} {:.0}%", s * 100.0))
                .collect();
            line.push_str(&format!("  {}", top.join(", ")));
        }
        writeln!(out, "{line}").context("writing")?;
    }
    writeln!(
        out,
        "total: {} posts, rating {}, sentiment {}",
        t.total.volume,
        t.total
            .rating_avg
            .map(|r| format!("{:.2}/5", r * 5.0))
            .unwrap_or_else(|| "-".into()),
        t.total
            .sentiment_index
            .map(|s| format!("{s:+.2}"))
            .unwrap_or_else(|| "-".into())
    )
    .context("writing")?;
    Ok(())
}

async fn fetch_now(cfg: Config, a: &FetchArgs) -> Result<(), CliError> {
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
        (Some(store), false) => {
            let model = cfg.model.clone();
            let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model))
                .await
                .context("model thread")??;
            store.register_slots(&classifier.spec().slots())?;
            let (c, st, m) = (cfg.clone(), store.clone(), metrics.clone());
            Some(
                tokio::task::spawn_blocking(move || Pipeline::new(&c, classifier, st, m))
                    .await
                    .context("authenticity index")??,
            )
        }
        _ => None,
    };
    let matcher = crate::sources::relevance::Matcher::new(&product.keywords, &product.exclusions);
    let mut failed = 0;
    for sc in sources {
        let source =
            crate::sources::build(sc, fetcher.clone(), cfg.fetch.max_items_per_fetch, &matcher);
        let name = sc.name().to_string();
        let mut totals = crate::ingest::pipeline::IngestReport::default();
        let mut skipped = 0;
        loop {
            let cursor = match &store {
                Some(s) => s.cursor(&name)?,
                None => None,
            };
            let poll = match source.poll(cursor.as_deref()).await {
                Ok(p) => p,
                Err(e) => {
                    println!("{name}: error ({}): {e}", e.reason());
                    failed += 1;
                    break;
                }
            };
            skipped += poll.skipped;
            let Some(p) = &pipeline else {
                for item in &poll.items {
                    let relevant = !sc.require_keywords()
                        || matcher.matches(&item.text)
                        || item.title.as_deref().is_some_and(|t| matcher.matches(t));
                    if a.json {
                        println!(
                            "{}",
                            serde_json::json!({"source": name, "external_id": item.external_id, "url": item.url,
                                   "author": item.author, "published": item.published_ms.map(crate::domain::time::format_ms),
                                   "title": item.title, "text": item.text, "rating": item.rating,
                                   "channel": item.channel, "relevant": relevant})
                        );
                    } else {
                        let excerpt: String = item.text.chars().take(90).collect();
                        println!(
                            "{name}\t{}\t{}\t{}\t{}",
                            item.published_ms
                                .map(crate::domain::time::format_ms)
                                .unwrap_or_else(|| "-".into()),
                            if relevant { "relevant" } else { "irrelevant" },
                            item.external_id,
                            excerpt.replace(['\n', '\t'], " ")
                        );
                    }
                }
                totals.received += poll.items.len();
                break;
            };
            let more = poll.more;
            let update = poll
                .cursor
                .map(|value| crate::ingest::pipeline::CursorUpdate {
                    key: name.clone(),
                    value,
                });
            let r = p
                .process(
                    &product.id,
                    &name,
                    poll.items,
                    sc.require_keywords(),
                    update,
                )
                .await
                .map_err(|e| anyhow!("{name}: {e}"))?;
            totals.received += r.received;
            totals.stored += r.stored;
            totals.duplicates += r.duplicates;
            totals.irrelevant += r.irrelevant;
            if !more {
                break;
            }
        }
        if pipeline.is_some() {
            println!(
                "{name}: {} fetched, {} stored, {} duplicates, {} irrelevant, {skipped} skipped",
                totals.received, totals.stored, totals.duplicates, totals.irrelevant
            );
        } else if !a.json {
            println!(
                "{name}: {} items (dry run: nothing stored), {skipped} skipped",
                totals.received
            );
        }
    }
    if failed > 0 {
        return Err(anyhow!("{failed} source(s) failed").into());
    }
    Ok(())
}

fn backup(cfg: &Config, a: &BackupArgs) -> Result<(), CliError> {
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

fn restore(cfg: &Config, a: &RestoreArgs) -> Result<(), CliError> {
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

fn forget(cfg: &Config, a: &ForgetArgs) -> Result<(), CliError> {
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

fn show_digest(cfg: &Config, a: &DigestArgs) -> Result<(), CliError> {
    let product = cfg
        .product(&a.product)
        .ok_or_else(|| usage(anyhow!("unknown product `{}`", a.product)))?;
    let tz = cfg.digest.timezone;
    let date = match &a.date {
        Some(d) => crate::notify::digest::parse_date(d).map_err(usage)?,
        None => {
            use chrono::TimeZone;
            tz.from_utc_datetime(&chrono::Utc::now().naive_utc())
                .date_naive()
                .pred_opt()
                .ok_or_else(|| anyhow!("no yesterday"))?
        }
    };
    if !matches!(a.format.as_str(), "md" | "json" | "html") {
        return Err(usage(anyhow!(
            "--format: `{}` is not md, json or html",
            a.format
        )));
    }
    match Reader::open(cfg)? {
        Reader::Store(store) => {
            let (d, _) = crate::notify::digest::stored_or_compute(
                &store,
                &product.id,
                &product.name,
                date,
                tz,
            )
            .map_err(|e| match e {
                crate::notify::digest::DigestError::Store(s) => CliError::from(s),
                crate::notify::digest::DigestError::Corrupt(s) => CliError::from(anyhow!(s)),
                other => usage(other),
            })?;
            match a.format.as_str() {
                "md" => print!("{}", crate::notify::digest::render::markdown(&d)),
                "html" => print!("{}", crate::notify::digest::render::html(&d)),
                _ => println!("{}", serde_json::to_string_pretty(&d).context("encoding")?),
            }
        }
        Reader::Api(api) => {
            let path = format!("/api/v1/products/{}/digests/{date}", product.id);
            match a.format.as_str() {
                "json" => println!(
                    "{}",
                    serde_json::to_string_pretty(&api.get(&path)?).context("encoding")?
                ),
                f => print!("{}", api.get_text(&format!("{path}?format={f}"))?),
            }
        }
    }
    Ok(())
}

fn show_authenticity(cfg: &Config, a: &AuthenticityArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    if a.range.source.is_some() {
        return Err(usage(anyhow!(
            "--source: the report already breaks the index down by source"
        )));
    }
    let interval: Interval = a
        .interval
        .parse()
        .map_err(|e: String| usage(anyhow!("--interval: {e}")))?;
    let v = match Reader::open(cfg)? {
        Reader::Store(store) => {
            let r =
                crate::query::authenticity::report(&store, &a.range.product, from, to, interval)
                    .map_err(|e| match e {
                        trends::TrendError::Store(s) => CliError::from(s),
                        other => usage(other),
                    })?;
            crate::api::authenticity_json(&r)
        }
        Reader::Api(api) => api.get(&format!(
            "/api/v1/products/{}/authenticity?from={from}&to={to}&interval={}",
            a.range.product, a.interval
        ))?,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v).context("encoding")?);
        return Ok(());
    }
    let num = |x: &Value, digits: usize| {
        x.as_f64()
            .map(|f| format!("{f:.digits$}"))
            .unwrap_or_else(|| "-".into())
    };
    let pct = |x: &Value| {
        x.as_f64()
            .map(|f| format!("{:.1}%", f * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}  {} .. {}\nAuthenticity Index {} / 100   perception balance {}   suspicious {} ({} of {} posts)",
        a.range.product,
        v["from"].as_str().unwrap_or("-"),
        v["to"].as_str().unwrap_or("-"),
        num(&v["index"], 1),
        num(&v["perception_balance"], 2),
        pct(&v["suspicious_share"]),
        v["suspicious"],
        v["volume"],
    )
    .context("writing")?;
    writeln!(
        out,
        "\n{:<22} {:>7} {:>7} {:>10} {:>11}",
        "source", "volume", "index", "balance", "suspicious"
    )
    .context("writing")?;
    for s in v["by_source"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<22} {:>7} {:>7} {:>10} {:>11}",
            s["source"].as_str().unwrap_or("-"),
            s["volume"],
            num(&s["index"], 1),
            num(&s["perception_balance"], 2),
            pct(&s["suspicious_share"]),
        )
        .context("writing")?;
    }
    writeln!(
        out,
        "\n{:<22} {:>7} {:>7} {:>11}",
        "bucket", "index", "balance", "suspicious"
    )
    .context("writing")?;
    let tr = &v["trend"];
    for (i, b) in v["buckets"].as_array().into_iter().flatten().enumerate() {
        writeln!(
            out,
            "{:<22} {:>7} {:>7} {:>11}",
            b.as_str().unwrap_or("-"),
            num(&tr["index"][i], 1),
            num(&tr["perception_balance"][i], 2),
            pct(&tr["suspicious_share"][i]),
        )
        .context("writing")?;
    }
    writeln!(out, "\ntop signals").context("writing")?;
    for s in v["top_signals"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {:<18} {:>6} posts ({}){}",
            s["kind"].as_str().unwrap_or("-"),
            s["posts"],
            pct(&s["share"]),
            if s["perception"].as_bool() == Some(true) {
                "  [brand perception]"
            } else {
                ""
            }
        )
        .context("writing")?;
        for p in s["examples"].as_array().into_iter().flatten() {
            let why = p["signals"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["kind"] == s["kind"])
                .map(|x| x["evidence"]["detail"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            writeln!(out, "    {}\n      why: {why}", post_line(p)).context("writing")?;
        }
    }
    Ok(())
}

fn show_posts(cfg: &Config, a: &PostsArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    if a.limit == 0 || a.limit > 500 {
        return Err(usage(anyhow!("--limit must be 1..=500")));
    }
    let signal = match a.signal.as_deref() {
        Some(s) => Some(
            crate::domain::SignalKind::parse_or_explain(s)
                .map_err(|e| usage(anyhow!("--signal: {e}")))?,
        ),
        None => None,
    };
    let posts: Vec<Value> = match Reader::open(cfg)? {
        Reader::Store(store) => store
            .posts_page(&PostQuery {
                product: a.range.product.clone(),
                from_ms: from,
                to_ms: to,
                source: a.range.source.clone(),
                label: a.label.clone(),
                min_score: a.min_score,
                signal,
                suspicious: a.suspicious,
                limit: a.limit,
                after: None,
            })?
            .posts
            .iter()
            .map(crate::api::post_json)
            .collect(),
        Reader::Api(api) => {
            let mut q = format!(
                "/api/v1/products/{}/posts?from={from}&to={to}&limit={}",
                a.range.product, a.limit
            );
            for (k, v) in [
                ("source", a.range.source.clone()),
                ("label", a.label.clone()),
                ("min_score", a.min_score.map(|m| m.to_string())),
                ("signal", a.signal.clone()),
                ("suspicious", a.suspicious.map(|s| s.to_string())),
            ] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            api.get(&q)?["posts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let mut out = std::io::stdout().lock();
    for p in &posts {
        if a.json {
            writeln!(out, "{p}").context("writing")?;
            continue;
        }
        writeln!(out, "{}", post_line(p)).context("writing")?;
    }
    if posts.is_empty() {
        eprintln!("no posts match");
    }
    Ok(())
}

/// One table line for a post (its JSON view): time, source, stars, labels, start of the text.
fn post_line(p: &Value) -> String {
    let heads = p["classification"]["heads"].as_object();
    let labels: Vec<String> = heads
        .map(|h| {
            h.iter()
                .filter_map(|(name, r)| {
                    let l: Vec<&str> = r["labels"]
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    // "none" of brand authenticity is the usual case, not worth a column.
                    let hide = l.is_empty() || (name == "brand_authenticity" && l == ["none"]);
                    (!hide).then(|| l.join("+"))
                })
                .collect()
        })
        .unwrap_or_default();
    let signals: Vec<&str> = p["signals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    let text: String = p["text"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect::<String>()
        .replace('\n', " ");
    format!(
        "{}  {:<14} {:>4}  [{}]{} {}",
        p["published"].as_str().unwrap_or("-"),
        p["source"].as_str().unwrap_or("-"),
        p["rating"]
            .as_f64()
            .map(|r| format!("{:.1}", r * 5.0))
            .unwrap_or_else(|| "-".into()),
        if heads.is_some_and(|h| !h.is_empty()) {
            labels.join(" ")
        } else {
            format!("lang:{}", p["language"].as_str().unwrap_or("?"))
        },
        if signals.is_empty() {
            String::new()
        } else {
            format!(
                " {}{{{}}}",
                if p["suspicious"].as_bool() == Some(true) {
                    "SUSPICIOUS "
                } else {
                    ""
                },
                signals.join(",")
            )
        },
        text
    )
}

fn export(cfg: &Config, a: &ExportArgs) -> Result<(), CliError> {
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
struct Exporter {
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
    fn new(format: ExportFormat, sink: Box<dyn Write>, slots: Vec<(String, String)>) -> Exporter {
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

    fn write(&mut self, p: &Value) -> Result<(), CliError> {
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

    fn finish(mut self) -> Result<usize, CliError> {
        if let Some(w) = &mut self.jsonl {
            w.flush().context("writing")?;
        }
        if let Some(w) = &mut self.csv {
            w.flush().context("writing")?;
        }
        Ok(self.n)
    }
}

/// Where read commands get their data: the store itself, or — while a running daemon holds the
/// store's lock — that daemon's HTTP API, so analysts can query a live instance.
enum Reader {
    Store(Store),
    Api(ApiClient),
}

impl Reader {
    fn open(cfg: &Config) -> Result<Reader, CliError> {
        match Store::open(&cfg.storage.path) {
            Ok(s) => Ok(Reader::Store(s)),
            Err(crate::store::StoreError::Locked { .. }) => {
                let api = ApiClient::new(cfg)?;
                // Make sure it is really our daemon answering before trusting it.
                api.get("/api/v1/health").map_err(|e| {
                    CliError::from(anyhow!(
                        "the store is locked by another process and no daemon answers at {}: {:#}",
                        api.base,
                        e.error
                    ))
                })?;
                eprintln!(
                    "(the daemon is running: reading through its API at {})",
                    api.base
                );
                Ok(Reader::Api(api))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every (head, label) known, in the store's slot order, for CSV columns.
    fn slot_names(&self) -> Result<Vec<(String, String)>, CliError> {
        match self {
            Reader::Store(s) => Ok(s
                .slots()
                .iter()
                .map(|s| (s.head.clone(), s.label.clone()))
                .collect()),
            Reader::Api(api) => {
                // The daemon's model defines the columns.
                let v = api.get("/api/v1/health")?;
                let mut out = Vec::new();
                for h in v["model"]["heads"].as_array().into_iter().flatten() {
                    let name = h["name"].as_str().unwrap_or_default().to_string();
                    for l in h["labels"].as_array().into_iter().flatten() {
                        out.push((name.clone(), l.as_str().unwrap_or_default().to_string()));
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Percent-encodes a query-string value.
fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

struct ApiClient {
    base: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl ApiClient {
    fn new(cfg: &Config) -> Result<ApiClient, CliError> {
        let mut addr = cfg.server.bind;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(ApiClient {
            base: format!("http://{addr}"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("runtime")?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .context("HTTP client")?,
        })
    }

    fn get(&self, path: &str) -> Result<Value, CliError> {
        let text = self.send(self.http.get(format!("{}{path}", self.base)))?;
        Ok(serde_json::from_str(&text).context("daemon API answer is not JSON")?)
    }

    /// A non-JSON answer (a Markdown digest) as text.
    fn get_text(&self, path: &str) -> Result<String, CliError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// Streams an authenticated download into `out`; returns the `X-Cxpulse-Posts` count.
    fn download(&self, path: &str, token: &str, out: &mut std::fs::File) -> Result<u64, CliError> {
        use std::io::Write;
        self.rt.block_on(async {
            let mut r = reqwest::Client::new()
                .get(format!("{}{path}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .context("daemon API request")?;
            if !r.status().is_success() {
                let status = r.status();
                let v: Value = serde_json::from_str(&r.text().await.unwrap_or_default())
                    .unwrap_or(Value::Null);
                let err = anyhow!(
                    "{} ({})",
                    v["message"].as_str().unwrap_or("request failed"),
                    v["code"]
                );
                return Err(if status.is_client_error() {
                    usage(err)
                } else {
                    err.into()
                });
            }
            let posts = r
                .headers()
                .get("x-cxpulse-posts")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            while let Some(chunk) = r.chunk().await.context("daemon API answer")? {
                out.write_all(&chunk)?;
            }
            Ok(posts)
        })
    }

    /// The answer's body when the status is a success; the API's error (code and message)
    /// otherwise.
    fn send(&self, req: reqwest::RequestBuilder) -> Result<String, CliError> {
        self.rt.block_on(async {
            let r = req.send().await.context("daemon API request")?;
            let status = r.status();
            let text = r.text().await.context("daemon API answer")?;
            if status.is_success() {
                Ok(text)
            } else {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let err = anyhow!(
                    "{} ({})",
                    v["message"].as_str().unwrap_or("request failed"),
                    v["code"]
                );
                Err(if status.is_client_error() {
                    usage(err)
                } else {
                    err.into()
                })
            }
        })
    }
}
