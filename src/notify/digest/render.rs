//! Digests and alerts as Markdown (chat, terminals), e-mail-safe HTML and Slack text. JSON is
//! the `Digest` or `Alert` itself through serde. Customer text is always escaped for the
//! format it lands in.

use std::fmt::Write;

use super::{Digest, LabelChange};
use crate::notify::alerts::Alert;
use crate::notify::stats::Quote;

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

/// Customer (and operator) text inside Markdown: on one line, with every character that could
/// start markup, a link, raw HTML or a table cell escaped.
fn md_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // `#` would make a heading of a quote line; `[`/`]` are every link and image.
            '\\' | '*' | '_' | '`' | '[' | ']' | '|' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A post's URL as a Markdown link destination (`<...>` form), or `None` when it is not a
/// plain `http(s)` URL. The WHATWG serialisation has no spaces, newlines or angle brackets
/// left; what could still end the destination or escape out of it is percent-encoded.
fn md_link(url: &str) -> Option<String> {
    let u = crate::domain::text::http_url(url)?;
    Some(
        u.replace('\\', "%5C")
            .replace('(', "%28")
            .replace(')', "%29")
            .replace('|', "%7C"),
    )
}

fn quote_md(q: &Quote) -> String {
    let text = md_text(&q.text);
    match q.url.as_deref().and_then(md_link) {
        Some(u) => format!("> {text} — {} ([link](<{u}>))", md_text(&q.source)),
        None => format!("> {text} — {}", md_text(&q.source)),
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
    md_summary(&mut s, d);
    md_movers(&mut s, d);
    md_label_tables(&mut s, d);
    md_authenticity(&mut s, d);
    md_own_words(&mut s, d);
    md_segments(&mut s, d);
    s
}

/// The title and the day in numbers.
fn md_summary(s: &mut String, d: &Digest) {
    let _ = writeln!(
        s,
        "# {} — daily digest for {}",
        md_text(&d.product_name),
        d.date
    );
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
}

/// What moved significantly, with what drives it and quotes.
fn md_movers(s: &mut String, d: &Digest) {
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
}

/// Every emotion and touchpoint against the baseline.
fn md_label_tables(s: &mut String, d: &Digest) {
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
}

/// The signals that fired, with examples.
fn md_authenticity(s: &mut String, d: &Digest) {
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
}

/// Distinctive phrases of praise and complaint.
fn md_own_words(s: &mut String, d: &Digest) {
    let _ = writeln!(s, "\n## In their own words\n");
    for (name, list) in [
        ("Praise", &d.phrases.praise),
        ("Complaints", &d.phrases.complaints),
    ] {
        let items: Vec<String> = list
            .iter()
            .map(|p| format!("\"{}\" ({})", md_text(&p.phrase), p.posts))
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
}

/// Volume by segment and by source.
fn md_segments(s: &mut String, d: &Digest) {
    let _ = writeln!(s, "\n## Volume and segments\n\n| segment | posts | sentiment | top emotion |\n|---|---:|---:|---|");
    for g in &d.segments {
        let _ = writeln!(
            s,
            "| {} {} | {} | {} | {} |",
            g.by,
            md_text(&g.value),
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
}

/// Text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small inline SVG line of `values` (gaps skipped), the last point marked. Inline SVG keeps
/// the digest self-contained: no images to fetch, nothing blocked by mail clients' remote
/// content rules.
pub fn sparkline(values: &[Option<f64>], label: &str) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let present: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    if present.is_empty() {
        return String::new();
    }
    let (lo, hi) = present
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let n = values.len().max(2) - 1;
    let xy = |i: usize, v: f64| {
        (
            2.0 + (W - 4.0) * i as f64 / n as f64,
            H - 2.0 - (H - 4.0) * (v - lo) / span,
        )
    };
    let points: Vec<String> = present
        .iter()
        .map(|(i, v)| {
            let (x, y) = xy(*i, *v);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let (lx, ly) = {
        let (i, v) = present[present.len() - 1];
        xy(i, v)
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"24\" viewBox=\"0 0 120 24\" role=\"img\" aria-label=\"{}\"><polyline fill=\"none\" stroke=\"#3b6ea8\" stroke-width=\"1.5\" points=\"{}\"/><circle cx=\"{lx:.1}\" cy=\"{ly:.1}\" r=\"2.5\" fill=\"#c0392b\"/></svg>",
        esc(label),
        points.join(" ")
    )
}

const TD: &str = "padding:4px 8px;border-bottom:1px solid #eee;";
const TH: &str = "padding:4px 8px;border-bottom:2px solid #ccc;text-align:left;";

fn quote_html(q: &Quote) -> String {
    let link = match q.url.as_deref().and_then(crate::domain::text::http_url) {
        Some(u) => format!(" <a href=\"{}\" style=\"color:#3b6ea8;\">link</a>", esc(&u)),
        None => String::new(),
    };
    format!(
        "<blockquote style=\"margin:6px 0 6px 0;padding:4px 10px;border-left:3px solid #ccc;color:#333;\">{} <span style=\"color:#888;\">— {}{link}</span></blockquote>",
        esc(&q.text),
        esc(&q.source)
    )
}

fn change_rows(rows: &[LabelChange]) -> String {
    rows.iter()
        .map(|c| {
            format!(
                "<tr><td style=\"{TD}\">{}</td><td style=\"{TD}text-align:right;\">{}</td><td style=\"{TD}text-align:right;\">{}</td><td style=\"{TD}text-align:right;\">{}</td><td style=\"{TD}{}\">{}</td></tr>",
                esc(&c.label),
                c.posts,
                pct(c.share),
                pct(c.baseline_share),
                if c.significant { "font-weight:bold;" } else { "" },
                signed_pts(c.change)
            )
        })
        .collect()
}

/// E-mail-safe HTML: one table layout, inline styles only, no scripts, no remote resources;
/// every customer text escaped.
pub fn html(d: &Digest) -> String {
    let mut s = String::new();
    html_summary(&mut s, d);
    html_movers(&mut s, d);
    html_label_tables(&mut s, d);
    html_authenticity(&mut s, d);
    html_own_words(&mut s, d);
    html_segments(&mut s, d);
    s.push_str("</td></tr></table></body></html>\n");
    s
}

/// The title and the day in numbers.
fn html_summary(s: &mut String, d: &Digest) {
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{} — {}</title></head><body style=\"margin:0;padding:16px;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;background:#fff;\"><table role=\"presentation\" width=\"100%\" style=\"max-width:720px;border-collapse:collapse;\"><tr><td>",
        esc(&d.product_name),
        esc(&d.date)
    );
    let _ = write!(
        s,
        "<h1 style=\"font-size:20px;margin:0 0 4px 0;\">{} — daily digest for {}</h1><p style=\"color:#666;margin:0 0 12px 0;\">{} to {} ({}), compared with the {} days before.</p>",
        esc(&d.product_name),
        esc(&d.date),
        esc(&d.from),
        esc(&d.to),
        esc(&d.timezone),
        super::BASELINE_DAYS
    );
    let a = &d.authenticity;
    let _ = write!(
        s,
        "<table role=\"presentation\" style=\"border-collapse:collapse;margin-bottom:12px;\"><tr><td style=\"{TD}\">Posts</td><td style=\"{TD}\"><b>{}</b> (usual {:.1})</td><td style=\"{TD}\">{}</td></tr><tr><td style=\"{TD}\">Sentiment index</td><td style=\"{TD}\"><b>{}</b> (usual {})</td><td style=\"{TD}\">{}</td></tr><tr><td style=\"{TD}\">Authenticity Index</td><td style=\"{TD}\"><b>{}</b> (usual {}), suspicious {}</td><td style=\"{TD}\">{}</td></tr></table>",
        d.volume.posts,
        d.volume.baseline_daily,
        sparkline(
            &d.series.volume.iter().map(|v| Some(*v as f64)).collect::<Vec<_>>(),
            "posts per day"
        ),
        opt(d.sentiment_index, 2),
        opt(d.baseline_sentiment_index, 2),
        sparkline(&d.series.sentiment_index, "sentiment index per day"),
        opt(a.index, 0),
        opt(a.baseline_index, 0),
        a.suspicious_share.map(pct).unwrap_or_else(|| "–".into()),
        sparkline(&d.series.authenticity_index, "Authenticity Index per day"),
    );
}

/// What moved significantly, with what drives it and quotes.
fn html_movers(s: &mut String, d: &Digest) {
    let _ = write!(
        s,
        "<h2 style=\"font-size:16px;margin:16px 0 6px 0;\">What moved</h2>"
    );
    if d.movers.is_empty() {
        let _ = write!(s, "<p>Nothing changed significantly.</p>");
    }
    for m in &d.movers {
        let c = &m.change;
        let _ = write!(
            s,
            "<h3 style=\"font-size:14px;margin:10px 0 4px 0;\">{} {}: {} of posts (usual {}, {}) {}</h3>",
            esc(&c.head),
            esc(&c.label),
            pct(c.share),
            pct(c.baseline_share),
            signed_pts(c.change),
            sparkline(&m.series, &format!("{} share per day", c.label))
        );
        if !m.touchpoints.is_empty() {
            let t: Vec<String> = m
                .touchpoints
                .iter()
                .map(|(t, x)| format!("{} ({})", esc(t), pct(*x)))
                .collect();
            let _ = write!(
                s,
                "<p style=\"margin:2px 0;\">Mostly about: {}.</p>",
                t.join(", ")
            );
        }
        for q in &m.quotes {
            s.push_str(&quote_html(q));
        }
    }
}

/// Every emotion and touchpoint against the baseline.
fn html_label_tables(s: &mut String, d: &Digest) {
    for (title, rows) in [("Emotions", &d.emotions), ("Touchpoints", &d.touchpoints)] {
        let shown: Vec<LabelChange> = rows
            .iter()
            .filter(|c| c.posts > 0 || c.baseline_share > 0.0)
            .take(10)
            .cloned()
            .collect();
        let _ = write!(
            s,
            "<h2 style=\"font-size:16px;margin:16px 0 6px 0;\">{title}</h2><table style=\"border-collapse:collapse;\"><tr><th style=\"{TH}\">label</th><th style=\"{TH}\">posts</th><th style=\"{TH}\">share</th><th style=\"{TH}\">usual</th><th style=\"{TH}\">change</th></tr>{}</table>",
            change_rows(&shown)
        );
    }
}

/// The signals that fired, with examples.
fn html_authenticity(s: &mut String, d: &Digest) {
    let a = &d.authenticity;
    let _ = write!(
        s,
        "<h2 style=\"font-size:16px;margin:16px 0 6px 0;\">Authenticity</h2>"
    );
    if a.signals.is_empty() {
        let _ = write!(s, "<p>No authenticity signal fired.</p>");
    }
    for sig in &a.signals {
        let _ = write!(
            s,
            "<p style=\"margin:6px 0 2px 0;\"><b>{}</b>: {} posts (usual {:.1} a day)</p>",
            sig.kind, sig.posts, sig.baseline_daily
        );
        for q in &sig.examples {
            s.push_str(&quote_html(q));
        }
    }
}

/// Distinctive phrases of praise and complaint.
fn html_own_words(s: &mut String, d: &Digest) {
    let _ = write!(
        s,
        "<h2 style=\"font-size:16px;margin:16px 0 6px 0;\">In their own words</h2>"
    );
    for (name, list) in [
        ("Praise", &d.phrases.praise),
        ("Complaints", &d.phrases.complaints),
    ] {
        let items: Vec<String> = list
            .iter()
            .map(|p| format!("“{}” ({})", esc(&p.phrase), p.posts))
            .collect();
        let _ = write!(
            s,
            "<p style=\"margin:2px 0;\"><b>{name}:</b> {}</p>",
            if items.is_empty() {
                "–".to_string()
            } else {
                items.join(", ")
            }
        );
    }
}

/// Volume by segment and by source.
fn html_segments(s: &mut String, d: &Digest) {
    let rows: String = d
        .segments
        .iter()
        .map(|g| {
            format!(
                "<tr><td style=\"{TD}\">{} {}</td><td style=\"{TD}text-align:right;\">{}</td><td style=\"{TD}text-align:right;\">{}</td><td style=\"{TD}\">{}</td></tr>",
                esc(&g.by),
                esc(&g.value),
                g.posts,
                opt(g.sentiment_index, 2),
                esc(g.top_emotion.as_deref().unwrap_or("–"))
            )
        })
        .collect();
    let _ = write!(
        s,
        "<h2 style=\"font-size:16px;margin:16px 0 6px 0;\">Segments</h2><table style=\"border-collapse:collapse;\"><tr><th style=\"{TH}\">segment</th><th style=\"{TH}\">posts</th><th style=\"{TH}\">sentiment</th><th style=\"{TH}\">top emotion</th></tr>{rows}</table>"
    );
}

/// Slack's mrkdwn needs only `&`, `<` and `>` escaped; customer text is kept to one line.
fn slack_esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r', '\t'], " ")
}

fn slack_quote(q: &Quote) -> String {
    let text = slack_esc(&q.text);
    // A Slack link is `<url|label>`: `|` in the URL would end it early.
    match q.url.as_deref().and_then(crate::domain::text::http_url) {
        Some(u) => format!(
            ">{text} — <{}|{}>",
            slack_esc(&u).replace('|', "%7C"),
            slack_esc(&q.source)
        ),
        None => format!(">{text} — {}", slack_esc(&q.source)),
    }
}

/// A short digest for a chat channel (Slack's `text`): the headline numbers, each mover with
/// its first quote, and the authenticity signals of the day.
pub fn slack(d: &Digest) -> String {
    let mut s = String::new();
    let a = &d.authenticity;
    let _ = writeln!(
        s,
        "*{} — daily digest for {}*\n{} posts (usual {:.1}/day) · sentiment {} (usual {}) · Authenticity Index {} (usual {})",
        slack_esc(&d.product_name),
        d.date,
        d.volume.posts,
        d.volume.baseline_daily,
        opt(d.sentiment_index, 2),
        opt(d.baseline_sentiment_index, 2),
        opt(a.index, 0),
        opt(a.baseline_index, 0)
    );
    if d.movers.is_empty() {
        let _ = writeln!(s, "Nothing moved significantly.");
    }
    for m in &d.movers {
        let c = &m.change;
        let about = if m.touchpoints.is_empty() {
            String::new()
        } else {
            let t: Vec<&str> = m.touchpoints.iter().map(|(t, _)| t.as_str()).collect();
            format!(", mostly about {}", t.join(", "))
        };
        let _ = writeln!(
            s,
            "• *{}* {} of posts (usual {}, {}){about}",
            c.label,
            pct(c.share),
            pct(c.baseline_share),
            signed_pts(c.change)
        );
        if let Some(q) = m.quotes.first() {
            let _ = writeln!(s, "{}", slack_quote(q));
        }
    }
    if !a.signals.is_empty() {
        let list: Vec<String> = a
            .signals
            .iter()
            .map(|x| format!("{} {}", x.kind.name(), x.posts))
            .collect();
        let _ = writeln!(s, "Authenticity signals: {}", list.join(", "));
    }
    s
}

fn alert_headline(a: &Alert) -> String {
    format!(
        "{}: {} rose to {} of posts (usual {})",
        a.product_name,
        a.what(),
        pct(a.share),
        pct(a.baseline_share)
    )
}

fn alert_detail(a: &Alert) -> String {
    format!(
        "{} of {} posts from {} to {}, against {} over the 28 days before (z {:.1}).",
        a.hits,
        a.posts,
        a.window_from,
        a.window_to,
        pct(a.baseline_share),
        a.z
    )
}

pub fn alert_subject(a: &Alert) -> String {
    format!("[cxpulse alert] {}", alert_headline(a))
}

pub fn alert_markdown(a: &Alert) -> String {
    let mut s = format!(
        "# Alert — {}\n\n{}\n\n",
        md_text(&alert_headline(a)),
        md_text(&alert_detail(a))
    );
    for q in &a.examples {
        let _ = writeln!(s, "{}\n", quote_md(q));
    }
    s
}

pub fn alert_html(a: &Alert) -> String {
    let mut s = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"margin:0;padding:16px;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#222;background:#fff;\"><h1 style=\"font-size:18px;color:#a33;margin:0 0 8px 0;\">Alert — {}</h1><p style=\"margin:0 0 12px 0;\">{}</p>",
        esc(&alert_headline(a)),
        esc(&alert_headline(a)),
        esc(&alert_detail(a))
    );
    for q in &a.examples {
        s.push_str(&quote_html(q));
    }
    s.push_str("</body></html>");
    s
}

pub fn alert_slack(a: &Alert) -> String {
    let mut s = format!(
        ":rotating_light: *{}*\n{}\n",
        slack_esc(&alert_headline(a)),
        slack_esc(&alert_detail(a))
    );
    if let Some(q) = a.examples.first() {
        s.push_str(&slack_quote(q));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(url: &str, text: &str) -> Quote {
        Quote {
            id: "p1".into(),
            source: "reviews".into(),
            published: "2026-12-01T00:00:00Z".into(),
            url: Some(url.into()),
            score: 0.9,
            text: text.into(),
        }
    }

    /// A post's URL is the one field of a quote that went out raw: with a newline it ended the
    /// link and started a block of raw HTML in the Markdown digest.
    #[test]
    fn a_hostile_url_cannot_leave_its_link() {
        let q = quote(
            "https://ok.example/a\n\n<script>alert(1)</script>) [x](javascript:alert(1)",
            "fine",
        );
        let md = quote_md(&q);
        assert!(!md.contains('\n') && !md.contains("<script"), "{md}");
        assert!(md.contains("([link](<https://ok.example/a%3Cscript%3Ealert%281%29%3C/script%3E%29%20[x]%28javascript:alert%281%29>))"), "{md}");
        let slack = slack_quote(&q);
        assert!(
            !slack.contains("<script") && !slack.contains('\n'),
            "{slack}"
        );
        assert_eq!(slack.matches('|').count(), 1, "one link label: {slack}");
        let html = quote_html(&q);
        assert!(!html.contains("<script"), "{html}");
    }

    #[test]
    fn only_http_links_are_made_anywhere() {
        for url in [
            "javascript:alert(1)",
            "data:text/html,<b>x",
            "vbscript:x",
            "//evil.example/x",
        ] {
            let q = quote(url, "text");
            assert!(!quote_md(&q).contains("link"), "{url}");
            assert!(!quote_html(&q).contains("href"), "{url}");
            assert!(!slack_quote(&q).contains('<'), "{url}");
        }
    }

    #[test]
    fn markdown_text_cannot_start_markup() {
        let t = md_text("# head\n<img src=x onerror=alert(1)> [a](javascript:x) | *b* _c_ `d` \\");
        assert_eq!(
            t,
            "\\# head &lt;img src=x onerror=alert(1)&gt; \\[a\\](javascript:x) \\| \\*b\\* \\_c\\_ \\`d\\` \\\\"
        );
    }
}
