//! What the signing layer (`dns::sign`) asks the table about a name, read-only: which
//! zone signs it, which types exist there for a client (the NSEC bitmap of a denial),
//! whether an answer came from a wildcard (the RRSIG labels field), and the DS RRset of
//! a delegation. Kept apart from `lookup` so answering stays the same signed or not.

use hickory_proto::rr::{Name, Record, RecordType};

use super::key;
use super::names::{NameEntry, ZoneNames};
use super::RoutingTable;
use crate::dnssec::ZoneSigner;
use crate::policy::Client;

/// What exists at one name of a signed zone.
#[derive(Debug, PartialEq, Eq)]
pub enum NameFacts {
    /// The name does not exist, nor does a wildcard that would match it.
    Missing,
    /// The name exists (exactly, or as a wildcard expansion).
    At {
        /// The types present for this client: static RRsets, a policy's non-empty
        /// answers, DNSKEY at a signed apex.
        types: Vec<RecordType>,
        /// `Some(*.parent)` when the name is answered by that wildcard.
        wildcard: Option<Name>,
        /// At or below a delegation: data here is not the zone's own (glue).
        occluded: bool,
    },
}

impl RoutingTable {
    /// The signer of the zone holding `name`, when that zone is signed.
    pub fn signer_of(&self, name: &Name) -> Option<&ZoneSigner> {
        let mut buf = key::new_buf();
        let k = key::of(name, &mut buf)?;
        let zi = self.names.zone_for(k)?;
        self.names.zones[zi].signer.as_deref()
    }

    /// Whether the zone holding `key` (a lowercase wire name) is signed: the fast path
    /// leaves what it has not prepared signed to the general path.
    #[inline]
    pub fn signs_key(&self, key: &[u8]) -> bool {
        self.names
            .zone_for(key)
            .is_some_and(|zi| self.names.zones[zi].signer.is_some())
    }

    /// Every signed zone's signer, in zone order (metrics and status).
    pub fn signers(&self) -> impl Iterator<Item = &ZoneSigner> {
        self.names.zones.iter().filter_map(|z| z.signer.as_deref())
    }

    /// What exists at `name` for `client` (`None`: outside every zone).
    pub fn facts(&self, name: &Name, client: &Client) -> Option<NameFacts> {
        let mut buf = key::new_buf();
        let k = key::of(name, &mut buf)?;
        let zi = self.names.zone_for(k)?;
        let zone = &self.names.zones[zi];
        let (node, wildcard) = match zone.nodes.get(k) {
            Some(n) => (n, None),
            None => match wildcard_for(zone, k) {
                Some((n, w)) => (n, Some(w)),
                None => return Some(NameFacts::Missing),
            },
        };
        let mut types: Vec<RecordType> = zone.types(node).collect();
        if let Some(pi) = node.policy {
            if let Some(policy) = self.zones.get(zi).and_then(|z| z.policies.get(pi as usize)) {
                let (answer, _) = policy.select(client);
                if !answer.a.is_empty() {
                    types.push(RecordType::A);
                }
                if !answer.aaaa.is_empty() {
                    types.push(RecordType::AAAA);
                }
            }
        }
        if zone.signer.is_some() && *k == *zone.origin_key {
            types.push(RecordType::DNSKEY);
        }
        let wildcard = wildcard.map(|w| Name::from_labels(w).unwrap_or_else(|_| name.clone()));
        Some(NameFacts::At {
            types,
            wildcard,
            occluded: node.occluded,
        })
    }

    /// The static RRset of `rtype` at `name`, exactly (no wildcard).
    pub fn rrset_at(&self, name: &Name, rtype: RecordType) -> Option<Vec<Record>> {
        let mut buf = key::new_buf();
        let k = key::of(name, &mut buf)?;
        let zi = self.names.zone_for(k)?;
        let zone = &self.names.zones[zi];
        Some(zone.rrset(zone.nodes.get(k)?, rtype)?.records())
    }
}

/// The wildcard node answering the missing name `k`, and the wildcard's labels: only
/// `*.` of the closest encloser may match (RFC 4592 §3.3.1), as `lookup` does.
fn wildcard_for<'z>(zone: &'z ZoneNames, k: &[u8]) -> Option<(&'z NameEntry, Vec<Vec<u8>>)> {
    if !zone.has_wildcards {
        return None;
    }
    let origin_len = zone.origin_key.len();
    let mut child = k;
    while child.len() > origin_len {
        let parent = key::parent(child);
        if parent.len() == origin_len || zone.nodes.contains_key(parent) {
            let mut buf = key::new_buf();
            let w = key::wildcard_of(parent, &mut buf)?;
            let node = zone.nodes.get(w)?;
            return Some((node, labels_of(w)));
        }
        child = parent;
    }
    None
}

/// The labels of a wire-format key, root excluded.
fn labels_of(mut k: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = k.split_first() {
        if len == 0 {
            break;
        }
        out.push(rest[..len as usize].to_vec());
        k = &rest[len as usize..];
    }
    out
}
