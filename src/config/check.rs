//! Naming what is wrong: every validation error carries the key's dotted path and, when the
//! key is in the file, its line. [`Check`] is the context a table's checks run in.

use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where a check runs: the config text (to find a key's line), the key path of the table being
/// checked, the config file's folder and the environment.
pub(super) struct Check<'a> {
    text: &'a str,
    prefix: String,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Check<'a> {
    pub(super) fn new(
        text: &'a str,
        base: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Check<'a> {
        Check {
            text,
            prefix: String::new(),
            base,
            env,
        }
    }

    /// The same check inside the table at `path` (e.g. `products[0].sources[1]`).
    pub(super) fn at(&self, path: &str) -> Check<'a> {
        Check {
            prefix: format!("{path}."),
            ..*self
        }
    }

    pub(super) fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    pub(super) fn err(&self, k: &str, message: impl Into<String>) -> ConfigError {
        invalid(self.text, &self.key(k), message)
    }

    pub(super) fn env(&self, var: &str) -> Option<String> {
        (self.env)(var)
    }

    pub(super) fn resolve(&self, p: &Path) -> PathBuf {
        resolve(self.base, p)
    }

    /// `max_pages` between 1 and `max`.
    pub(super) fn pages(&self, n: u32, max: u32) -> Result<(), ConfigError> {
        if (1..=max).contains(&n) {
            Ok(())
        } else {
            Err(self.err("max_pages", format!("must be 1 to {max}")))
        }
    }

    pub(super) fn not_empty(&self, k: &str, v: &str) -> Result<(), ConfigError> {
        if v.trim().is_empty() {
            return Err(self.err(k, "must not be empty"));
        }
        Ok(())
    }

    pub(super) fn selector(&self, k: &str, v: &str) -> Result<(), ConfigError> {
        scraper::Selector::parse(v)
            .map(|_| ())
            .map_err(|_| self.err(k, format!("`{v}` is not a CSS selector")))
    }

    /// Checks that `list` is non-empty (unless `empty` is "") and holds only http(s) URLs with
    /// a host; `example` ends the message (" like https://lemmy.world").
    pub(super) fn http_urls(
        &self,
        k: &str,
        list: &[String],
        empty: &str,
        example: &str,
    ) -> Result<(), ConfigError> {
        if list.is_empty() && !empty.is_empty() {
            return Err(self.err(k, empty));
        }
        for u in list {
            let ok = url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host());
            if !ok {
                return Err(self.err(k, format!("`{u}` is not an http(s) URL{example}")));
            }
        }
        Ok(())
    }

    /// Checks that `url` is an http(s) URL with a host (a `base_url`-like key).
    pub(super) fn http_url(&self, k: &str, url: &str) -> Result<(), ConfigError> {
        self.http_urls(k, &[url.to_string()], "", "")
    }
}

pub(super) fn invalid(text: &str, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        line: line_of_key(text, key),
        message: message.into(),
    }
}

/// Like [`invalid`], but a value that came from the environment or the command line has no line
/// in the file to point at: say where it came from instead.
pub(super) fn invalid_from(
    text: &str,
    key: &str,
    overridden: bool,
    message: impl Into<String>,
) -> ConfigError {
    if overridden {
        ConfigError::Invalid {
            key: key.to_string(),
            line: None,
            message: format!(
                "{} (value from the environment or command line)",
                message.into()
            ),
        }
    } else {
        invalid(text, key, message)
    }
}

pub(super) fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

pub(super) fn parse_num<T: std::str::FromStr>(
    text: &str,
    key: &str,
    v: &str,
) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| invalid_from(text, key, true, format!("`{v}` is not a valid number")))
}

/// The 1-based line of a dotted key path like `products[0].sources[1].url` in `text`; when the
/// key itself is absent, the line of its deepest present parent (where it would have to go).
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut start: Option<usize> = None;
    let root_value = DeValue::Table(root.into_inner());
    let mut cur: &DeValue<'_> = &root_value;
    for part in key.split('.') {
        let (name, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (part, None),
        };
        let DeValue::Table(t) = cur else { break };
        let Some((k, v)) = t.iter().find(|(k, _)| k.get_ref().as_ref() == name) else {
            break;
        };
        // Point at the key for scalars (`x = 1` is on the key's line), at the value otherwise.
        start = Some(k.span().start);
        cur = v.get_ref();
        if let Some(i) = index {
            let DeValue::Array(a) = cur else { break };
            let Some(item) = a.get(i) else { break };
            start = Some(item.span().start);
            cur = item.get_ref();
        }
    }
    start.map(|s| text[..s.min(text.len())].matches('\n').count() + 1)
}
