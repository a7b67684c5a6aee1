//! `switchyard demo`: the zones under `zones/` served on loopback, with a controllable
//! HTTP backend for every loopback address an http check probes, so a newcomer can
//! fail a region with curl and watch dig move.

pub mod backend;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use tracing::info;

use crate::config::server::ControlConfig;
use crate::config::{self, ServerConfig};
use crate::server;
use crate::zone::CheckKind;
use backend::{control_router, Backend};

/// Each demo backend's control API listens on its own address at this port.
pub const CONTROL_PORT: u16 = 9000;

pub async fn run(
    zones_dir: PathBuf,
    listen: SocketAddr,
    control: SocketAddr,
    geoip: Option<PathBuf>,
) -> anyhow::Result<()> {
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
        log_format: Default::default(),
        udp_sockets: 1,
        report_listen: None,
        agents: None,
        control: Some(ControlConfig {
            listen: control,
            token_file: Some(demo_token()?),
            open_reads: true,
        }),
        alerts: None,
        geoip,
        regions: Default::default(),
        rng_seed: None,
        limits: Default::default(),
        rrl: None,
        udp_fast_path: true,
        state_file: None,
        at: Default::default(),
        startup: Default::default(),
        identity: "switchyard-demo".into(),
        version: Some(crate::config::server::VERSION.into()),
        state_max_age: crate::config::server::DEFAULT_STATE_MAX_AGE,
        overrides_file: None,
    };
    let token_file = cfg.control.as_ref().and_then(|c| c.token_file.clone());
    let running = server::start(&cfg, zones).await?;
    let dns = running.dns_addrs[0];
    println!("Switchyard demo: DNS on {dns} (UDP and TCP)\n{banner}");
    let token_path = token_file.clone();
    if let (Some(c), Some(t)) = (running.control_addr, token_file) {
        println!(
            "  control API on http://{c}: curl {c}/v1/status   (writes: -H \"Authorization: Bearer $(cat {})\")\n  drill:  curl -X POST -H \"Authorization: Bearer $(cat {})\" {c}/v1/drills -d '{{\"pool\":\"us-east\",\"seconds\":10}}'",
            t.display(),
            t.display()
        );
    }
    println!(
        "  try:  dig @{ip} -p {port} api.example.com +short\n        dig @{ip} -p {port} geo.example.com +subnet=198.51.100.0/24   (a client in France)\n  Ctrl-C to stop.",
        ip = fmt_ip(dns.ip()),
        port = dns.port()
    );
    info!(backends = handles.len(), "demo running");
    server::terminated().await;
    running.stop().await;
    if let Some(t) = token_path {
        let _ = std::fs::remove_file(t);
    }
    Ok(())
}

/// A fresh random token in a private file, for the demo's control API.
fn demo_token() -> anyhow::Result<PathBuf> {
    use rand::Rng;
    let token: String = rand::thread_rng()
        .sample_iter(rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let path = std::env::temp_dir().join(format!("switchyard-demo-token-{}", std::process::id()));
    std::fs::write(&path, token).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(path)
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

/// `switchyard test-backend`: one controllable backend as its own process, so tests can
/// place it in a network namespace and stop it for real.
pub async fn serve_backend(listen: SocketAddr, control: Option<SocketAddr>) -> anyhow::Result<()> {
    let handle = Backend::start(listen)
        .await
        .with_context(|| format!("cannot start backend on {listen}"))?;
    if let Some(control) = control {
        let listener = tokio::net::TcpListener::bind(control)
            .await
            .with_context(|| format!("cannot bind backend control {control}"))?;
        let app = control_router(handle.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
    }
    println!("backend listening={}", handle.addr());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    server::terminated().await;
    Ok(())
}
