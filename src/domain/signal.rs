//! The authenticity vocabulary: per-post signals (what raised doubt about a review, how strongly,
//! on what evidence), the combined review-genuineness score, and the Authenticity Index parts.
//!
//! Two questions are kept apart. *Perception*: do customers call the brand genuine or fake/hype
//! (the `brand_authenticity` head)? *Genuineness*: is this review itself genuine, or machine-written,
//! deceptive, copy-pasted, bought in a burst, incentivised, or from an author flooding a product?
//! Perception signals feed the index's balance; only genuineness signals make a post suspicious.

use serde::{Deserialize, Serialize};

use super::calibration::Calibration;
use super::classification::Classification;
use super::id::PostId;

/// Signals that an already-stored post gains from a new batch; the store merges them into the
/// post's record and adjusts its buckets in the batch's transaction.
#[derive(Debug, Clone)]
pub struct Retro {
    pub product: String,
    pub published_ms: i64,
    pub id: PostId,
    pub signals: Vec<Signal>,
}

/// What raised a signal. The numeric value is the stored tag and the index of the signal's
/// counter in stored aggregates: append only, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum SignalKind {
    /// The model reads the text as machine-written.
    MachineGenerated = 0,
    /// The model reads the text as a deceptive (invented) review.
    Deceptive = 1,
    /// The author calls the brand fake, hype or inauthentic (perception, not a doubt about the post).
    BrandFake = 2,
    /// The author calls the brand genuine or honest (perception).
    BrandGenuine = 3,
    /// Near-copies of this text were posted by other authors.
    CopyPaste = 4,
    /// Posted while the product's review rate, or its share of 5★ or 1★ reviews, jumped far above
    /// the source's own baseline.
    Burst = 5,
    /// 5★ with clearly negative text, or 1★ with clearly positive text.
    RatingMismatch = 6,
    /// The author discloses a free product, discount or payment for the review.
    Incentive = 7,
    /// One author posted many reviews for one product, or across watched products, in a short time.
    AuthorPattern = 8,
}

impl SignalKind {
    pub const ALL: [SignalKind; 9] = [
        SignalKind::MachineGenerated,
        SignalKind::Deceptive,
        SignalKind::BrandFake,
        SignalKind::BrandGenuine,
        SignalKind::CopyPaste,
        SignalKind::Burst,
        SignalKind::RatingMismatch,
        SignalKind::Incentive,
        SignalKind::AuthorPattern,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SignalKind::MachineGenerated => "machine_generated",
            SignalKind::Deceptive => "deceptive",
            SignalKind::BrandFake => "brand_fake",
            SignalKind::BrandGenuine => "brand_genuine",
            SignalKind::CopyPaste => "copy_paste",
            SignalKind::Burst => "burst",
            SignalKind::RatingMismatch => "rating_mismatch",
            SignalKind::Incentive => "incentive",
            SignalKind::AuthorPattern => "author_pattern",
        }
    }

    pub fn parse(s: &str) -> Option<SignalKind> {
        SignalKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// `parse` with the error message the API and CLI give for an unknown kind.
    pub fn parse_or_explain(s: &str) -> Result<SignalKind, String> {
        SignalKind::parse(s).ok_or_else(|| {
            format!(
                "`{s}` is not one of {}",
                SignalKind::ALL.map(|k| k.name()).join(", ")
            )
        })
    }

    pub fn from_index(i: u8) -> Option<SignalKind> {
        SignalKind::ALL.get(i as usize).copied()
    }

    /// Perception signals describe the brand as the author sees it; they never make a post
    /// suspicious.
    pub fn is_perception(self) -> bool {
        matches!(self, SignalKind::BrandFake | SignalKind::BrandGenuine)
    }

    /// Weight of a fired behavioural signal in the combined score (see [`Scorer`]). Text-model
    /// signals are not weighted here: their head scores enter through the calibrated logistic part.
    fn weight(self) -> f64 {
        match self {
            // A near-copy by another author is the strongest single sign of a campaign.
            SignalKind::CopyPaste => 0.95,
            // Disclosed incentives: honest, but by definition not an unprompted review.
            SignalKind::Incentive => 0.9,
            SignalKind::AuthorPattern => 0.8,
            // A burst flags every post of the bucket, genuine ones included: weaker per post.
            SignalKind::Burst => 0.6,
            // Careless star clicks happen; alone it makes a post doubtful, not fake.
            SignalKind::RatingMismatch => 0.5,
            SignalKind::MachineGenerated
            | SignalKind::Deceptive
            | SignalKind::BrandFake
            | SignalKind::BrandGenuine => 0.0,
        }
    }
}

impl std::fmt::Display for SignalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a signal fired, in words and by pointing at text or other posts.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Evidence {
    /// One sentence a brand manager can read ("near-copy of 4 posts by other authors").
    pub detail: String,
    /// The words that raised it, when it is about words (an incentive disclosure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
    /// Related posts (the near-copies, the author's other posts); at most [`MAX_RELATED`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub posts: Vec<PostId>,
}

/// Related posts kept per signal: enough to inspect a campaign, bounded so one campaign cannot
/// grow a record without limit.
pub const MAX_RELATED: usize = 10;

/// One reason for doubt (or, for perception kinds, one reading of the brand).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub kind: SignalKind,
    /// 0–1: how strongly it fired (a probability for model heads, a similarity for copies,
    /// 1 − p-value for bursts).
    pub score: f32,
    pub evidence: Evidence,
}

/// A post's authenticity: its signals and the combined review-genuineness score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Authenticity {
    /// Probability that the review is genuine, 0–1 (see [`Scorer`]).
    pub genuineness: f32,
    /// `genuineness < 0.5`.
    pub suspicious: bool,
    pub signals: Vec<Signal>,
}

impl Default for Authenticity {
    fn default() -> Self {
        Authenticity {
            genuineness: 1.0,
            suspicious: false,
            signals: Vec::new(),
        }
    }
}

impl Authenticity {
    pub fn has(&self, kind: SignalKind) -> bool {
        self.signals.iter().any(|s| s.kind == kind)
    }

    /// Adds `s`, or strengthens the signal of its kind: the higher score wins and related posts
    /// are united (bounded). Returns whether anything changed. Monotone: scores never drop, so a
    /// post's suspicion can only grow, which keeps stored aggregate deltas additive.
    pub fn merge(&mut self, s: Signal) -> bool {
        match self.signals.iter_mut().find(|x| x.kind == s.kind) {
            None => {
                self.signals.push(s);
                self.signals.sort_by_key(|x| x.kind);
                true
            }
            Some(x) => x.absorb(s),
        }
    }
}

impl Signal {
    /// Folds another signal of the same kind into this one: the higher score (and its detail)
    /// wins, related posts are united up to [`MAX_RELATED`]. Returns whether anything changed.
    pub fn absorb(&mut self, s: Signal) -> bool {
        debug_assert_eq!(self.kind, s.kind);
        let mut changed = false;
        if s.score > self.score {
            self.score = s.score;
            self.evidence.detail = s.evidence.detail;
            if s.evidence.phrase.is_some() {
                self.evidence.phrase = s.evidence.phrase;
            }
            changed = true;
        }
        for id in s.evidence.posts {
            if self.evidence.posts.len() < MAX_RELATED && !self.evidence.posts.contains(&id) {
                self.evidence.posts.push(id);
                changed = true;
            }
        }
        changed
    }
}

/// The combined review-genuineness score.
///
/// `suspicion = 1 − (1 − p_text) · Π (1 − w_k · score_k)` over the post's behavioural signals,
/// where `p_text = σ(b + a_mg·logit(machine_generated) + a_dec·logit(deceptive))` is a logistic
/// calibration of the two text heads fitted on labelled reviews (`authenticity.json` next to the
/// model; see [`Calibration`]) and `w_k` are the fixed weights of [`SignalKind`]. Genuineness is
/// `1 − suspicion`. Noisy-OR: independent reasons for doubt compound, and each is monotone, so
/// adding evidence never makes a post look more genuine.
#[derive(Debug, Clone, Default)]
pub struct Scorer {
    pub calibration: Calibration,
}

impl Scorer {
    /// Recomputes `a.genuineness` and `a.suspicious` from the post's heads and signals.
    pub fn score(&self, c: &Classification, a: &mut Authenticity) {
        let p_text = if c.is_scored() {
            self.calibration.p_text(
                c.score("machine_generated", "machine_generated"),
                c.score("deceptive", "deceptive"),
            )
        } else {
            0.0
        };
        let mut keep = 1.0 - p_text;
        for s in &a.signals {
            keep *= 1.0 - s.kind.weight() * (s.score as f64).clamp(0.0, 1.0);
        }
        a.genuineness = keep.clamp(0.0, 1.0) as f32;
        a.suspicious = a.genuineness < 0.5;
    }
}

/// The Authenticity Index of a set of posts (0–100), with its two parts.
///
/// `index = 100 · (g + 1) / (g + f + 2) · (1 − suspicious_share)`: the smoothed share of
/// "genuine" among posts that judge the brand (brand_genuine `g` vs brand_fake `f`), discounted
/// by the share of posts whose own genuineness is in doubt. With no judgements and nothing
/// suspicious it is 50: no evidence either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexParts {
    pub index: Option<f64>,
    /// (g − f) / (g + f), −1 (all call it fake) … 1 (all call it genuine); null without judgements.
    pub perception_balance: Option<f64>,
    pub suspicious_share: Option<f64>,
    pub genuineness_avg: Option<f64>,
}

pub fn index_parts(
    count: u64,
    suspicious: u64,
    genuineness_sum: f64,
    g: u64,
    f: u64,
) -> IndexParts {
    if count == 0 {
        return IndexParts {
            index: None,
            perception_balance: None,
            suspicious_share: None,
            genuineness_avg: None,
        };
    }
    let share = suspicious as f64 / count as f64;
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    IndexParts {
        index: Some(round(
            100.0 * (g as f64 + 1.0) / ((g + f) as f64 + 2.0) * (1.0 - share),
        )),
        perception_balance: (g + f > 0).then(|| round((g as f64 - f as f64) / (g + f) as f64)),
        suspicious_share: Some(round(share)),
        genuineness_avg: Some(round(genuineness_sum / count as f64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(kind: SignalKind, score: f32) -> Signal {
        Signal {
            kind,
            score,
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn merge_is_monotone_and_bounded() {
        let mut a = Authenticity::default();
        assert!(a.merge(sig(SignalKind::CopyPaste, 0.6)));
        assert!(
            !a.merge(sig(SignalKind::CopyPaste, 0.5)),
            "a weaker copy changes nothing"
        );
        assert!(a.merge(sig(SignalKind::CopyPaste, 0.8)));
        assert_eq!(a.signals[0].score, 0.8);
        for i in 0..20 {
            let mut s = sig(SignalKind::CopyPaste, 0.1);
            s.evidence.posts.push(PostId::new("p", "s", &i.to_string()));
            a.merge(s);
        }
        assert_eq!(a.signals[0].evidence.posts.len(), MAX_RELATED);
        assert!(a.merge(sig(SignalKind::Burst, 0.9)));
        assert_eq!(a.signals.len(), 2);
    }

    #[test]
    fn perception_never_makes_a_post_suspicious_but_a_copy_does() {
        let s = Scorer::default();
        let c = Classification::default();
        let mut a = Authenticity {
            signals: vec![sig(SignalKind::BrandFake, 1.0)],
            ..Default::default()
        };
        s.score(&c, &mut a);
        assert_eq!(a.genuineness, 1.0);
        assert!(!a.suspicious);
        a.merge(sig(SignalKind::CopyPaste, 0.9));
        s.score(&c, &mut a);
        assert!(a.suspicious, "{a:?}");
        assert!((a.genuineness - (1.0 - 0.95 * 0.9)).abs() < 1e-6);
    }

    #[test]
    fn index_balances_perception_and_discounts_suspicion() {
        let p = index_parts(100, 0, 100.0, 0, 0);
        assert_eq!(p.index, Some(50.0));
        assert_eq!(p.perception_balance, None);
        let p = index_parts(100, 10, 90.0, 8, 0);
        assert_eq!(p.perception_balance, Some(1.0));
        assert!((p.index.unwrap() - 100.0 * 0.9 * 0.9).abs() < 1e-9);
        assert_eq!(index_parts(0, 0, 0.0, 0, 0).index, None);
        assert_eq!(SignalKind::parse("copy_paste"), Some(SignalKind::CopyPaste));
        for (i, k) in SignalKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "the tag is the index");
        }
    }
}
