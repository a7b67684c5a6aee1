//! Switchyard: an authoritative DNS server that answers by policy and live health.
//!
//! ```text
//!  zones/*.toml ──► config (parse, validate) ──► ZoneSet (typed, immutable)
//!                                                   │
//!  probe workers (this region) ──┐
//!  probe agents (other regions) ─┴► health (per-prober fall/rise, quorum) ──► HealthSnapshot (watch)
//!  control API ──► operator (overrides, drills) ────┤──► Overlay (watch)
//!                                                   ▼
//!                 routing::build_with(ZoneSet, HealthSnapshot, Overlay) ──► RoutingTable
//!                                                   │   ArcSwap::store (whole table)
//!  UDP/TCP query ──► dns::respond ──► table.lookup() ──► policy.select(client) ──► answer
//! ```
//!
//! The query path reads one `Arc<RoutingTable>` and never waits on a probe, a lock or
//! a file. One updater task owns the writes. Common UDP queries skip `respond`: they are
//! answered from replies the table prepared in wire form (`dns::fast`), with the same
//! bytes.

pub mod agent;
pub mod alerts;
pub mod config;
pub mod control;
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
