//! Latency routing end to end: two backends answer their health checks with different
//! delays; the server's probes measure them (smoothed), the lower-RTT pool wins; a change
//! smaller than the hysteresis margin keeps the answer, a larger one moves it.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::{wait_for, Layout, Server};
use switchyard::demo::backend::{Backend, Mode};

const A: &str = "127.0.0.81";
const B: &str = "127.0.0.82";
const INTERVAL_MS: u64 = 300;
const HYSTERESIS_MS: u64 = 40;

fn zone(port_a: u16, port_b: u16) -> String {
    let check = |name: &str, port: u16| {
        format!(
            "[checks.{name}]\nkind = \"http\"\nport = {port}\ninterval = \"{INTERVAL_MS}ms\"\ntimeout = \"{INTERVAL_MS}ms\"\nfall = 3\nrise = 1\n"
        )
    };
    format!(
        r#"[zone]
origin = "l.test."
nameservers = ["ns1.l.test."]
soa = {{ mname = "ns1.l.test.", rname = "hostmaster.l.test." }}

{}
{}
[pools.a]
region = "local"
addresses = ["{A}"]
check = "a"

[pools.b]
region = "local"
addresses = ["{B}"]
check = "b"

# b first: before anything is measured the first listed pool answers.
[[policies]]
name = "api"
policy = "latency"
pools = ["b", "a"]
hysteresis = "{HYSTERESIS_MS}ms"
hysteresis_percent = 0
"#,
        check("a", port_a),
        check("b", port_b)
    )
}

fn answer(s: &Server) -> Option<String> {
    let a = s.dig("api.l.test A").rdata("A");
    (a.len() == 1).then(|| a[0].clone())
}

/// The latest RTT (ms) of `pool` the server's latency table logged.
fn logged_rtt(s: &Server, pool: &str) -> Option<f64> {
    let log = s.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("latency table updated") || l.contains("latency choice changed"))?;
    let key = format!("\"{pool}=");
    let at = line.find(&key)? + key.len();
    line[at..].split("ms").next()?.parse().ok()
}

#[test]
fn lowest_rtt_wins_and_only_a_change_beyond_the_hysteresis_moves_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async {
        let a = Backend::start(SocketAddr::new(A.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        let b = Backend::start(SocketAddr::new(B.parse::<IpAddr>().unwrap(), 0))
            .await
            .unwrap();
        a.set_mode(Mode::Slow(Duration::from_millis(10)))
            .await
            .unwrap();
        b.set_mode(Mode::Slow(Duration::from_millis(60)))
            .await
            .unwrap();
        (a, b)
    });
    let l = Layout::new();
    std::fs::write(
        l.config(),
        "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nregion = \"local\"\nlog = \"info,switchyard::policy::latency=debug\"\n",
    )
    .unwrap();
    l.zone("l.test.toml", &zone(a.addr().port(), b.addr().port()));
    let s = l.serve();

    // Measured: a ~10 ms, b ~60 ms. a wins although b is listed first.
    wait_for(Duration::from_secs(10), "the lower-RTT pool a", || {
        (answer(&s).as_deref() == Some(A)).then_some(())
    });

    // a slows to 75 ms: b (60 ms) is now better, but by less than the 40 ms margin.
    rt.block_on(a.set_mode(Mode::Slow(Duration::from_millis(75))))
        .unwrap();
    let (rtt, _) = wait_for(
        Duration::from_secs(15),
        "a's RTT to be measured near 75 ms",
        || logged_rtt(&s, "a").filter(|ms| *ms >= 68.0),
    );
    let b_rtt = logged_rtt(&s, "b").unwrap_or(f64::NAN);
    println!("a measured at {rtt:.1} ms, b at {b_rtt:.1} ms: within the {HYSTERESIS_MS} ms margin");
    assert!(
        rtt > b_rtt,
        "b should now be the faster one: a {rtt}, b {b_rtt}"
    );
    assert_eq!(
        answer(&s).as_deref(),
        Some(A),
        "moved within the hysteresis margin"
    );

    // a slows to 160 ms: b is better by ~100 ms, beyond the margin. The answer moves.
    rt.block_on(a.set_mode(Mode::Slow(Duration::from_millis(160))))
        .unwrap();
    let (_, took) = wait_for(Duration::from_secs(15), "the answer to move to b", || {
        (answer(&s).as_deref() == Some(B)).then_some(())
    });
    println!("moved to b {took:?} after a slowed to 160 ms (probe interval {INTERVAL_MS} ms)");
    wait_for(
        Duration::from_secs(5),
        "the latency-change log line",
        || s.log().contains("latency choice changed").then_some(()),
    );

    // And back when a is fast again.
    rt.block_on(a.set_mode(Mode::Slow(Duration::from_millis(5))))
        .unwrap();
    wait_for(Duration::from_secs(15), "the answer to return to a", || {
        (answer(&s).as_deref() == Some(A)).then_some(())
    });
}
