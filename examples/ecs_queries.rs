//! Writes a dnsperf `-B` data file: DNS queries in TCP-stream framing (2-byte length,
//! then the packet), each carrying its own EDNS Client Subnet, so one dnsperf run sends
//! queries from a spread of client subnets (dnsperf's `-E` would put one fixed option on
//! every query). Used by benches/dnsperf-policies.sh.
//!
//! `cargo run --release --example ecs_queries -- OUT NAME [COUNT]`
//!
//! The spread, in equal parts and reproducible (fixed LCG seed): IPv4 subnets inside the
//! documentation networks geoip/test.mmdb locates (/24 to /28), IPv4 /24s elsewhere (not
//! in the database), IPv6 /56s inside 2001:db8:1..6::/48 (located), and other IPv6 /56s.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsOption};
use hickory_proto::rr::{Name, RecordType};

/// Numerical Recipes' LCG: good enough to spread subnets, and the same every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

fn subnet(i: usize, rng: &mut Lcg) -> (IpAddr, u8) {
    let r = rng.next();
    match i % 4 {
        0 => {
            let nets = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];
            let n = nets[r as usize % 3];
            let prefix = 24 + (r >> 8) as u8 % 5;
            (IpAddr::from([n[0], n[1], n[2], (r >> 16) as u8]), prefix)
        }
        1 => (
            IpAddr::V4(Ipv4Addr::from(r & 0xdfff_ff00 | 0x0100_0000)),
            24,
        ),
        2 => {
            let seg = 1 + (r % 6) as u16;
            (
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    seg,
                    (r >> 8) as u16 & 0xff00,
                    0,
                    0,
                    0,
                    0,
                )),
                56,
            )
        }
        _ => (
            IpAddr::V6(Ipv6Addr::new(
                0x2a00 | (r >> 24) as u16,
                r as u16,
                (r >> 8) as u16 & 0xff00,
                0,
                0,
                0,
                0,
                0,
            )),
            56,
        ),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(out), Some(name)) = (args.next(), args.next()) else {
        return Err("usage: ecs_queries OUT NAME [COUNT]".into());
    };
    let count: usize = args.next().map_or(Ok(1000), |c| c.parse())?;
    let name = Name::from_str(&name)?;
    let mut rng = Lcg(0x5EED);
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
    for i in 0..count {
        let (addr, prefix) = subnet(i, &mut rng);
        // RFC 7871 §6: address bits past the source prefix must be zero.
        let addr = switchyard::geo::mask(addr, prefix);
        let mut m = Message::new(0, MessageType::Query, OpCode::Query);
        m.add_query(Query::query(name.clone(), RecordType::A));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(addr, prefix, 0)));
        m.set_edns(edns);
        let bytes = m.to_vec()?;
        file.write_all(&(bytes.len() as u16).to_be_bytes())?;
        file.write_all(&bytes)?;
    }
    file.flush()?;
    println!("wrote {count} queries for {name} to {out}");
    Ok(())
}
