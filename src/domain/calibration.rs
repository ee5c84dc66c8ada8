//! The calibrated text part of the genuineness score: a logistic regression on the logits of the
//! machine-generated and deceptive heads, fitted on labelled reviews and shipped in the model
//! folder (read and written by `ingest::classifier::model_dir`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    pub bias: f64,
    pub machine_generated: f64,
    pub deceptive: f64,
    /// Added to the logit to move from the fitting data's base rate of non-genuine reviews to
    /// the rate expected in the field ([`FIELD_PRIOR`]): a balanced data set would otherwise
    /// make half of all doubtful-looking posts "suspicious".
    #[serde(default)]
    pub prior_shift: f64,
}

/// Share of non-genuine reviews assumed in the field when shifting a calibration fitted on
/// balanced data. Published estimates of fake reviews on large marketplaces range from a few
/// percent to a third; 10% is a deliberately conservative middle.
pub const FIELD_PRIOR: f64 = 0.1;

impl Default for Calibration {
    /// Uncalibrated (a model without `authenticity.json`): both heads must agree strongly before
    /// the text alone makes a post suspicious.
    fn default() -> Self {
        Calibration {
            bias: -3.0,
            machine_generated: 1.0,
            deceptive: 1.0,
            prior_shift: 0.0,
        }
    }
}

/// Probabilities are clamped away from 0 and 1 before taking logits, so a saturated head cannot
/// produce an infinite feature.
fn logit(p: f32) -> f64 {
    let p = (p as f64).clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Calibration {
    /// P(not genuine | text heads). A missing head counts as 0.5 (no evidence either way).
    pub fn p_text(&self, machine_generated: Option<f32>, deceptive: Option<f32>) -> f64 {
        let x = self.bias
            + self.prior_shift
            + self.machine_generated * logit(machine_generated.unwrap_or(0.5))
            + self.deceptive * logit(deceptive.unwrap_or(0.5));
        sigmoid(x)
    }

    /// Fits bias and weights by logistic regression (Newton's method with a small ridge term, so
    /// separable data still converges) on (machine_generated, deceptive, not_genuine) rows.
    ///
    /// A head whose weight comes out negative is dropped and the rest refitted: a head that says
    /// "fake" must never make a post look more genuine. That happens when a head is noise on the
    /// fitting data (the deceptive head on product reviews) and would otherwise turn against
    /// the very texts it was trained to catch.
    pub fn fit(rows: &[(f32, f32, bool)]) -> Calibration {
        let mut active = [true; 3];
        loop {
            let c = Self::fit_active(rows, active);
            let mut changed = false;
            for (i, w) in [(1, c.machine_generated), (2, c.deceptive)] {
                if active[i] && w < 0.0 {
                    active[i] = false;
                    changed = true;
                }
            }
            if !changed {
                return c;
            }
        }
    }

    /// Logistic regression on the features marked active; the others keep weight 0.
    fn fit_active(rows: &[(f32, f32, bool)], active: [bool; 3]) -> Calibration {
        let on = |i: usize| if active[i] { 1.0 } else { 0.0 };
        let mut w = [0.0f64; 3];
        let ridge = 1e-3;
        for _ in 0..50 {
            let mut g = [0.0f64; 3];
            let mut h = [[0.0f64; 3]; 3];
            for &(mg, dec, y) in rows {
                let x = [on(0), on(1) * logit(mg), on(2) * logit(dec)];
                let p = sigmoid(w[0] + w[1] * x[1] + w[2] * x[2]);
                let r = p - if y { 1.0 } else { 0.0 };
                for i in 0..3 {
                    g[i] += r * x[i];
                    for j in 0..3 {
                        h[i][j] += p * (1.0 - p) * x[i] * x[j];
                    }
                }
            }
            for i in 0..3 {
                g[i] += ridge * w[i];
                h[i][i] += ridge;
            }
            let Some(step) = solve3(h, g) else { break };
            for i in 0..3 {
                w[i] -= step[i];
            }
            if step.iter().map(|s| s.abs()).fold(0.0, f64::max) < 1e-9 {
                break;
            }
        }
        Calibration {
            bias: w[0],
            machine_generated: w[1],
            deceptive: w[2],
            prior_shift: 0.0,
        }
    }

    /// The same calibration moved from the base rate of `rows` to [`FIELD_PRIOR`].
    pub fn shifted_to_field_prior(mut self, rows: &[(f32, f32, bool)]) -> Calibration {
        let pos = rows.iter().filter(|r| r.2).count() as f64;
        let base = ((pos + 0.5) / (rows.len() as f64 + 1.0)).clamp(1e-3, 1.0 - 1e-3);
        let l = |p: f64| (p / (1.0 - p)).ln();
        self.prior_shift = l(FIELD_PRIOR) - l(base);
        self
    }
}

/// Solves the 3×3 system `a·x = b` by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    for c in 0..3 {
        let p = (c..3).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..3 {
            let f = a[r][c] / a[c][c];
            let pivot = a[c];
            for (x, p) in a[r].iter_mut().zip(pivot).skip(c) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; 3];
    for r in (0..3).rev() {
        let s: f64 = (r + 1..3).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seeded uniform [0, 1) generator (an LCG): the tests need no rand crate.
    fn uniform(mut state: u64) -> impl FnMut() -> f64 {
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64)
        }
    }

    #[test]
    fn fit_recovers_a_known_logistic_relation() {
        // Labels drawn from σ(−1 + 2·logit(mg)) with deceptive uninformative.
        let mut rows = Vec::new();
        let mut rnd = uniform(7);
        for _ in 0..20_000 {
            let mg = (0.02 + 0.96 * rnd()) as f32;
            let dec = (0.02 + 0.96 * rnd()) as f32;
            let p = sigmoid(-1.0 + 2.0 * logit(mg));
            rows.push((mg, dec, rnd() < p));
        }
        let c = Calibration::fit(&rows);
        assert!((c.bias + 1.0).abs() < 0.15, "{c:?}");
        assert!((c.machine_generated - 2.0).abs() < 0.15, "{c:?}");
        assert!(c.deceptive.abs() < 0.15, "{c:?}");
    }

    #[test]
    fn a_head_that_points_the_wrong_way_gets_no_weight() {
        // Labels from σ(−1 + 2·logit(mg)); the deceptive score is high exactly when the text is
        // genuine, so an unconstrained fit would give it a clearly negative weight.
        let mut rows = Vec::new();
        let mut rnd = uniform(11);
        for _ in 0..20_000 {
            let mg = (0.02 + 0.96 * rnd()) as f32;
            let y = rnd() < sigmoid(-1.0 + 2.0 * logit(mg));
            let dec = if y {
                0.1 + 0.2 * rnd()
            } else {
                0.6 + 0.3 * rnd()
            } as f32;
            rows.push((mg, dec, y));
        }
        let c = Calibration::fit(&rows);
        assert_eq!(c.deceptive, 0.0, "{c:?}");
        assert!((c.machine_generated - 2.0).abs() < 0.15, "{c:?}");
        assert!((c.bias + 1.0).abs() < 0.15, "{c:?}");
    }
}
