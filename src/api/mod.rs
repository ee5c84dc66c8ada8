//! The HTTP API (axum): the only module that knows HTTP and JSON. Routes under `/api/v1`, the
//! OpenAPI document, Prometheus metrics at `/metrics`.

mod admission;
pub mod cache;
mod dashboard;
pub mod error;
mod extract;
mod guard;
mod ratelimit;
pub mod serve;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

pub use error::{ApiError, Code};
use extract::{ApiPath, NoParams};

use crate::config::{valid_id, Config, Product};
use crate::domain::time::{format_ms, parse_time_ms, parse_window_ms};
use crate::domain::{now_ms, Post, PostId, RawItem};
use crate::domain::{Cancel, SignalKind};
use crate::ingest::classifier::Classifier;
use crate::ingest::pipeline::{self, Batch, PipelineError};
use crate::ingest::scheduler::HealthMap;
use crate::metrics::Metrics;
use crate::query::authenticity::{self, AuthenticityReport};
use crate::query::trends::{self, Interval, TrendError};
use crate::store::{DeliveryState, PostQuery, Store};

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub classifier: Classifier,
    pub metrics: Arc<Metrics>,
    pub health: HealthMap,
    pub ingest: mpsc::Sender<Batch>,
    pub started: Instant,
    /// Finished answers of trend and post queries.
    pub cache: Arc<cache::ResponseCache>,
    /// How many queries compute at once, and who waits.
    pub admission: Arc<admission::Admission>,
}

impl AppState {
    /// The admission control of `config.server`, counting into `metrics`.
    pub fn admission(config: &Config, metrics: &Arc<Metrics>) -> Arc<admission::Admission> {
        let s = &config.server;
        Arc::new(admission::Admission::new(
            s.max_concurrent_queries,
            s.max_queued_queries,
            s.query_queue_timeout,
            metrics.clone(),
        ))
    }
}

pub const OPENAPI: &str = include_str!("openapi.json");

/// Default page size of post listings, and the most a client may ask for.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.server.max_body_bytes;
    let api = Router::new()
        .route("/health", get(health))
        .route("/products", get(products))
        .route("/products/{id}/trends", get(product_trends))
        .route("/products/{id}/posts", get(list_posts).post(ingest_posts))
        .route("/products/{id}/summary", get(product_summary))
        .route("/products/{id}/authenticity", get(product_authenticity))
        .route("/products/{id}/digests", get(list_digests))
        .route("/products/{id}/digests/{date}", get(product_digest))
        .route("/products/{id}/alerts", get(list_alerts))
        .route("/classify", post(classify))
        .route("/sources", get(sources))
        .route("/backup", get(backup))
        .route("/openapi.json", get(openapi));
    Router::new()
        .nest("/api/v1", api)
        .route("/metrics", get(metrics))
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            guard::BodyLimits {
                read_timeout: state.config.server.body_read_timeout,
                max_bytes: body_limit,
                metrics: state.metrics.clone(),
            },
            guard::read_body,
        ))
        .layer(middleware::from_fn_with_state(
            state
                .config
                .server
                .rate_limit
                .map(|(rps, burst)| Arc::new(ratelimit::ClientLimiter::new(rps, burst))),
            ratelimit::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(middleware::from_fn(guard::limits_and_headers))
        .with_state(state)
}

async fn count_requests(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    st.metrics
        .http_requests
        .with_label_values(&[&route, resp.status().as_str()])
        .inc();
    resp
}

async fn not_found() -> ApiError {
    ApiError::new(Code::NotFound, "no such endpoint; see /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        "method not allowed on this endpoint",
    )
}

async fn openapi(_: NoParams) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn metrics(State(st): State<AppState>, _: NoParams) -> impl IntoResponse {
    st.metrics.stored_posts.set(st.store.post_count() as i64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
}

async fn health(State(st): State<AppState>, _: NoParams) -> Json<Value> {
    let spec = st.classifier.spec();
    let failure = st.store.storage_failure();
    Json(json!({
        // Still 200: reads are served. `degraded` says writes (and fetching) are paused.
        "status": if failure.is_some() { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": st.started.elapsed().as_secs(),
        "model": {
            "name": spec.name,
            "version": spec.version,
            "languages": spec.languages,
            "heads": spec.slots().iter().fold(Vec::<Value>::new(), |mut acc, s| {
                match acc.iter_mut().find(|h| h["name"] == s.head.as_str()) {
                    Some(h) => h["labels"].as_array_mut().expect("labels array").push(json!(s.label)),
                    None => acc.push(json!({"name": s.head, "labels": [s.label]})),
                }
                acc
            }),
        },
        "store": {
            "posts": st.store.post_count(),
            "writable": failure.is_none(),
            "failure": failure,
        },
    }))
}

fn product<'a>(st: &'a AppState, id: &str) -> Result<&'a Product, ApiError> {
    st.config
        .product(id)
        .ok_or_else(|| ApiError::new(Code::ProductNotFound, format!("no product with id `{id}`")))
}

async fn products(State(st): State<AppState>, _: NoParams) -> Json<Value> {
    let list: Vec<Value> = st
        .config
        .products
        .iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "keywords": p.keywords,
                "exclusions": p.exclusions,
                "sources": p.sources.iter().map(|s| json!({"name": s.name(), "kind": s.kind_name()})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "products": list }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
    source: Option<String>,
}

fn parse_range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64), ApiError> {
    crate::domain::time::parse_range(from, to, |p| format!("`{p}`")).map_err(ApiError::param)
}

fn trend_error(e: TrendError) -> ApiError {
    match e {
        TrendError::Store(s) => ApiError::from(s),
        other => ApiError::param(other.to_string()),
    }
}

async fn product_trends(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    product(&st, &id)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let interval: Interval = match q.interval.as_deref() {
        Some(i) => i
            .parse()
            .map_err(|e: String| ApiError::param(format!("`interval`: {e}")))?,
        None => Interval::Day,
    };
    // Without `to` the range ends now and moves with every request: nothing to reuse.
    let key = q.to.is_some().then(|| {
        format!(
            "trends {id} {from} {to} {interval:?} {:?}",
            q.source.as_deref()
        )
    });
    let store = st.store.clone();
    let source = q.source.clone();
    let product = id.clone();
    cached_json(&st, &id, key, move |_| {
        let t = trends::trends(&store, &product, from, to, interval, source.as_deref());
        to_json(&t.map_err(trend_error)?)
    })
    .await
}

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(ApiError::internal)
}

/// Answers a trend or post query from [`cache`] when the product's data has not changed since
/// the kept answer, or runs `compute` on a blocking thread (serialising there too: a year of
/// trends is half a megabyte of JSON) and keeps its body. `key: None` bypasses the cache.
async fn cached_json(
    st: &AppState,
    product: &str,
    key: Option<String>,
    compute: impl FnOnce(&Cancel) -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    fn json_body(body: bytes::Bytes) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
    // Read before the data: see `Store::data_version`.
    let version = st.store.data_version(product);
    let mut ticket = None;
    if let Some(key) = key {
        // A second look when the computation waited on ended without an answer: it may have
        // been a client that went away, and one of its waiters should take over, not all.
        // After that, a waiter computes on its own (the error is then its own to report).
        for _ in 0..2 {
            match st.cache.lookup(key.clone(), version) {
                cache::Lookup::Hit(body) => {
                    st.metrics.api_cache.with_label_values(&["hit"]).inc();
                    return Ok(json_body(body));
                }
                cache::Lookup::Wait(rx) => {
                    if let Some(body) = cache::wait(rx).await {
                        st.metrics.api_cache.with_label_values(&["shared"]).inc();
                        return Ok(json_body(body));
                    }
                }
                cache::Lookup::Miss(t) => {
                    ticket = Some(t);
                    break;
                }
            }
        }
    }
    st.metrics.api_cache.with_label_values(&["miss"]).inc();
    let body = st.admission.run(compute).await?;
    let body = bytes::Bytes::from(body);
    if let Some(t) = ticket {
        t.fill(&body);
    }
    Ok(json_body(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticityParams {
    from: Option<String>,
    to: Option<String>,
    interval: Option<String>,
}

/// The authenticity report as JSON: the report's fields, with each top signal's example posts
/// in the post view of [`post_json`].
pub fn authenticity_json(r: &AuthenticityReport) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or(Value::Null);
    if let Some(top) = v.get_mut("top_signals").and_then(Value::as_array_mut) {
        for (t, s) in top.iter_mut().zip(&r.top_signals) {
            t["examples"] = Value::Array(s.examples.iter().map(post_json).collect());
        }
    }
    v
}

async fn product_authenticity(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<AuthenticityParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    product(&st, &id)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let interval: Interval = match q.interval.as_deref() {
        Some(i) => i
            .parse()
            .map_err(|e: String| ApiError::param(format!("`interval`: {e}")))?,
        None => Interval::Day,
    };
    let store = st.store.clone();
    let r = st
        .admission
        .run(move |_| authenticity::report(&store, &id, from, to, interval).map_err(trend_error))
        .await?;
    Ok(Json(authenticity_json(&r)))
}

/// Each configured delivery's record of one message: what an operator checks when a digest
/// did not arrive.
fn deliveries_json(
    st: &AppState,
    key: &crate::store::MessageKey,
) -> Result<Vec<Value>, crate::store::StoreError> {
    let mut out = Vec::new();
    for d in &st.config.deliveries {
        let rec = st.store.delivery(key, &d.name)?;
        let state = match rec.as_ref().map(|r| r.state) {
            None => "pending",
            Some(DeliveryState::Delivering) => "delivering",
            Some(DeliveryState::Delivered) => "delivered",
            Some(DeliveryState::Failed { retry: true }) => "failed_will_retry",
            Some(DeliveryState::Failed { retry: false }) => "failed",
            Some(DeliveryState::Unknown) => "unknown",
        };
        out.push(json!({
            "name": d.name,
            "kind": d.kind(),
            "state": state,
            "attempts": rec.as_ref().map(|r| r.attempts).unwrap_or(0),
            "updated": rec.as_ref().map(|r| crate::domain::time::format_ms(r.updated_ms)),
            "detail": rec.as_ref().map(|r| r.detail.clone()).filter(|d| !d.is_empty()),
        }));
    }
    Ok(out)
}

/// The digests the scheduler stored for a product, newest first, with their deliveries.
async fn list_digests(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    _: NoParams,
) -> Result<Json<Value>, ApiError> {
    product(&st, &id)?;
    let state = st.clone();
    let list =
        tokio::task::spawn_blocking(move || -> Result<Vec<Value>, crate::store::StoreError> {
            let mut out = Vec::new();
            for (date, m) in state.store.digests(&id)?.into_iter().rev() {
                let key = crate::store::MessageKey::digest(&id, &date);
                out.push(json!({
                    "date": date,
                    "created": crate::domain::time::format_ms(m.created_ms),
                    "deliveries": deliveries_json(&state, &key)?,
                }));
            }
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({ "digests": list })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    from: Option<String>,
    to: Option<String>,
}

/// Alerts fired for a product in the range (default: the last 90 days), newest first, each
/// with its deliveries.
async fn list_alerts(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<AlertParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    product(&st, &id)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let state = st.clone();
    let list =
        tokio::task::spawn_blocking(move || -> Result<Vec<Value>, crate::store::StoreError> {
            let mut out = Vec::new();
            for (key, m) in state.store.alerts(&id, from, to)?.into_iter().rev() {
                let mut a: Value = serde_json::from_str(&m.json).unwrap_or(Value::Null);
                if let Some(obj) = a.as_object_mut() {
                    obj.insert(
                        "deliveries".into(),
                        Value::from(deliveries_json(&state, &key)?),
                    );
                }
                out.push(a);
            }
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({ "alerts": list })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestParams {
    format: Option<String>,
}

/// The digest of one local day (the config's `digest.timezone`): the stored one when the
/// scheduler produced it (what was delivered), else computed now; the `X-Cxpulse-Digest`
/// header says which. JSON by default, Markdown with `format=md`, e-mail-safe HTML with
/// `format=html`.
async fn product_digest(
    State(st): State<AppState>,
    ApiPath((id, date)): ApiPath<(String, String)>,
    q: Result<Query<DigestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    let name = product(&st, &id)?.name.clone();
    let day =
        crate::notify::digest::parse_date(&date).map_err(|e| ApiError::param(e.to_string()))?;
    let format = q.format.unwrap_or_else(|| "json".into());
    if !matches!(format.as_str(), "json" | "md" | "html") {
        return Err(ApiError::param(format!(
            "`format`: `{format}` is not json, md or html"
        )));
    }
    let store = st.store.clone();
    let tz = st.config.digest.timezone;
    let (d, stored) = st
        .admission
        .run(move |_| {
            crate::notify::digest::stored_or_compute(&store, &id, &name, day, tz).map_err(|e| {
                match e {
                    crate::notify::digest::DigestError::Store(s) => ApiError::from(s),
                    crate::notify::digest::DigestError::Corrupt(s) => ApiError::internal(s),
                    other => ApiError::param(other.to_string()),
                }
            })
        })
        .await?;
    let origin = (
        header::HeaderName::from_static("x-cxpulse-digest"),
        if stored { "stored" } else { "computed" },
    );
    Ok(match format.as_str() {
        "md" => (
            [
                (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
                (origin.0, origin.1),
            ],
            crate::notify::digest::render::markdown(&d),
        )
            .into_response(),
        "html" => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (origin.0, origin.1),
            ],
            crate::notify::digest::render::html(&d),
        )
            .into_response(),
        _ => ([origin], Json(d)).into_response(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    window: Option<String>,
    to: Option<String>,
}

async fn product_summary(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<SummaryParams>, QueryRejection>,
) -> Result<Json<trends::Summary>, ApiError> {
    let Query(q) = q?;
    product(&st, &id)?;
    let window = q.window.unwrap_or_else(|| "7d".into());
    let wms = parse_window_ms(&window).ok_or_else(|| {
        ApiError::param(format!(
            "`window`: `{window}` is not a window like 24h, 7d or 4w"
        ))
    })?;
    let to = match q.to.as_deref() {
        Some(t) => parse_time_ms(t)
            .ok_or_else(|| ApiError::param(format!("`to`: `{t}` is not a date or time")))?,
        None => now_ms(),
    };
    let store = st.store.clone();
    let s = st
        .admission
        .run(move |_| trends::summary(&store, &id, &window, wms, to).map_err(trend_error))
        .await?;
    Ok(Json(s))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostParams {
    from: Option<String>,
    to: Option<String>,
    label: Option<String>,
    min_score: Option<String>,
    source: Option<String>,
    signal: Option<String>,
    suspicious: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// The API's view of a stored post, serialised straight from the post (no `Value` tree: a
/// page of posts is most of a listing's cost).
#[derive(serde::Serialize)]
struct PostView<'a> {
    id: String,
    product: &'a str,
    source: &'a str,
    external_id: &'a str,
    url: &'a Option<String>,
    author: &'a Option<String>,
    published: String,
    fetched: String,
    language: &'a str,
    title: &'a Option<String>,
    text: &'a str,
    rating: Option<f32>,
    channel: &'a Option<String>,
    classification: &'a crate::domain::Classification,
    genuineness: f32,
    suspicious: bool,
    signals: &'a [crate::domain::Signal],
}

impl<'a> From<&'a Post> for PostView<'a> {
    fn from(p: &'a Post) -> Self {
        PostView {
            id: p.id.to_hex(),
            product: &p.product,
            source: &p.source,
            external_id: &p.external_id,
            url: &p.url,
            author: &p.author,
            published: format_ms(p.published_ms),
            fetched: format_ms(p.fetched_ms),
            language: &p.language,
            title: &p.title,
            text: &p.text,
            rating: p.rating,
            channel: &p.channel,
            classification: &p.classification,
            genuineness: p.authenticity.genuineness,
            suspicious: p.authenticity.suspicious,
            signals: &p.authenticity.signals,
        }
    }
}

/// JSON view of a stored post.
pub fn post_json(p: &Post) -> Value {
    serde_json::to_value(PostView::from(p)).unwrap_or(Value::Null)
}

fn encode_cursor(c: (i64, PostId)) -> String {
    format!("{}.{}", c.0, c.1.to_hex())
}

fn decode_cursor(s: &str) -> Option<(i64, PostId)> {
    let (ts, id) = s.split_once('.')?;
    Some((ts.parse().ok()?, PostId::from_hex(id)?))
}

/// A `label` filter must name a head and label the model has: a typo is an error that says
/// what exists, not an empty page (nor a scan for something that cannot match).
fn check_label(st: &AppState, wanted: &str) -> Result<(), ApiError> {
    let slots = st.classifier.spec().slots();
    let list = |it: &mut dyn Iterator<Item = String>| {
        let mut v: Vec<String> = it.collect();
        v.dedup();
        v.join(", ")
    };
    match wanted.split_once('.') {
        Some((head, label)) => {
            if !slots.iter().any(|s| s.head == head) {
                return Err(ApiError::param(format!(
                    "`label`: the model has no head `{head}`; its heads: {}",
                    list(&mut slots.iter().map(|s| s.head.clone()))
                )));
            }
            if !slots.iter().any(|s| s.head == head && s.label == label) {
                return Err(ApiError::param(format!(
                    "`label`: head `{head}` has no label `{label}`; its labels: {}",
                    list(
                        &mut slots
                            .iter()
                            .filter(|s| s.head == head)
                            .map(|s| s.label.clone())
                    )
                )));
            }
        }
        None if !slots.iter().any(|s| s.label == wanted) => {
            return Err(ApiError::param(format!(
                "`label`: no head has a label `{wanted}`; labels: {}",
                list(&mut slots.iter().map(|s| format!("{}.{}", s.head, s.label)))
            )));
        }
        None => {}
    }
    Ok(())
}

async fn list_posts(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    q: Result<Query<PostParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q?;
    product(&st, &id)?;
    let (from, to) = parse_range(q.from.as_deref(), q.to.as_deref())?;
    let limit = match q.limit.as_deref() {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::param(format!("`limit` must be 1..={MAX_LIMIT}")))?,
        None => DEFAULT_LIMIT,
    };
    let min_score = match q.min_score.as_deref() {
        Some(m) => Some(
            m.parse::<f32>()
                .ok()
                .filter(|x| (0.0..=1.0).contains(x))
                .ok_or_else(|| ApiError::param("`min_score` must be a number from 0 to 1"))?,
        ),
        None => None,
    };
    let after = match q.cursor.as_deref() {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::param("`cursor` is malformed"))?),
        None => None,
    };
    if let Some(l) = &q.label {
        if l.is_empty() || l.len() > 100 {
            return Err(ApiError::param("`label` must be 1-100 characters"));
        }
        check_label(&st, l)?;
    }
    let signal = match q.signal.as_deref() {
        Some(s) => Some(
            SignalKind::parse_or_explain(s)
                .map_err(|e| ApiError::param(format!("`signal`: {e}")))?,
        ),
        None => None,
    };
    let suspicious = match q.suspicious.as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(ApiError::param("`suspicious` must be true or false")),
        None => None,
    };
    let query = PostQuery {
        product: id.clone(),
        from_ms: from,
        to_ms: to,
        source: q.source,
        label: q.label,
        min_score,
        signal,
        suspicious,
        limit,
        after,
    };
    let key = q.to.is_some().then(|| format!("posts {query:?}"));
    let store = st.store.clone();
    cached_json(&st, &id, key, move |cancel| {
        let page = store
            .posts_page_until(&query, cancel)
            .map_err(ApiError::from)?;
        to_json(&PostsPage {
            posts: page.posts.iter().map(PostView::from).collect(),
            next_cursor: page.next.map(encode_cursor),
        })
    })
    .await
}

#[derive(serde::Serialize)]
struct PostsPage<'a> {
    posts: Vec<PostView<'a>>,
    next_cursor: Option<String>,
}

/// A consistent snapshot of the whole store, streamed. It is written to an unlinked temporary
/// file beside the store first (writers pause only while that runs, not while a slow client
/// downloads), and needs the bearer token: it holds every post.
async fn backup(
    State(st): State<AppState>,
    _: NoParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_token(&st, &headers)?;
    let store = st.store.clone();
    let (file, summary) = tokio::task::spawn_blocking(move || {
        use std::io::Seek;
        let dir = store
            .path()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| ".".into());
        let mut f = tempfile::tempfile_in(dir).map_err(ApiError::internal)?;
        let summary = store.backup(&mut f)?;
        f.rewind().map_err(ApiError::internal)?;
        Ok::<_, ApiError>((f, summary))
    })
    .await
    .map_err(ApiError::internal)??;
    let file = tokio::fs::File::from_std(file);
    let chunks = futures::stream::unfold(Some(file), |f| async move {
        use tokio::io::AsyncReadExt;
        let mut f = f?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let name = format!(
        "cxpulse-{}.backup",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (
                header::HeaderName::from_static("x-cxpulse-posts"),
                summary.posts.to_string(),
            ),
        ],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from response times.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = (given.len() != expected.len()) as u8;
    for (i, e) in expected.iter().enumerate() {
        diff |= e ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are the same.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
        .filter(|t| !t.is_empty())
}

fn require_token(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = &st.config.server.api_token else {
        return Err(ApiError::new(
            Code::WritesDisabled,
            "writes are disabled: set server.api_token (or CXPULSE_API_TOKEN)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if token_matches(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::Unauthorized,
            "a valid bearer token is required",
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestBody {
    /// Source name the posts are filed under (default `api`).
    #[serde(default)]
    source: Option<String>,
    posts: Vec<IngestPost>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestPost {
    id: Option<String>,
    text: String,
    title: Option<String>,
    author: Option<String>,
    published: Option<String>,
    rating: Option<f64>,
    #[serde(default)]
    rating_max: Option<f64>,
    url: Option<String>,
    channel: Option<String>,
}

async fn ingest_posts(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    _: NoParams,
    headers: HeaderMap,
    body: Result<Json<IngestBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_token(&st, &headers)?;
    product(&st, &id)?;
    let Json(body) = body?;
    let max = st.config.server.max_batch_texts;
    if body.posts.len() > max {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!("at most {max} posts per request (server.max_batch_texts)"),
        ));
    }
    let source = body.source.unwrap_or_else(|| "api".into());
    if !valid_id(&source) {
        return Err(ApiError::param(
            "`source` must be 1-64 characters of a-z, 0-9, '-' or '_'",
        ));
    }
    let mut items = Vec::with_capacity(body.posts.len());
    for (i, p) in body.posts.into_iter().enumerate() {
        let text = crate::domain::text::normalise_ws(crate::domain::text::cap_chars(
            &p.text,
            crate::domain::text::MAX_POST_CHARS,
        ));
        if text.is_empty() {
            return Err(ApiError::param(format!("posts[{i}].text is empty")));
        }
        let published_ms = match p.published.as_deref() {
            Some(s) => Some(parse_time_ms(s).ok_or_else(|| {
                ApiError::param(format!("posts[{i}].published: `{s}` is not a date or time"))
            })?),
            None => None,
        };
        let rating = match p.rating {
            Some(r) => {
                let m = p.rating_max.unwrap_or(5.0);
                Some(crate::domain::post::rating_from_scale(r, m).ok_or_else(|| {
                    ApiError::param(format!(
                        "posts[{i}].rating must be between 0 and rating_max ({m})"
                    ))
                })?)
            }
            None => None,
        };
        let url = match p.url.as_deref() {
            Some(u) => Some(crate::domain::text::http_url(u).ok_or_else(|| {
                ApiError::param(format!(
                    "posts[{i}].url must be an absolute http(s) URL of at most {} characters",
                    crate::domain::text::MAX_URL_CHARS
                ))
            })?),
            None => None,
        };
        let external_id =
            p.id.unwrap_or_else(|| format!("h:{}", &blake3::hash(text.as_bytes()).to_hex()[..24]));
        items.push(RawItem {
            external_id,
            url,
            author: p.author,
            published_ms,
            title: p.title,
            text,
            rating,
            channel: p.channel,
        });
    }
    let report = pipeline::submit(&st.ingest, &id, &source, items, false, None)
        .await
        .map_err(|e| match e {
            PipelineError::Stopped => {
                ApiError::new(Code::Unavailable, "the daemon is shutting down")
            }
            PipelineError::Classifier(c) => {
                tracing::error!(error = %c, "classification failed");
                ApiError::new(Code::Unavailable, "the model is not available")
            }
            PipelineError::Store(s) => ApiError::from(s),
            other => ApiError::internal(other),
        })?;
    Ok((StatusCode::OK, Json(json!(report))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyBody {
    texts: Vec<String>,
}

async fn classify(
    State(st): State<AppState>,
    _: NoParams,
    body: Result<Json<ClassifyBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let max = st.config.server.max_batch_texts;
    if body.texts.len() > max {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!("at most {max} texts per request (server.max_batch_texts)"),
        ));
    }
    let n = body.texts.len();
    let t = Instant::now();
    let results = st.classifier.classify(body.texts).await.map_err(|e| {
        tracing::error!(error = %e, "classification failed");
        ApiError::new(Code::Unavailable, "the model is not available")
    })?;
    st.metrics
        .classify_seconds
        .with_label_values(&["api"])
        .observe(t.elapsed().as_secs_f64());
    st.metrics
        .classified_texts
        .with_label_values(&["api"])
        .inc_by(n as u64);
    Ok(Json(json!(results)))
}

async fn sources(State(st): State<AppState>, _: NoParams) -> Json<Value> {
    let h = st.health.read().expect("health lock poisoned");
    let list: Vec<Value> = h
        .values()
        .map(|s| {
            let mut v = json!(s);
            v["last_success"] = json!(s.last_success_ms.map(format_ms));
            v["next_poll"] = json!(s.next_poll_ms.map(format_ms));
            v
        })
        .collect();
    Json(json!({ "sources": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_compare() {
        assert!(token_matches(b"abcdefgh", b"abcdefgh"));
        assert!(!token_matches(b"abcdefgx", b"abcdefgh"));
        assert!(!token_matches(b"abc", b"abcdefgh"));
        assert!(!token_matches(b"abcdefghi", b"abcdefgh"));
        assert!(!token_matches(b"", b"abcdefgh"));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer tok", "bearer tok", "BEARER  tok", " Bearer tok "] {
            assert_eq!(bearer_token(v), Some("tok"), "{v}");
        }
        for v in ["Basic tok", "Bearer", "Bearer ", "Bearertok", "tok"] {
            assert_eq!(bearer_token(v), None, "{v}");
        }
    }

    #[test]
    fn cursors_round_trip() {
        let c = (1_700_000_000_000, PostId::new("a", "b", "c"));
        assert_eq!(decode_cursor(&encode_cursor(c)), Some(c));
        assert_eq!(decode_cursor("x.y"), None);
    }

    #[test]
    fn openapi_lists_every_route_and_error_code() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        for p in [
            "/api/v1/health",
            "/api/v1/products",
            "/api/v1/products/{id}/trends",
            "/api/v1/products/{id}/posts",
            "/api/v1/products/{id}/summary",
            "/api/v1/classify",
            "/api/v1/sources",
            "/api/v1/backup",
            "/api/v1/openapi.json",
            "/metrics",
        ] {
            assert!(
                doc["paths"].get(p).is_some(),
                "{p} missing from openapi.json"
            );
        }
        let codes = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap();
        for c in Code::ALL {
            let name = serde_json::to_value(c).unwrap();
            assert!(codes.contains(&name), "{name} missing from openapi.json");
        }
    }
}
