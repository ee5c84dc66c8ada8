//! Validation of `[digest]`, `[alerts]` and `[[deliver]]`: when digests and alerts are
//! produced and where they go, as typed values.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;

use super::check::{invalid, Check};
use super::raw::{self, DeliverConfig};
use super::{valid_id, ConfigError};

#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub timezone: chrono_tz::Tz,
    pub enabled: bool,
    pub send_at: NaiveTime,
    pub catch_up_days: u32,
}

/// Validated `[alerts]`: see `RawAlerts` for each key's meaning.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub enabled: bool,
    pub check_interval: Duration,
    pub window_hours: u32,
    pub min_posts: u64,
    pub min_share_change: f64,
    pub min_z: f64,
    pub cooldown_ms: i64,
    pub negative_emotions: Vec<String>,
}

/// A rendering of a digest or alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    StartTls,
    Tls,
    None,
}

/// SMTP login, read from the environment at start-up.
#[derive(Clone)]
pub struct SmtpLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpLogin(********)")
    }
}

#[derive(Debug, Clone)]
pub enum Target {
    Folder {
        dir: PathBuf,
        formats: Vec<Format>,
    },
    Webhook {
        url: url::Url,
        slack: bool,
        timeout: Duration,
        max_attempts: u32,
    },
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        ca_pem: Option<Vec<u8>>,
        from: String,
        to: Vec<String>,
        login: Option<SmtpLogin>,
        timeout: Duration,
    },
}

/// One validated `[[deliver]]` entry.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Unique; delivery records are kept under it.
    pub name: String,
    pub digests: bool,
    pub alerts: bool,
    pub target: Target,
}

impl Delivery {
    pub fn kind(&self) -> &'static str {
        match self.target {
            Target::Folder { .. } => "folder",
            Target::Webhook { .. } => "webhook",
            Target::Smtp { .. } => "smtp",
        }
    }

    /// Whether delivering the same message again replaces it rather than repeating it (a file
    /// rewritten under the same name), so an attempt cut short by a crash can be redone.
    pub fn idempotent(&self) -> bool {
        matches!(self.target, Target::Folder { .. })
    }

    /// The masked `[[deliver]]` table for `check-config`: URLs lose their path and query,
    /// where webhook secrets live.
    pub fn describe_toml(&self) -> String {
        let mut out = format!(
            "kind = \"{}\"\nname = {:?}\ndigests = {}\nalerts = {}\n",
            self.kind(),
            self.name,
            self.digests,
            self.alerts
        );
        match &self.target {
            Target::Folder { dir, formats } => out.push_str(&format!(
                "path = {dir:?}\nformats = {:?}\n",
                formats.iter().map(|f| f.extension()).collect::<Vec<_>>()
            )),
            Target::Webhook {
                url,
                slack,
                timeout,
                max_attempts,
            } => out.push_str(&format!(
                "url = \"{}://{}/********\"\nformat = \"{}\"\ntimeout_secs = {}\nmax_attempts = {}\n",
                url.scheme(),
                url.host_str().unwrap_or(""),
                if *slack { "slack" } else { "json" },
                timeout.as_secs(),
                max_attempts
            )),
            Target::Smtp {
                host,
                port,
                tls,
                ca_pem,
                from,
                to,
                login,
                timeout,
            } => out.push_str(&format!(
                "host = {host:?}\nport = {port}\ntls = \"{}\"\nca_file = {}\nfrom = {from:?}\nto = {to:?}\nlogin = {}\ntimeout_secs = {}\n",
                match tls {
                    SmtpTls::StartTls => "starttls",
                    SmtpTls::Tls => "tls",
                    SmtpTls::None => "none",
                },
                if ca_pem.is_some() { "(set)" } else { "(none)" },
                if login.is_some() { "\"********\"" } else { "(none)" },
                timeout.as_secs()
            )),
        }
        out
    }
}

pub(super) fn validate_digest(d: &raw::RawDigest, text: &str) -> Result<DigestConfig, ConfigError> {
    Ok(DigestConfig {
        timezone: d.timezone.parse().map_err(|_| {
            invalid(
                text,
                "digest.timezone",
                format!(
                    "`{}` is not an IANA time zone like Europe/Berlin or UTC",
                    d.timezone
                ),
            )
        })?,
        enabled: d.enabled,
        send_at: NaiveTime::parse_from_str(d.send_at.trim(), "%H:%M").map_err(|_| {
            invalid(
                text,
                "digest.send_at",
                format!("`{}` is not a local time like 07:30", d.send_at),
            )
        })?,
        catch_up_days: if d.catch_up_days <= 90 {
            d.catch_up_days
        } else {
            return Err(invalid(text, "digest.catch_up_days", "must be at most 90"));
        },
    })
}

pub(super) fn validate_alerts(a: &raw::RawAlerts, text: &str) -> Result<AlertsConfig, ConfigError> {
    let key = |k: &str| format!("alerts.{k}");
    if a.check_interval_secs < 10 {
        return Err(invalid(
            text,
            &key("check_interval_secs"),
            "must be at least 10",
        ));
    }
    if !(1..=48).contains(&a.window_hours) {
        return Err(invalid(text, &key("window_hours"), "must be 1 to 48"));
    }
    if !(a.min_share_change > 0.0 && a.min_share_change < 1.0) {
        return Err(invalid(text, &key("min_share_change"), "must be in (0, 1)"));
    }
    if !(a.min_z.is_finite() && a.min_z > 0.0) {
        return Err(invalid(text, &key("min_z"), "must be positive"));
    }
    if a.negative_emotions.iter().any(|e| e.trim().is_empty()) {
        return Err(invalid(
            text,
            &key("negative_emotions"),
            "labels must not be empty",
        ));
    }
    Ok(AlertsConfig {
        enabled: a.enabled,
        check_interval: Duration::from_secs(a.check_interval_secs),
        window_hours: a.window_hours,
        min_posts: a.min_posts.max(1),
        min_share_change: a.min_share_change,
        min_z: a.min_z,
        cooldown_ms: a.cooldown_hours as i64 * 3_600_000,
        negative_emotions: a.negative_emotions.clone(),
    })
}

/// Validates every `[[deliver]]` entry; `env` reads environment variables (credentials and
/// webhook URLs named by `*_env` keys).
pub(super) fn validate_deliveries(
    list: &[DeliverConfig],
    text: &str,
    base: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Delivery>, ConfigError> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    let mut kind_counts: std::collections::HashMap<&str, usize> = Default::default();
    let check = Check::new(text, base, env);
    for (i, d) in list.iter().enumerate() {
        let c = check.at(&format!("deliver[{i}]"));
        let (name, kind, digests, alerts) = match d {
            DeliverConfig::Folder(c) => (&c.name, "folder", c.digests, c.alerts),
            DeliverConfig::Webhook(c) => (&c.name, "webhook", c.digests, c.alerts),
            DeliverConfig::Smtp(c) => (&c.name, "smtp", c.digests, c.alerts),
        };
        let n = kind_counts.entry(kind).or_default();
        *n += 1;
        let name = if name.is_empty() {
            if *n == 1 {
                kind.to_string()
            } else {
                format!("{kind}-{n}")
            }
        } else if valid_id(name) {
            name.clone()
        } else {
            return Err(c.err(
                "name",
                format!("`{name}` must be 1–64 of a-z, 0-9, '-', '_'"),
            ));
        };
        if !names.insert(name.clone()) {
            return Err(c.err("name", format!("`{name}` is used by two deliveries")));
        }
        let target = match d {
            DeliverConfig::Folder(d) => folder_target(d, &c)?,
            DeliverConfig::Webhook(d) => webhook_target(d, &c)?,
            DeliverConfig::Smtp(d) => smtp_target(d, &c)?,
        };
        out.push(Delivery {
            name,
            digests,
            alerts,
            target,
        });
    }
    Ok(out)
}

fn folder_target(d: &raw::FolderDeliverConfig, c: &Check<'_>) -> Result<Target, ConfigError> {
    let mut formats = Vec::new();
    for f in &d.formats {
        let fmt = Format::parse(f)
            .ok_or_else(|| c.err("formats", format!("`{f}` is not one of md, html, json")))?;
        if !formats.contains(&fmt) {
            formats.push(fmt);
        }
    }
    if formats.is_empty() {
        return Err(c.err("formats", "name at least one format"));
    }
    Ok(Target::Folder {
        dir: c.resolve(&d.path),
        formats,
    })
}

fn webhook_target(d: &raw::WebhookDeliverConfig, c: &Check<'_>) -> Result<Target, ConfigError> {
    let raw_url = match (&d.url, &d.url_env) {
        (Some(u), None) => u.clone(),
        (None, Some(var)) => c.env(var).ok_or_else(|| {
            c.err(
                "url_env",
                format!("the environment variable {var} is not set"),
            )
        })?,
        _ => return Err(c.err("url", "set exactly one of `url` and `url_env`")),
    };
    let url = url::Url::parse(&raw_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| c.err("url", "is not an http(s) URL"))?;
    let slack = match d.format.as_str() {
        "json" => false,
        "slack" => true,
        other => return Err(c.err("format", format!("`{other}` is not `json` or `slack`"))),
    };
    if !(1..=10).contains(&d.max_attempts) {
        return Err(c.err("max_attempts", "must be 1 to 10"));
    }
    if d.timeout_secs == 0 {
        return Err(c.err("timeout_secs", "must be positive"));
    }
    Ok(Target::Webhook {
        url,
        slack,
        timeout: Duration::from_secs(d.timeout_secs),
        max_attempts: d.max_attempts,
    })
}

fn smtp_target(d: &raw::SmtpDeliverConfig, c: &Check<'_>) -> Result<Target, ConfigError> {
    if d.host.trim().is_empty() {
        return Err(c.err("host", "must not be empty"));
    }
    let tls = match d.tls.as_str() {
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Tls,
        "none" => SmtpTls::None,
        other => {
            return Err(c.err(
                "tls",
                format!("`{other}` is not `starttls`, `tls` or `none`"),
            ))
        }
    };
    let mailbox = |k: &str, v: &str| {
        v.parse::<lettre::message::Mailbox>()
            .map_err(|e| c.err(k, format!("`{v}` is not an e-mail address: {e}")))
    };
    mailbox("from", &d.from)?;
    if d.to.is_empty() {
        return Err(c.err("to", "name at least one recipient"));
    }
    for t in &d.to {
        mailbox("to", t)?;
    }
    let ca_pem = match &d.ca_file {
        None => None,
        Some(p) => {
            let p = c.resolve(p);
            Some(
                std::fs::read(&p)
                    .map_err(|e| c.err("ca_file", format!("cannot read {}: {e}", p.display())))?,
            )
        }
    };
    let login = smtp_login(d, c)?;
    if login.is_some() && tls == SmtpTls::None {
        return Err(c.err(
            "tls",
            "a password is never sent in plain text: use `starttls` or `tls`",
        ));
    }
    Ok(Target::Smtp {
        host: d.host.trim().to_string(),
        port: d.port.unwrap_or(match tls {
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }),
        tls,
        ca_pem,
        from: d.from.clone(),
        to: d.to.clone(),
        login,
        timeout: Duration::from_secs(d.timeout_secs.max(1)),
    })
}

/// The login from `username_env` and `password_env`: both or neither.
fn smtp_login(d: &raw::SmtpDeliverConfig, c: &Check<'_>) -> Result<Option<SmtpLogin>, ConfigError> {
    let var = |k: &str, name: &Option<String>| -> Result<Option<String>, ConfigError> {
        match name {
            None => Ok(None),
            Some(v) => c
                .env(v)
                .map(Some)
                .ok_or_else(|| c.err(k, format!("the environment variable {v} is not set"))),
        }
    };
    match (
        var("username_env", &d.username_env)?,
        var("password_env", &d.password_env)?,
    ) {
        (Some(username), Some(password)) => Ok(Some(SmtpLogin { username, password })),
        (None, None) => Ok(None),
        _ => Err(c.err(
            "username_env",
            "set both `username_env` and `password_env`, or neither",
        )),
    }
}
