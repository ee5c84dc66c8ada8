//! Validation of the social-network source kinds (Bluesky, YouTube, Reddit): their ids, limits
//! and credentials, which are resolved here, once, from the file or the environment.

use super::raw::{Secret, SourceConfig};
use super::{http_url, invalid, ConfigError};

/// Checks one Bluesky, YouTube or Reddit source and fills in its credentials; other kinds
/// pass through.
pub(super) fn validate(
    s: &mut SourceConfig,
    text: &str,
    skey: &dyn Fn(&str) -> String,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let pages = |key: &str, n: u32, max: u32| {
        if (1..=max).contains(&n) {
            Ok(())
        } else {
            Err(invalid(text, &skey(key), format!("must be 1 to {max}")))
        }
    };
    match s {
        SourceConfig::BlueskyJetstream(c) => {
            let ok = url::Url::parse(&c.endpoint)
                .is_ok_and(|u| matches!(u.scheme(), "ws" | "wss") && u.has_host());
            if !ok {
                return Err(invalid(
                    text,
                    &skey("endpoint"),
                    format!(
                        "`{}` is not a ws(s) URL like wss://jetstream2.us-east.bsky.network/subscribe",
                        c.endpoint
                    ),
                ));
            }
            if !(10..=100_000).contains(&c.buffer_posts) {
                return Err(invalid(text, &skey("buffer_posts"), "must be 10 to 100000"));
            }
            if c.langs.iter().any(|l| !valid_lang(l)) {
                return Err(invalid(
                    text,
                    &skey("langs"),
                    "list language codes like \"en\" or \"pt-BR\"",
                ));
            }
        }
        SourceConfig::BlueskySearch(c) => {
            if c.query.trim().is_empty() {
                return Err(invalid(text, &skey("query"), "must not be empty"));
            }
            if c.identifier.trim().is_empty() {
                return Err(invalid(
                    text,
                    &skey("identifier"),
                    "name the account (handle like brand.bsky.social, or its email)",
                ));
            }
            if c.lang.as_deref().is_some_and(|l| !valid_lang(l)) {
                return Err(invalid(
                    text,
                    &skey("lang"),
                    "must be a language code like \"en\"",
                ));
            }
            pages("max_pages", c.max_pages, 20)?;
            http_url(text, &skey("service"), &c.service)?;
            resolve(
                text,
                skey,
                env,
                "app_password",
                &mut c.app_password,
                &c.app_password_env,
            )?;
        }
        SourceConfig::Youtube(c) => {
            if c.video_ids.is_empty() && c.channel_ids.is_empty() {
                return Err(invalid(
                    text,
                    &skey("video_ids"),
                    "name at least one video id or channel id (`channel_ids`)",
                ));
            }
            let id_ok = |v: &String| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if let Some(bad) = c.video_ids.iter().find(|v| !id_ok(v)) {
                return Err(invalid(
                    text,
                    &skey("video_ids"),
                    format!("`{bad}` is not a video id (the `v=` part of a watch URL)"),
                ));
            }
            if let Some(bad) = c.channel_ids.iter().find(|v| !id_ok(v)) {
                return Err(invalid(
                    text,
                    &skey("channel_ids"),
                    format!("`{bad}` is not a channel id (UC…)"),
                ));
            }
            if c.daily_quota_units == 0 {
                return Err(invalid(
                    text,
                    &skey("daily_quota_units"),
                    "must be at least 1 (a page costs one unit)",
                ));
            }
            pages("max_pages", c.max_pages, 50)?;
            http_url(text, &skey("base_url"), &c.base_url)?;
            resolve(text, skey, env, "api_key", &mut c.api_key, &c.api_key_env)?;
        }
        SourceConfig::Reddit(c) => {
            if c.query.as_deref().is_none_or(|q| q.trim().is_empty()) && c.subreddits.is_empty() {
                return Err(invalid(
                    text,
                    &skey("query"),
                    "set a search `query`, `subreddits`, or both",
                ));
            }
            let sub_ok = |v: &String| {
                (2..=21).contains(&v.len())
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            };
            if let Some(bad) = c.subreddits.iter().find(|v| !sub_ok(v)) {
                return Err(invalid(
                    text,
                    &skey("subreddits"),
                    format!("`{bad}` is not a subreddit name (without r/)"),
                ));
            }
            if c.client_id.trim().is_empty() {
                return Err(invalid(
                    text,
                    &skey("client_id"),
                    "name the OAuth app's client id (reddit.com/prefs/apps)",
                ));
            }
            pages("max_pages", c.max_pages, 10)?;
            http_url(text, &skey("api_base"), &c.api_base)?;
            http_url(text, &skey("token_url"), &c.token_url)?;
            resolve(
                text,
                skey,
                env,
                "client_secret",
                &mut c.client_secret,
                &c.client_secret_env,
            )?;
            match (&c.username, &c.password_env) {
                (Some(_), Some(var)) => {
                    let p = env(var).ok_or_else(|| {
                        invalid(
                            text,
                            &skey("password_env"),
                            format!("the environment variable {var} is not set"),
                        )
                    })?;
                    c.password = Some(Secret::new(p));
                }
                (None, None) => {}
                _ => {
                    return Err(invalid(
                        text,
                        &skey("username"),
                        "set both `username` and `password_env` (a script app), or neither",
                    ))
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A credential set either inline (`key`) or through the environment (`key_env`), never both,
/// and never empty.
fn resolve(
    text: &str,
    skey: &dyn Fn(&str) -> String,
    env: &dyn Fn(&str) -> Option<String>,
    key: &str,
    inline: &mut Option<Secret>,
    env_name: &Option<String>,
) -> Result<(), ConfigError> {
    let env_key = format!("{key}_env");
    let value = match (inline.take(), env_name) {
        (Some(v), None) => v,
        (None, Some(var)) => Secret::new(env(var).ok_or_else(|| {
            invalid(
                text,
                &skey(&env_key),
                format!("the environment variable {var} is not set"),
            )
        })?),
        _ => {
            return Err(invalid(
                text,
                &skey(key),
                format!("set exactly one of `{key}` and `{env_key}`"),
            ))
        }
    };
    if value.expose().trim().is_empty() {
        return Err(invalid(text, &skey(key), "is empty"));
    }
    *inline = Some(value);
    Ok(())
}

/// A BCP-47-ish language tag: "en", "pt-BR".
fn valid_lang(l: &str) -> bool {
    let mut parts = l.split('-');
    parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()))
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::super::{from_str, ConfigError, Overrides};
    use std::path::Path;

    const BASE: &str = r#"
[storage]
path = "data/db"
author_salt = "pepper-pepper"

[fetch]
contact = "ops@example.com"

[[products]]
id = "acme"
name = "Acme"
keywords = ["Acme"]
"#;

    fn load(source: &str) -> Result<super::super::Config, ConfigError> {
        let text = format!("{BASE}\n[[products.sources]]\n{source}");
        from_str(&text, "t.toml", Path::new("."), Overrides::default())
    }

    fn key_of(e: ConfigError) -> String {
        match e {
            ConfigError::Invalid { key, .. } => key,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn credentials_come_from_one_place_and_never_print() {
        let c = load(
            "kind = \"youtube\"\nvideo_ids = [\"dQw4w9WgXcQ\"]\napi_key = \"AIza-secret-key\"",
        )
        .unwrap();
        let masked = c.to_masked_toml();
        assert!(!masked.contains("AIza-secret-key"), "{masked}");
        assert!(masked.contains("api_key = \"********\""), "{masked}");
        assert!(!format!("{:?}", c.products[0].sources[0]).contains("AIza"));

        let e = load("kind = \"youtube\"\nvideo_ids = [\"dQw4w9WgXcQ\"]").unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].api_key");
        let e = load(
            "kind = \"youtube\"\nvideo_ids = [\"x\"]\napi_key_env = \"CXPULSE_TEST_SURELY_UNSET_VAR\"",
        )
        .unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].api_key_env");
        let e = load("kind = \"bluesky_search\"\nquery = \"acme\"\nidentifier = \"a.bsky.social\"\napp_password = \"p\"\napp_password_env = \"X\"").unwrap_err();
        assert_eq!(key_of(e), "products[0].sources[0].app_password");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("kind = \"bluesky_jetstream\"\nendpoint = \"https://x.example/subscribe\"", "endpoint"),
            ("kind = \"bluesky_jetstream\"\nlangs = [\"english!\"]", "langs"),
            ("kind = \"youtube\"\napi_key = \"k\"", "video_ids"),
            ("kind = \"youtube\"\nvideo_ids = [\"a b\"]\napi_key = \"k\"", "video_ids"),
            ("kind = \"reddit\"\nclient_id = \"id\"\nclient_secret = \"s\"", "query"),
            ("kind = \"reddit\"\nsubreddits = [\"r/headphones\"]\nclient_id = \"id\"\nclient_secret = \"s\"", "subreddits"),
            ("kind = \"reddit\"\nquery = \"acme\"\nclient_id = \"id\"\nclient_secret = \"s\"\nusername = \"u\"", "username"),
            ("kind = \"bluesky_search\"\nquery = \" \"\nidentifier = \"a\"\napp_password = \"p\"", "query"),
        ];
        for (src, key) in cases {
            let e = load(src).unwrap_err();
            assert_eq!(key_of(e), format!("products[0].sources[0].{key}"), "{src}");
        }
        let ok = load("kind = \"bluesky_jetstream\"\nlangs = [\"en\", \"pt-BR\"]").unwrap();
        assert_eq!(ok.products[0].sources[0].kind_name(), "bluesky_jetstream");
    }
}
