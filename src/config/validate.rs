//! Validation of the raw tree into typed values, one function per section; each source kind's
//! own checks sit beside its keys (`sources.rs`, `social.rs`). Every error names the key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::check::{invalid, invalid_from, parse_num, resolve, Check};
use super::raw::{self, RawConfig, RawProduct};
use super::{
    notify, valid_id, AuthenticityConfig, Config, ConfigError, FetchConfig, LogConfig, ModelConfig,
    Overrides, Product, ServerConfig, StorageConfig,
};

/// Validates the whole tree; `ov` holds the environment's and the command line's values.
pub(super) fn validate(
    raw: RawConfig,
    text: &str,
    base: &Path,
    ov: Overrides,
) -> Result<Config, ConfigError> {
    let env = |k: &str| std::env::var(k).ok();
    let check = Check::new(text, base, &env);
    // Sections in the file's order, so the first error reported is the first a reader meets.
    let server = validate_server(&raw.server, text, &ov)?;
    let model = validate_model(&raw.model, text, base, &ov)?;
    let storage = validate_storage(&raw.storage, raw.authenticity.window_days, text, base, &ov)?;
    let fetch = validate_fetch(&raw.fetch, text, &ov)?;
    let log = validate_log(&raw.log, text, &ov)?;
    let authenticity = validate_authenticity(&raw.authenticity, text)?;
    let digest = notify::validate_digest(&raw.digest, text)?;
    let alerts = notify::validate_alerts(&raw.alerts, text)?;
    let deliveries = notify::validate_deliveries(&raw.deliver, text, base, &env)?;
    Ok(Config {
        base_dir: base.to_path_buf(),
        server,
        storage,
        model,
        fetch,
        log,
        authenticity,
        digest,
        alerts,
        deliveries,
        products: validate_products(raw.products, &check)?,
    })
}

fn validate_server(
    s: &raw::RawServer,
    text: &str,
    ov: &Overrides,
) -> Result<ServerConfig, ConfigError> {
    let bind_s = ov.bind.clone().unwrap_or(s.bind.clone());
    let bind: SocketAddr = bind_s.parse().map_err(|_| {
        invalid_from(
            text,
            "server.bind",
            ov.bind.is_some(),
            format!("`{bind_s}` is not an address like 127.0.0.1:7878"),
        )
    })?;
    let api_token = ov.api_token.clone().or(s.api_token.clone());
    if api_token.as_ref().is_some_and(|t| t.len() < 16) {
        return Err(invalid_from(
            text,
            "server.api_token",
            ov.api_token.is_some(),
            "must be at least 16 characters (it guards every write endpoint)",
        ));
    }
    let rate_limit = match (s.rate_limit_per_client_rps, s.rate_limit_burst) {
        (0, _) => None,
        (_, 0) => {
            return Err(invalid(
                text,
                "server.rate_limit_burst",
                "must be at least 1 while rate_limit_per_client_rps is set",
            ))
        }
        (rps, burst) => Some((rps, burst)),
    };
    // A cache bigger than the daemon's whole memory budget is a typo, not a plan.
    if s.response_cache_mib > 4096 {
        return Err(invalid(
            text,
            "server.response_cache_mib",
            "must be at most 4096 (MiB); 0 turns the cache off",
        ));
    }
    if s.max_body_bytes == 0 || s.max_batch_texts == 0 {
        return Err(invalid(
            text,
            "server.max_body_bytes",
            "limits must be greater than zero",
        ));
    }
    for (key, v) in [
        (
            "server.header_read_timeout_secs",
            s.header_read_timeout_secs,
        ),
        ("server.body_read_timeout_secs", s.body_read_timeout_secs),
        ("server.idle_timeout_secs", s.idle_timeout_secs),
    ] {
        if !(1..=3600).contains(&v) {
            return Err(invalid(text, key, "must be 1 to 3600 (seconds)"));
        }
    }
    if !(1..=65_536).contains(&s.max_connections) {
        return Err(invalid(
            text,
            "server.max_connections",
            "must be 1 to 65536",
        ));
    }
    if s.max_concurrent_queries > 1024 {
        return Err(invalid(
            text,
            "server.max_concurrent_queries",
            "must be at most 1024; 0 means two per CPU core",
        ));
    }
    if !(1..=60_000).contains(&s.query_queue_timeout_ms) {
        return Err(invalid(
            text,
            "server.query_queue_timeout_ms",
            "must be 1 to 60000 (milliseconds)",
        ));
    }
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(ServerConfig {
        header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
        body_read_timeout: Duration::from_secs(s.body_read_timeout_secs),
        idle_timeout: Duration::from_secs(s.idle_timeout_secs),
        max_connections: s.max_connections,
        max_concurrent_queries: match s.max_concurrent_queries {
            // Two per core: a query waiting on a page read leaves its core to another.
            0 => 2 * cores,
            n => n,
        },
        max_queued_queries: s.max_queued_queries,
        query_queue_timeout: Duration::from_millis(s.query_queue_timeout_ms),
        bind,
        api_token,
        max_body_bytes: s.max_body_bytes,
        max_batch_texts: s.max_batch_texts,
        rate_limit,
        response_cache_bytes: s.response_cache_mib * 1024 * 1024,
    })
}

fn validate_model(
    m: &raw::RawModel,
    text: &str,
    base: &Path,
    ov: &Overrides,
) -> Result<ModelConfig, ConfigError> {
    let threads = match &ov.model_threads {
        Some(v) => parse_num(text, "model.threads", v)?,
        None => m.threads,
    };
    let batch_size = match &ov.model_batch_size {
        Some(v) => parse_num(text, "model.batch_size", v)?,
        None => m.batch_size,
    };
    if !(1..=256).contains(&batch_size) {
        return Err(invalid_from(
            text,
            "model.batch_size",
            ov.model_batch_size.is_some(),
            "must be between 1 and 256",
        ));
    }
    if !(1..=64).contains(&threads) {
        return Err(invalid_from(
            text,
            "model.threads",
            ov.model_threads.is_some(),
            "must be between 1 and 64",
        ));
    }
    Ok(ModelConfig {
        dir: resolve(base, &ov.model_dir.clone().unwrap_or(m.dir.clone())),
        batch_size,
        threads,
        ort_dylib_path: ov
            .ort_dylib_path
            .clone()
            .or(m.ort_dylib_path.clone())
            .map(|p| resolve(base, &p)),
    })
}

fn validate_storage(
    s: &raw::RawStorage,
    authenticity_window_days: u64,
    text: &str,
    base: &Path,
    ov: &Overrides,
) -> Result<StorageConfig, ConfigError> {
    let author_salt = ov
        .author_salt
        .clone()
        .or(s.author_salt.clone())
        .unwrap_or_default();
    if s.pseudonymise_authors && author_salt.len() < 8 {
        return Err(invalid_from(
            text,
            "storage.author_salt",
            ov.author_salt.is_some(),
            "must be set (8+ characters) while storage.pseudonymise_authors is true; \
             set it in the file or in CXPULSE_AUTHOR_SALT",
        ));
    }
    let retain_days = match s.retain_days {
        0 => None,
        d if d >= 35 && d as u64 > authenticity_window_days => Some(d),
        _ => {
            return Err(invalid(
                text,
                "storage.retain_days",
                format!(
                    "must be 0 (keep everything) or at least 35 and more than authenticity.window_days ({authenticity_window_days})"
                ),
            ))
        }
    };
    Ok(StorageConfig {
        path: resolve(base, &ov.storage_path.clone().unwrap_or(s.path.clone())),
        author_salt,
        pseudonymise_authors: s.pseudonymise_authors,
        retain_days,
    })
}

fn validate_fetch(
    f: &raw::RawFetch,
    text: &str,
    ov: &Overrides,
) -> Result<FetchConfig, ConfigError> {
    let contact = ov.contact.clone().unwrap_or(f.contact.clone());
    if contact.trim().is_empty() {
        return Err(invalid_from(
            text,
            "fetch.contact",
            ov.contact.is_some(),
            "must name a contact (URL or e-mail) so site owners can reach you",
        ));
    }
    if f.per_host_concurrency == 0 {
        return Err(invalid(
            text,
            "fetch.per_host_concurrency",
            "must be at least 1",
        ));
    }
    if f.robots_retry_secs == 0 {
        return Err(invalid(
            text,
            "fetch.robots_retry_secs",
            "must be at least 1 second",
        ));
    }
    if f.connect_timeout_secs == 0 || f.read_timeout_secs == 0 {
        return Err(invalid(
            text,
            "fetch.read_timeout_secs",
            "timeouts must be at least 1 second",
        ));
    }
    Ok(FetchConfig {
        user_agent: format!(
            "cxpulse/{} (+{})",
            env!("CARGO_PKG_VERSION"),
            contact.trim()
        ),
        connect_timeout: Duration::from_secs(f.connect_timeout_secs),
        read_timeout: Duration::from_secs(f.read_timeout_secs),
        max_body_bytes: f.max_body_bytes,
        max_retries: f.max_retries,
        backoff_base: Duration::from_millis(f.backoff_base_ms.max(1)),
        backoff_max: Duration::from_secs(f.backoff_max_secs.max(1)),
        per_host_min_interval: Duration::from_millis(f.per_host_min_interval_ms),
        per_host_concurrency: f.per_host_concurrency,
        respect_robots: f.respect_robots,
        robots_retry: Duration::from_secs(f.robots_retry_secs),
        max_items_per_fetch: f.max_items_per_fetch.max(1),
    })
}

fn validate_log(l: &raw::RawLog, text: &str, ov: &Overrides) -> Result<LogConfig, ConfigError> {
    let level = ov.log_level.clone().unwrap_or(l.level.clone());
    let format = ov.log_format.clone().unwrap_or(l.format.clone());
    let json = match format.as_str() {
        "json" => true,
        "text" => false,
        other => {
            return Err(invalid_from(
                text,
                "log.format",
                ov.log_format.is_some(),
                format!("`{other}` is not one of: text, json"),
            ))
        }
    };
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        return Err(invalid_from(
            text,
            "log.level",
            ov.log_level.is_some(),
            format!("`{level}` is not a log filter (e.g. info, debug, cxpulse=debug)"),
        ));
    }
    Ok(LogConfig { level, json })
}

pub(super) fn validate_authenticity(
    a: &raw::RawAuthenticity,
    text: &str,
) -> Result<AuthenticityConfig, ConfigError> {
    let unit = |key: &str, v: f64| {
        if v > 0.0 && v <= 1.0 {
            Ok(())
        } else {
            Err(invalid(
                text,
                &format!("authenticity.{key}"),
                "must be in (0, 1]",
            ))
        }
    };
    unit("copy_paste_min_similarity", a.copy_paste_min_similarity)?;
    unit("copy_paste_pair_similarity", a.copy_paste_pair_similarity)?;
    if a.copy_paste_pair_similarity < a.copy_paste_min_similarity {
        return Err(invalid(
            text,
            "authenticity.copy_paste_pair_similarity",
            "must be at least copy_paste_min_similarity",
        ));
    }
    unit("burst_max_p_value", a.burst_max_p_value)?;
    unit("machine_generated_min", a.machine_generated_min as f64)?;
    if let Some(d) = a.deceptive_min {
        unit("deceptive_min", d as f64)?;
    }
    unit("brand_genuine_min", a.brand_genuine_min as f64)?;
    unit("brand_fake_min", a.brand_fake_min as f64)?;
    unit("mismatch_min", a.mismatch_min as f64)?;
    let positive = |key: &str, v: u64| {
        if v > 0 {
            Ok(())
        } else {
            Err(invalid(
                text,
                &format!("authenticity.{key}"),
                "must be greater than zero",
            ))
        }
    };
    positive("window_days", a.window_days)?;
    positive("max_indexed_posts", a.max_indexed_posts as u64)?;
    positive("burst_min_posts", a.burst_min_posts)?;
    positive("author_window_hours", a.author_window_hours)?;
    if a.author_max_posts < 2 {
        return Err(invalid(
            text,
            "authenticity.author_max_posts",
            "must be at least 2 (one post is not a pattern)",
        ));
    }
    if a.burst_min_ratio.is_nan() || a.burst_min_ratio < 1.0 {
        return Err(invalid(
            text,
            "authenticity.burst_min_ratio",
            "must be at least 1",
        ));
    }
    if a.window_days > 3650 || a.author_window_hours > 24 * 3650 {
        return Err(invalid(
            text,
            "authenticity.window_days",
            "at most ten years",
        ));
    }
    Ok(AuthenticityConfig {
        window_ms: a.window_days as i64 * 86_400_000,
        max_indexed_posts: a.max_indexed_posts,
        copy_paste_min_similarity: a.copy_paste_min_similarity,
        copy_paste_pair_similarity: a.copy_paste_pair_similarity,
        copy_paste_min_words: a.copy_paste_min_words,
        burst_min_posts: a.burst_min_posts,
        burst_max_p_value: a.burst_max_p_value,
        burst_min_ratio: a.burst_min_ratio,
        author_max_posts: a.author_max_posts,
        author_window_ms: a.author_window_hours as i64 * 3_600_000,
        machine_generated_min: a.machine_generated_min,
        deceptive_min: a.deceptive_min,
        brand_genuine_min: a.brand_genuine_min,
        brand_fake_min: a.brand_fake_min,
        mismatch_min: a.mismatch_min,
    })
}

/// Products and their sources: ids and names unique and plain, at least one keyword, then each
/// source's common keys here and its kind's own keys beside its struct.
fn validate_products(raw: Vec<RawProduct>, check: &Check<'_>) -> Result<Vec<Product>, ConfigError> {
    let mut products = Vec::new();
    let mut product_ids = HashSet::new();
    let mut source_names = HashSet::new();
    for (pi, p) in raw.into_iter().enumerate() {
        let c = check.at(&format!("products[{pi}]"));
        if !valid_id(&p.id) {
            return Err(c.err(
                "id",
                format!("`{}` must be 1-64 characters of a-z, 0-9, '-' or '_'", p.id),
            ));
        }
        if !product_ids.insert(p.id.clone()) {
            return Err(c.err("id", format!("duplicate product id `{}`", p.id)));
        }
        if p.keywords.iter().all(|k| k.trim().is_empty()) {
            return Err(c.err(
                "keywords",
                "needs at least one non-empty keyword (posts are kept only when they match one)",
            ));
        }
        let mut sources = Vec::new();
        for (si, mut s) in p.sources.into_iter().enumerate() {
            let sc = c.at(&format!("products[{pi}].sources[{si}]"));
            if s.common().name.is_empty() {
                *s.common_mut().name = format!("{}-{}-{}", p.id, s.kind_name(), si);
            }
            let name = s.common().name.clone();
            if !valid_id(&name) {
                return Err(sc.err(
                    "name",
                    format!("`{name}` must be 1-64 characters of a-z, 0-9, '-' or '_'"),
                ));
            }
            if !source_names.insert(name.clone()) {
                return Err(sc.err(
                    "name",
                    format!("duplicate source name `{name}` (names are unique across products)"),
                ));
            }
            if s.common().interval_secs < 10 {
                return Err(sc.err(
                    "interval_secs",
                    "must be at least 10 seconds (be polite to the sites you poll)",
                ));
            }
            s.validate(&sc)?;
            sources.push(s);
        }
        products.push(Product {
            id: p.id,
            name: p.name,
            keywords: p.keywords,
            exclusions: p.exclusions,
            sources,
        });
    }
    Ok(products)
}
