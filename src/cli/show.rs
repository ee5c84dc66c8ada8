//! `trends`, `digest`, `authenticity` and `posts`: the read commands, as tables or JSON.

use std::io::Write;

use anyhow::{anyhow, Context};
use serde_json::Value;

use crate::config::Config;
use crate::domain::post::as_stars;
use crate::query::trends::{self, Interval};
use crate::store::PostQuery;

use super::args::{AuthenticityArgs, DigestArgs, PostsArgs, RangeArgs, TrendsArgs};
use super::reader::{enc, Reader};
use super::{usage, CliError};

pub(super) fn range(cfg: &Config, r: &RangeArgs) -> Result<(i64, i64), CliError> {
    if cfg.product(&r.product).is_none() {
        return Err(usage(anyhow!("no product `{}` in the config", r.product)));
    }
    crate::domain::time::parse_range(r.from.as_deref(), r.to.as_deref(), |p| format!("--{p}"))
        .map_err(|e| usage(anyhow!(e)))
}

pub(super) fn show_trends(cfg: &Config, a: &TrendsArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    let interval: Interval = a
        .interval
        .parse()
        .map_err(|e: String| usage(anyhow!("--interval: {e}")))?;
    let t = match Reader::open(cfg)? {
        Reader::Store(store) => trends::trends(
            &store,
            &a.range.product,
            from,
            to,
            interval,
            a.range.source.as_deref(),
        )
        .map_err(|e| match e {
            trends::TrendError::Store(s) => CliError::from(s),
            other => usage(other),
        })?,
        Reader::Api(api) => {
            let mut q = format!(
                "/api/v1/products/{}/trends?from={from}&to={to}&interval={}",
                a.range.product, a.interval
            );
            if let Some(s) = &a.range.source {
                q.push_str(&format!("&source={}", enc(s)));
            }
            serde_json::from_value(api.get(&q)?)
                .context("unexpected trends answer from the daemon")?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&t).context("encoding")?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let mut header = format!(
        "{:<20} {:>7} {:>6} {:>9}",
        "start", "volume", "rating", "sentiment"
    );
    for l in &a.label {
        header.push_str(&format!(" {:>18}", l));
    }
    header.push_str("  top emotions (share)");
    writeln!(out, "{header}").context("writing")?;
    for i in 0..t.buckets.len() {
        if t.volume[i] == 0 && a.range.from.is_none() {
            continue;
        }
        let mut line = format!(
            "{:<20} {:>7} {:>6} {:>9}",
            t.buckets[i],
            t.volume[i],
            t.rating_avg[i]
                .map(|r| format!("{:.2}", as_stars(r as f32)))
                .unwrap_or_else(|| "-".into()),
            t.sentiment_index[i]
                .map(|s| format!("{s:+.2}"))
                .unwrap_or_else(|| "-".into()),
        );
        for l in &a.label {
            let (h, lab) = l.split_once('.').unwrap_or(("emotions", l.as_str()));
            let v = t
                .labels
                .get(h)
                .and_then(|m| m.get(lab))
                .filter(|_| t.scored[i] > 0)
                .map(|s| format!("{:.2}", s.share[i]));
            line.push_str(&format!(" {:>18}", v.unwrap_or_else(|| "-".into())));
        }
        if let Some(em) = t.labels.get("emotions") {
            let mut v: Vec<(&String, f64)> = em
                .iter()
                .filter(|(l, _)| l.as_str() != "neutral")
                .map(|(l, s)| (l, s.share[i]))
                .collect();
            v.sort_by(|x, y| y.1.total_cmp(&x.1));
            let top: Vec<String> = v
                .iter()
                .take(3)
                .filter(|(_, s)| *s > 0.0)
                .map(|(l, s)| format!("{l} {:.0}%", s * 100.0))
                .collect();
            line.push_str(&format!("  {}", top.join(", ")));
        }
        writeln!(out, "{line}").context("writing")?;
    }
    writeln!(
        out,
        "total: {} posts, rating {}, sentiment {}",
        t.total.volume,
        t.total
            .rating_avg
            .map(|r| format!("{:.2}/5", as_stars(r as f32)))
            .unwrap_or_else(|| "-".into()),
        t.total
            .sentiment_index
            .map(|s| format!("{s:+.2}"))
            .unwrap_or_else(|| "-".into())
    )
    .context("writing")?;
    Ok(())
}

pub(super) fn show_digest(cfg: &Config, a: &DigestArgs) -> Result<(), CliError> {
    let product = cfg
        .product(&a.product)
        .ok_or_else(|| usage(anyhow!("unknown product `{}`", a.product)))?;
    let tz = cfg.digest.timezone;
    let date = match &a.date {
        Some(d) => crate::notify::digest::parse_date(d).map_err(usage)?,
        None => {
            use chrono::TimeZone;
            tz.from_utc_datetime(&chrono::Utc::now().naive_utc())
                .date_naive()
                .pred_opt()
                .ok_or_else(|| anyhow!("no yesterday"))?
        }
    };
    if !matches!(a.format.as_str(), "md" | "json" | "html") {
        return Err(usage(anyhow!(
            "--format: `{}` is not md, json or html",
            a.format
        )));
    }
    match Reader::open(cfg)? {
        Reader::Store(store) => {
            let (d, _) = crate::notify::digest::stored_or_compute(
                &store,
                &product.id,
                &product.name,
                date,
                tz,
            )
            .map_err(|e| match e {
                crate::notify::digest::DigestError::Store(s) => CliError::from(s),
                crate::notify::digest::DigestError::Corrupt(s) => CliError::from(anyhow!(s)),
                other => usage(other),
            })?;
            match a.format.as_str() {
                "md" => print!("{}", crate::notify::digest::render::markdown(&d)),
                "html" => print!("{}", crate::notify::digest::render::html(&d)),
                _ => println!("{}", serde_json::to_string_pretty(&d).context("encoding")?),
            }
        }
        Reader::Api(api) => {
            let path = format!("/api/v1/products/{}/digests/{date}", product.id);
            match a.format.as_str() {
                "json" => println!(
                    "{}",
                    serde_json::to_string_pretty(&api.get(&path)?).context("encoding")?
                ),
                f => print!("{}", api.get_text(&format!("{path}?format={f}"))?),
            }
        }
    }
    Ok(())
}

pub(super) fn show_authenticity(cfg: &Config, a: &AuthenticityArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    if a.range.source.is_some() {
        return Err(usage(anyhow!(
            "--source: the report already breaks the index down by source"
        )));
    }
    let interval: Interval = a
        .interval
        .parse()
        .map_err(|e: String| usage(anyhow!("--interval: {e}")))?;
    let v = match Reader::open(cfg)? {
        Reader::Store(store) => {
            let r =
                crate::query::authenticity::report(&store, &a.range.product, from, to, interval)
                    .map_err(|e| match e {
                        trends::TrendError::Store(s) => CliError::from(s),
                        other => usage(other),
                    })?;
            crate::api::authenticity_json(&r)
        }
        Reader::Api(api) => api.get(&format!(
            "/api/v1/products/{}/authenticity?from={from}&to={to}&interval={}",
            a.range.product, a.interval
        ))?,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v).context("encoding")?);
        return Ok(());
    }
    let num = |x: &Value, digits: usize| {
        x.as_f64()
            .map(|f| format!("{f:.digits$}"))
            .unwrap_or_else(|| "-".into())
    };
    let pct = |x: &Value| {
        x.as_f64()
            .map(|f| format!("{:.1}%", f * 100.0))
            .unwrap_or_else(|| "-".into())
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}  {} .. {}\nAuthenticity Index {} / 100   perception balance {}   suspicious {} ({} of {} posts)",
        a.range.product,
        v["from"].as_str().unwrap_or("-"),
        v["to"].as_str().unwrap_or("-"),
        num(&v["index"], 1),
        num(&v["perception_balance"], 2),
        pct(&v["suspicious_share"]),
        v["suspicious"],
        v["volume"],
    )
    .context("writing")?;
    writeln!(
        out,
        "\n{:<22} {:>7} {:>7} {:>10} {:>11}",
        "source", "volume", "index", "balance", "suspicious"
    )
    .context("writing")?;
    for s in v["by_source"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "{:<22} {:>7} {:>7} {:>10} {:>11}",
            s["source"].as_str().unwrap_or("-"),
            s["volume"],
            num(&s["index"], 1),
            num(&s["perception_balance"], 2),
            pct(&s["suspicious_share"]),
        )
        .context("writing")?;
    }
    writeln!(
        out,
        "\n{:<22} {:>7} {:>7} {:>11}",
        "bucket", "index", "balance", "suspicious"
    )
    .context("writing")?;
    let tr = &v["trend"];
    for (i, b) in v["buckets"].as_array().into_iter().flatten().enumerate() {
        writeln!(
            out,
            "{:<22} {:>7} {:>7} {:>11}",
            b.as_str().unwrap_or("-"),
            num(&tr["index"][i], 1),
            num(&tr["perception_balance"][i], 2),
            pct(&tr["suspicious_share"][i]),
        )
        .context("writing")?;
    }
    writeln!(out, "\ntop signals").context("writing")?;
    for s in v["top_signals"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {:<18} {:>6} posts ({}){}",
            s["kind"].as_str().unwrap_or("-"),
            s["posts"],
            pct(&s["share"]),
            if s["perception"].as_bool() == Some(true) {
                "  [brand perception]"
            } else {
                ""
            }
        )
        .context("writing")?;
        for p in s["examples"].as_array().into_iter().flatten() {
            let why = p["signals"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|x| x["kind"] == s["kind"])
                .map(|x| x["evidence"]["detail"].as_str().unwrap_or("").to_string())
                .unwrap_or_default();
            writeln!(out, "    {}\n      why: {why}", post_line(p)).context("writing")?;
        }
    }
    Ok(())
}

pub(super) fn show_posts(cfg: &Config, a: &PostsArgs) -> Result<(), CliError> {
    let (from, to) = range(cfg, &a.range)?;
    if a.limit == 0 || a.limit > 500 {
        return Err(usage(anyhow!("--limit must be 1..=500")));
    }
    let signal = match a.signal.as_deref() {
        Some(s) => Some(
            crate::domain::SignalKind::parse_or_explain(s)
                .map_err(|e| usage(anyhow!("--signal: {e}")))?,
        ),
        None => None,
    };
    let posts: Vec<Value> = match Reader::open(cfg)? {
        Reader::Store(store) => store
            .posts_page(&PostQuery {
                product: a.range.product.clone(),
                from_ms: from,
                to_ms: to,
                source: a.range.source.clone(),
                label: a.label.clone(),
                min_score: a.min_score,
                signal,
                suspicious: a.suspicious,
                limit: a.limit,
                after: None,
            })?
            .posts
            .iter()
            .map(crate::api::post_json)
            .collect(),
        Reader::Api(api) => {
            let mut q = format!(
                "/api/v1/products/{}/posts?from={from}&to={to}&limit={}",
                a.range.product, a.limit
            );
            for (k, v) in [
                ("source", a.range.source.clone()),
                ("label", a.label.clone()),
                ("min_score", a.min_score.map(|m| m.to_string())),
                ("signal", a.signal.clone()),
                ("suspicious", a.suspicious.map(|s| s.to_string())),
            ] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            api.get(&q)?["posts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let mut out = std::io::stdout().lock();
    for p in &posts {
        if a.json {
            writeln!(out, "{p}").context("writing")?;
            continue;
        }
        writeln!(out, "{}", post_line(p)).context("writing")?;
    }
    if posts.is_empty() {
        eprintln!("no posts match");
    }
    Ok(())
}

/// One table line for a post (its JSON view): time, source, stars, labels, start of the text.
pub(super) fn post_line(p: &Value) -> String {
    let heads = p["classification"]["heads"].as_object();
    let labels: Vec<String> = heads
        .map(|h| {
            h.iter()
                .filter_map(|(name, r)| {
                    let l: Vec<&str> = r["labels"]
                        .as_array()?
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    // "none" of brand authenticity is the usual case, not worth a column.
                    let hide = l.is_empty() || (name == "brand_authenticity" && l == ["none"]);
                    (!hide).then(|| l.join("+"))
                })
                .collect()
        })
        .unwrap_or_default();
    let signals: Vec<&str> = p["signals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["kind"].as_str())
        .collect();
    let text: String = p["text"]
        .as_str()
        .unwrap_or("")
        .chars()
        .take(100)
        .collect::<String>()
        .replace('\n', " ");
    format!(
        "{}  {:<14} {:>4}  [{}]{} {}",
        p["published"].as_str().unwrap_or("-"),
        p["source"].as_str().unwrap_or("-"),
        p["rating"]
            .as_f64()
            .map(|r| format!("{:.1}", as_stars(r as f32)))
            .unwrap_or_else(|| "-".into()),
        if heads.is_some_and(|h| !h.is_empty()) {
            labels.join(" ")
        } else {
            format!("lang:{}", p["language"].as_str().unwrap_or("?"))
        },
        if signals.is_empty() {
            String::new()
        } else {
            format!(
                " {}{{{}}}",
                if p["suspicious"].as_bool() == Some(true) {
                    "SUSPICIOUS "
                } else {
                    ""
                },
                signals.join(",")
            )
        },
        text
    )
}
