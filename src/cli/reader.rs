//! Where read commands get their data: the store itself, or a running daemon's API.

use anyhow::{anyhow, Context};
use serde_json::Value;

use crate::config::Config;
use crate::store::Store;

use super::{usage, CliError};

/// Where read commands get their data: the store itself, or — while a running daemon holds the
/// store's lock — that daemon's HTTP API, so analysts can query a live instance.
pub(super) enum Reader {
    Store(Store),
    Api(ApiClient),
}

impl Reader {
    pub(super) fn open(cfg: &Config) -> Result<Reader, CliError> {
        match Store::open(&cfg.storage.path) {
            Ok(s) => Ok(Reader::Store(s)),
            Err(crate::store::StoreError::Locked { .. }) => {
                let api = ApiClient::new(cfg)?;
                // Make sure it is really our daemon answering before trusting it.
                api.get("/api/v1/health").map_err(|e| {
                    CliError::from(anyhow!(
                        "the store is locked by another process and no daemon answers at {}: {:#}",
                        api.base,
                        e.error
                    ))
                })?;
                eprintln!(
                    "(the daemon is running: reading through its API at {})",
                    api.base
                );
                Ok(Reader::Api(api))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every (head, label) known, in the store's slot order, for CSV columns.
    pub(super) fn slot_names(&self) -> Result<Vec<(String, String)>, CliError> {
        match self {
            Reader::Store(s) => Ok(s
                .slots()
                .iter()
                .map(|s| (s.head.clone(), s.label.clone()))
                .collect()),
            Reader::Api(api) => {
                // The daemon's model defines the columns.
                let v = api.get("/api/v1/health")?;
                let mut out = Vec::new();
                for h in v["model"]["heads"].as_array().into_iter().flatten() {
                    let name = h["name"].as_str().unwrap_or_default().to_string();
                    for l in h["labels"].as_array().into_iter().flatten() {
                        out.push((name.clone(), l.as_str().unwrap_or_default().to_string()));
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Percent-encodes a query-string value.
pub(super) fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

pub(super) struct ApiClient {
    pub(super) base: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl ApiClient {
    pub(super) fn new(cfg: &Config) -> Result<ApiClient, CliError> {
        let mut addr = cfg.server.bind;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(ApiClient {
            base: format!("http://{addr}"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("runtime")?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .context("HTTP client")?,
        })
    }

    pub(super) fn get(&self, path: &str) -> Result<Value, CliError> {
        let text = self.send(self.http.get(format!("{}{path}", self.base)))?;
        Ok(serde_json::from_str(&text).context("daemon API answer is not JSON")?)
    }

    /// A non-JSON answer (a Markdown digest) as text.
    pub(super) fn get_text(&self, path: &str) -> Result<String, CliError> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// Streams an authenticated download into `out`; returns the `X-Cxpulse-Posts` count.
    pub(super) fn download(
        &self,
        path: &str,
        token: &str,
        out: &mut std::fs::File,
    ) -> Result<u64, CliError> {
        use std::io::Write;
        self.rt.block_on(async {
            let mut r = reqwest::Client::new()
                .get(format!("{}{path}", self.base))
                .bearer_auth(token)
                .send()
                .await
                .context("daemon API request")?;
            if !r.status().is_success() {
                let status = r.status();
                let v: Value = serde_json::from_str(&r.text().await.unwrap_or_default())
                    .unwrap_or(Value::Null);
                let err = anyhow!(
                    "{} ({})",
                    v["message"].as_str().unwrap_or("request failed"),
                    v["code"]
                );
                return Err(if status.is_client_error() {
                    usage(err)
                } else {
                    err.into()
                });
            }
            let posts = r
                .headers()
                .get("x-cxpulse-posts")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            while let Some(chunk) = r.chunk().await.context("daemon API answer")? {
                out.write_all(&chunk)?;
            }
            Ok(posts)
        })
    }

    /// The answer's body when the status is a success; the API's error (code and message)
    /// otherwise.
    pub(super) fn send(&self, req: reqwest::RequestBuilder) -> Result<String, CliError> {
        self.rt.block_on(async {
            let r = req.send().await.context("daemon API request")?;
            let status = r.status();
            let text = r.text().await.context("daemon API answer")?;
            if status.is_success() {
                Ok(text)
            } else {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let err = anyhow!(
                    "{} ({})",
                    v["message"].as_str().unwrap_or("request failed"),
                    v["code"]
                );
                Err(if status.is_client_error() {
                    usage(err)
                } else {
                    err.into()
                })
            }
        })
    }
}
