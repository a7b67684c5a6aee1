//! The typed, validated zone set: what `config` produces and `routing` consumes.
//!
//! Everything here is already checked: names are fully qualified, references resolve,
//! addresses parse. Nothing in this module reads files or knows about health.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{Name, Record};

pub mod budget;
pub mod resolvers;
pub mod store;
use crate::dnssec::KeySet;
use crate::geo::{Continent, Coord, Country, Override};

pub mod summary;

/// Probes run every `interval` ± this fraction (see `health::monitor`).
pub const PROBE_JITTER: f64 = 0.10;

/// Every zone Switchyard serves, as one immutable value.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    pub zones: Vec<Arc<Zone>>,
}

impl ZoneSet {
    /// Every (check, address) pair some pool asks to be probed, each once.
    pub fn targets(&self) -> BTreeMap<Target, Arc<CheckSpec>> {
        let mut out = BTreeMap::new();
        for zone in &self.zones {
            for pool in zone.pools.values() {
                if let Some(check) = &pool.check {
                    let spec = &zone.checks[check];
                    for addr in &pool.addresses {
                        out.insert(
                            Target {
                                check: spec.id.clone(),
                                addr: *addr,
                            },
                            spec.clone(),
                        );
                    }
                }
            }
        }
        out
    }
}

/// One zone: its apex records, static data, pools, checks and policies.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    /// The policy file this zone came from, for messages.
    pub file: PathBuf,
    pub soa: Record,
    /// Every static record, apex SOA and NS included, owner names fully qualified.
    pub records: store::RecordStore,
    pub pools: BTreeMap<Arc<str>, Pool>,
    /// Keyed by the check's name inside this zone file.
    pub checks: BTreeMap<Arc<str>, Arc<CheckSpec>>,
    pub policies: Vec<Policy>,
    /// Operator statements about where client networks are; they win over the database.
    pub geo_overrides: Vec<Override>,
    /// Who may transfer the zone (AXFR over TCP); empty: nobody.
    pub allow_transfer: Vec<ipnet::IpNet>,
    /// Secondaries told of each new serial by NOTIFY (RFC 1996).
    pub also_notify: Vec<std::net::SocketAddr>,
    /// The zone's DNSSEC keys (`[dnssec]`), loaded and checked; `None`: served unsigned.
    pub dnssec: Option<KeySet>,
    /// `[dnssec] signature_validity`; `None`: the signer's default.
    pub signature_validity: Option<std::time::Duration>,
}

/// A group of addresses in one region that stand or fall together.
#[derive(Debug, Clone)]
pub struct Pool {
    pub name: Arc<str>,
    pub region: Arc<str>,
    pub addresses: Vec<IpAddr>,
    /// Name of the check (in the same zone) that probes each address; `None` = always up.
    pub check: Option<Arc<str>>,
    /// The pool is up while at least this many of its addresses are up.
    pub min_healthy: usize,
    /// Where the pool is, for geoproximity and as its region's default location.
    pub location: Option<Coord>,
}

/// A health check definition, shared by every pool that names it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// Globally unique: `<zone origin>/<check name>`.
    pub id: Arc<str>,
    pub kind: CheckKind,
    pub port: u16,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive failures before an up target goes down.
    pub fall: u32,
    /// Consecutive successes before a down target comes up.
    pub rise: u32,
    /// What a target counts as before its first result.
    pub startup: StartupState,
    /// How many probe regions must see a target down for it to be down.
    pub quorum: Quorum,
    /// How long a recovered target must stay up before traffic returns to it.
    pub hold_down: Duration,
}

/// The rule that turns per-region verdicts into one, over the regions with a fresh verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quorum {
    /// Down when more than half of the fresh regions say down.
    #[default]
    Majority,
    /// Down when any fresh region says down.
    Any,
    /// Down only when every fresh region says down.
    All,
    /// Down when at least this many fresh regions say down; with fewer fresh regions than
    /// that, no decision can be made and the last one stands.
    AtLeast(u32),
}

impl std::fmt::Display for Quorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quorum::Majority => f.write_str("majority"),
            Quorum::Any => f.write_str("any"),
            Quorum::All => f.write_str("all"),
            Quorum::AtLeast(n) => write!(f, "{n}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    Http(HttpCheck),
    Https(HttpCheck),
    Tcp,
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Http(_) => "http",
            CheckKind::Https(_) => "https",
            CheckKind::Tcp => "tcp",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    /// Host header, and SNI for https. `None`: the address itself.
    pub host: Option<String>,
    pub path: String,
    pub expect_status: RangeInclusive<u16>,
    pub body_contains: Option<String>,
    /// Verify the server certificate (https only). On by default.
    pub tls_verify: bool,
    /// PEM certificates trusted besides the system roots (https only; `tls_ca`).
    pub tls_ca: Option<Arc<[u8]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupState {
    Down,
    Up,
}

/// One probed endpoint: a check applied to one address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    pub check: Arc<str>,
    pub addr: IpAddr,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.check, self.addr)
    }
}

/// A name answered by policy rather than by static records.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The policy's label in the file, for messages and status.
    pub label: Arc<str>,
    /// The owner name it answers for (fully qualified).
    pub name: Name,
    pub ttl: u32,
    pub kind: PolicyKind,
    pub when_all_down: AllDown,
    /// The operator's bound on failure-to-resolvers time, and where it was declared
    /// (line, column), checked against [`budget::policy_budget`] at validation.
    pub max_failover: Option<(Duration, (usize, usize))>,
}

/// What a policy chooses among: a pool, or another policy of the same zone by label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Member {
    Pool(Arc<str>),
    Policy(Arc<str>),
}

impl Member {
    pub fn name(&self) -> &Arc<str> {
        match self {
            Member::Pool(n) | Member::Policy(n) => n,
        }
    }
}

#[derive(Debug, Clone)]
pub enum PolicyKind {
    /// Members in priority order: the first one up wins.
    Failover { members: Vec<Member> },
    /// Members by weight; weight 0 only serves when no weighted member is up.
    Weighted {
        members: Vec<(Member, u32)>,
        /// Hash the client subnet (rendezvous hashing) instead of drawing per query.
        sticky: bool,
    },
    /// Rules by country, then continent, then the default; the most specific rule whose
    /// member is up wins.
    Geolocation {
        countries: Vec<(Country, Member)>,
        continents: Vec<(Continent, Member)>,
        default: Member,
    },
    /// The nearest pool to the client's coordinates, distances scaled by bias.
    Geoproximity {
        /// (pool, location, bias -99..=99)
        pools: Vec<(Arc<str>, Coord, i8)>,
        /// For clients without coordinates.
        fallback: Arc<str>,
    },
    /// The lowest-RTT pool from the probe region nearest the client.
    Latency {
        pools: Vec<Arc<str>>,
        /// Used where nothing has been measured.
        static_rtt: StaticRtt,
        hysteresis: Hysteresis,
    },
    /// Up to `max_answers` healthy addresses of every up pool, shuffled.
    Multivalue {
        pools: Vec<Arc<str>>,
        max_answers: usize,
    },
}

/// Every pool `policy` can answer from, directly or through the policies it names,
/// each once in configured order. Validation rejects cycles; `seen` bounds the walk
/// regardless.
pub fn pools_of(policy: &Policy, policies: &[Policy]) -> Vec<Arc<str>> {
    fn walk(p: &Policy, all: &[Policy], seen: &mut Vec<Arc<str>>, out: &mut Vec<Arc<str>>) {
        if seen.contains(&p.label) {
            return;
        }
        seen.push(p.label.clone());
        for m in p.kind.members() {
            match m {
                Member::Pool(name) => {
                    if !out.contains(&name) {
                        out.push(name);
                    }
                }
                Member::Policy(label) => {
                    if let Some(inner) = all.iter().find(|q| q.label == label) {
                        walk(inner, all, seen, out);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(policy, policies, &mut Vec::new(), &mut out);
    out
}

impl PolicyKind {
    pub fn name(&self) -> &'static str {
        match self {
            PolicyKind::Failover { .. } => "failover",
            PolicyKind::Weighted { .. } => "weighted",
            PolicyKind::Geolocation { .. } => "geolocation",
            PolicyKind::Geoproximity { .. } => "geoproximity",
            PolicyKind::Latency { .. } => "latency",
            PolicyKind::Multivalue { .. } => "multivalue",
        }
    }

    /// Every member this policy may answer with, each once, in configured order.
    pub fn members(&self) -> Vec<Member> {
        let mut out: Vec<Member> = Vec::new();
        let mut push = |m: &Member| {
            if !out.contains(m) {
                out.push(m.clone());
            }
        };
        match self {
            PolicyKind::Failover { members } => members.iter().for_each(&mut push),
            PolicyKind::Weighted { members, .. } => members.iter().for_each(|(m, _)| push(m)),
            PolicyKind::Geolocation {
                countries,
                continents,
                default,
            } => {
                countries.iter().for_each(|(_, m)| push(m));
                continents.iter().for_each(|(_, m)| push(m));
                push(default);
            }
            PolicyKind::Geoproximity { pools, .. } => pools
                .iter()
                .for_each(|(p, _, _)| push(&Member::Pool(p.clone()))),
            PolicyKind::Latency { pools, .. } | PolicyKind::Multivalue { pools, .. } => {
                pools.iter().for_each(|p| push(&Member::Pool(p.clone())))
            }
        }
        out
    }
}

/// probe region -> [(pool, RTT)], as configured.
pub type StaticRtt = Vec<(Arc<str>, Vec<(Arc<str>, Duration)>)>;

/// How much better another pool must be before a latency policy moves to it: the larger
/// of an absolute and a relative margin over the current pool's RTT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    pub min: Duration,
    pub percent: u32,
}

impl Hysteresis {
    pub fn margin(&self, current: Duration) -> Duration {
        self.min.max(current * self.percent / 100)
    }
}

/// What a policy answers when none of its pools is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllDown {
    /// Every configured address of every pool: a resolver that gets some dead addresses
    /// can still reach a live one, while an empty answer guarantees an outage (the choice
    /// of Route 53 and Azure Traffic Manager).
    #[default]
    ServeAll,
    /// The first pool's configured addresses.
    ServeFirst,
    /// NODATA: no address at all.
    NoData,
}

impl AllDown {
    pub fn as_str(self) -> &'static str {
        match self {
            AllDown::ServeAll => "serve-all",
            AllDown::ServeFirst => "serve-first",
            AllDown::NoData => "nodata",
        }
    }
}
