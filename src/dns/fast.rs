//! The UDP fast path: the common query (one question, class IN, at most an EDNS OPT
//! record with version 0) parsed in place without allocating, and answered from the
//! table's prepared wire replies. Anything else, or any reply the table has not
//! prepared, returns `None` and goes to the general path (`respond` + `encode`), which
//! would produce the same bytes; the tests hold the two paths to that.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::MAX_UDP_PAYLOAD;
use crate::dnssec::denial::NXNAME;
use crate::dnssec::unix_now;
use crate::policy::Client;
use crate::routing::HEADER_LEN;
use crate::routing::{key, Body, RoutingTable};

const TYPE_OPT: u16 = 41;
const OPTION_ECS: u16 = 8;
/// RFC 5001: the reply carries our identity, which the general path adds.
const OPTION_NSID: u16 = 3;

/// An EDNS Client Subnet option as sent (RFC 7871 §6).
#[derive(Debug, Clone, Copy)]
struct Ecs<'p> {
    family: u16,
    source: u8,
    /// The address octets the client sent: ceil(source / 8) of them.
    addr: &'p [u8],
}

impl Ecs<'_> {
    fn ip(&self) -> IpAddr {
        if self.family == 1 {
            let mut o = [0u8; 4];
            o[..self.addr.len()].copy_from_slice(self.addr);
            IpAddr::V4(Ipv4Addr::from(o))
        } else {
            let mut o = [0u8; 16];
            o[..self.addr.len()].copy_from_slice(self.addr);
            IpAddr::V6(Ipv6Addr::from(o))
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Edns<'p> {
    payload: u16,
    dnssec_ok: bool,
    ecs: Option<Ecs<'p>>,
}

/// A question the fast path can take (with its EDNS), borrowed from the datagram.
pub struct Question<'p> {
    packet: &'p [u8],
    /// End of the question name; the question ends 4 octets later.
    qname_end: usize,
    key: key::KeyBuf,
    /// The question name had no upper-case letter: it reads exactly as its key.
    lowercase: bool,
    qtype: RecordType,
    edns: Option<Edns<'p>>,
}

fn u16_at(p: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]))
}

/// Parse `packet` if it is a plain query; `None` for anything else.
pub fn parse(packet: &[u8]) -> Option<Question<'_>> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    // QR clear and opcode QUERY; AA, TC and the second flag byte are not looked at,
    // as the general path doesn't either.
    if packet[2] & 0xF8 != 0 {
        return None;
    }
    let counts = (
        u16_at(packet, 4)?,
        u16_at(packet, 6)?,
        u16_at(packet, 8)?,
        u16_at(packet, 10)?,
    );
    if counts.0 != 1 || counts.1 != 0 || counts.2 != 0 || counts.3 > 1 {
        return None;
    }

    let mut key = key::new_buf();
    let mut lowercase = true;
    let mut i = HEADER_LEN;
    loop {
        let len = *packet.get(i)? as usize;
        let k = i - HEADER_LEN;
        if len == 0 {
            key[k] = 0;
            i += 1;
            break;
        }
        // Pointers (0xC0) and the reserved label types go to the general path.
        if len > 63 || k + 1 + len >= 255 {
            return None;
        }
        let label = packet.get(i + 1..i + 1 + len)?;
        key[k] = len as u8;
        for (dst, &b) in key[k + 1..k + 1 + len].iter_mut().zip(label) {
            lowercase &= !b.is_ascii_uppercase();
            *dst = b.to_ascii_lowercase();
        }
        i += 1 + len;
    }
    let qname_end = i;
    let qtype = u16_at(packet, i)?;
    if u16_at(packet, i + 2)? != 1 {
        return None; // class IN only; the general path answers the others
    }
    i += 4;

    let edns = if counts.3 == 1 {
        let (edns, end) = parse_opt(packet, i)?;
        i = end;
        Some(edns)
    } else {
        None
    };
    if i != packet.len() {
        return None;
    }
    Some(Question {
        packet,
        qname_end,
        key,
        lowercase,
        qtype: RecordType::from(qtype),
        edns,
    })
}

/// The OPT record at `i`: owner the root, version 0, options well formed, at most one
/// Client Subnet. Returns it and where it ends.
fn parse_opt(p: &[u8], i: usize) -> Option<(Edns<'_>, usize)> {
    if *p.get(i)? != 0 || u16_at(p, i + 1)? != TYPE_OPT {
        return None;
    }
    let payload = u16_at(p, i + 3)?;
    let version = *p.get(i + 6)?;
    let flags = u16_at(p, i + 7)?;
    let rdlen = u16_at(p, i + 9)? as usize;
    if version != 0 {
        return None; // BADVERS is the general path's
    }
    let start = i + 11;
    let end = start + rdlen;
    let rdata = p.get(start..end)?;
    let mut ecs = None;
    let mut o = 0;
    while o < rdata.len() {
        let code = u16_at(rdata, o)?;
        let len = u16_at(rdata, o + 2)? as usize;
        let data = rdata.get(o + 4..o + 4 + len)?;
        if code == OPTION_NSID {
            return None;
        }
        if code == OPTION_ECS {
            if ecs.is_some() {
                return None;
            }
            let family = u16_at(data, 0)?;
            let source = *data.get(2)?;
            let max = match family {
                1 => 4,
                2 => 16,
                _ => return None,
            };
            let addr_len = (source as usize).div_ceil(8);
            if addr_len > max || data.len() != 4 + addr_len {
                return None;
            }
            ecs = Some(Ecs {
                family,
                source,
                addr: &data[4..],
            });
        }
        o += 4 + len;
    }
    Some((
        Edns {
            payload,
            dnssec_ok: flags & 0x8000 != 0,
            ecs,
        },
        end,
    ))
}

/// Write the reply to `q` into `out`, or return `None` to send the query to the
/// general path.
pub fn answer(
    table: &RoutingTable,
    q: &Question<'_>,
    src: IpAddr,
    out: &mut Vec<u8>,
) -> Option<()> {
    // Transfers are refused, meta types are errors: the general path says so.
    if matches!(
        q.qtype,
        RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::ANY | NXNAME
    ) {
        return None;
    }
    let key_len = q.qname_end - HEADER_LEN;
    let key = &q.key[..key_len];
    let ecs = q.edns.and_then(|e| e.ecs);
    let client = Client {
        addr: src,
        subnet: ecs.map(|e| (e.ip(), e.source)),
    };
    // Signed zones: a DO query gets a signed reply prepared at build while its
    // signatures are fresh; DNSKEY, negative answers (denial is signed per name) and the
    // rest are the general path's (`dns::sign`).
    let dnssec_ok = q.edns.is_some_and(|e| e.dnssec_ok);
    let a = if (q.qtype == RecordType::DNSKEY || dnssec_ok) && table.signs_key(key) {
        if q.qtype == RecordType::DNSKEY {
            return None;
        }
        table.fast_signed(key, q.qtype, &client, unix_now())?
    } else {
        table.fast(key, q.qtype, &client)?
    };
    if !a.case_free && !q.lowercase {
        return None;
    }

    let p = q.packet;
    out.clear();
    out.extend_from_slice(&p[0..2]);
    // RD and CD are copied from the query; RA, AD and Z stay clear.
    out.push(a.flags[0] | (p[2] & 0x01));
    out.push(a.flags[1] | (p[3] & 0x10));
    let additional = a.counts[2] + u16::from(q.edns.is_some());
    for c in [1, a.counts[0], a.counts[1], additional] {
        out.extend_from_slice(&u16::to_be_bytes(c));
    }
    out.extend_from_slice(&p[HEADER_LEN..q.qname_end + 4]);
    match a.body {
        Body::Bytes(b) => out.extend_from_slice(b),
        Body::Negative(n) => n.write(key_len, out)?,
        Body::Addresses(a) => a.write(out),
    }

    // RFC 6891 §6.2.5: below 512 counts as 512; without EDNS the limit is 512.
    let mut max = 512;
    if let Some(e) = q.edns {
        max = e.payload.clamp(512, MAX_UDP_PAYLOAD) as usize;
        out.push(0); // owner: the root
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
        // Extended RCODE 0, version 0, DO echoed.
        out.extend_from_slice(&[0, 0, if e.dnssec_ok { 0x80 } else { 0 }, 0]);
        match ecs {
            None => out.extend_from_slice(&[0, 0]),
            Some(s) => {
                // RFC 7871 §7.2.1: echo the option, with the scope that decided the
                // answer; 0 when the client asked us not to use its address.
                let scope = match a.scope {
                    Some(scope) if s.source > 0 => scope,
                    _ => 0,
                };
                let len = 4 + s.addr.len() as u16;
                out.extend_from_slice(&(4 + len).to_be_bytes());
                out.extend_from_slice(&OPTION_ECS.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&s.family.to_be_bytes());
                out.push(s.source);
                out.push(scope);
                out.extend_from_slice(s.addr);
            }
        }
    }
    // Too big for this client: the general path sends it truncated (and counts it).
    if out.len() > max {
        return None;
    }
    if let Some(c) = a.counters {
        c.bump(Some(q.qtype), ResponseCode::from(0, a.flags[1] & 0x0f));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    //! The fast path must give the general path's bytes exactly, or step aside.

    use std::net::SocketAddr;
    use std::path::Path;
    use std::sync::Arc;

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as HQuery};
    use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
    use hickory_proto::rr::Name;

    use super::*;
    use crate::dns::udp::{handle, AnswerPath as Answered};
    use crate::health::HealthSnapshot;
    use crate::zone::ZoneSet;

    const WILD: &str = r#"
[zone]
origin = "example.test."
nameservers = ["ns1.example.test.", "ns2.example.test."]
soa = { mname = "ns1.example.test.", rname = "hostmaster.example.test.", serial = 7, minimum = 120 }

[[records]]
name = "@"
MX = ["10 mail", "20 mail2.example.net."]
TXT = ["v=spf1 -all"]

[[records]]
name = "ns1"
A = ["192.0.2.1"]
AAAA = ["2001:db8::1"]

[[records]]
name = "host"
A = ["192.0.2.80"]

[[records]]
name = "www"
CNAME = "host"

[[records]]
name = "*.wild"
A = ["192.0.2.99"]

[[records]]
name = "*.cn"
CNAME = "host"

[[records]]
name = "towild"
CNAME = "x.wild"

[[records]]
name = "away"
CNAME = "elsewhere.example.net."

[[records]]
name = "child"
NS = ["ns.child"]

[[records]]
name = "ns.child"
A = ["192.0.2.53"]
"#;

    const PLAIN: &str = r#"
[zone]
origin = "Plain.Test."
nameservers = ["ns1.plain.test.", "ns.elsewhere.example.net."]
soa = { mname = "ns1.plain.test.", rname = "hostmaster.plain.test.", serial = 9, minimum = 60 }

[[records]]
name = "@"
MX = ["10 mail"]
CAA = ['0 issue "ca.example.net"']

[[records]]
name = "ns1"
A = ["192.0.2.1"]

[[records]]
name = "mail"
A = ["192.0.2.25"]
AAAA = ["2001:db8::25"]

[[records]]
name = "Mixed.Case"
A = ["192.0.2.26"]
TXT = ["hello"]

[[records]]
name = "_sip._tcp"
SRV = ["10 60 5060 mail"]

[[records]]
name = "ptr"
PTR = ["mail"]

[[records]]
name = "alias"
CNAME = "mail.plain.test."

[[records]]
name = "toapi"
CNAME = "api"

[[records]]
name = "big"
TXT = [BIG]

[pools.east]
region = "us-east"
addresses = ["203.0.113.10", "2001:db8::10"]

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]

[[policies]]
name = "api"
policy = "failover"
pools = ["east", "west"]

[[policies]]
name = "v4only.deep"
policy = "failover"
pools = ["west"]
"#;

    fn table() -> crate::routing::RoutingTable {
        let big: Vec<String> = (0..12)
            .map(|i| format!("\"{i:02}-{}\"", "x".repeat(60)))
            .collect();
        let plain = PLAIN.replace("BIG", &big.join(", "));
        let zones = ZoneSet {
            zones: vec![
                Arc::new(crate::config::parse_zone(Path::new("w.toml"), WILD).unwrap()),
                Arc::new(crate::config::parse_zone(Path::new("p.toml"), &plain).unwrap()),
            ],
        };
        crate::routing::build(&zones, &HealthSnapshot::default(), 1)
    }

    #[derive(Clone, Copy)]
    enum Opt {
        None,
        Plain(u16),
        Do,
        Ecs(&'static str, u8),
    }

    fn packet(name: &str, t: RecordType, opt: Opt, rd: bool, cd: bool) -> Vec<u8> {
        let mut m = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
        m.add_query(HQuery::query(Name::from_ascii(name).unwrap(), t));
        m.metadata.recursion_desired = rd;
        m.metadata.checking_disabled = cd;
        let edns = |size: u16| {
            let mut e = Edns::new();
            e.set_max_payload(size);
            e
        };
        match opt {
            Opt::None => {}
            Opt::Plain(size) => {
                m.set_edns(edns(size));
            }
            Opt::Do => {
                let mut e = edns(4096);
                e.set_dnssec_ok(true);
                m.set_edns(e);
            }
            Opt::Ecs(addr, prefix) => {
                let mut e = edns(1232);
                e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
                    addr.parse().unwrap(),
                    prefix,
                    0,
                )));
                m.set_edns(e);
            }
        }
        m.to_vec().unwrap()
    }

    /// The fast path's reply and which path gave it; the general path's reply.
    type Both = (Option<(Answered, Vec<u8>)>, Option<Vec<u8>>);

    fn both(t: &crate::routing::RoutingTable, p: &[u8]) -> Both {
        let src: SocketAddr = "192.0.2.200:5300".parse().unwrap();
        let mut a = Vec::new();
        let mut b = Vec::new();
        let fast = handle(t, p, src, &mut a, true).map(|path| (path, a));
        let general = handle(t, p, src, &mut b, false).map(|path| {
            assert_eq!(path, Answered::General);
            b
        });
        (fast, general)
    }

    #[test]
    fn fast_and_general_paths_give_the_same_bytes() {
        let t = table();
        let names = [
            "host.example.test.",
            "HOST.example.test.",
            "ns1.example.test.",
            "example.test.",
            "www.example.test.",
            "foo.wild.example.test.",
            "a.b.wild.example.test.",
            "FOO.Wild.example.test.",
            "x.cn.example.test.",
            "towild.example.test.",
            "away.example.test.",
            "toapi.plain.test.",
            "*.wild.example.test.",
            "wild.example.test.",
            "child.example.test.",
            "x.child.example.test.",
            "ns.child.example.test.",
            "nope.example.test.",
            "plain.test.",
            "PLAIN.test.",
            "ns1.plain.test.",
            "x.ns1.plain.test.",
            "hostmaster.plain.test.",
            "mail.plain.test.",
            "MaIl.PlAiN.TeSt.",
            "mixed.case.plain.test.",
            "Mixed.Case.plain.test.",
            "case.plain.test.",
            "_sip._tcp.plain.test.",
            "ptr.plain.test.",
            "alias.plain.test.",
            "big.plain.test.",
            "api.plain.test.",
            "API.plain.test.",
            "v4only.deep.plain.test.",
            "deep.plain.test.",
            "nope.plain.test.",
            "a.b.c.nope.plain.test.",
            "example.net.",
            "test.",
            ".",
        ];
        let types = [
            RecordType::A,
            RecordType::AAAA,
            RecordType::MX,
            RecordType::TXT,
            RecordType::NS,
            RecordType::SOA,
            RecordType::SRV,
            RecordType::PTR,
            RecordType::CAA,
            RecordType::CNAME,
            RecordType::ANY,
            RecordType::DS,
            RecordType::AXFR,
        ];
        let opts = [
            Opt::None,
            Opt::Plain(1232),
            Opt::Plain(512),
            Opt::Plain(100),
            Opt::Do,
            Opt::Ecs("198.51.100.0", 24),
            Opt::Ecs("2001:db8:1::", 56),
            Opt::Ecs("0.0.0.0", 0),
        ];
        let mut fast = 0;
        let mut total = 0;
        for name in names {
            for t_ in types {
                for (i, opt) in opts.iter().enumerate() {
                    let p = packet(name, t_, *opt, i % 2 == 0, i % 3 == 0);
                    let (f, g) = both(&t, &p);
                    let g = g.expect("the general path answers every query here");
                    let (path, f) = f.unwrap();
                    total += 1;
                    if path == Answered::Fast {
                        fast += 1;
                    }
                    assert_eq!(
                        f,
                        g,
                        "{name} {t_} {path:?}\nfast:    {:?}\ngeneral: {:?}",
                        Message::from_vec(&f),
                        Message::from_vec(&g)
                    );
                }
            }
        }
        // Many of these are for the fast path (the rest are wildcards, referrals, chains,
        // mixed case, ANY and AXFR); if it stepped aside for all of them the comparison
        // above would prove nothing.
        assert!(fast * 5 > total * 2, "fast path took {fast} of {total}");
    }

    #[test]
    fn prepared_answers_are_taken_where_expected() {
        let t = table();
        let fast = |name: &str, ty: RecordType, opt: Opt| {
            matches!(
                both(&t, &packet(name, ty, opt, true, false)).0,
                Some((Answered::Fast, _))
            )
        };
        assert!(fast("host.example.test.", RecordType::A, Opt::None));
        assert!(
            fast("HOST.example.test.", RecordType::A, Opt::None),
            "case-free A"
        );
        assert!(fast(
            "api.plain.test.",
            RecordType::A,
            Opt::Ecs("198.51.100.0", 24)
        ));
        assert!(
            fast("api.plain.test.", RecordType::MX, Opt::None),
            "policy NODATA"
        );
        assert!(fast("nope.plain.test.", RecordType::A, Opt::Do), "NXDOMAIN");
        assert!(fast("example.net.", RecordType::A, Opt::None), "REFUSED");
        assert!(
            fast("mail.plain.test.", RecordType::TXT, Opt::None),
            "NODATA"
        );
        assert!(
            fast("www.example.test.", RecordType::A, Opt::None),
            "CNAME chain to static data"
        );
        assert!(
            fast("towild.example.test.", RecordType::A, Opt::None),
            "CNAME chain to a wildcard"
        );
        assert!(
            fast("foo.wild.example.test.", RecordType::A, Opt::None),
            "wildcard address"
        );
        assert!(
            fast("FOO.Wild.example.test.", RecordType::A, Opt::None),
            "wildcard address, mixed case"
        );
        assert!(
            fast("a.b.wild.example.test.", RecordType::MX, Opt::None),
            "wildcard NODATA"
        );
        assert!(
            fast("nope.example.test.", RecordType::A, Opt::None),
            "NXDOMAIN in a zone with wildcards and a delegation"
        );
        // Left to the general path:
        assert!(
            !fast("toapi.plain.test.", RecordType::A, Opt::None),
            "CNAME chain to a policy name"
        );
        assert!(
            !fast("x.cn.example.test.", RecordType::A, Opt::None),
            "wildcard CNAME"
        );
        assert!(
            !fast("x.child.example.test.", RecordType::A, Opt::None),
            "referral"
        );
        assert!(
            !fast("big.plain.test.", RecordType::TXT, Opt::None),
            "truncated"
        );
        assert!(
            !fast("NOPE.plain.test.", RecordType::A, Opt::None),
            "negative, mixed case"
        );
        assert!(
            !fast("x.ns1.plain.test.", RecordType::A, Opt::None),
            "shares MNAME's suffix"
        );
        assert!(!fast("host.example.test.", RecordType::ANY, Opt::None));
    }

    #[test]
    fn unusual_packets_go_to_the_general_path() {
        let base = packet("host.example.test.", RecordType::A, Opt::None, false, false);
        assert!(parse(&base).is_some());
        let mut trailing = base.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_none());
        let mut response = base.clone();
        response[2] |= 0x80;
        assert!(parse(&response).is_none());
        let mut notify = base.clone();
        notify[2] |= 4 << 3;
        assert!(parse(&notify).is_none());
        let mut two = base.clone();
        two[5] = 2;
        assert!(parse(&two).is_none());
        let mut chaos = base.clone();
        let n = chaos.len();
        chaos[n - 1] = 3;
        assert!(parse(&chaos).is_none());
        assert!(parse(&base[..14]).is_none());
        // A compression pointer in the question.
        let mut ptr = base[..12].to_vec();
        ptr.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]);
        assert!(parse(&ptr).is_none());
        // EDNS version 1, and a Client Subnet whose length disagrees with its prefix.
        let mut v1 = packet(
            "host.example.test.",
            RecordType::A,
            Opt::Plain(1232),
            false,
            false,
        );
        let opt_at = base.len();
        v1[opt_at + 6] = 1;
        assert!(parse(&v1).is_none());
        let mut ecs = packet(
            "host.example.test.",
            RecordType::A,
            Opt::Ecs("198.51.100.0", 24),
            false,
            false,
        );
        let n = ecs.len();
        ecs[n - 4 - 2] = 32; // source prefix 32 with three address octets
        assert!(parse(&ecs).is_none());
        // Unknown options are skipped, as the general path drops them too.
        let cookie = {
            let mut m = Message::from_vec(&packet(
                "host.example.test.",
                RecordType::A,
                Opt::Plain(1232),
                false,
                false,
            ))
            .unwrap();
            m.edns
                .as_mut()
                .unwrap()
                .options_mut()
                .insert(EdnsOption::Unknown(10, vec![1; 8]));
            m.to_vec().unwrap()
        };
        let q = parse(&cookie).expect("a cookie is fine");
        assert!(q.edns.unwrap().ecs.is_none());
        let t = table();
        let (f, g) = both(&t, &cookie);
        let (path, f) = f.unwrap();
        assert_eq!(path, Answered::Fast);
        assert_eq!(f, g.unwrap());
    }
}
