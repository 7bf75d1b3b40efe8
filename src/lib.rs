//! envoy-triage: turns Envoy and Istio access logs into answers.
//!
//! Data flows [`source`] → [`pipeline`] (chunks of whole lines to worker threads) → [`format`]
//! (one borrowed [`record::Record`] per line) → [`classify`] (cause, domain, reporter) →
//! [`aggregate`] (per-worker state, merged) → [`summary`] + [`findings`] (an owned contract) →
//! [`report`]. [`cli`] and [`config`] sit at the edge; [`app`] wires them.

pub mod aggregate;
pub mod app;
pub mod classify;
pub mod cli;
pub mod config;
pub mod explain;
pub mod failon;
pub mod findings;
pub mod flags;
pub mod follow;
pub mod format;
pub mod live;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod scan;
pub mod source;
pub mod summary;
pub mod window;
