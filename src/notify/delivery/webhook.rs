//! The `webhook` target: one HTTP POST per message, generic JSON or a Slack-compatible
//! `{"text": …}`, retried with exponential backoff on network errors, 429 and 5xx.

use std::time::Duration;

use serde_json::json;

use super::{DeliveryError, Message};
use crate::domain::retry::{backoff, parse_retry_after};

/// First wait between tries; doubles each time (with jitter, via the fetch layer's backoff).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// The request body: Slack's `text` (mrkdwn), or the message with its JSON document.
pub fn payload(msg: &Message, slack: bool) -> serde_json::Value {
    if slack {
        return json!({ "text": msg.slack });
    }
    let document: serde_json::Value =
        serde_json::from_str(&msg.json).unwrap_or(serde_json::Value::Null);
    json!({
        "id": msg.id,
        "type": msg.kind_name(),
        "product": msg.product,
        "subject": msg.subject,
        "markdown": msg.markdown,
        msg.kind_name(): document,
    })
}

pub async fn post(
    http: &reqwest::Client,
    url: &url::Url,
    slack: bool,
    timeout: Duration,
    max_attempts: u32,
    msg: &Message,
) -> Result<(), DeliveryError> {
    let body = serde_json::to_vec(&payload(msg, slack)).expect("a JSON value serialises");
    let mut last = DeliveryError::Network("no attempt made".into());
    let mut retry_after = None;
    for attempt in 0..max_attempts {
        if attempt > 0 {
            let wait = backoff(FIRST_RETRY_DELAY, MAX_RETRY_DELAY, attempt - 1, retry_after);
            tokio::time::sleep(wait).await;
        }
        let sent = http
            .post(url.clone())
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            // Receivers that deduplicate can use it; it is the same on every try and restart.
            .header("Idempotency-Key", &msg.id)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status().as_u16();
                let retry = status == 429 || r.status().is_server_error();
                retry_after = parse_retry_after(r.headers());
                last = DeliveryError::Status { status, retry };
                if !retry {
                    return Err(last);
                }
                tracing::debug!(%status, attempt, "webhook: retrying");
            }
            // The URL is a secret (Slack's is): never log it, only the kind of failure.
            Err(e) => {
                last = DeliveryError::Network(
                    if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "connection failed"
                    } else {
                        "request failed"
                    }
                    .into(),
                );
                tracing::debug!(attempt, "webhook: {last}; retrying");
            }
        }
    }
    Err(last)
}
