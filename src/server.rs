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
use crate::routing::RoutingTable;
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
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    _monitor: HealthMonitor,
}

pub async fn start(cfg: &ServerConfig, zones: ZoneSet) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let (monitor, health_rx) = HealthMonitor::start(cfg.region.as_str().into(), zones.targets());
    let table: SharedTable = Arc::new(ArcSwap::from_pointee(RoutingTable::default()));
    // The first table exists before any socket is open: no query ever sees an empty one.
    updater::rebuild(&table, &zones, &health_rx.borrow());

    let mut tasks = tokio::task::JoinSet::new();
    let mut tcp = hickory_server::Server::new(dns::tcp::TcpHandler {
        table: table.clone(),
    });
    let mut dns_addrs = Vec::new();
    let mut udp_threads = Vec::new();
    for addr in &cfg.listen {
        let (sockets, listener) = bind_udp_and_tcp(*addr, cfg.udp_sockets).await?;
        let bound = sockets[0].local_addr()?;
        for s in sockets {
            udp_threads.push(
                dns::udp::spawn(s, table.clone(), shutdown.clone(), cfg.udp_fast_path)
                    .context("cannot start a UDP thread")?,
            );
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
        udp_threads,
        _monitor: monitor,
    })
}

/// UDP sockets and a TCP listener on the same address. With port 0 the UDP bind picks
/// the port, which TCP may already use (another process's outgoing connection, say):
/// then both are tried again on a new port.
async fn bind_udp_and_tcp(
    addr: SocketAddr,
    udp_sockets: usize,
) -> anyhow::Result<(Vec<std::net::UdpSocket>, tokio::net::TcpListener)> {
    const ATTEMPTS: usize = 20;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sockets =
            dns::udp::bind(addr, udp_sockets).with_context(|| format!("cannot bind UDP {addr}"))?;
        let bound = sockets[0].local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(listener) => return Ok((sockets, listener)),
            Err(e)
                if addr.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < ATTEMPTS =>
            {
                continue
            }
            Err(e) => return Err(e).with_context(|| format!("cannot bind TCP {bound}")),
        }
    }
}

impl Running {
    /// Stop accepting, let in-flight TCP answers finish, and stop every task.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let _ = self.tcp.shutdown_gracefully().await;
        while self.tasks.join_next().await.is_some() {}
        let threads = std::mem::take(&mut self.udp_threads);
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
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
