//! Statistics and quoting shared by the digest and the alerts: both decide significance the same
//! way and quote customers the same way.

use serde::{Deserialize, Serialize};

use crate::domain::time::format_ms;
use crate::domain::Post;

/// A customer's own words, cut to a readable length, with where they came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Quote {
    pub id: String,
    pub source: String,
    pub published: String,
    pub url: Option<String>,
    pub score: f32,
    pub text: String,
}

/// Pooled two-proportion z statistic of k1/n1 against k0/n0 (0 when undefined).
pub fn two_proportion_z(k1: u64, n1: u64, k0: u64, n0: u64) -> f64 {
    if n1 == 0 || n0 == 0 {
        return 0.0;
    }
    let (p1, p0) = (k1 as f64 / n1 as f64, k0 as f64 / n0 as f64);
    let p = (k1 + k0) as f64 / (n1 + n0) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n0 as f64)).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (p1 - p0) / se
    }
}

pub fn quote(p: &Post, score: f32) -> Quote {
    let text: String = p.text.chars().take(280).collect();
    Quote {
        id: p.id.to_hex(),
        source: p.source.clone(),
        published: format_ms(p.published_ms),
        url: p.url.clone(),
        score: (score * 1000.0).round() / 1000.0,
        text: if text.len() < p.text.len() {
            format!("{text}…")
        } else {
            text
        },
    }
}
