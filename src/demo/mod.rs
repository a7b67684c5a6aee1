//! `switchyard demo`: the zones under `zones/` served on loopback, with a controllable
//! HTTP backend for every loopback address an http check probes, so a newcomer can
//! fail a region with curl and watch dig move.

pub mod backend;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use tracing::info;

use crate::config::{self, ServerConfig};
use crate::server;
use crate::zone::CheckKind;
use backend::{control_router, Backend};

/// Each demo backend's control API listens on its own address at this port.
pub const CONTROL_PORT: u16 = 9000;

pub async fn run(zones_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    let zones = config::load_zones(&zones_dir).map_err(|e| anyhow::anyhow!("{e}"))?;

    // Every (loopback address, port) an http check probes gets a backend.
    let mut endpoints = BTreeSet::new();
    for zone in &zones.zones {
        for pool in zone.pools.values() {
            let Some(check) = pool.check.as_ref().map(|c| &zone.checks[c]) else {
                continue;
            };
            if !matches!(check.kind, CheckKind::Http(_)) {
                continue;
            }
            for addr in &pool.addresses {
                if addr.is_loopback() {
                    endpoints.insert((
                        pool.name.to_string(),
                        pool.region.to_string(),
                        SocketAddr::new(*addr, check.port),
                    ));
                }
            }
        }
    }
    let mut handles = Vec::new();
    let mut banner = String::new();
    for (pool, region, addr) in &endpoints {
        let handle = Backend::start(*addr)
            .await
            .with_context(|| format!("cannot start demo backend on {addr}"))?;
        let control = SocketAddr::new(addr.ip(), CONTROL_PORT);
        let listener = tokio::net::TcpListener::bind(control)
            .await
            .with_context(|| format!("cannot bind demo control {control}"))?;
        let app = control_router(handle.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        banner.push_str(&format!(
            "  pool {pool:<10} region {region:<10} backend http://{addr}/health   fail it: curl -X POST {}:{CONTROL_PORT}/fail   (also /recover /hang /refuse /slow?ms=N)\n",
            fmt_ip(addr.ip())
        ));
        handles.push(handle);
    }

    let cfg = ServerConfig {
        listen: vec![listen],
        zones: zones_dir,
        region: "local".into(),
        log: "info".into(),
        udp_sockets: 1,
        udp_fast_path: true,
    };
    let running = server::start(&cfg, zones).await?;
    let dns = running.dns_addrs[0];
    println!("Switchyard demo: DNS on {dns} (UDP and TCP)\n{banner}");
    println!(
        "  try:  dig @{} -p {} api.example.com +short\n  Ctrl-C to stop.",
        fmt_ip(dns.ip()),
        dns.port()
    );
    info!(backends = handles.len(), "demo running");
    server::terminated().await;
    running.stop().await;
    Ok(())
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}
