//! Helpers for the control API tests: a server file with `[control]` (and optional
//! `[alerts]`), and a small blocking HTTP client over reqwest.
#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::Value;

use crate::common::Layout;

pub const TOKEN: &str = "s3cret-token-for-tests";

/// A layout whose server file enables the control API on a free loopback port, with a
/// token file; `extra` is appended to the server file (e.g. an `[alerts]` section).
pub fn layout(open_reads: bool, extra: &str) -> Layout {
    let l = Layout::new();
    std::fs::write(l.dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(
        l.config(),
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\nudp_sockets = 1\nlog = \"info\"\n\
             [control]\nlisten = \"127.0.0.1:0\"\ntoken_file = \"token\"\nopen_reads = {open_reads}\n{extra}"
        ),
    )
    .unwrap();
    l
}

pub struct Api {
    base: String,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api {
            base: format!("http://{addr}"),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::new(),
        }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        self.rt.block_on(async {
            let r = req.send().await.expect("control API request");
            Reply {
                status: r.status().as_u16(),
                text: r.text().await.unwrap(),
            }
        })
    }

    /// GET with the token, expecting 200 and JSON.
    pub fn get(&self, path: &str) -> Value {
        let r = self.request("GET", path, Some(TOKEN), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.json()
    }

    pub fn text(&self, path: &str) -> String {
        let r = self.request("GET", path, Some(TOKEN), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.text
    }

    /// POST with the token.
    /// A sample's value from `/metrics`, by the start of its line (name and labels).
    pub fn metric(&self, name: &str) -> f64 {
        self.text("/metrics")
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("metric {name} missing"))
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.request("POST", path, Some(TOKEN), Some(body))
    }
}

/// A zone with two always-up pools (no checks): answers move only by operator action.
pub fn static_zone(primary: &str, secondary: &str, ttl: u32) -> String {
    format!(
        r#"[zone]
origin = "ops.test."
nameservers = ["ns1.ops.test."]
soa = {{ mname = "ns1.ops.test.", rname = "hostmaster.ops.test." }}

[[records]]
name = "ns1"
A = ["192.0.2.53"]

[[records]]
name = "www"
CNAME = "api"

[pools.primary]
region = "us-east"
addresses = ["{primary}"]

[pools.secondary]
region = "eu-west"
addresses = ["{secondary}"]

[[policies]]
name = "api"
policy = "failover"
ttl = {ttl}
pools = ["primary", "secondary"]
"#
    )
}
