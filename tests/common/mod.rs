//! Shared harness for the end-to-end tests: start the real `switchyard` binary on
//! 127.0.0.1 port 0, learn its port from stdout, query it with `dig`, and wait for
//! conditions with deadlines instead of fixed sleeps.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod cdp;
pub mod tools;

pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// The header most test zones start with: `example.test.`, one nameserver, an SOA with
/// the default timers. A macro so `HOST_ZONE` can be built from it at compile time.
macro_rules! example_zone_head {
    () => {
        r#"[zone]
origin = "example.test."
nameservers = ["ns1.example.test."]
soa = { mname = "ns1.example.test.", rname = "hostmaster.example.test." }
"#
    };
}

/// The zone header alone, for tests that add their own records, checks and pools.
pub const ZONE_HEAD: &str = example_zone_head!();

/// The smallest useful zone: the header and `host.example.test. A 192.0.2.80`.
pub const HOST_ZONE: &str = concat!(
    example_zone_head!(),
    r#"
[[records]]
name = "host"
A = ["192.0.2.80"]
"#
);

pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// The control API's address, when the server file has `[control]`.
    pub control: Option<SocketAddr>,
    pub log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which UDP path answers: prepared replies (the default) or the general one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpPath {
    Fast,
    General,
}

impl UdpPath {
    fn from_general(general: bool) -> Self {
        if general {
            UdpPath::General
        } else {
            UdpPath::Fast
        }
    }
}

/// A temporary directory holding `switchyard.toml` and a `zones/` directory.
pub struct Layout {
    pub dir: tempfile::TempDir,
}

impl Layout {
    /// UDP answers come from the fast path, unless `SWITCHYARD_TEST_UDP_PATH=general`
    /// (scripts/test.sh runs the end-to-end tests both ways).
    pub fn new() -> Self {
        let general = std::env::var("SWITCHYARD_TEST_UDP_PATH").is_ok_and(|v| v == "general");
        Self::with_udp_path(UdpPath::from_general(general))
    }

    pub fn with_udp_path(path: UdpPath) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("zones")).unwrap();
        std::fs::write(
            dir.path().join("switchyard.toml"),
            format!(
                "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 2\nlog = \"info\"\nudp_fast_path = {}\n",
                path == UdpPath::Fast
            ),
        )
        .unwrap();
        Self { dir }
    }

    pub fn zone(&self, file: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join("zones").join(file);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("switchyard.toml")
    }

    /// Start `switchyard serve` and wait until it prints its bound address.
    pub fn serve(self) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(self.config())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn switchyard");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = l2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("listening dns=") {
                    let _ = tx.send((false, a.parse::<SocketAddr>().unwrap()));
                } else if let Some(a) = line.strip_prefix("listening control=") {
                    let _ = tx.send((true, a.parse::<SocketAddr>().unwrap()));
                }
            }
        });
        // The control line, when there is one, comes before the first DNS line.
        let mut control = None;
        let addr = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok((true, a)) => control = Some(a),
                Ok((false, a)) => break a,
                Err(_) => {
                    let _ = child.kill();
                    panic!("switchyard did not start; log:\n{}", log.lock().unwrap());
                }
            }
        };
        Server {
            child,
            addr,
            control,
            log,
            _dir: self.dir,
        }
    }

    /// Run `switchyard serve` expecting it to refuse to start; returns its stderr.
    pub fn serve_fails(&self) -> String {
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(self.config())
            .output()
            .expect("run switchyard");
        assert!(!out.status.success(), "serve should have refused to start");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

impl Server {
    pub fn dig(&self, args: &str) -> Dig {
        dig(self.addr, args)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Send a signal (`"HUP"`, `"TERM"`...) to the server process.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for the process to exit on its own (after a signal), up to `deadline`.
    pub fn wait_exit(&mut self, deadline: Duration) -> std::process::ExitStatus {
        let (status, _) = wait_for(deadline, "the server to exit", || {
            self.child.try_wait().expect("try_wait")
        });
        status
    }
}

/// One dig run, parsed just enough for assertions.
#[derive(Debug, Clone)]
pub struct Dig {
    pub raw: String,
}

impl Dig {
    pub fn status(&self) -> String {
        self.raw
            .split("status: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap_or("NO-REPLY")
            .to_string()
    }
    pub fn flags(&self) -> Vec<String> {
        self.raw
            .lines()
            .find(|l| l.starts_with(";; flags:"))
            .map(|l| {
                l.trim_start_matches(";; flags:")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags().iter().any(|x| x == f)
    }
    /// Records of a section ("ANSWER", "AUTHORITY", "ADDITIONAL") as whitespace-split fields.
    pub fn section(&self, name: &str) -> Vec<Vec<String>> {
        let header = format!(";; {name} SECTION:");
        let mut out = Vec::new();
        let mut inside = false;
        for line in self.raw.lines() {
            if line.starts_with(&header) {
                inside = true;
                continue;
            }
            if inside {
                if line.trim().is_empty() || line.starts_with(";;") {
                    break;
                }
                out.push(line.split_whitespace().map(String::from).collect());
            }
        }
        out
    }
    pub fn answer(&self) -> Vec<Vec<String>> {
        self.section("ANSWER")
    }
    /// The rdata (everything after the type) of each answer record of type `t`.
    pub fn rdata(&self, t: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .answer()
            .iter()
            .filter(|r| r.get(3).map(String::as_str) == Some(t))
            .map(|r| r[4..].join(" "))
            .collect();
        v.sort();
        v
    }
}
/// A zone with one failover policy `api` over pools `primary` (us-east) and `secondary`
/// (eu-west), both checked by one fast HTTP check on `port` (200 ms interval, fall 2,
/// rise 1): what tests that fail a backend and watch the answer, a page or a metric move
/// start from.
pub fn failover_zone(origin: &str, port: u16, primary: &str, secondary: &str) -> String {
    format!(
        r#"[zone]
origin = "{origin}"
nameservers = ["ns1.{origin}"]
soa = {{ mname = "ns1.{origin}", rname = "hostmaster.{origin}" }}

[checks.web]
kind = "http"
port = {port}
path = "/health"
interval = "200ms"
timeout = "150ms"
fall = 2
rise = 1

[pools.primary]
region = "us-east"
addresses = ["{primary}"]
check = "web"

[pools.secondary]
region = "eu-west"
addresses = ["{secondary}"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
ttl = 5
pools = ["primary", "secondary"]
"#
    )
}

pub fn dig(addr: SocketAddr, args: &str) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string()])
        .args(["+time=2", "+tries=1", "+norec"])
        .args(args.split_whitespace())
        .output()
        .expect("dig is required: apt-get install -y bind9-dnsutils (scripts/test.sh does this)");
    Dig {
        raw: String::from_utf8_lossy(&out.stdout).into_owned(),
    }
}

/// Poll `f` until it returns Some or the deadline passes; the returned duration is how
/// long it took.
pub fn wait_for<T>(
    deadline: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return (v, start.elapsed());
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Assert that `file` is rejected with an error at `line` saying `words`, by both
/// `switchyard check` and `switchyard serve` (which must refuse to start).
pub fn assert_rejected(l: &Layout, file: &Path, line: usize, words: &str, what: &str) {
    let out = Command::new(BIN).arg("check").arg(file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: check accepted a bad file");
    let prefix = format!("{}:{line}:", file.display());
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(words)),
        "{what}: expected a line starting {prefix:?} containing {words:?}, got:\n{stderr}"
    );
    let refused = l.serve_fails();
    assert!(refused.contains(&prefix), "{what}: serve said:\n{refused}");
    assert!(refused.contains("refusing to start"), "{what}: {refused}");
}

/// Two demo backends on one port (a check's port) at two loopback addresses.
pub async fn backends_on_one_port(
    first: &str,
    second: &str,
) -> (
    switchyard::demo::backend::BackendHandle,
    switchyard::demo::backend::BackendHandle,
) {
    use switchyard::demo::backend::Backend;
    let a = Backend::start(SocketAddr::new(first.parse().unwrap(), 0))
        .await
        .expect("first backend");
    let b = Backend::start(SocketAddr::new(second.parse().unwrap(), a.addr().port()))
        .await
        .expect("second backend on the same port");
    (a, b)
}

/// Whether a test may run: `missing` is why it cannot (no root, a tool not installed),
/// `None` when it can. Under `CI=true` a missing prerequisite fails the test, so a CI
/// run never passes by skipping; elsewhere the skip is printed where it cannot be
/// missed and the test returns early.
#[must_use]
pub fn prerequisite(test: &str, missing: Option<String>) -> bool {
    let Some(why) = missing else { return true };
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{test}: cannot run under CI: {why}");
    }
    // Written to the process's stderr, not through `eprintln!`, which the test harness
    // captures and hides for a passing test.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED {test}: {why} (under CI=true this fails) !!!!!!!!\n"
    );
    false
}

/// `None` when `tool` runs (`tool --version` or `-V` starts), else why not.
pub fn tool_missing(tool: &str, install: &str) -> Option<String> {
    let runs = ["--version", "-V"].iter().any(|flag| {
        Command::new(tool)
            .arg(flag)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    (!runs).then(|| format!("`{tool}` is not installed: {install}"))
}

/// `None` when the effective user is root, else why not.
pub fn root_missing(needs_it: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("0");
    (euid != "0").then(|| format!("{needs_it} needs root (effective uid {euid})"))
}
