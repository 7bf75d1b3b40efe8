//! The integration tests, in one binary (one link instead of one per file): each module runs the
//! built `envoy-triage` and checks what users rely on. `common` holds the shared helpers.
//!
//! tests/alloc.rs is a binary of its own: its counting `#[global_allocator]` would serve every
//! test here.

mod common;
mod live;

mod bounds;
mod cli;
mod dashboard;
mod explain;
mod failon;
mod filters;
mod follow;
mod hostile;
mod html;
mod inputs;
mod merge;
mod metrics;
mod parquet;
mod ranking;
mod real_lines;
mod records;
mod signals;
mod snapshots;
mod trace;
