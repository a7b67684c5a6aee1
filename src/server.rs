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

use crate::agent::{self, ingest};
use crate::config::ServerConfig;
use crate::dns::{self, SharedTable};
use crate::health::{DecisionConfig, HealthMonitor, MonitorOptions};
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
    /// Where probe agents' reports are received, when `[server] report_listen` is set.
    pub report_addr: Option<SocketAddr>,
    pub table: SharedTable,
    pub zones_tx: watch::Sender<Arc<ZoneSet>>,
    pub shutdown: CancellationToken,
    tcp: hickory_server::Server<dns::tcp::TcpHandler>,
    tasks: tokio::task::JoinSet<()>,
    _monitor: HealthMonitor,
}

pub async fn start(cfg: &ServerConfig, zones: ZoneSet) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let mut tasks = tokio::task::JoinSet::new();
    let (monitor, health_rx, report_addr) =
        start_health(cfg, &zones, &shutdown, &mut tasks).await?;
    let table: SharedTable = Arc::new(ArcSwap::from_pointee(RoutingTable::default()));
    // The first table exists before any socket is open: no query ever sees an empty one.
    updater::rebuild(&table, &zones, &health_rx.borrow());

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
        report_addr,
        table,
        zones_tx,
        shutdown,
        tcp,
        tasks,
        _monitor: monitor,
    })
}

type Health = (
    HealthMonitor,
    watch::Receiver<Arc<crate::health::HealthSnapshot>>,
    Option<SocketAddr>,
);

/// Probing and deciding: this region's probers, and with `[agents]`, the reporter that
/// shares their results with the other nameservers and the endpoint that takes reports.
async fn start_health(
    cfg: &ServerConfig,
    zones: &ZoneSet,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<Health> {
    let mut opts = MonitorOptions::local(cfg.region.as_str().into());
    let Some(agents) = &cfg.agents else {
        if cfg.report_listen.is_some() {
            anyhow::bail!("[server] report_listen needs an [agents] section (the shared secret that authenticates reports)");
        }
        let (monitor, rx) = HealthMonitor::start_with(opts, zones.targets());
        return Ok((monitor, rx, None));
    };
    let Some(listen) = cfg.report_listen else {
        anyhow::bail!("[agents] is set but [server] report_listen is not: a nameserver must take the agents' reports somewhere");
    };
    opts.decisions = DecisionConfig {
        staleness: agents.staleness,
        mass_failure: agents.mass_failure,
    };
    // A nameserver is a probe of its own region: its results go to the other nameservers
    // too, so every one decides from the same reports.
    let mut reporter = None;
    if !agents.report_to.is_empty() {
        let (tee, rx) = tokio::sync::mpsc::channel(4096);
        opts.tee = Some(tee);
        reporter = Some(rx);
    }
    let sender = opts.sender.clone();
    let region = opts.region.clone();
    let (monitor, health_rx) = HealthMonitor::start_with(opts, zones.targets());
    if let Some(rx) = reporter {
        let (task, _stats) = agent::reporter::spawn(
            agent::reporter::ReporterConfig {
                region,
                sender: sender.clone(),
                secret: agents.secret.clone(),
                destinations: agents.report_to.clone(),
                batch: agents.batch,
            },
            rx,
            shutdown.child_token(),
        );
        tasks.spawn(async move {
            let _ = task.await;
        });
    }
    let state =
        ingest::IngestState::new(agents.clone(), sender, monitor.reports(), monitor.quorum());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot bind report_listen {listen}"))?;
    let bound = listener.local_addr()?;
    let app = ingest::router(state);
    let stop = shutdown.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "report listener stopped");
        }
    });
    info!(%bound, "taking probe reports on HTTP");
    Ok((monitor, health_rx, Some(bound)))
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
