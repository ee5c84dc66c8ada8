//! The command line's arguments (clap): every subcommand and its flags, documented where `--help` shows them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Print the reference of every config key (docs/configuration.md), generated from the
    /// config structs' doc comments
    ConfigReference,
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
