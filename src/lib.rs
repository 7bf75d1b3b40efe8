//! envoy-triage: turns Envoy and Istio access logs into answers.
//!
//! Data flows `source` → `pipeline` (chunks of whole lines to worker threads) → [`format`]
//! (one [`record::Record`] per line, borrowed) → `classify` (cause, domain, reporter) →
//! `aggregate` (per-worker state, merged) → `summary` (an owned contract) → `report`.

pub mod classify;
pub mod flags;
pub mod format;
pub mod record;
pub mod synth;
