//! Switchyard: an authoritative DNS server that answers by policy and live health.
//!
//! ```text
//!  zones/*.toml + master files ──► config (parse, validate) ──► zone::ZoneSet (typed, immutable)
//!                                                                  │
//!  health::probe (this region) ──┐                                 │
//!  agent reports (other regions) ┴► Observation ─► health::decide (per-vantage fall/rise,
//!                                    quorum, guard, hold-down) ─► HealthSnapshot (watch)
//!  control API ──► operator (overrides, drills) ─────────────────► Overlay (watch)
//!                                                                  ▼
//!   updater: routing::build_incremental(prev, ZoneSet, HealthSnapshot, Overlay) ─► RoutingTable
//!            routing::diff(old, new) ─► log, metrics, alerts      │ TableWriter::store
//!                                                                  ▼ (one swap, whole table)
//!  UDP ─► dns::fast ─► prepared wire reply (routing::prepare) ─► patch id/case/ECS ─► send
//!   └ anything unusual, and TCP ─► dns::request ─► dns::respond ─► routing lookup ─► encode
//! ```
//!
//! The query path reads one `Arc<RoutingTable>` and never waits on a probe, a lock or
//! a file. One updater task owns the writes (`routing::TableWriter`); everyone else
//! reads through a `TableReader`. Common UDP queries skip `respond`: they are answered
//! from replies the table prepared in wire form (`dns::fast`), with the same bytes.

pub mod agent;
pub mod alerts;
pub mod alloc;
pub mod config;
pub mod control;
pub mod ctl;
pub mod demo;
pub mod dns;
pub mod dnssec;
#[doc(hidden)]
pub mod fuzzing;
pub mod geo;
pub mod health;
pub mod metrics;
pub mod operator;
pub mod policy;
pub mod reload;
pub mod routing;
pub mod server;
pub mod updater;
pub mod zone;
