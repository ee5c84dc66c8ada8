//! What reaches people: the notifier decides when, `digest` and `alerts` compute and render what
//! changed, `stats` holds their shared statistics, `delivery` sends it to folders, webhooks, mail.

pub mod alerts;
pub mod delivery;
pub mod digest;
pub mod notifier;
pub mod stats;

pub use notifier::Notifier;
