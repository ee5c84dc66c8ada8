//! Text clean-up shared by sources: HTML to plain text, entity decoding, whitespace, length caps.

/// Stored texts are capped at this many characters; longer ones are cut (and the model reads
/// only its first tokens anyway). Protects the store and every renderer from megabyte posts.
pub const MAX_POST_CHARS: usize = 10_000;

/// Plain text of an HTML fragment: tags dropped (inline ones like `<a>`, `<span>`, `<b>` join
/// their text as a browser shows it; others become a space or a line break),
/// `<script>`/`<style>` content removed, entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            // A lone '<' is text ("a < b").
            out.push_str(after);
            rest = "";
            break;
        };
        let tag = after[1..gt].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        rest = &after[gt + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            match rest.to_ascii_lowercase().find(&close) {
                Some(i) => {
                    rest = &rest[i..];
                    if let Some(g) = rest.find('>') {
                        rest = &rest[g + 1..];
                    }
                }
                None => rest = "",
            }
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "blockquote"
        ) {
            out.push('\n');
        } else if !matches!(
            name.as_str(),
            "a" | "span"
                | "b"
                | "i"
                | "em"
                | "strong"
                | "u"
                | "s"
                | "code"
                | "small"
                | "mark"
                | "abbr"
                | "sub"
                | "sup"
                | "bdi"
                | "bdo"
                | "wbr"
        ) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    normalise_ws(&decode_entities(&out))
}

/// Decodes the named entities that occur in practice plus numeric ones.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let end = after[1..].find(';').map(|i| i + 1).filter(|&i| i <= 12);
        let decoded = end.and_then(|e| {
            let ent = &after[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                "hellip" => Some('…'),
                "mdash" => Some('—'),
                "ndash" => Some('–'),
                "rsquo" => Some('’'),
                "lsquo" => Some('‘'),
                "ldquo" => Some('“'),
                "rdquo" => Some('”'),
                _ => {
                    let num = ent.strip_prefix('#')?;
                    let n = match num.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(n)
                }
            }?;
            Some((c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Plain text of Markdown as forums write it (Lemmy): links and images become their text,
/// emphasis, headings, quotes and code marks go, `::: spoiler title` fences keep their content,
/// and regex-free so hostile input costs linear time.
pub fn markdown_to_text(md: &str) -> String {
    let mut lines = Vec::new();
    for line in md.lines() {
        let t = line.trim_start();
        if t.starts_with(":::") {
            // `::: spoiler Title` opens a block (its title is text), `:::` closes it.
            let rest = t.trim_start_matches(':').trim();
            let rest = rest.strip_prefix("spoiler").unwrap_or(rest).trim();
            if !rest.is_empty() {
                lines.push(rest.to_string());
            }
            continue;
        }
        let t = t
            .trim_start_matches('#')
            .trim_start_matches('>')
            .trim_start();
        let t = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* "))
            .unwrap_or(t);
        lines.push(inline_markdown(t));
    }
    normalise_ws(&decode_entities(&lines.join("\n")))
}

/// `[text](url)` and `![alt](url)` → text; `*`, `_`, `` ` ``, `~~` marks dropped.
fn inline_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '!' if s[i + 1..].starts_with('[') => {}
            '[' => {
                // A link: keep its text, skip `(url)` right after `]`.
                if let Some(close) = s[i + 1..].find(']') {
                    let text = &s[i + 1..i + 1 + close];
                    let after = i + 1 + close + 1;
                    if s[after..].starts_with('(') {
                        if let Some(paren) = s[after..].find(')') {
                            out.push_str(&inline_markdown(text));
                            let end = after + paren + 1;
                            while chars.peek().is_some_and(|(k, _)| *k < end) {
                                chars.next();
                            }
                            continue;
                        }
                    }
                }
                out.push(c);
            }
            '*' | '`' => {}
            '_' if i == 0
                || !s[..i].ends_with(|p: char| p.is_alphanumeric())
                || !s[i + 1..].starts_with(|n: char| n.is_alphanumeric()) => {}
            '~' if s[i + 1..].starts_with('~') || s[..i].ends_with('~') => {}
            c => out.push(c),
        }
    }
    out
}

/// Collapses runs of spaces and tabs, keeps single line breaks, trims, drops control characters.
pub fn normalise_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut pending_nl = false;
    for c in s.chars() {
        if c == '\n' || c == '\r' {
            pending_nl = true;
        } else if c.is_whitespace() {
            pending_space = true;
        } else if c.is_control() {
            continue;
        } else {
            if !out.is_empty() {
                if pending_nl {
                    out.push('\n');
                } else if pending_space {
                    out.push(' ');
                }
            }
            pending_nl = false;
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// `s` cut to at most `max` characters (on a character boundary).
pub fn cap_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The target of a Google redirect link (`https://www.google.com/url?…&url=TARGET`, the form
/// of every link in a Google Alerts feed), or `raw` as it is: the post's link should be the
/// article, not a tracking hop through Google.
pub fn unwrap_redirect(raw: &str) -> String {
    let target = url::Url::parse(raw).ok().and_then(|u| {
        let google = u
            .host_str()
            .is_some_and(|h| h == "google.com" || h.ends_with(".google.com"));
        if !google || u.path() != "/url" {
            return None;
        }
        u.query_pairs()
            .find(|(k, _)| k == "url" || k == "q")
            .map(|(_, v)| v.into_owned())
            .filter(|t| http_url(t).is_some())
    });
    target.unwrap_or_else(|| raw.to_string())
}

/// The longest post URL kept; longer ones are tracking-laden or hostile and are dropped.
pub const MAX_URL_CHARS: usize = 2048;

/// `raw` as a link target every output may use, or `None`: only absolute `http(s)` URLs with a
/// host, at most [`MAX_URL_CHARS`], in the WHATWG serialisation (which drops tabs and newlines
/// and percent-encodes spaces, quotes and angle brackets), so no digest, mail or page can be
/// steered by a post's URL into markup or a `javascript:` link.
pub fn http_url(raw: &str) -> Option<String> {
    if raw.chars().count() > MAX_URL_CHARS
        || raw
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return None;
    }
    let u = url::Url::parse(raw.trim()).ok()?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let s = String::from(u);
    (s.len() <= MAX_URL_CHARS).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            html_to_text("<p>Great <b>shoes</b> &amp; fast&nbsp;delivery</p><script>alert(1)</script><p>x &lt; y</p>"),
            "Great shoes & fast delivery\nx < y"
        );
        assert_eq!(html_to_text("a < b and c"), "a < b and c");
        // Inline markup joins as a browser shows it (Mastodon wraps hashtags in a and span).
        assert_eq!(
            html_to_text("with the <a href=\"t\">#<span>AcmePhone</span></a>: great<br>next"),
            "with the #AcmePhone: great\nnext"
        );
        assert_eq!(decode_entities("&#8217;&#x27;&bogus; &"), "’'&bogus; &");
    }

    #[test]
    fn markdown_becomes_text() {
        assert_eq!(
            markdown_to_text("## Verdict\n> quoted **bold** and _it_ and `code`\n- see [the review](https://x.example/r) ![pic](https://x/p.png)\n::: spoiler Battery\nlasts ~~one~~ two days, snake_case stays\n:::"),
            "Verdict\nquoted bold and it and code\nsee the review pic\nBattery\nlasts one two days, snake_case stays"
        );
        assert_eq!(markdown_to_text("a [b](c"), "a [b](c");
    }

    #[test]
    fn caps_on_char_boundaries() {
        assert_eq!(cap_chars("héllo", 2), "hé");
        assert_eq!(cap_chars("hi", 10), "hi");
        assert_eq!(normalise_ws("  a \t b\r\n\n c\u{0}  "), "a b\nc");
    }

    #[test]
    fn only_http_urls_survive_and_they_carry_no_markup() {
        assert_eq!(
            http_url("https://ok.example/a\n\n<script>alert(1)</script>").as_deref(),
            Some("https://ok.example/a%3Cscript%3Ealert(1)%3C/script%3E")
        );
        assert_eq!(
            http_url(" http://x.example/a b\"c ").as_deref(),
            Some("http://x.example/a%20b%22c")
        );
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<b>x</b>",
            "/relative/path",
            "mailto:a@b.example",
            "https://",
            "http:// /space-host",
            "https://x.example/\u{0}nul",
        ] {
            assert_eq!(http_url(bad), None, "{bad}");
        }
        assert_eq!(
            http_url(&format!("https://x.example/{}", "a".repeat(MAX_URL_CHARS))),
            None
        );
    }

    #[test]
    fn google_redirects_unwrap_to_their_target() {
        assert_eq!(
            unwrap_redirect("https://www.google.com/url?rct=j&sa=t&url=https://news.example.com/acme%3Fa%3D1&ct=ga&cd=CAIy&usg=AOv"),
            "https://news.example.com/acme?a=1"
        );
        for keep in [
            "https://news.example.com/url?url=https://x.example/",
            "https://www.google.com/search?q=acme",
            "https://www.google.com/url?url=javascript:alert(1)",
        ] {
            assert_eq!(unwrap_redirect(keep), keep);
        }
    }
}
