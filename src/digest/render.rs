//! A digest as Markdown (for chat and e-mail clients that render it, and for reading in a
//! terminal). JSON is the `Digest` itself through serde.

use std::fmt::Write;

use super::{Digest, LabelChange, Quote};

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn signed_pts(x: f64) -> String {
    format!("{:+.0} pts", x * 100.0)
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "–".into())
}

/// Quotes are customer text: keep them on one line and neutralise Markdown that would change
/// the digest's own structure.
fn quote_md(q: &Quote) -> String {
    let text: String = q
        .text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect();
    let text = text
        .replace('\\', "\\\\")
        .replace('*', "\\*")
        .replace('_', "\\_")
        .replace('`', "\\`")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|");
    match &q.url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            format!("> {text} — {} ([link](<{u}>))", q.source)
        }
        _ => format!("> {text} — {}", q.source),
    }
}

fn change_row(c: &LabelChange) -> String {
    format!(
        "| {} | {} | {} | {} | {}{} |",
        c.label,
        c.posts,
        pct(c.share),
        pct(c.baseline_share),
        signed_pts(c.change),
        if c.significant {
            " **significant**"
        } else {
            ""
        }
    )
}

pub fn markdown(d: &Digest) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {} — daily digest for {}", d.product_name, d.date);
    let _ = writeln!(
        s,
        "\n{} ({} to {}, {}). Compared with the {} days before.\n",
        d.product,
        d.from,
        d.to,
        d.timezone,
        super::BASELINE_DAYS
    );
    let v = &d.volume;
    let _ =
        writeln!(
        s,
        "**{} posts** ({} scored by the model), usual {:.1} a day. Sentiment index {} (usual {}). \
         Authenticity Index {} (usual {}), suspicious {} (usual {}).",
        v.posts,
        v.scored,
        v.baseline_daily,
        opt(d.sentiment_index, 2),
        opt(d.baseline_sentiment_index, 2),
        opt(d.authenticity.index, 0),
        opt(d.authenticity.baseline_index, 0),
        d.authenticity.suspicious_share.map(pct).unwrap_or_else(|| "–".into()),
        d.authenticity
            .baseline_suspicious_share
            .map(pct)
            .unwrap_or_else(|| "–".into()),
    );

    let _ = writeln!(s, "\n## What moved\n");
    if d.movers.is_empty() {
        let _ = writeln!(
            s,
            "Nothing changed significantly (two-proportion test, |z| ≥ {}, at least {} points).",
            super::Z_CRITICAL,
            (super::MIN_SHARE_CHANGE * 100.0) as u32
        );
    }
    for m in &d.movers {
        let c = &m.change;
        let _ = write!(
            s,
            "### {} {}: {} of posts (usual {}, {})\n\n",
            c.head,
            c.label,
            pct(c.share),
            pct(c.baseline_share),
            signed_pts(c.change)
        );
        if !m.touchpoints.is_empty() {
            let t: Vec<String> = m
                .touchpoints
                .iter()
                .map(|(t, x)| format!("{t} ({})", pct(*x)))
                .collect();
            let _ = writeln!(s, "Mostly about: {}.\n", t.join(", "));
        }
        for q in &m.quotes {
            let _ = writeln!(s, "{}\n", quote_md(q));
        }
    }

    let _ = writeln!(
        s,
        "\n## Emotions\n\n| emotion | posts | share | usual | change |\n|---|---:|---:|---:|---|"
    );
    for c in d
        .emotions
        .iter()
        .filter(|c| c.posts > 0 || c.baseline_share > 0.0)
        .take(10)
    {
        let _ = writeln!(s, "{}", change_row(c));
    }
    let _ = writeln!(s, "\n## Touchpoints\n\n| touchpoint | posts | share | usual | change |\n|---|---:|---:|---:|---|");
    for c in &d.touchpoints {
        let _ = writeln!(s, "{}", change_row(c));
    }

    let _ = writeln!(s, "\n## Authenticity\n");
    if d.authenticity.signals.is_empty() {
        let _ = writeln!(s, "No authenticity signal fired.");
    }
    for sig in &d.authenticity.signals {
        let _ = writeln!(
            s,
            "- **{}**: {} posts (usual {:.1} a day)",
            sig.kind, sig.posts, sig.baseline_daily
        );
        for q in &sig.examples {
            let _ = writeln!(s, "\n  {}", quote_md(q));
        }
    }

    let _ = writeln!(s, "\n## In their own words\n");
    for (name, list) in [
        ("Praise", &d.phrases.praise),
        ("Complaints", &d.phrases.complaints),
    ] {
        let items: Vec<String> = list
            .iter()
            .map(|p| format!("\"{}\" ({})", p.phrase.replace('|', "\\|"), p.posts))
            .collect();
        let _ = writeln!(
            s,
            "- {name}: {}",
            if items.is_empty() {
                "–".to_string()
            } else {
                items.join(", ")
            }
        );
    }

    let _ = writeln!(s, "\n## Volume and segments\n\n| segment | posts | sentiment | top emotion |\n|---|---:|---:|---|");
    for g in &d.segments {
        let _ = writeln!(
            s,
            "| {} {} | {} | {} | {} |",
            g.by,
            g.value.replace('|', "\\|"),
            g.posts,
            opt(g.sentiment_index, 2),
            g.top_emotion.as_deref().unwrap_or("–")
        );
    }
    for sv in &d.volume.by_source {
        let _ = writeln!(
            s,
            "\n- {}: {} posts (usual {:.1} a day)",
            sv.source, sv.posts, sv.baseline_daily
        );
    }
    s
}
