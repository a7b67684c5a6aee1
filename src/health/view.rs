//! What the aggregator shows an operator on request: every vantage point, every target's
//! votes, and how they were decided. Serialized as JSON by the status endpoints; built on
//! demand, so keeping it current costs nothing between requests.

use serde::Serialize;

use super::snapshot::Health;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QuorumView {
    /// This nameserver's own probe region.
    pub region: String,
    /// The generation of the last published health snapshot.
    pub generation: u64,
    /// Targets whose decision is kept because no quorum is possible (no fresh region).
    pub frozen_targets: usize,
    pub suspected_vantages: usize,
    /// Reported results for targets this nameserver does not probe (different zones?).
    pub unknown_target_observations: u64,
    pub vantages: Vec<VantageView>,
    pub targets: Vec<TargetView>,
}

/// One prober: a nameserver or a probe agent, in one region.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VantageView {
    pub region: String,
    pub sender: String,
    pub votes: usize,
    /// Votes still within their staleness window; 0 means the region counts as unknown.
    pub fresh_votes: usize,
    /// Time since its latest result on any target.
    pub last_report_ms: Option<u64>,
    pub suspected: bool,
    pub suspected_for_ms: Option<u64>,
    /// Targets it was suspected for.
    pub flagged: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetView {
    pub target: String,
    pub check: String,
    pub address: String,
    /// What routing uses: the decision, after any hold-down.
    pub health: Health,
    /// The quorum's decision.
    pub decided: Health,
    pub quorum: String,
    pub up_regions: usize,
    pub down_regions: usize,
    /// Fresh, trusted regions do not agree.
    pub disagreement: bool,
    /// No quorum is possible right now; the last decision stands.
    pub frozen: bool,
    /// Time left before a recovered target takes traffic again.
    pub held_down_ms: Option<u64>,
    /// Each region's verdict, as the quorum counts it.
    pub regions: Vec<RegionView>,
    pub votes: Vec<VoteView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RegionView {
    pub region: String,
    pub health: RegionHealth,
}

/// One region's verdict as the quorum counts it; serialized as its lowercase name.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RegionHealth {
    /// A fresh, trusted vote says up.
    Up,
    /// Fresh, trusted votes say down, and none says up.
    Down,
    /// Its only fresh votes are set aside by the mass-failure guard.
    Suspected,
    /// Nothing fresh.
    Unknown,
}

impl RegionHealth {
    /// The name in the JSON, for views that embed it as text.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionHealth::Up => "up",
            RegionHealth::Down => "down",
            RegionHealth::Suspected => "suspected",
            RegionHealth::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VoteView {
    pub region: String,
    pub sender: String,
    pub health: Health,
    pub fresh: bool,
    pub suspected: bool,
    pub reason: String,
    pub latency_ms: f64,
    pub age_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_values_serialize_to_the_names_the_status_api_has_always_used() {
        for h in [Health::Up, Health::Down, Health::Unknown] {
            assert_eq!(serde_json::to_value(h).unwrap(), h.as_str());
        }
        for (h, name) in [
            (RegionHealth::Up, "up"),
            (RegionHealth::Down, "down"),
            (RegionHealth::Suspected, "suspected"),
            (RegionHealth::Unknown, "unknown"),
        ] {
            assert_eq!(serde_json::to_value(h).unwrap(), name);
            assert_eq!(h.as_str(), name);
        }
    }
}
