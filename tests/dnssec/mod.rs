//! What the DNSSEC end-to-end tests share: key pairs made by BIND's dnssec-keygen, a
//! signed zone with every kind of answer, delv with the zone's key as trust anchor, and
//! unbound as a validating resolver stubbed to the server under test.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{tools, wait_for};

/// The tools these tests drive, or `None` after a loud skip (a failure under CI=true).
pub fn tools_present(extra: &[&str]) -> bool {
    ["dnssec-keygen", "delv", "dig"]
        .iter()
        .chain(extra)
        .all(|t| {
            tools::require(t, "apt-get install -y bind9-utils bind9-dnsutils unbound").is_some()
        })
}

/// `dnssec-keygen` in `dir` for `zone`; returns the key's base name (`K<zone>+alg+tag`).
pub fn keygen(dir: &Path, zone: &str, args: &[&str]) -> String {
    let out = Command::new("dnssec-keygen")
        .args(["-q", "-K"])
        .arg(dir)
        .args(args)
        .args(["-n", "ZONE", zone])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The base64 public key of the DNSKEY in `dir/base.key`.
pub fn public_key(dir: &Path, base: &str) -> String {
    let text = std::fs::read_to_string(dir.join(format!("{base}.key"))).unwrap();
    let line = text.lines().find(|l| !l.starts_with(';')).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    let at = f.iter().position(|w| *w == "DNSKEY").unwrap();
    f[at + 4..].concat()
}

/// An anchors file for delv: `trust-anchors { zone static-key 257 3 13 "..."; };`.
pub fn anchors(dir: &Path, zone: &str, alg: u8, key: &str) -> PathBuf {
    let p = dir.join("anchors.conf");
    std::fs::write(
        &p,
        format!("trust-anchors {{\n  {zone} static-key 257 3 {alg} \"{key}\";\n}};\n"),
    )
    .unwrap();
    p
}

/// delv's output (stdout and stderr) for `name type` against `addr`.
pub fn delv(
    addr: SocketAddr,
    anchors: &Path,
    root: &str,
    name: &str,
    rtype: &str,
    tcp: bool,
) -> String {
    let mut cmd = Command::new("delv");
    cmd.arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "-a"])
        .arg(anchors)
        .arg(format!("+root={root}"))
        .args([name, rtype]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// unbound on a loopback port: validating, with `zone` stubbed to `server` and
/// `anchor` (a DNSKEY's base64) as its trust anchor; with the subnet module, so it
/// forwards EDNS Client Subnet to the server.
pub struct Unbound {
    child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Unbound {
    pub fn start(zone: &str, server: SocketAddr, anchor: &str) -> Unbound {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_tcp_port();
        let conf = dir.path().join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                r#"server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "subnetcache validator iterator"
  send-client-subnet: 127.0.0.1
  client-subnet-always-forward: yes
  trust-anchor: "{zone} DNSKEY 257 3 13 {anchor}"
  val-log-level: 2
  verbosity: 1
stub-zone:
  name: "{zone}"
  stub-addr: {ip}@{sport}
remote-control:
  control-enable: no
"#,
                dir = dir.path().display(),
                ip = server.ip(),
                sport = server.port(),
            ),
        )
        .unwrap();
        let child = Command::new("unbound")
            .args(["-d", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unbound");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Ready once it answers anything (REFUSED or not) over UDP.
        wait_for(Duration::from_secs(10), "unbound to answer", || {
            let d = crate::common::dig(addr, "+rec . SOA +time=1");
            (!d.status().is_empty()).then_some(())
        });
        Unbound { child, addr, dir }
    }
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_udp_tcp_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
