//! Prometheus metrics: what an operator watches (ingest, errors, backoff, model and store latency).
//! One registry per daemon instance so tests that boot several daemons do not share counters.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Items sources returned, before relevance filtering.
    pub items_fetched: IntCounterVec,
    /// Posts stored, by product and source.
    pub posts_stored: IntCounterVec,
    /// Posts dropped because they were already stored.
    pub posts_duplicate: IntCounterVec,
    /// Items dropped because they matched none of the product's keywords.
    pub items_irrelevant: IntCounterVec,
    /// Malformed items or pages skipped, by source and reason.
    pub items_skipped: IntCounterVec,
    /// Failed polls, by source and reason.
    pub source_errors: IntCounterVec,
    /// Current backoff of each source in seconds (0 when healthy).
    pub source_backoff_seconds: IntGaugeVec,
    pub source_last_success: IntGaugeVec,
    /// HTTP requests made by the fetch layer, by host and outcome.
    pub fetch_requests: IntCounterVec,
    /// Texts classified and batch latency.
    pub classified_texts: IntCounterVec,
    pub classify_seconds: HistogramVec,
    /// Store transaction + flush latency per batch.
    pub store_write_seconds: HistogramVec,
    /// API requests by route and status.
    pub http_requests: IntCounterVec,
    /// Answers to trend and post queries, by where they came from: `hit` (kept answer),
    /// `shared` (computed once for concurrent askers), `miss` (computed).
    pub api_cache: IntCounterVec,
    /// Open HTTP connections.
    pub http_connections: IntGauge,
    /// Connections closed by a timeout, by which (`header_read`, `body_read`, `idle`).
    pub http_timeouts: IntCounterVec,
    /// Queries computing now, and waiting for a slot.
    pub queries_in_flight: IntGauge,
    pub queries_queued: IntGauge,
    /// Queries refused as `overloaded`, and those stopped because their client went away.
    pub queries_shed: prometheus::IntCounter,
    pub queries_abandoned: prometheus::IntCounter,
    /// Posts in the store.
    pub stored_posts: IntGauge,
    /// 1 while the store takes writes, 0 while the disk refuses them (full, read-only).
    pub store_writable: IntGauge,
    /// Signals raised on new posts, by product and kind.
    pub signals: IntCounterVec,
    /// New posts whose review genuineness is in doubt, by product.
    pub suspicious_posts: IntCounterVec,
    /// Recent posts the authenticity detector holds in memory.
    pub indexed_posts: IntGauge,
    pub digests: IntCounterVec,
    pub alerts: IntCounterVec,
    pub deliveries: IntCounterVec,
    pub posts_expired: prometheus::IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("cxpulse".into()), None)
            .expect("static registry prefix is valid");
        let c = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let h = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]);
            register(
                &registry,
                HistogramVec::new(opts, labels).expect("valid metric"),
            )
        };
        let g = |name: &str, help: &str| {
            register(&registry, IntGauge::new(name, help).expect("valid metric"))
        };
        let gv = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        Metrics {
            items_fetched: c(
                "items_fetched_total",
                "Items returned by sources",
                &["source"],
            ),
            posts_stored: c("posts_stored_total", "Posts stored", &["product", "source"]),
            posts_duplicate: c(
                "posts_duplicate_total",
                "Posts skipped as already stored",
                &["source"],
            ),
            items_irrelevant: c(
                "items_irrelevant_total",
                "Items matching no product keyword",
                &["source"],
            ),
            items_skipped: c(
                "items_skipped_total",
                "Malformed items or pages skipped",
                &["source", "reason"],
            ),
            source_errors: c("source_errors_total", "Failed polls", &["source", "reason"]),
            source_backoff_seconds: gv(
                "source_backoff_seconds",
                "Current backoff of a source",
                &["source"],
            ),
            source_last_success: gv(
                "source_last_success_timestamp_seconds",
                "When a source last polled and stored successfully (Unix seconds): alert on its age",
                &["source"],
            ),
            fetch_requests: c(
                "fetch_requests_total",
                "HTTP requests by the fetch layer",
                &["host", "outcome"],
            ),
            classified_texts: c("classified_texts_total", "Texts classified", &["caller"]),
            classify_seconds: h(
                "classify_seconds",
                "Latency of one classification call",
                &["caller"],
            ),
            store_write_seconds: h(
                "store_write_seconds",
                "Store transaction and flush per batch",
                &["source"],
            ),
            http_requests: c("http_requests_total", "API requests", &["route", "status"]),
            api_cache: c(
                "api_cache_answers_total",
                "Answers to trend and post queries by origin (hit, shared, miss)",
                &["outcome"],
            ),
            http_connections: g("http_connections", "Open HTTP connections"),
            http_timeouts: c(
                "http_timeouts_total",
                "Connections or requests cut off by a timeout",
                &["kind"],
            ),
            queries_in_flight: g("queries_in_flight", "Queries computing now"),
            queries_queued: g("queries_queued", "Queries waiting for a slot"),
            queries_shed: register(
                &registry,
                prometheus::IntCounter::new(
                    "queries_shed_total",
                    "Queries refused as overloaded (503)",
                )
                .expect("valid metric"),
            ),
            queries_abandoned: register(
                &registry,
                prometheus::IntCounter::new(
                    "queries_abandoned_total",
                    "Queries stopped because their client went away",
                )
                .expect("valid metric"),
            ),
            stored_posts: g("stored_posts", "Posts in the store"),
            store_writable: g(
                "store_writable",
                "1 while the store takes writes, 0 while the disk refuses them",
            ),
            signals: c(
                "signals_total",
                "Authenticity signals raised on new posts",
                &["product", "kind"],
            ),
            digests: c(
                "digests_total",
                "Daily digests produced and stored",
                &["product"],
            ),
            alerts: c("alerts_total", "Alerts fired", &["product", "label"]),
            posts_expired: register(
                &registry,
                prometheus::IntCounter::new(
                    "posts_expired_total",
                    "Posts deleted by retention (storage.retain_days)",
                )
                .expect("valid metric"),
            ),
            deliveries: c(
                "deliveries_total",
                "Delivery attempts of digests and alerts by outcome (delivered, failed, unknown: cut short by a crash, not retried)",
                &["delivery", "outcome"],
            ),
            suspicious_posts: c(
                "suspicious_posts_total",
                "New posts whose review genuineness is below 0.5",
                &["product"],
            ),
            indexed_posts: g(
                "authenticity_indexed_posts",
                "Recent posts held in memory for near-copy and author matching",
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

/// Registers `m` under the daemon's registry; names are unique by construction.
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, m: M) -> M {
    registry
        .register(Box::new(m.clone()))
        .expect("unique metric names");
    m
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
