//! Wiring for `switchyard serve`: bind sockets, start health monitoring, the table
//! updater and the DNS transports, and stop them all with one token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::ServerConfig;
use crate::dns::{self, SharedTable};
use crate::health::HealthMonitor;
use crate::routing::{Env, RoutingTable};
use crate::updater;
use crate::zone::ZoneSet;

/// Idle TCP connections are closed after this long (RFC 7766 §6.2.3 suggests seconds).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
const TCP_RESPONSE_BUFFER: usize = 32;

/// A running server.
pub struct Running {
    /// The addresses actually bound (port 0 resolved), UDP and TCP alike.
    pub dns_addrs: Vec<SocketAddr>,
    pub table: SharedTable,
    pub zones_tx: watch::Sender<Arc<ZoneSet>>,
    pub shutdown: CancellationToken,
    tcp: hickory_server::Server<dns::tcp::TcpHandler>,
    tasks: tokio::task::JoinSet<()>,
    _monitor: HealthMonitor,
}

pub async fn start(cfg: &ServerConfig, zones: ZoneSet) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let (monitor, health_rx) = HealthMonitor::start(cfg.region.as_str().into(), zones.targets());
    let table: SharedTable = Arc::new(ArcSwap::from_pointee(RoutingTable::empty(env(
        cfg, &zones,
    )?)));
    // The first table exists before any socket is open: no query ever sees an empty one.
    updater::rebuild(&table, &zones, &health_rx.borrow());

    let mut tasks = tokio::task::JoinSet::new();
    let mut tcp = hickory_server::Server::new(dns::tcp::TcpHandler {
        table: table.clone(),
    });
    let mut dns_addrs = Vec::new();
    for addr in &cfg.listen {
        let sockets = dns::udp::bind(*addr, cfg.udp_sockets)
            .with_context(|| format!("cannot bind UDP {addr}"))?;
        let bound = sockets[0].local_addr()?;
        let listener = tokio::net::TcpListener::bind(bound)
            .await
            .with_context(|| format!("cannot bind TCP {bound}"))?;
        for s in sockets {
            tasks.spawn(dns::udp::serve(s, table.clone(), shutdown.clone()));
        }
        tcp.register_listener(listener, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        info!(%bound, "serving DNS on UDP and TCP");
        dns_addrs.push(bound);
    }

    let (zones_tx, zones_rx) = watch::channel(Arc::new(zones));
    tasks.spawn(updater::run(
        table.clone(),
        zones_rx,
        health_rx,
        shutdown.clone(),
    ));

    Ok(Running {
        dns_addrs,
        table,
        zones_tx,
        shutdown,
        tcp,
        tasks,
        _monitor: monitor,
    })
}

/// The routing environment from the server file: the geo database (opened here, so a bad
/// file stops the start), region locations, and the random seed.
fn env(cfg: &ServerConfig, zones: &ZoneSet) -> anyhow::Result<Env> {
    crate::policy::rng::seed(cfg.rng_seed.unwrap_or_else(rand::random));
    let geo = match &cfg.geoip {
        Some(path) => {
            let db = crate::geo::GeoDb::open(path)?;
            info!(path = %path.display(), database_type = db.database_type(), "geo database loaded");
            Some(Arc::new(db))
        }
        None => {
            let geo_policies: Vec<String> = zones
                .zones
                .iter()
                .flat_map(|z| z.policies.iter())
                .filter(|p| crate::policy::needs_location(p))
                .map(|p| p.name.to_string())
                .collect();
            if !geo_policies.is_empty() {
                tracing::warn!(policies = ?geo_policies, "no geoip database configured: only zone geo_overrides locate clients; the others get the default/fallback answer");
            }
            None
        }
    };
    Ok(Env {
        geo,
        regions: cfg
            .regions
            .iter()
            .map(|(name, at)| (Arc::from(name.as_str()), *at))
            .collect(),
        local_region: cfg.region.as_str().into(),
    })
}

impl Running {
    /// Stop accepting, let in-flight TCP answers finish, and stop every task.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let _ = self.tcp.shutdown_gracefully().await;
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Resolve on SIGTERM or Ctrl-C.
pub async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
