//! Distributed probing: probe agents in other regions run the zones' checks and report
//! their results, signed, to every nameserver; each nameserver takes them into its
//! aggregator, beside its own region's results, and decides by quorum.
//!
//! `report` is the report format, `auth` signs and checks it, `reporter` sends, `ingest`
//! receives (an axum router to mount on a control listener), `probe` is the
//! `switchyard probe` agent itself, and `serve` its optional `/healthz` and `/metrics`.

pub mod auth;
pub mod ingest;
pub mod probe;
pub mod report;
pub mod reporter;
pub mod serve;
