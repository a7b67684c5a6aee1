//! Health inside every policy: three pools with real HTTP backends; when one goes down,
//! every policy's answer leaves it (geolocation falling back to its continent or default,
//! geoproximity to the next nearest, latency to the next lowest RTT, weighted to the other
//! weights, multivalue dropping the address, a composed chain failing over inside), and
//! comes back when it recovers.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::{wait_for, Layout, Server};
use switchyard::demo::backend::{Backend, BackendHandle, Mode};

const GEOIP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/geoip/test.mmdb");
const P1: &str = "127.0.0.71";
const P2: &str = "127.0.0.72";
const P3: &str = "127.0.0.73";
/// A client in France (geoip/test.mmdb).
const FRANCE: &str = "198.51.100.0/26";

fn zone(ports: [u16; 3]) -> String {
    let mut z = String::from(
        r#"[zone]
origin = "h.test."
nameservers = ["ns1.h.test."]
soa = { mname = "ns1.h.test.", rname = "hostmaster.h.test." }
"#,
    );
    let places = [(48.86, 2.35), (35.68, 139.69), (40.71, -74.0)];
    for (i, ((port, addr), (lat, lon))) in ports.iter().zip([P1, P2, P3]).zip(places).enumerate() {
        let n = i + 1;
        z.push_str(&format!(
            r#"
[checks.c{n}]
kind = "http"
port = {port}
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1

[pools.p{n}]
region = "r{n}"
location = {{ lat = {lat}, lon = {lon} }}
addresses = ["{addr}"]
check = "c{n}"
"#
        ));
    }
    z.push_str(
        r#"
[[policies]]
name = "geo"
policy = "geolocation"
countries = { FR = "p1" }
continents = { EU = "p2" }
default = "p3"

[[policies]]
name = "prox"
policy = "geoproximity"
pools = ["p1", "p2", "p3"]

[[policies]]
name = "lat"
policy = "latency"
pools = ["p1", "p2", "p3"]
static_rtt_ms = { r1 = { p1 = 5, p2 = 50, p3 = 100 } }

[[policies]]
name = "weighted"
policy = "weighted"
weights = { p1 = 1, p2 = 1 }

[[policies]]
name = "multi"
policy = "multivalue"
pools = ["p1", "p2", "p3"]

[[policies]]
name = "chain"
policy = "failover"
pools = ["p1", "p2"]

[[policies]]
name = "composed"
policy = "geolocation"
continents = { EU = "chain" }
default = "p3"
"#,
    );
    z
}

fn answers(s: &Server, name: &str) -> Vec<String> {
    s.dig(&format!("{name}.h.test A +subnet={FRANCE}"))
        .rdata("A")
}

/// Every name's answer set, several queries each so random policies show all they serve.
fn all(s: &Server) -> Vec<(&'static str, Vec<String>)> {
    ["geo", "prox", "lat", "weighted", "multi", "composed"]
        .into_iter()
        .map(|name| {
            let mut seen: Vec<String> = (0..if name == "weighted" { 12 } else { 1 })
                .flat_map(|_| answers(s, name))
                .collect();
            seen.sort();
            seen.dedup();
            (name, seen)
        })
        .collect()
}

fn v(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_policy_leaves_a_pool_that_goes_down_and_returns_to_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let backends: Vec<BackendHandle> = rt.block_on(async {
        let mut v = Vec::new();
        for a in [P1, P2, P3] {
            v.push(
                Backend::start(SocketAddr::new(a.parse::<IpAddr>().unwrap(), 0))
                    .await
                    .unwrap(),
            );
        }
        v
    });
    let ports = [0, 1, 2].map(|i| backends[i].addr().port());
    let l = Layout::new();
    std::fs::write(
        l.config(),
        format!("[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nregion = \"local\"\ngeoip = \"{GEOIP}\"\n"),
    )
    .unwrap();
    l.zone("h.test.toml", &zone(ports));
    let s = l.serve();

    let healthy = vec![
        ("geo", v(&[P1])),
        ("prox", v(&[P1])),
        ("lat", v(&[P1])),
        ("weighted", v(&[P1, P2])),
        ("multi", v(&[P1, P2, P3])),
        ("composed", v(&[P1])),
    ];
    wait_for(Duration::from_secs(15), "every pool up", || {
        (all(&s) == healthy).then_some(())
    });

    rt.block_on(backends[0].set_mode(Mode::Status(503)))
        .unwrap();
    let without_p1 = vec![
        // France's rule is down: the EU continent rule.
        ("geo", v(&[P2])),
        // Next nearest to Paris: New York (~5800 km) before Tokyo (~9700 km).
        ("prox", v(&[P3])),
        // France is nearest region r1 (located by its pool p1), which has only the static
        // table: the next lowest RTT there.
        ("lat", v(&[P2])),
        ("weighted", v(&[P2])),
        ("multi", v(&[P2, P3])),
        ("composed", v(&[P2])),
    ];
    let (got, took) = wait_for(Duration::from_secs(15), "every answer to leave p1", || {
        let got = all(&s);
        (got == without_p1).then_some(got)
    });
    println!("every policy left p1 within {took:?}: {got:?}");

    rt.block_on(backends[0].set_mode(Mode::Healthy)).unwrap();
    wait_for(Duration::from_secs(15), "p1 back everywhere", || {
        (all(&s) == healthy).then_some(())
    });
}
