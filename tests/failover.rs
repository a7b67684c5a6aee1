//! Failover end to end: the real binary probes two real local HTTP backends; the
//! primary answers 503, then hangs (timeouts), then refuses connections. Each time dig
//! moves to the secondary once `fall` failures have been seen, and back after `rise`
//! successes. Prints the measured times against interval × fall.

mod common;

use std::time::Duration;

use common::{wait_for, Layout, Server, ZONE_HEAD};
use switchyard::demo::backend::Mode;

const INTERVAL_MS: u64 = 300;
const TIMEOUT_MS: u64 = 200;
const FALL: u64 = 3;
const RISE: u64 = 2;

const PRIMARY: &str = "127.0.0.21";
const SECONDARY: &str = "127.0.0.22";

fn zone(port: u16) -> String {
    format!(
        r#"{ZONE_HEAD}
[checks.web]
kind = "http"
port = {port}
path = "/health"
interval = "{INTERVAL_MS}ms"
timeout = "{TIMEOUT_MS}ms"
fall = {FALL}
rise = {RISE}

[pools.primary]
region = "us-east"
addresses = ["{PRIMARY}"]
check = "web"

[pools.secondary]
region = "eu-west"
addresses = ["{SECONDARY}"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
ttl = 5
pools = ["primary", "secondary"]
"#
    )
}

fn answer(s: &Server) -> Option<String> {
    let r = s.dig("api.example.test A");
    let a = r.rdata("A");
    (a.len() == 1).then(|| a[0].clone())
}

fn await_answer(s: &Server, want: &str, what: &str) -> Duration {
    // Generous deadline: the bound that matters is printed and checked below.
    wait_for(Duration::from_secs(15), what, || {
        (answer(s).as_deref() == Some(want)).then_some(())
    })
    .1
}

#[test]
fn dig_follows_the_primary_through_503_timeouts_and_refused_connections() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (primary, _secondary) = rt.block_on(common::backends_on_one_port(PRIMARY, SECONDARY));
    let l = Layout::new();
    l.zone("example.test.toml", &zone(primary.addr().port()));
    let s = l.serve();

    await_answer(&s, PRIMARY, "the primary to be up at start");
    let threshold = Duration::from_millis(INTERVAL_MS * FALL);
    let recovery = Duration::from_millis(INTERVAL_MS * RISE);

    for (mode, extra) in [
        (Mode::Status(503), Duration::ZERO),
        (Mode::Hang, Duration::from_millis(TIMEOUT_MS)),
        (Mode::Refuse, Duration::ZERO),
    ] {
        let label = mode.to_string();
        rt.block_on(primary.set_mode(mode)).unwrap();
        let took = await_answer(&s, SECONDARY, &format!("failover on {label}"));
        println!(
            "failover on {label:<10}: {:>5} ms  (interval x fall = {} ms, + timeout {} ms)",
            took.as_millis(),
            threshold.as_millis(),
            extra.as_millis()
        );
        // It must not move before `fall` failures could have been seen: the first
        // failing probe comes at most one interval (+10% jitter) after the change,
        // and `fall - 1` more intervals (-10% jitter) follow it.
        let earliest = Duration::from_millis(INTERVAL_MS * (FALL - 1) * 9 / 10);
        assert!(
            took >= earliest,
            "{label}: moved after {took:?}, before {FALL} failures were possible"
        );
        // One policy answer per query: stays on the secondary.
        assert_eq!(answer(&s).as_deref(), Some(SECONDARY));

        rt.block_on(primary.set_mode(Mode::Healthy)).unwrap();
        let back = await_answer(&s, PRIMARY, &format!("recovery from {label}"));
        println!(
            "recovery   {label:<10}: {:>5} ms  (interval x rise = {} ms)",
            back.as_millis(),
            recovery.as_millis()
        );
        let earliest = Duration::from_millis(INTERVAL_MS * (RISE - 1) * 9 / 10);
        assert!(
            back >= earliest,
            "{label}: came back after {back:?}, before {RISE} successes"
        );
    }

    // Every transition left one structured line naming pool, region and states.
    let log = s.log();
    assert!(
        log.contains("pool state")
            && log.contains("pool=primary")
            && log.contains("region=us-east")
            && log.contains("transition=up -> down"),
        "{log}"
    );
    assert!(
        log.contains("health target down") && log.contains("address=127.0.0.21"),
        "{log}"
    );
    assert!(
        log.contains("answer changed") && log.contains("to=pool secondary"),
        "{log}"
    );
}

#[test]
fn all_pools_down_serves_every_address_and_says_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (primary, secondary) = rt.block_on(common::backends_on_one_port(PRIMARY, SECONDARY));
    let l = Layout::new();
    l.zone("example.test.toml", &zone(primary.addr().port()));
    let s = l.serve();
    await_answer(&s, PRIMARY, "the primary to be up at start");
    rt.block_on(primary.set_mode(Mode::Status(500))).unwrap();
    rt.block_on(secondary.set_mode(Mode::Status(500))).unwrap();
    wait_for(
        Duration::from_secs(15),
        "both addresses in the answer",
        || {
            (s.dig("api.example.test A").rdata("A")
                == vec![PRIMARY.to_string(), SECONDARY.to_string()])
            .then_some(())
        },
    );
    wait_for(Duration::from_secs(5), "the all-down log line", || {
        s.log().contains("ALL POOLS DOWN").then_some(())
    });
}
