//! "Which nameserver answered?": CH TXT `id.server` and `hostname.bind` (RFC 4892) and
//! `version.bind`/`version.server`, and the NSID option (RFC 5001). With several
//! nameservers behind one name (anycast or not) this is what an operator asks first.

use std::borrow::Cow;

use hickory_proto::op::{Edns, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::routing::{Identity, Lookup};

/// The reply to a class CH question, or `None` for names we don't answer (REFUSED).
pub fn chaos(identity: &Identity, q: &Query) -> Option<Lookup<'static>> {
    let text = match q.name.to_lowercase().to_ascii().as_str() {
        "id.server." | "hostname.bind." => identity.id.clone(),
        // Hidden by the operator: refused like any name we don't serve.
        "version.bind." | "version.server." => identity.version.clone()?,
        _ => return None,
    };
    let mut out = Lookup {
        rcode: ResponseCode::NoError,
        authoritative: true,
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        scope: None,
        counters: None,
        needs_client: false,
    };
    if matches!(q.query_type, RecordType::TXT | RecordType::ANY) {
        out.answers.push(Cow::Owned(txt(&q.name, &text)));
    }
    Some(out)
}

fn txt(owner: &Name, text: &str) -> Record {
    let mut r = Record::from_rdata(owner.clone(), 0, RData::TXT(TXT::new(vec![text.into()])));
    r.dns_class = DNSClass::CH;
    r
}

/// RFC 5001 §2.2: a query with an (empty) NSID option gets ours in the reply's OPT.
pub fn add_nsid(identity: &Identity, query: Option<&Edns>, reply: &mut Edns) {
    if query.and_then(|e| e.option(EdnsCode::NSID)).is_none() {
        return;
    }
    if let Ok(p) = NSIDPayload::new(identity.id.as_bytes()) {
        reply.options_mut().insert(EdnsOption::NSID(p));
    }
}
