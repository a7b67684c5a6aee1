//! Switchyard: an authoritative DNS server that answers by policy and live health.
//!
//! ```text
//!  zones/*.toml ──► config (parse, validate) ──► ZoneSet (typed, immutable)
//!                                                   │
//!  probe workers ──► health (fall/rise per target) ─┤──► HealthSnapshot (watch)
//!                                                   ▼
//!                         routing::build(ZoneSet, HealthSnapshot) ──► RoutingTable
//!                                                   │   ArcSwap::store (whole table)
//!  UDP/TCP query ──► dns::respond ──► table.lookup() ──► policy.select(client) ──► answer
//! ```
//!
//! The query path reads one `Arc<RoutingTable>` and never waits on a probe, a lock or
//! a file. One updater task owns the writes. Common UDP queries skip `respond`: they are
//! answered from replies the table prepared in wire form (`dns::fast`), with the same
//! bytes.

pub mod config;
pub mod demo;
pub mod dns;
pub mod health;
pub mod policy;
pub mod routing;
pub mod server;
pub mod updater;
pub mod zone;
