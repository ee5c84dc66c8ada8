//! Extractors whose rejections are answers of the error table: path parameters that do not
//! decode, and query strings on routes that take no parameters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `axum::extract::Path`, rejected as `invalid_parameter` JSON (a product id of `%FF%FE` is
/// not UTF-8) instead of axum's plain-text 400.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(v) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(ApiError::from)?;
        Ok(ApiPath(v))
    }
}

/// For routes without parameters: any query string is refused, as on every other route an
/// unknown parameter is, so a misspelt `?froom=` never silently does nothing.
pub struct NoParams;

impl<S: Send + Sync> FromRequestParts<S> for NoParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.uri.query() {
            None | Some("") => Ok(NoParams),
            Some(q) => {
                let names: Vec<&str> = q
                    .split('&')
                    .filter_map(|kv| kv.split('=').next())
                    .filter(|k| !k.is_empty())
                    .collect();
                Err(ApiError::param(format!(
                    "this endpoint takes no query parameters (got `{}`)",
                    names.join("`, `")
                )))
            }
        }
    }
}
