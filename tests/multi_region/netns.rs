//! Network namespaces for the multi-region test: made by the test, named after its pid so
//! parallel runs don't collide, addressed in 10.99.0.0/24 that exists only inside them,
//! and removed on drop (processes inside killed first), even when the test fails.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("`ip` is required: apt-get install -y iproute2 (scripts/test.sh does this)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A hub namespace with a bridge, and one namespace per region plugged into it.
pub struct Net {
    hub: String,
    regions: Vec<String>,
}

impl Net {
    /// Regions `1..=n`; region i holds 10.99.0.1i and 10.99.0.2i.
    pub fn new(n: usize) -> Net {
        let tag = format!("sy{}", std::process::id());
        let mut net = Net {
            hub: format!("{tag}hub"),
            regions: Vec::new(),
        };
        ip(&["netns", "add", &net.hub]);
        ip(&["-n", &net.hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &net.hub, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = format!("{tag}r{i}");
            ip(&["netns", "add", &ns]);
            net.regions.push(ns.clone());
            let port = format!("vh{i}");
            ip(&[
                "link", "add", &port, "netns", &net.hub, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            ip(&["-n", &net.hub, "link", "set", &port, "master", "br0", "up"]);
            for host in [10, 20] {
                let a = format!("10.99.0.{}/24", host + i);
                ip(&["-n", &ns, "addr", "add", &a, "dev", "eth0"]);
            }
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        net
    }

    /// The namespace of region `i` (1-based).
    pub fn region(&self, i: usize) -> &str {
        &self.regions[i - 1]
    }

    /// Drops every packet from region `i` to `addr`: its path is cut, nothing else.
    pub fn blackhole(&self, i: usize, addr: &str) {
        ip(&[
            "-n",
            self.region(i),
            "route",
            "add",
            "blackhole",
            &format!("{addr}/32"),
        ]);
    }

    pub fn restore(&self, i: usize, addr: &str) {
        ip(&[
            "-n",
            self.region(i),
            "route",
            "del",
            "blackhole",
            &format!("{addr}/32"),
        ]);
    }

    /// A command run inside region `i`.
    pub fn cmd(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", self.region(i), program]);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.regions.iter().chain(std::iter::once(&self.hub)) {
            // Deleting a namespace leaves its processes running: end them first.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A process started inside a namespace; killed on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    log: Arc<Mutex<String>>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts `cmd` and waits for a stdout line starting with `ready`; returns that line.
    pub fn start(name: &str, mut cmd: Command, ready: &str) -> (Proc, String) {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
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
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut p = Proc {
            name: name.to_string(),
            child,
            log,
            lines,
        };
        let line = p.wait_line(ready);
        (p, line)
    }

    fn wait_line(&mut self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "{} did not print {prefix:?}; log:\n{}",
                        self.name,
                        self.log()
                    );
                }
            }
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops it for real (SIGKILL: no goodbye to anyone).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
