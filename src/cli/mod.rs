//! The command line: `args` parses it (clap), `dispatch` runs one command from the files beside
//! it (one per command group), and `reader` fetches data for the read commands. `main.rs` only
//! maps the result to an exit code.

mod admin;
mod args;
mod ingest;
mod model;
mod reader;
mod show;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, Overrides};
use crate::store::Store;

use admin::{backup, export, forget, restore};
pub use args::*;
use ingest::{fetch_now, import};
use model::{classify, eval, eval_authenticity};
use show::{show_authenticity, show_digest, show_posts, show_trends};

/// Exit status for usage and configuration errors (clap uses 2 for usage errors too).
pub const EXIT_USAGE: i32 = 2;
/// Exit status for failures at run time.
pub const EXIT_FAILURE: i32 = 1;

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

pub(super) fn usage(e: impl Into<anyhow::Error>) -> CliError {
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

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
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
        Command::ConfigReference => {
            print!("{}", config::reference::markdown());
            Ok(())
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
