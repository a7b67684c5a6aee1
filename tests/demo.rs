//! `switchyard demo` as a newcomer runs it: the binary on its defaults (zones/, DNS on
//! 127.0.0.1:5353, backends on 127.0.0.11/12), driven by the commands the README's
//! "What the demo shows" section prints, run as printed through `sh`. The README's
//! commands are read from the README itself, so the test breaks when they change.
//! Also: every file under zones/ passes `switchyard check`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{prerequisite, tool_missing, wait_for, BIN};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The demo process, killed on drop even when the test fails.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `dig`/`curl` lines of the README's demo section, comments stripped.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let start = readme
        .find("### What the demo shows")
        .expect("README has a demo section");
    let end = start
        + readme[start..]
            .find("\n## ")
            .expect("a section after the demo");
    readme[start..end]
        .lines()
        .filter(|l| l.starts_with("dig ") || l.starts_with("curl "))
        .map(|l| l.split(" #").next().unwrap().trim().to_string())
        .collect()
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `cmd` (a README `+short` dig) until its output is exactly `want`.
fn until_short(cmd: &str, want: &str) {
    wait_for(Duration::from_secs(20), cmd, || {
        (sh(cmd).trim() == want).then_some(())
    });
}

/// Run `cmd` (a README dig) until its output contains every one of `want`.
fn until(cmd: &str, want: &[&str]) {
    wait_for(Duration::from_secs(20), cmd, || {
        let out = sh(cmd);
        want.iter().all(|w| out.contains(w)).then_some(())
    });
}

#[test]
fn the_readme_demo_runs_as_printed() {
    let test = "the_readme_demo_runs_as_printed";
    for (tool, install) in [
        ("dig", "apt-get install -y bind9-dnsutils"),
        ("curl", "apt-get install -y curl"),
    ] {
        if !prerequisite(test, tool_missing(tool, install)) {
            return;
        }
    }
    let cmds = readme_commands();
    let at = |i: usize| cmds[i].as_str();
    // The README's order; a change there must be looked at here.
    let expected = [
        "dig @127.0.0.1 -p 5353 api.example.com +short",
        "curl -X POST 127.0.0.11:9000/fail",
        "dig @127.0.0.1 -p 5353 api.example.com +short",
        "curl -X POST 127.0.0.11:9000/recover",
        "dig @127.0.0.1 -p 5353 api.example.com +short",
        "curl -X POST 127.0.0.11:9000/hang",
        "curl -X POST 127.0.0.11:9000/refuse",
        "dig @127.0.0.1 -p 5353 geo.example.com +subnet=198.51.100.0/24",
        "dig @127.0.0.1 -p 5353 geo.example.com +subnet=192.0.2.0/26",
        "curl -X POST 127.0.0.12:9000/fail",
        "dig @127.0.0.1 -p 5353 geo.example.com +subnet=198.51.100.0/24",
    ];
    assert_eq!(cmds, expected, "the README's demo commands changed");

    // `cargo run -- demo` from the repository: the defaults, nothing passed.
    let mut child = Command::new(BIN)
        .arg("demo")
        .current_dir(ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn switchyard demo");
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let banner = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the demo did not start (ports 5353, 8053, 8080, 9000 busy?)");
    assert!(
        banner.starts_with("Switchyard demo: DNS on 127.0.0.1:5353"),
        "{banner}"
    );

    // Failover: the primary (once the first probes are in: until then both addresses
    // are served), fail it, the secondary, recover, the primary.
    until_short(at(0), "127.0.0.11");
    sh(at(1));
    until_short(at(2), "127.0.0.12");
    sh(at(3));
    until_short(at(4), "127.0.0.11");

    // A backend that hangs, then one that refuses: both are failures.
    sh(at(5));
    until_short(at(0), "127.0.0.12");
    sh(at(3));
    until_short(at(0), "127.0.0.11");
    sh(at(6));
    until_short(at(0), "127.0.0.12");
    sh(at(3));
    until_short(at(0), "127.0.0.11");

    // Geo: France gets eu-west with scope /25, the USA the api policy's primary; with
    // eu-west failed, French clients fail over to us-east.
    until(
        at(7),
        &["IN\tA\t127.0.0.12", "CLIENT-SUBNET: 198.51.100.0/24/25"],
    );
    until(at(8), &["IN\tA\t127.0.0.11"]);
    sh(at(9));
    until(at(10), &["IN\tA\t127.0.0.11"]);
    assert!(!sh(at(10)).contains("127.0.0.12"));
}

#[test]
fn every_file_under_zones_validates() {
    let zones = Path::new(ROOT).join("zones");
    let files: Vec<_> = std::fs::read_dir(&zones)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!files.is_empty(), "zones/ is empty");
    let out = Command::new(BIN).arg("check").arg(&zones).output().unwrap();
    assert!(
        out.status.success(),
        "switchyard check zones/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("zone example.com."), "{stdout}");
    // One by one too, so a file the directory load skipped is seen.
    for f in files {
        let out = Command::new(BIN).arg("check").arg(&f).output().unwrap();
        assert!(
            out.status.success(),
            "switchyard check {}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
