//! Delivery of digests and alerts to every configured `[[deliver]]` target (folder, webhook,
//! SMTP), at most once per message and target.
//!
//! The protocol, per message and target, with the records in the store's `deliveries` tree:
//! 1. no record, or a retryable failure: write `Delivering` (flushed), then attempt;
//! 2. write `Delivered` or `Failed` once the attempt ends;
//! 3. a `Delivering` found later means the daemon died mid-attempt. A folder rewrites the same
//!    file, so it is redone; a webhook or an e-mail may already have arrived, so it becomes
//!    `Unknown` and is never sent again (logged and counted).

pub mod folder;
pub mod smtp;
pub mod webhook;

use std::sync::Arc;

use chrono::Utc;
use thiserror::Error;

use crate::config::{Delivery, Format, Target};
use crate::metrics::Metrics;
use crate::notify::alerts::Alert;
use crate::notify::digest::{render, Digest};
use crate::store::{DeliveryRecord, DeliveryState, MessageKey, Store, StoreError};

/// Passes that may retry a delivery that failed for a transient reason (each pass makes up to
/// the target's `max_attempts` requests); after that it stays failed.
pub const MAX_PASSES: u32 = 5;

#[derive(Debug, Error)]
pub enum DeliveryError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the webhook answered HTTP {status}")]
    Status { status: u16, retry: bool },
    #[error("the webhook could not be reached: {0}")]
    Network(String),
    #[error("SMTP: {message}")]
    Smtp { message: String, retry: bool },
    #[error("the e-mail could not be built: {0}")]
    Message(String),
}

impl DeliveryError {
    /// Whether the message certainly did not arrive and a later pass may try again.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::Io { .. } | DeliveryError::Network(_) => true,
            DeliveryError::Status { retry, .. } | DeliveryError::Smtp { retry, .. } => *retry,
            DeliveryError::Message(_) => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Digest,
    Alert,
}

/// A digest or alert rendered in every format a target may want.
#[derive(Debug, Clone)]
pub struct Message {
    pub key: MessageKey,
    pub kind: MessageKind,
    pub product: String,
    /// Stable across restarts: receivers can deduplicate on it (webhook `id`, e-mail
    /// Message-ID).
    pub id: String,
    pub subject: String,
    /// File name without extension, relative to the product's folder.
    pub file_stem: String,
    pub markdown: String,
    pub html: String,
    pub json: String,
    pub slack: String,
}

impl Message {
    pub fn digest(key: MessageKey, d: &Digest, json: String) -> Message {
        Message {
            id: format!("{}/digest/{}", d.product, d.date),
            kind: MessageKind::Digest,
            product: d.product.clone(),
            subject: format!("[cxpulse] {} — daily digest for {}", d.product_name, d.date),
            file_stem: d.date.clone(),
            markdown: render::markdown(d),
            html: render::html(d),
            slack: render::slack(d),
            json,
            key,
        }
    }

    pub fn alert(key: MessageKey, a: &Alert, json: String) -> Message {
        // File names cannot hold ':'; the time stays sortable.
        let at = a.fired_at.replace(':', "");
        Message {
            id: format!("{}/alert/{}/{}", a.product, a.label, a.fired_at),
            kind: MessageKind::Alert,
            product: a.product.clone(),
            subject: render::alert_subject(a),
            file_stem: format!("alerts/{at}-{}", a.label),
            markdown: render::alert_markdown(a),
            html: render::alert_html(a),
            slack: render::alert_slack(a),
            json,
            key,
        }
    }

    pub fn body(&self, f: Format) -> &str {
        match f {
            Format::Markdown => &self.markdown,
            Format::Html => &self.html,
            Format::Json => &self.json,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            MessageKind::Digest => "digest",
            MessageKind::Alert => "alert",
        }
    }
}

/// What happened to one message at one target in one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Failed {
        retry: bool,
    },
    /// A crash cut an earlier attempt short; not sent again.
    Unknown,
    /// Delivered, given up or marked unknown in an earlier pass; nothing done.
    AlreadyDone,
    /// This target does not take this kind of message.
    NotWanted,
}

/// The delivery targets and the HTTP client they share.
pub struct Deliverer {
    deliveries: Vec<Delivery>,
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl Deliverer {
    pub fn new(deliveries: Vec<Delivery>, metrics: Arc<Metrics>) -> Result<Deliverer, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("cxpulse/", env!("CARGO_PKG_VERSION")))
            // Webhook URLs carry secrets; a redirect could hand the payload elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Deliverer {
            deliveries,
            http,
            metrics,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// Delivers `msg` to every target that wants it, following the protocol in the module
    /// doc. Store errors stop the pass (nothing is sent without its record).
    pub async fn deliver(
        &self,
        store: &Store,
        msg: &Message,
    ) -> Result<Vec<(String, Outcome)>, StoreError> {
        let mut out = Vec::new();
        for d in &self.deliveries {
            let outcome = if wants(d, msg.kind) {
                self.deliver_one(store, d, msg).await?
            } else {
                Outcome::NotWanted
            };
            out.push((d.name.clone(), outcome));
        }
        Ok(out)
    }

    /// Whether any target still has something to do for the message under `key`: lets a pass
    /// skip rendering messages that are all delivered (or given up).
    pub async fn has_work(
        &self,
        store: &Store,
        key: &MessageKey,
        kind: MessageKind,
    ) -> Result<bool, StoreError> {
        for d in self.deliveries.iter().filter(|d| wants(d, kind)) {
            let (k, name) = (key.clone(), d.name.clone());
            let prev = blocking(store, move |s| s.delivery(&k, &name)).await?;
            if !matches!(next_step(prev.as_ref(), d.idempotent()), Step::Done) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn deliver_one(
        &self,
        store: &Store,
        d: &Delivery,
        msg: &Message,
    ) -> Result<Outcome, StoreError> {
        let (key, name) = (msg.key.clone(), d.name.clone());
        let prev = blocking(store, move |s| s.delivery(&key, &name)).await?;
        let attempts = prev.as_ref().map(|r| r.attempts).unwrap_or(0);
        match next_step(prev.as_ref(), d.idempotent()) {
            Step::Attempt => {}
            Step::Done => return Ok(Outcome::AlreadyDone),
            Step::MarkUnknown => {
                tracing::warn!(delivery = %d.name, message = %msg.id,
                    "a crash interrupted this delivery; it may or may not have arrived, and is not sent again");
                self.record(
                    store,
                    d,
                    msg,
                    DeliveryState::Unknown,
                    attempts,
                    "interrupted by a restart".into(),
                )
                .await?;
                self.metrics
                    .deliveries
                    .with_label_values(&[d.name.as_str(), "unknown"])
                    .inc();
                return Ok(Outcome::Unknown);
            }
        }
        self.record(
            store,
            d,
            msg,
            DeliveryState::Delivering,
            attempts + 1,
            String::new(),
        )
        .await?;
        let result = match &d.target {
            Target::Folder { dir, formats } => folder::write(dir, formats, msg).await,
            Target::Webhook {
                url,
                slack,
                timeout,
                max_attempts,
            } => webhook::post(&self.http, url, *slack, *timeout, *max_attempts, msg).await,
            Target::Smtp { .. } => smtp::send(&d.target, msg).await,
        };
        let (state, outcome, detail) = match result {
            Ok(()) => {
                tracing::info!(delivery = %d.name, message = %msg.id, "delivered");
                (DeliveryState::Delivered, Outcome::Delivered, String::new())
            }
            Err(e) => {
                let retry = e.retryable() && attempts + 1 < MAX_PASSES;
                tracing::warn!(delivery = %d.name, message = %msg.id, error = %e, retry,
                    "delivery failed");
                (
                    DeliveryState::Failed { retry },
                    Outcome::Failed { retry },
                    e.to_string(),
                )
            }
        };
        self.record(store, d, msg, state, attempts + 1, detail)
            .await?;
        self.metrics
            .deliveries
            .with_label_values(&[
                d.name.as_str(),
                match outcome {
                    Outcome::Delivered => "delivered",
                    _ => "failed",
                },
            ])
            .inc();
        Ok(outcome)
    }

    async fn record(
        &self,
        store: &Store,
        d: &Delivery,
        msg: &Message,
        state: DeliveryState,
        attempts: u32,
        detail: String,
    ) -> Result<(), StoreError> {
        let rec = DeliveryRecord {
            state,
            attempts,
            updated_ms: Utc::now().timestamp_millis(),
            detail,
        };
        let (key, name) = (msg.key.clone(), d.name.clone());
        blocking(store, move |s| s.set_delivery(&key, &name, &rec)).await
    }
}

fn wants(d: &Delivery, kind: MessageKind) -> bool {
    match kind {
        MessageKind::Digest => d.digests,
        MessageKind::Alert => d.alerts,
    }
}

/// What a target's record of a message says to do next (the protocol in the module doc).
enum Step {
    Attempt,
    /// Cut short by a crash where a repeat could duplicate: record it, send nothing.
    MarkUnknown,
    Done,
}

fn next_step(prev: Option<&DeliveryRecord>, idempotent: bool) -> Step {
    let Some(r) = prev else { return Step::Attempt };
    match r.state {
        DeliveryState::Failed { retry: true } if r.attempts < MAX_PASSES => Step::Attempt,
        DeliveryState::Delivering if idempotent => Step::Attempt,
        DeliveryState::Delivering => Step::MarkUnknown,
        _ => Step::Done,
    }
}

/// Runs a store call (which may flush to disk) off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}
