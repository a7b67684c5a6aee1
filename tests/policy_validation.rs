//! Bad routing policies are rejected with file:line:column: unknown country codes,
//! composition cycles, all-zero weights, geoproximity pools without coordinates, and
//! the other mistakes that would answer wrongly. `check` fails and `serve` won't start.
//! Each case marks the line the error must point at with `# <-`.

mod common;

use std::process::Command;

use common::{Layout, BIN};

const BASE: &str = r#"[zone]
origin = "v.test."
nameservers = ["ns1.v.test."]
soa = { mname = "ns1.v.test.", rname = "hostmaster.v.test." }

[pools.east]
region = "us-east"
location = { lat = 39.0, lon = -77.5 }
addresses = ["192.0.2.10"]

[pools.west]
region = "eu-west"
addresses = ["198.51.100.10"]
"#;

fn cases() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "unknown country code",
            "[[policies]]\nname = \"geo\"\npolicy = \"geolocation\"\ncountries = { XX = \"east\" } # <-\ndefault = \"west\"\n",
            "unknown country code \"XX\"",
        ),
        (
            "unknown continent code",
            "[[policies]]\nname = \"geo\"\npolicy = \"geolocation\"\ncontinents = { EUR = \"east\" } # <-\ndefault = \"west\"\n",
            "unknown continent code \"EUR\"",
        ),
        (
            "cycle through two policies",
            "[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"b\", \"east\"]\n\n[[policies]]\nname = \"b\"\npolicy = \"weighted\"\nweights = { a = 1, west = 1 } # <-\n",
            "policy cycle a -> b -> a",
        ),
        (
            "a policy containing itself",
            "[[policies]]\nname = \"a\"\npolicy = \"failover\"\npools = [\"east\", \"a\"] # <-\n",
            "policy cycle a -> a",
        ),
        (
            "weights all zero",
            "[[policies]]\nname = \"w\"\npolicy = \"weighted\"\nweights = { east = 0, west = 0 } # <-\n",
            "weights are all zero",
        ),
        (
            "negative weight",
            "[[policies]]\nname = \"w\"\npolicy = \"weighted\"\nweights = { east = -1, west = 3 } # <-\n",
            "weight -1 out of range",
        ),
        (
            "geoproximity pool without coordinates",
            "[[policies]]\nname = \"p\"\npolicy = \"geoproximity\"\npools = [\"east\", \"west\"] # <-\n",
            "pool west has no location",
        ),
        (
            "bias out of range",
            "[[policies]]\nname = \"p\"\npolicy = \"geoproximity\"\npools = [\"east\"]\nbias = { east = 120 } # <-\n",
            "bias 120 out of range -99..=99",
        ),
        (
            "geolocation without a default",
            "[[policies]]\nname = \"geo\"\npolicy = \"geolocation\" # <-\ncountries = { FR = \"east\" }\n",
            "needs `default`",
        ),
        (
            "a field of another policy kind",
            "[[policies]]\nname = \"f\"\npolicy = \"failover\"\npools = [\"east\"]\nweights = { east = 1 } # <-\n",
            "`weights` applies to weighted policies, not failover",
        ),
        (
            "a policy as a latency member",
            "[[policies]]\nname = \"f\"\npolicy = \"failover\"\npools = [\"east\"]\n\n[[policies]]\nname = \"l\"\npolicy = \"latency\"\npools = [\"f\"] # <-\n",
            "\"f\" is a policy, but latency members must be pools",
        ),
        (
            "latency pool with neither check nor static RTT",
            "[[policies]]\nname = \"l\"\npolicy = \"latency\"\npools = [\"east\"] # <-\n",
            "its latency could never be known",
        ),
        (
            "unknown member",
            "[[policies]]\nname = \"geo\"\npolicy = \"geolocation\"\ndefault = \"nowhere\" # <-\n",
            "names pool \"nowhere\", which is not defined",
        ),
        (
            "bad override network",
            "[[geo_overrides]]\nnetwork = \"192.0.2.0/40\" # <-\ncountry = \"FR\"\n",
            "prefix length 40 is longer than 32 bits",
        ),
        (
            "pool location out of range",
            "[pools.south]\nregion = \"x\"\naddresses = [\"192.0.2.99\"]\nlocation = { lat = -91.0, lon = 0.0 } # <-\n",
            "out of range",
        ),
    ]
}

#[test]
fn each_bad_policy_is_rejected_at_its_line() {
    for (what, body, words) in cases() {
        let text = format!("{BASE}\n{body}");
        let line = text
            .lines()
            .position(|l| l.ends_with("# <-"))
            .expect("case marks its line")
            + 1;
        let l = Layout::new();
        let file = l.zone("v.test.toml", &text);
        common::assert_rejected(&l, &file, line, words, what);
    }
}

#[test]
fn check_summarizes_every_policy_kind() {
    let body = r#"
[[policies]]
name = "chain"
policy = "failover"
pools = ["east", "west"]

[[policies]]
name = "geo"
policy = "geolocation"
countries = { fr = "west" }
continents = { NA = "east" }
default = "chain"

[[policies]]
name = "w"
policy = "weighted"
weights = { east = 3, chain = 1 }
sticky = true

[[policies]]
name = "m"
policy = "multivalue"
pools = ["east", "west"]
max_answers = 4

[[policies]]
name = "near"
policy = "geoproximity"
pools = ["east"]

[[policies]]
name = "fast"
policy = "latency"
pools = ["east", "west"]
static_rtt_ms = { us-east = { east = 5, west = 80 } }

[[geo_overrides]]
network = "10.0.0.0/8"
country = "DE"
"#;
    let l = Layout::new();
    let file = l.zone("v.test.toml", &format!("{BASE}{body}"));
    let out = Command::new(BIN).arg("check").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "failover east > west",
        "geolocation FR->west, NA->east, default->policy chain",
        "weighted (sticky per client subnet) policy chain=1, east=3",
        "geo override 10.0.0.0/8: DE EU",
        "multivalue east, west (up to 4 addresses)",
        "geoproximity east@(39.00,-77.50) bias 0 (no coordinates: east)",
        "latency east, west (hysteresis max(5ms, 10%), static rows: 1)",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
}
