//! The daemon's life: [`start`] opens the store, loads the model, binds the API and starts every
//! source, the notifier and the store's maintenance tasks; cancelling the token stops them in
//! the order that loses nothing. [`run`] is both, for `main`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::config::Config;
use crate::ingest::classifier::{Classifier, ClassifierError};
use crate::ingest::pipeline::{Batch, Pipeline};
use crate::ingest::scheduler::{HealthMap, SourceTask};
use crate::metrics::Metrics;
use crate::sources::{self, Fetcher};
use crate::store::{Store, StoreError};

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Classifier(#[from] ClassifierError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("a daemon task panicked: {0}")]
    Task(String),
    #[error(transparent)]
    Pipeline(#[from] crate::ingest::pipeline::PipelineError),
}

/// Hands memory freed after start-up back to the OS. Rebuilding the authenticity detector
/// decodes up to `max_indexed_posts` posts and keeps only small entries of them; glibc keeps
/// the freed pages otherwise, which the daemon-RSS benchmark sees as tens of MB.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Batches waiting for the ingest task. Small on purpose: when classification is the bottleneck,
/// sources should wait (backpressure) rather than pile fetched posts up in memory.
const INGEST_QUEUE: usize = 8;

/// A started daemon.
pub struct Running {
    /// Where the API listens (useful when the config asked for port 0).
    pub addr: SocketAddr,
    handle: JoinHandle<Result<(), RunError>>,
}

impl Running {
    /// Waits until the daemon has shut down (after the token given to [`start`] is cancelled).
    pub async fn wait(self) -> Result<(), RunError> {
        self.handle
            .await
            .map_err(|e| RunError::Task(e.to_string()))?
    }
}

/// Opens the store, loads the model, binds the API and starts every source. Returns once the
/// daemon is serving.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, RunError> {
    let config = Arc::new(config);
    let store = open_store(&config.storage.path).await?;
    let classifier = load_model(&config, &store).await?;
    let metrics = Arc::new(Metrics::new());
    metrics.stored_posts.set(store.post_count() as i64);
    let health: HealthMap = Default::default();
    let pipeline = {
        let (cfg, classifier, store, metrics) = (
            config.clone(),
            classifier.clone(),
            store.clone(),
            metrics.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let p = Pipeline::new(&cfg, classifier, store, metrics);
            release_freed_memory();
            p
        })
        .await
        .map_err(|e| RunError::Task(e.to_string()))??
    };
    let (tx, rx) = mpsc::channel(INGEST_QUEUE);

    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.server.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(RunError::Serve)?;
    let state = api::AppState {
        config: config.clone(),
        store: store.clone(),
        classifier: classifier.clone(),
        metrics: metrics.clone(),
        health: health.clone(),
        ingest: tx.clone(),
        started: Instant::now(),
        cache: api::cache::ResponseCache::new(config.server.response_cache_bytes),
        admission: api::AppState::admission(&config, &metrics),
    };
    // The server stops accepting when the token fires; requests in flight finish.
    let server_token = shutdown.clone();
    let limits = api::serve::ConnLimits {
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
        max_connections: config.server.max_connections,
    };
    let server = tokio::spawn(api::serve::serve(
        listener,
        api::router(state),
        limits,
        metrics.clone(),
        server_token,
    ));
    let ingest = tokio::spawn(pipeline.serve(rx));
    let sources = spawn_sources(&config, &tx, &store, &health, &metrics, &shutdown)?;
    // Only the sources and the API hold senders now: when they are gone the ingest task ends.
    drop(tx);

    let deliverer =
        crate::notify::delivery::Deliverer::new(config.deliveries.clone(), metrics.clone())
            .map_err(RunError::Http)?;
    let tasks = Tasks {
        retention: tokio::spawn(crate::store::retention::run(
            config.clone(),
            store.clone(),
            metrics.clone(),
            shutdown.child_token(),
        )),
        storage_watch: tokio::spawn(crate::store::watch::run(
            store.clone(),
            metrics.clone(),
            shutdown.child_token(),
        )),
        notifier: tokio::spawn(
            crate::notify::Notifier::new(config.clone(), store.clone(), deliverer, metrics.clone())
                .run(health.clone(), shutdown.child_token()),
        ),
        sources,
        server,
        ingest,
        store,
    };
    tracing::info!(%addr, products = config.products.len(), sources = tasks.sources.len(), "cxpulse is running");
    let handle = tokio::spawn(async move {
        shutdown.cancelled().await;
        tasks.stop().await
    });
    Ok(Running { addr, handle })
}

async fn load_model(config: &Config, store: &Store) -> Result<Classifier, RunError> {
    let model_cfg = config.model.clone();
    let classifier = tokio::task::spawn_blocking(move || Classifier::start(&model_cfg))
        .await
        .map_err(|e| RunError::Task(e.to_string()))??;
    store.register_slots(&classifier.spec().slots())?;
    tracing::info!(model = %classifier.spec().name, version = %classifier.spec().version,
        dir = %config.model.dir.display(), "model loaded");
    Ok(classifier)
}

/// One task per configured source, all sharing one fetcher (its per-host limits hold across
/// sources and products).
fn spawn_sources(
    config: &Arc<Config>,
    tx: &mpsc::Sender<Batch>,
    store: &Store,
    health: &HealthMap,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> Result<Vec<JoinHandle<()>>, RunError> {
    let fetcher = Arc::new(
        Fetcher::new(config.fetch.clone(), metrics.clone())
            .map_err(|e| RunError::Http(e.to_string()))?,
    );
    let sources_token = shutdown.child_token();
    let mut tasks = Vec::new();
    for p in &config.products {
        let matcher = crate::sources::relevance::Matcher::new(&p.keywords, &p.exclusions);
        for s in &p.sources {
            let own = Arc::new(fetcher.for_source());
            let task = SourceTask {
                source: sources::build(s, own.clone(), config.fetch.max_items_per_fetch, &matcher),
                fetcher: own,
                product: p.id.clone(),
                interval: Duration::from_secs(s.common().interval_secs),
                require_keywords: s.require_keywords(),
            };
            tasks.push(tokio::spawn(crate::ingest::scheduler::run_source(
                task,
                tx.clone(),
                store.clone(),
                health.clone(),
                metrics.clone(),
                config.fetch.backoff_max,
                sources_token.clone(),
            )));
        }
    }
    Ok(tasks)
}

/// The daemon's running tasks, stopped in the order that loses nothing.
struct Tasks {
    sources: Vec<JoinHandle<()>>,
    notifier: JoinHandle<()>,
    retention: JoinHandle<()>,
    storage_watch: JoinHandle<()>,
    server: JoinHandle<std::io::Result<()>>,
    ingest: JoinHandle<()>,
    store: Store,
}

impl Tasks {
    async fn stop(self) -> Result<(), RunError> {
        tracing::info!("shutting down: stopping sources");
        for t in self.sources {
            let _ = t.await;
        }
        // A delivery in flight gets a moment to finish; cut later, it is recorded as
        // interrupted and not sent twice (see notify/delivery/).
        let abort = self.notifier.abort_handle();
        if tokio::time::timeout(NOTIFIER_STOP_WAIT, self.notifier)
            .await
            .is_err()
        {
            abort.abort();
            tracing::warn!("a delivery was still running at shutdown and was cut short");
        }
        // A sweep in progress stops after its current chunk's transaction.
        let _ = self.retention.await;
        let _ = self.storage_watch.await;
        let served = self
            .server
            .await
            .map_err(|e| RunError::Task(e.to_string()))?;
        tracing::info!("draining the ingest queue");
        // The server's state (and its sender) is dropped with the server; the queue now drains.
        self.ingest
            .await
            .map_err(|e| RunError::Task(e.to_string()))?;
        self.store.flush().await?;
        tracing::info!("store flushed; bye");
        served.map_err(RunError::Serve)
    }
}

/// Opens the store, waiting a little while another process holds its lock: a CLI read command
/// holds it for a moment, and a daemon started at that moment should not give up.
async fn open_store(path: &std::path::Path) -> Result<Store, RunError> {
    let p = path.to_path_buf();
    Ok(
        tokio::task::spawn_blocking(move || Store::open_waiting(&p, STORE_LOCK_WAIT))
            .await
            .map_err(|e| RunError::Task(e.to_string()))??,
    )
}

/// How long shutdown waits for a digest or alert delivery in progress.
const NOTIFIER_STOP_WAIT: Duration = Duration::from_secs(10);

/// How long the daemon waits for a store locked by another process before it gives up.
const STORE_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Runs the daemon until `shutdown` is cancelled, then stops fetching, drains the classifier,
/// flushes the store and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    start(config, shutdown).await?.wait().await
}
