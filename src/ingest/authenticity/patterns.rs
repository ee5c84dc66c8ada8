//! Text rules that need no model: incentive disclosures ("received this for free in exchange for
//! my honest review") and rating–text mismatch (5★ over clearly negative text, 1★ over clearly
//! positive text).

use std::sync::OnceLock;

use regex::Regex;

use crate::domain::{stars, Classification};

/// The disclosures reviewers write when a product, discount, refund or payment came with the
/// review, and the marketing tags of sponsored posts. Each alternative is one family of phrasings.
const INCENTIVE: &[&str] = &[
    // "in exchange for my honest review", "in return for an unbiased opinion"
    r"in (?:exchange|return) for (?:my|an?|this|the) (?:honest |unbiased |fair |truthful |genuine )*(?:review|opinion|feedback|evaluation|rating)s?",
    // "received this for free", "got the item free of charge", "was sent a sample at no cost"
    r"(?:received|got|was (?:given|sent|provided)|were (?:given|sent|provided)|been (?:given|sent|provided)|(?:sent|gave|provided|offered) (?:me|us))\s+(?:this|these|the|a|an|my|it|them)?\s*(?:\w+\s+){0,3}?(?:for free|free of charge|at no (?:cost|charge)|at a (?:steep |big |deep )?discount(?:ed price)?|complimentary|as a (?:free )?sample)",
    // "provided to me for testing", "sent to me for review purposes"
    r"(?:provided|sent|given|supplied) (?:to me |to us )?(?:free |for free |at no cost )?(?:for|in order to) (?:testing|review|evaluation|my review|an? (?:honest |unbiased )?review)(?: purposes)?",
    // "discount in exchange for a review", "refund after leaving a review", "paid to write a review"
    r"(?:discount|coupon|refund|rebate|gift card|cash ?back|free (?:product|item|unit)|paid)\s+(?:\w+\s+){0,2}?(?:for|after|in exchange for|in return for|to)\s+(?:(?:leave|leaving|write|writing|post|posting|give|giving|doing)\s+)?(?:(?:an?|my|this)\s+)?(?:(?:five|5)[- ]star\s+)?(?:honest |positive |good )?(?:review|rating)",
    // "at a discounted price for my honest feedback", "reduced rate in exchange for a review"
    r"(?:discounted|reduced|promotional) (?:price|rate)\s+(?:\w+\s+){0,2}?(?:for|in exchange for|in return for) (?:my|an?) (?:honest |unbiased |fair )*(?:review|feedback|opinion)",
    // "refunded my purchase after I left a review"
    r"refund(?:ed)?\s+(?:\w+\s+){0,3}?after (?:i |we )?(?:left|leaving|wrote|writing|posted|posting) (?:a|my) (?:\w+ )?review",
    // "complimentary sample for review", "free sample in exchange"
    r"(?:complimentary|free) (?:sample|unit|copy|product|item) (?:for|in exchange|in return)",
    // Sponsored posts and programmes.
    r"#(?:ad|sponsored|gifted|partner)\b|\bsponsored by\b|\bpaid partnership\b|\bthis (?:post|review|video) is sponsored\b|\bvine (?:voice|customer review|program)\b",
];

fn incentive_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!("(?i)(?:{})", INCENTIVE.join("|")))
            .expect("incentive patterns are valid")
    })
}

/// Negations just before a disclosure ("I was NOT given this for free") cancel it.
fn negated(before: &str) -> bool {
    let tail: String = before
        .chars()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_lowercase();
    ["not ", "n't ", "never ", "no one ", "nobody "]
        .iter()
        .any(|n| tail.contains(n))
}

/// The first incentive disclosure in `text`, as written.
pub fn incentive_phrase(text: &str) -> Option<String> {
    incentive_re()
        .find_iter(text)
        .find(|m| !negated(&text[..m.start()]))
        .map(|m| m.as_str().to_string())
}

/// A 5★ rating over text the model reads as clearly negative (or 1★ over clearly positive):
/// `(score, detail)` when it fires.
pub fn rating_mismatch(
    rating: Option<f32>,
    c: &Classification,
    min_prob: f32,
) -> Option<(f32, String)> {
    let s = stars(rating?);
    let (against, label) = match s {
        5 => ("negative", "negative"),
        1 => ("positive", "positive"),
        _ => return None,
    };
    let p = c.score("sentiment", against)?;
    (p >= min_prob).then(|| (p, format!("{s}★ rating over {label} text (P = {p:.2})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HeadResult;

    #[test]
    fn disclosures_are_found_in_their_variants() {
        for t in [
            "I received this product for free in exchange for my honest review.",
            "Got these shoes at a discount in exchange for an unbiased review, but my opinion is my own.",
            "The company sent me a sample at no cost. Works fine.",
            "I was given this jacket free of charge to test.",
            "Seller offered a full refund after leaving a 5-star review!",
            "This item was provided to me for testing purposes.",
            "#ad love these runners",
            "They gave me a $20 gift card for writing a review.",
            "Vine Customer Review of Free Product",
            "I purchased this product at a discounted price in exchange for my honest review.",
        ] {
            assert!(incentive_phrase(t).is_some(), "missed: {t}");
        }
    }

    #[test]
    fn ordinary_reviews_and_negations_do_not_fire() {
        for t in [
            "I bought these with my own money and paid full price.",
            "I was not given this for free, I bought it.",
            "Free shipping was nice and they arrived in two days.",
            "Great value, got them on sale for a discount on Black Friday.",
            "I'd love to give an honest review after a month of running.",
            "My review after 300 km: still great.",
            "Also got one to give as a gift for my brother.",
        ] {
            assert_eq!(incentive_phrase(t), None, "false alarm: {t}");
        }
    }

    fn sentiment(neg: f32, pos: f32) -> Classification {
        let mut c = Classification::default();
        c.heads.insert(
            "sentiment".into(),
            HeadResult::Labels {
                labels: vec![],
                scores: [("negative".to_string(), neg), ("positive".to_string(), pos)]
                    .into_iter()
                    .collect(),
            },
        );
        c
    }

    #[test]
    fn mismatch_needs_an_extreme_rating_and_a_clear_opposite_text() {
        assert!(rating_mismatch(Some(1.0), &sentiment(0.9, 0.05), 0.8).is_some());
        assert!(rating_mismatch(Some(0.2), &sentiment(0.05, 0.9), 0.8).is_some());
        assert!(rating_mismatch(Some(1.0), &sentiment(0.7, 0.1), 0.8).is_none());
        assert!(rating_mismatch(Some(0.6), &sentiment(0.95, 0.0), 0.8).is_none());
        assert!(rating_mismatch(None, &sentiment(0.95, 0.0), 0.8).is_none());
    }
}
