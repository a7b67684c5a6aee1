//! The report as it travels: JSON, one sender and region, a sequence number, and a batch of
//! results. Kept apart from signing and from either end so both agree on one definition.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::health::Observation;
use crate::zone::Target;

/// Where reports are posted, on a nameserver's report or control listener.
pub const REPORTS_PATH: &str = "/v1/reports";
/// The aggregator's view (votes, vantage points, report counters).
pub const QUORUM_PATH: &str = "/v1/quorum";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report<'a> {
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    #[serde(borrow)]
    pub sender: Cow<'a, str>,
    /// Grows with every report from this sender; see `auth::ReplayGuard`.
    pub seq: u64,
    #[serde(borrow)]
    pub observations: Vec<WireObservation<'a>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WireObservation<'a> {
    /// The check's id: `<zone origin>/<check name>`.
    #[serde(borrow)]
    pub check: Cow<'a, str>,
    pub address: IpAddr,
    pub ok: bool,
    #[serde(borrow)]
    pub reason: Cow<'a, str>,
    pub latency_us: u64,
}

impl WireObservation<'static> {
    pub fn from_observation(o: &Observation) -> Self {
        WireObservation {
            check: Cow::Owned(o.target.check.to_string()),
            address: o.target.addr,
            ok: o.ok,
            reason: Cow::Owned(o.reason.clone()),
            latency_us: o.latency.as_micros() as u64,
        }
    }
}

impl Report<'_> {
    /// The results as the aggregator takes them.
    pub fn into_observations(self) -> Vec<Observation> {
        let region: Arc<str> = self.region.as_ref().into();
        let sender: Arc<str> = self.sender.as_ref().into();
        self.observations
            .into_iter()
            .map(|o| Observation {
                target: Target {
                    check: o.check.as_ref().into(),
                    addr: o.address,
                },
                region: region.clone(),
                sender: sender.clone(),
                ok: o.ok,
                reason: o.reason.into_owned(),
                latency: Duration::from_micros(o.latency_us),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_through_json_into_observations() {
        let o = Observation {
            target: Target {
                check: "example.com./api".into(),
                addr: "2001:db8::10".parse().unwrap(),
            },
            region: "eu-west".into(),
            sender: "probe-1".into(),
            ok: false,
            reason: "connection \"refused\"".into(),
            latency: Duration::from_micros(1500),
        };
        let r = Report {
            region: "eu-west".into(),
            sender: "probe-1".into(),
            seq: 7,
            observations: vec![WireObservation::from_observation(&o)],
        };
        let bytes = serde_json::to_vec(&r).unwrap();
        let back: Report<'_> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.into_observations(), vec![o]);
    }
}
