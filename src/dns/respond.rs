//! Deciding the reply to one request: opcode, class, EDNS version and Client Subnet,
//! then the routing lookup. No I/O; both transports share it.

use std::net::IpAddr;

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, RecordType};

use super::{identity, sign, MAX_UDP_PAYLOAD};
use crate::dnssec::denial;
use crate::policy::Client;
use crate::routing::{Lookup, RoutingTable};

/// What the transports hand in: the parts of a parsed request that matter.
pub struct RequestView<'a> {
    pub metadata: &'a Metadata,
    pub question: Option<&'a Query>,
    pub question_count: usize,
    pub edns: Option<&'a Edns>,
    pub src: IpAddr,
}

/// The reply before encoding.
pub struct Reply<'t> {
    pub metadata: Metadata,
    pub lookup: Lookup<'t>,
    pub edns: Option<Edns>,
}

fn reply_metadata(req: &Metadata, rcode: ResponseCode) -> Metadata {
    let mut m = Metadata::new(req.id, MessageType::Response, req.op_code);
    m.recursion_desired = req.recursion_desired;
    // Authoritative only: never offer recursion (RA stays clear).
    m.recursion_available = false;
    m.checking_disabled = req.checking_disabled;
    m.response_code = rcode;
    m
}

fn empty(rcode: ResponseCode) -> Lookup<'static> {
    Lookup {
        rcode,
        authoritative: false,
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
        scope: None,
        counters: None,
        needs_client: false,
    }
}

/// FORMERR for a message whose header parsed but whose body did not: no question to
/// echo, the ID and opcode kept so the client can match it.
pub fn formerr(req: &Metadata) -> Reply<'static> {
    Reply {
        metadata: reply_metadata(req, ResponseCode::FormErr),
        lookup: empty(ResponseCode::FormErr),
        edns: None,
    }
}

/// The client subnet a query carries, if any, as (address, source prefix length).
pub fn client_subnet(edns: Option<&Edns>) -> Option<ClientSubnet> {
    match edns?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(s) => Some(*s),
        _ => None,
    }
}

pub fn respond<'t>(table: &'t RoutingTable, req: &RequestView<'_>) -> Reply<'t> {
    let ecs = client_subnet(req.edns);
    let mut edns_out = req.edns.map(|e| {
        let mut out = Edns::new();
        out.set_max_payload(MAX_UDP_PAYLOAD);
        out.set_version(0);
        out.set_dnssec_ok(e.flags().dnssec_ok);
        identity::add_nsid(&table.env.identity, Some(e), &mut out);
        out
    });

    let finish = |rcode: ResponseCode, lookup: Lookup<'t>, edns: Option<Edns>| {
        // The one metrics hook of the query path: a relaxed atomic increment.
        // Queries outside every zone count against the table's `unmatched` block.
        lookup
            .counters
            .unwrap_or(&table.unmatched)
            .bump(req.question.map(|q| q.query_type), rcode);
        let mut metadata = reply_metadata(req.metadata, rcode);
        metadata.authoritative = lookup.authoritative;
        Reply {
            metadata,
            lookup,
            edns,
        }
    };

    // RFC 6891 §6.1.3: a version we don't speak gets BADVERS, with our OPT at version 0.
    if req.edns.is_some_and(|e| e.version() > 0) {
        return finish(
            ResponseCode::BADVERS,
            empty(ResponseCode::BADVERS),
            edns_out,
        );
    }
    // A primary is not told of changes: knot answers a NOTIFY for its own zone NOTAUTH.
    if req.metadata.op_code == OpCode::Notify {
        return finish(
            ResponseCode::NotAuth,
            empty(ResponseCode::NotAuth),
            edns_out,
        );
    }
    if req.metadata.op_code != OpCode::Query {
        return finish(ResponseCode::NotImp, empty(ResponseCode::NotImp), edns_out);
    }
    let question = match (req.question_count, req.question) {
        (1, Some(q)) => q,
        _ => {
            return finish(
                ResponseCode::FormErr,
                empty(ResponseCode::FormErr),
                edns_out,
            )
        }
    };
    if question.query_class == DNSClass::CH {
        if let Some(lookup) = identity::chaos(&table.env.identity, question) {
            return finish(ResponseCode::NoError, lookup, edns_out);
        }
    }
    if question.query_class != DNSClass::IN {
        return finish(
            ResponseCode::Refused,
            empty(ResponseCode::Refused),
            edns_out,
        );
    }
    match question.query_type {
        // Transfers reach here only when refused: an allowed AXFR over TCP is answered by
        // `xfr` before `respond`; IXFR always. Meta types can't be answered from data.
        RecordType::AXFR | RecordType::IXFR => {
            return finish(
                ResponseCode::Refused,
                empty(ResponseCode::Refused),
                edns_out,
            )
        }
        // RFC 9824 §3.4: NXNAME is a meta type only compact denial uses.
        RecordType::OPT | denial::NXNAME => {
            return finish(
                ResponseCode::FormErr,
                empty(ResponseCode::FormErr),
                edns_out,
            )
        }
        _ => {}
    }

    // RFC 7871 §7.1.2: a source prefix of 0 asks us not to use the client's address.
    let subnet = ecs.map(|s| (s.addr(), s.source_prefix()));
    let client = Client {
        addr: req.src,
        subnet,
    };
    let mut lookup = table.lookup(&question.name, question.query_type, &client);
    let flags = req.edns.map(|e| e.flags());
    let ask = sign::Ask {
        qname: &question.name,
        qtype: question.query_type,
        client: &client,
        dnssec_ok: flags.is_some_and(|f| f.dnssec_ok),
        compact_ok: flags.is_some_and(|f| f.z & denial::EDNS_FLAG_CO != 0),
    };
    sign::apply(table, &ask, &mut lookup);

    // RFC 7871 §7.2.1: echo the option, with the scope that decided the answer.
    if let (Some(edns), Some(s)) = (edns_out.as_mut(), ecs) {
        let scope = match lookup.scope {
            Some(scope) if s.source_prefix() > 0 => scope,
            _ => 0,
        };
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(
                s.addr(),
                s.source_prefix(),
                scope,
            )));
    }
    let rcode = lookup.rcode;
    finish(rcode, lookup, edns_out)
}
