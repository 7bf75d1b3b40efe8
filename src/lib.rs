//! envoy-triage: turns Envoy and Istio access logs into answers.
//!
//! Data flows [`source`] (inputs, batch reading, follow) → [`pipeline`] (chunks of whole lines
//! to worker threads) → [`format`](mod@format) (one borrowed [`record::Record`] per line, its
//! [`response_flags`] a bitset) → [`classify`] (cause, domain, reporter) → [`aggregate`]
//! (per-worker state, merged) → [`summary`] (an owned contract, with its findings) →
//! [`report`] (one `emit` over every output; per-record output is a sink the pipeline pushes
//! into). [`cli`] and [`config`] sit at the edge; [`app`] wires them and ends every run, batch
//! or [`live`]. See docs/architecture.md.

/// Declares a field-less enum with `ALL` (every variant in declaration order, so `v as usize`
/// indexes it) and `COUNT`: arrays kept per variant are sized by the compiler, and a new
/// variant cannot be left out of them.
macro_rules! listed_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident { $($(#[$vm:meta])* $variant:ident),* $(,)? }) => {
        $(#[$m])* $vis enum $name { $($(#[$vm])* $variant),* }
        impl $name {
            /// Every variant, in declaration order (`v as usize` is its index).
            pub const ALL: [$name; $name::COUNT] = [$($name::$variant),*];
            /// How many variants there are.
            pub const COUNT: usize = [$(stringify!($variant)),*].len();
        }
    };
}

pub mod aggregate;
pub mod app;
pub mod classify;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod escape;
pub mod explain;
pub mod failon;
pub mod filter;
pub mod format;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod progress;
pub mod record;
pub mod report;
pub mod response_flags;
pub mod scan;
pub mod source;
pub mod state;
pub mod summary;
pub mod trace;
