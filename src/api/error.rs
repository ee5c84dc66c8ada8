//! The API's error codes: one table, mapped to HTTP statuses here and nowhere else. Codes are
//! stable (clients match on them); messages are for people and may change.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// No route matches the path.
    NotFound,
    /// The path names a product the config does not have.
    ProductNotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// A query or path parameter is malformed or out of range.
    InvalidParameter,
    /// The body is not the JSON the endpoint expects.
    InvalidJson,
    /// The body is not sent as `application/json`.
    UnsupportedMediaType,
    /// The body exceeds `server.max_body_bytes`.
    PayloadTooLarge,
    /// The request target (path and query) is longer than the server reads.
    UriTooLong,
    /// The request carries more or larger headers than the server reads.
    HeadersTooLarge,
    /// The body did not arrive within `server.body_read_timeout_secs`; the connection is closed.
    RequestTimeout,
    /// More texts or posts than `server.max_batch_texts`.
    BatchTooLarge,
    /// A write endpoint was called without a valid bearer token.
    Unauthorized,
    /// Writes are disabled because no `server.api_token` is configured.
    WritesDisabled,
    /// This client sent more requests than `server.rate_limit_per_client_rps` allows; the
    /// `Retry-After` header says when to try again.
    RateLimited,
    /// The daemon is shutting down or the model is not available.
    Unavailable,
    /// More queries are computing and waiting than the server takes on; `Retry-After` says
    /// when to try again. Answered at once, so a crowd of clients gets a quick no.
    Overloaded,
    /// The disk refuses writes (full, read-only) or the store is being reopened after that;
    /// reads keep working, writes resume by themselves once the disk takes them again.
    StorageUnavailable,
    /// Something failed on the server side; details are in the log.
    Internal,
}

impl Code {
    pub fn status(self) -> StatusCode {
        match self {
            Code::NotFound | Code::ProductNotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::InvalidParameter | Code::InvalidJson => StatusCode::BAD_REQUEST,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::PayloadTooLarge | Code::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UriTooLong => StatusCode::URI_TOO_LONG,
            Code::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::WritesDisabled => StatusCode::FORBIDDEN,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable | Code::StorageUnavailable | Code::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const ALL: &'static [Code] = &[
        Code::NotFound,
        Code::ProductNotFound,
        Code::MethodNotAllowed,
        Code::InvalidParameter,
        Code::InvalidJson,
        Code::UnsupportedMediaType,
        Code::PayloadTooLarge,
        Code::UriTooLong,
        Code::HeadersTooLarge,
        Code::RequestTimeout,
        Code::BatchTooLarge,
        Code::Unauthorized,
        Code::WritesDisabled,
        Code::RateLimited,
        Code::Unavailable,
        Code::Overloaded,
        Code::StorageUnavailable,
        Code::Internal,
    ];
}

#[derive(Debug, Serialize)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn param(message: impl Into<String>) -> ApiError {
        ApiError::new(Code::InvalidParameter, message)
    }

    /// Logs the cause and answers with a generic message: internals stay in the log.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::new(Code::Internal, "internal error; see the daemon log")
    }
}

/// The one mapping of store errors to answers: `storage_unavailable` while the disk refuses
/// writes or the store is being reopened (the client may retry), `internal` for everything else.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if matches!(e, StoreError::Cancelled) {
            // Nobody reads this answer: the client has gone. Not an error worth a log line.
            return ApiError::new(Code::Unavailable, "the query was cancelled");
        }
        if e.is_storage_failure() {
            tracing::warn!(error = %e, "request refused: storage unavailable");
            ApiError::new(
                Code::StorageUnavailable,
                "the storage refuses writes (disk full or read-only); reads still work, \
                 writes resume once it takes them again",
            )
        } else {
            ApiError::internal(e)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let code = self.code;
        let mut r = (status, Json(self)).into_response();
        if code == Code::Overloaded {
            // Past the queue the wait is short: the work in flight is a few queries' worth.
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

/// Maps axum's JSON body rejections onto the code table.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(r: axum::extract::rejection::JsonRejection) -> ApiError {
        use axum::extract::rejection::JsonRejection as J;
        match &r {
            J::MissingJsonContentType(_) => {
                ApiError::new(Code::UnsupportedMediaType, r.body_text())
            }
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                Code::PayloadTooLarge,
                "request body is larger than server.max_body_bytes",
            ),
            _ => ApiError::new(Code::InvalidJson, r.body_text()),
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(r: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::param(r.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(r: axum::extract::rejection::PathRejection) -> ApiError {
        ApiError::param(r.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_write_is_storage_unavailable_and_other_store_errors_internal() {
        let refused = ApiError::from(StoreError::Reopening);
        assert_eq!(refused.code, Code::StorageUnavailable);
        assert_eq!(refused.code.status(), StatusCode::SERVICE_UNAVAILABLE);
        let corrupt = ApiError::from(StoreError::Corrupt {
            tree: "posts",
            detail: "bad record".into(),
        });
        assert_eq!(corrupt.code, Code::Internal);
    }
}
