//! What every request passes before a handler and every response after it: the request-line
//! and header limits (answered in the error table's JSON, not as bare 414/431), the body read
//! under a deadline, and the headers that keep browsers from sniffing or framing answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::error::{ApiError, Code};
use crate::metrics::Metrics;

/// The longest request target answered; longer ones are 414. Every query of the API fits in a
/// fraction of this; hyper's own hard limit lies far above it.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) and header lines a request may carry; more is 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
pub const MAX_HEADERS: usize = 64;

/// For HTML that is not the dashboard (the digest): e-mail HTML, inline styles and inline SVG,
/// nothing to run or fetch. The dashboard frames it, hence `frame-ancestors 'self'`.
const DOCUMENT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                            base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// Refuses oversized request heads and adds the security headers to whatever is answered.
pub async fn limits_and_headers(req: Request, next: Next) -> Response {
    let mut resp = match head_error(&req) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    let h = resp.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        h.entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(HeaderValue::from_static(DOCUMENT_CSP));
    }
    resp
}

fn head_error(req: &Request) -> Option<ApiError> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(ApiError::new(
            Code::UriTooLong,
            format!("the request target is longer than {MAX_URI_BYTES} bytes"),
        ));
    }
    let bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if bytes > MAX_HEADER_BYTES || req.headers().len() > MAX_HEADERS {
        return Some(ApiError::new(
            Code::HeadersTooLarge,
            format!("at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes in all"),
        ));
    }
    None
}

/// How long a request body may take to arrive, and how large it may be.
#[derive(Clone)]
pub struct BodyLimits {
    pub read_timeout: Duration,
    pub max_bytes: usize,
    pub metrics: Arc<Metrics>,
}

/// Reads a request's body in full before the handler runs, within `read_timeout`: a client
/// that sends half a body and stalls gets 408 and its connection closed, instead of holding a
/// handler (and its connection) open for as long as it likes.
pub async fn read_body(State(l): State<BodyLimits>, req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::GET || req.method() == axum::http::Method::HEAD {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, l.max_bytes);
    let bytes = match tokio::time::timeout(l.read_timeout, limited.collect()).await {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::new(
                Code::PayloadTooLarge,
                "request body is larger than server.max_body_bytes",
            )
            .into_response();
        }
        Ok(Err(_)) => {
            return ApiError::new(Code::InvalidJson, "the request body could not be read")
                .into_response();
        }
        Err(_) => {
            l.metrics
                .http_timeouts
                .with_label_values(&["body_read"])
                .inc();
            let mut r = ApiError::new(
                Code::RequestTimeout,
                format!(
                    "the request body did not arrive within {} s (server.body_read_timeout_secs)",
                    l.read_timeout.as_secs()
                ),
            )
            .into_response();
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
