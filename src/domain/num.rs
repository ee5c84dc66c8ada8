//! Rounding for numbers that are shown or stored: four decimals are more than the model's
//! precision and keep JSON and stored records small.

pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The same in `f32`, for probabilities as the model gives them.
pub fn round4_f32(p: f32) -> f32 {
    (p * 10_000.0).round() / 10_000.0
}
