//! Which posts are about which product: keyword matching on whole words, case-insensitive, with
//! exclusion phrases (so "Apple" the brand is kept and "apple pie" is not).

use regex::Regex;

/// A compiled product filter.
#[derive(Debug, Clone)]
pub struct Matcher {
    keywords: Option<Regex>,
    exclusions: Option<Regex>,
}

/// `\b` misbehaves around keywords that start or end with a symbol ("C++", "#tag"), so boundaries
/// are spelled out: a match may not touch a letter, digit or underscore on either side.
fn phrase_regex(phrases: &[String]) -> Option<Regex> {
    let alts: Vec<String> = phrases
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            // Any run of whitespace in a phrase matches any run of whitespace in the text.
            p.split_whitespace()
                .map(regex::escape)
                .collect::<Vec<_>>()
                .join(r"\s+")
        })
        .collect();
    if alts.is_empty() {
        return None;
    }
    let pattern = format!(
        r"(?i)(?:^|[^\p{{L}}\p{{N}}_])({})(?:$|[^\p{{L}}\p{{N}}_])",
        alts.join("|")
    );
    Some(Regex::new(&pattern).expect("escaped phrases always form a valid regex"))
}

impl Matcher {
    pub fn new(keywords: &[String], exclusions: &[String]) -> Matcher {
        Matcher {
            keywords: phrase_regex(keywords),
            exclusions: phrase_regex(exclusions),
        }
    }

    /// True when `text` mentions a keyword outside every excluded phrase.
    pub fn matches(&self, text: &str) -> bool {
        let Some(kw) = &self.keywords else {
            return false;
        };
        let excluded: Vec<(usize, usize)> = match &self.exclusions {
            Some(ex) => captures_spans(ex, text),
            None => Vec::new(),
        };
        captures_spans(kw, text)
            .into_iter()
            .any(|(s, e)| !excluded.iter().any(|&(xs, xe)| xs <= s && e <= xe))
    }
}

/// Spans of group 1 of every match, including overlapping neighbours: the boundary character
/// consumed by one match may be the boundary of the next ("Acme, Acme").
fn captures_spans(re: &Regex, text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at <= text.len() {
        let Some(c) = re.captures_at(text, at) else {
            break;
        };
        let g = c.get(1).expect("group 1 always participates");
        out.push((g.start(), g.end()));
        // Continue right after the keyword itself, not after the trailing boundary.
        at = g.end();
        while at < text.len() && !text.is_char_boundary(at) {
            at += 1;
        }
        if g.end() == g.start() {
            at += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(k: &[&str], x: &[&str]) -> Matcher {
        Matcher::new(
            &k.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &x.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn whole_words_case_insensitive() {
        let p = m(&["Nordwind", "Trail Runner 2"], &[]);
        assert!(p.matches("My NORDWIND shoes"));
        assert!(p.matches("the trail  runner 2 is great"));
        assert!(p.matches("Nordwind."));
        assert!(!p.matches("my Nordwinder jacket"));
        assert!(!p.matches("trail runner 22"));
        assert!(!p.matches("nothing here"));
    }

    #[test]
    fn exclusions_remove_only_their_own_span() {
        let p = m(&["Apple"], &["apple pie", "apple juice"]);
        assert!(!p.matches("Grandma's apple pie recipe"));
        assert!(p.matches("Apple raised prices again"));
        assert!(p.matches("Ate apple pie while my Apple laptop updated"));
    }

    #[test]
    fn symbols_and_unicode() {
        let p = m(&["C++", "Müller"], &[]);
        assert!(p.matches("I write C++ daily"));
        assert!(!p.matches("I write C++x daily"));
        assert!(p.matches("Bei müller gekauft"));
        assert!(!p.matches("Müllers"));
        assert!(!m(&[], &[]).matches("anything"));
    }
}
