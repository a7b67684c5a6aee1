//! Wiring for `switchyard serve`: bind sockets, start health monitoring, the operator
//! state, the table updater, reloads, alerts, the control API (with the probe agents'
//! report endpoint) and the DNS transports, and stop them all with one token.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::agent::{self, ingest};
use crate::alerts::Alerts;
use crate::config::server::ControlConfig;
use crate::config::ServerConfig;
use crate::control::{self, auth::Auth, AppState};
use crate::dns;
use crate::health::{DecisionConfig, HealthMonitor, MonitorOptions};
use crate::metrics::Metrics;
use crate::operator::Operator;
use crate::reload::{ReloadHandle, Reloader};
use crate::routing::{self, Env, RoutingTable, TableReader};
use crate::updater::Updater;
use crate::zone::ZoneSet;

/// A running server.
pub struct Running {
    /// The addresses actually bound (port 0 resolved), UDP and TCP alike.
    pub dns_addrs: Vec<SocketAddr>,
    /// The control API's bound address, when `[control]` is configured.
    pub control_addr: Option<SocketAddr>,
    /// A listener for probe reports of its own, when `[server] report_listen` is set.
    pub report_addr: Option<SocketAddr>,
    pub table: TableReader,
    pub reload: ReloadHandle,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
}

/// Start everything in data-flow order: health, alerts and operator state, the first
/// table (before any socket opens), the DNS transports, the updater, reloads, and the
/// control API and report listener.
pub async fn start(cfg: &ServerConfig, zones: ZoneSet) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let region: Arc<str> = cfg.region.as_str().into();
    let mut tasks = tokio::task::JoinSet::new();
    let (monitor, health_rx) = start_health(cfg, &zones, &shutdown, &mut tasks)?;
    let abuse = Arc::new(dns::abuse::AbuseCounters::default());
    let health_metrics = monitor.metrics();
    let signing = Arc::new(dns::signing_metrics::SigningMetrics::default());
    let metrics = Arc::new(Metrics::new(|r| {
        health_metrics.register(r);
        r.register_collector(Box::new(abuse.clone()));
        r.register_collector(Box::new(signing.clone()));
    }));
    let quorum = monitor.quorum();
    // Taken before the reloader owns the monitor.
    let ingest_state = ingest_state(cfg, &monitor, &metrics);
    let alerts = match &cfg.alerts {
        Some(a) => Alerts::start(
            a,
            region.clone(),
            metrics.clone(),
            &mut tasks,
            shutdown.clone(),
        ),
        None => Alerts::default(),
    };
    let zones = Arc::new(zones);
    let (zones_tx, zones_rx) = watch::channel(zones.clone());
    let (operator, overlay_rx) = Operator::new(zones_rx.clone(), alerts.clone(), metrics.clone());
    match &cfg.overrides_file {
        // Before the first table: the first answer already honours a drain.
        Some(path) => {
            operator.restore(path.clone());
        }
        None if cfg.control.is_some() => {
            warn!("no overrides_file or state_file: overrides will not survive a restart")
        }
        None => {}
    }
    tasks.spawn(operator.clone().run_expiry(shutdown.clone()));

    // Every table takes its query counter blocks from the registry /metrics reads.
    let env = env(cfg, &zones, metrics.queries.clone())?;
    // Quiet unless the operator chose what unprobed targets are and it is known.
    let quiet = match cfg.startup {
        crate::config::server::Startup::Checks => true,
        crate::config::server::Startup::StateFile => env.startup.saved.is_empty(),
        crate::config::server::Startup::AllPools => false,
    };
    let (writer, table) = routing::publish(RoutingTable::empty(env));
    signing.attach(table.clone());
    let (mut updater, built_rx) = Updater::new(writer, metrics.clone(), alerts, zones.clone());
    metrics.zones_loaded();
    metrics.set_state_collector(Box::new(control::gauges::StateGauges {
        table: table.clone(),
        built: built_rx.clone(),
    }));
    // The first table exists before any socket is open: no query ever sees an empty one.
    if quiet {
        quiet_start(&zones, &health_rx).await;
    }
    let first_health = health_rx.borrow().clone();
    let first_overlay = overlay_rx.borrow().clone();
    updater.rebuild(&zones, &first_health, &first_overlay);

    let (dns_addrs, udp_threads) = start_dns(cfg, &table, &abuse, &shutdown, &mut tasks).await?;

    if let Some(path) = &cfg.state_file {
        tasks.spawn(persist_health(
            path.clone(),
            health_rx.clone(),
            shutdown.clone(),
        ));
    }
    tasks.spawn(dns::notify::run(
        built_rx.clone(),
        table.clone(),
        shutdown.clone(),
    ));
    tasks.spawn(updater.run(zones_rx, health_rx, overlay_rx, shutdown.clone()));

    let auth = match &cfg.control {
        Some(c) => Some(Arc::new(Auth::new(c.token_file.clone(), c.open_reads)?)),
        None => None,
    };
    let reloader = Reloader {
        zones_path: cfg.zones.clone(),
        monitor,
        zones_tx,
        built: built_rx.clone(),
        metrics: metrics.clone(),
        after: Vec::new(),
    };
    let reload = start_reload(reloader, auth.as_ref(), &shutdown, &mut tasks)?;

    let mut control_addr = None;
    if let (Some(c), Some(auth)) = (&cfg.control, auth) {
        let state = Arc::new(AppState {
            table: table.clone(),
            built: built_rx,
            operator,
            reload: reload.clone(),
            metrics: metrics.clone(),
            auth,
            region,
            dns_addrs: dns_addrs.clone(),
            shutdown: shutdown.clone(),
            quorum,
        });
        let bound = start_control(c, state, ingest_state.as_ref(), &mut tasks).await?;
        control_addr = Some(bound);
    }

    let mut report_addr = None;
    if let (Some(listen), Some(ing)) = (cfg.report_listen, &ingest_state) {
        report_addr = Some(start_reports(listen, ing, &shutdown, &mut tasks).await?);
    }

    Ok(Running {
        dns_addrs,
        control_addr,
        report_addr,
        table,
        reload,
        metrics,
        shutdown,
        tasks,
        udp_threads,
    })
}

/// The default start answers from real results only: wait for each target's first
/// result, bounded by the checks' timeouts (see health/first_round.rs).
async fn quiet_start(
    zones: &ZoneSet,
    health: &watch::Receiver<Arc<crate::health::HealthSnapshot>>,
) {
    use crate::health::first_round;
    let targets = zones.targets();
    if targets.is_empty() {
        return;
    }
    let bound = first_round::bound(&targets);
    let r = first_round::wait(&mut health.clone(), &targets, bound).await;
    let took_ms = r.took.as_millis() as u64;
    if r.unknown == 0 {
        info!(
            targets = targets.len(),
            took_ms, "first probe round complete: answering from it"
        );
    } else {
        warn!(
            targets = targets.len(),
            unknown = r.unknown,
            took_ms,
            "first probe round incomplete: unknown targets count as their checks' startup state"
        );
    }
}

/// With `[agents]`: the state of the report endpoint, counting each report for metrics.
fn ingest_state(
    cfg: &ServerConfig,
    monitor: &HealthMonitor,
    metrics: &Arc<Metrics>,
) -> Option<Arc<ingest::IngestState>> {
    cfg.agents.as_ref().map(|agents| {
        let m = metrics.clone();
        m.agent_reasons(&ingest::Reject::ALL.map(ingest::Reject::as_str));
        ingest::IngestState::with_hook(
            agents.clone(),
            monitor.sender().clone(),
            monitor.reports(),
            monitor.quorum(),
            Box::new(move |rejected| m.agent_report(rejected.map(ingest::Reject::as_str))),
        )
    })
}

/// Zone reloads (SIGHUP, file changes, the control API); the control token is read
/// again after each one.
fn start_reload(
    mut reloader: Reloader,
    auth: Option<&Arc<Auth>>,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<ReloadHandle> {
    if let Some(a) = auth {
        let a = a.clone();
        reloader.after.push(Box::new(move || a.refresh()));
    }
    let (reload, reload_task) = reloader.start(shutdown.clone())?;
    tasks.spawn(reload_task);
    Ok(reload)
}

/// UDP threads and a TCP task on every listen address; returns the bound addresses.
async fn start_dns(
    cfg: &ServerConfig,
    table: &TableReader,
    abuse: &Arc<dns::abuse::AbuseCounters>,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<(Vec<SocketAddr>, Vec<std::thread::JoinHandle<()>>)> {
    let mut dns_addrs = Vec::new();
    let mut udp_threads = Vec::new();
    // One guard for every socket: a client's rate is counted across all of them.
    let udp_guard = Arc::new(dns::udp::UdpGuard {
        max_query_size: cfg.limits.max_query_size,
        rrl: cfg.rrl.clone().map(dns::rrl::Rrl::new),
        abuse: abuse.clone(),
        started: std::time::Instant::now(),
    });
    for addr in &cfg.listen {
        let (sockets, listener) = bind_dns(*addr, cfg.udp_sockets).await?;
        let bound = sockets[0].local_addr()?;
        for s in sockets {
            udp_threads.push(
                dns::udp::spawn(
                    s,
                    table.clone(),
                    shutdown.clone(),
                    cfg.udp_fast_path,
                    udp_guard.clone(),
                )
                .context("cannot start a UDP thread")?,
            );
        }
        tasks.spawn(dns::tcp::serve(
            listener,
            table.clone(),
            cfg.limits,
            abuse.clone(),
            shutdown.clone(),
        ));
        info!(%bound, "serving DNS on UDP and TCP");
        dns_addrs.push(bound);
    }
    Ok((dns_addrs, udp_threads))
}

/// The control API, with the agents' report and quorum endpoints when `[agents]` is set.
async fn start_control(
    c: &ControlConfig,
    state: Arc<AppState>,
    ingest_state: Option<&Arc<ingest::IngestState>>,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(c.listen)
        .await
        .with_context(|| format!("cannot bind the control API on {}", c.listen))?;
    let bound = listener.local_addr()?;
    let shutdown = state.shutdown.clone();
    let mut app = control::router(state.clone());
    if let Some(ing) = ingest_state {
        // Reports carry their own signature; the votes follow the API's read policy.
        app = app.merge(ingest::reports_router(ing.clone())).merge(
            ingest::quorum_router(ing.clone()).route_layer(axum::middleware::from_fn_with_state(
                state,
                control::auth::guard,
            )),
        );
    }
    tasks.spawn(control::serve(listener, app, shutdown));
    info!(%bound, open_reads = c.open_reads, "control API listening");
    Ok(bound)
}

/// Probe reports on a listener of their own (`[server] report_listen`).
async fn start_reports(
    listen: SocketAddr,
    ing: &Arc<ingest::IngestState>,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot bind report_listen {listen}"))?;
    let bound = listener.local_addr()?;
    tasks.spawn(control::serve(
        listener,
        ingest::router(ing.clone()),
        shutdown.clone(),
    ));
    info!(%bound, "taking probe reports on their own listener");
    Ok(bound)
}

/// Bind UDP and TCP on one address and the same port, both IPv6-only on an IPv6
/// address (so `0.0.0.0:53` and `[::]:53` can be listed together). With port 0 the
/// kernel picks the UDP port, and that port may be taken for TCP (by any outgoing
/// connection): pick again.
async fn bind_dns(
    addr: SocketAddr,
    udp_sockets: usize,
) -> anyhow::Result<(Vec<std::net::UdpSocket>, tokio::net::TcpListener)> {
    const ATTEMPTS: usize = 16;
    for attempt in 1..=ATTEMPTS {
        let sockets =
            dns::udp::bind(addr, udp_sockets).with_context(|| format!("cannot bind UDP {addr}"))?;
        let bound = sockets[0].local_addr()?;
        match dns::tcp::bind(bound) {
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
    unreachable!("the last attempt returns")
}

/// The routing environment from the server file: the geo database (opened here, so a bad
/// file stops the start), region locations, and the random seed; `counters` is the
/// metrics' query counter registry.
fn env(
    cfg: &ServerConfig,
    zones: &ZoneSet,
    counters: Arc<crate::metrics::query::QueryRegistry>,
) -> anyhow::Result<Env> {
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
        startup: startup_seed(cfg),
        geo,
        regions: cfg
            .regions
            .iter()
            .map(|(name, at)| (Arc::from(name.as_str()), *at))
            .collect(),
        local_region: cfg.region.as_str().into(),
        counters,
        identity: crate::routing::Identity {
            id: cfg.identity.as_str().into(),
            version: cfg.version.as_deref().map(Arc::from),
        },
    })
}

/// What unprobed targets count as, from the server file and the state file. A state
/// file that can't be read is reported and ignored: a restart must not fail on it.
fn startup_seed(cfg: &ServerConfig) -> crate::routing::StartupSeed {
    use crate::config::server::Startup;
    let mut seed = crate::routing::StartupSeed::default();
    match (cfg.startup, &cfg.state_file) {
        (Startup::Checks, _) => {}
        (Startup::AllPools, _) => seed.all_up = true,
        (Startup::StateFile, Some(path)) => match crate::health::persist::load(path) {
            Ok(Some(saved)) if saved.age() > cfg.state_max_age => {
                warn!(path = %path.display(), age = %humantime::format_duration(std::time::Duration::from_secs(saved.age().as_secs())),
                      max_age = %humantime::format_duration(cfg.state_max_age),
                      "state file ignored: older than state_max_age; unprobed targets use their checks' start-up state")
            }
            Ok(Some(saved)) => {
                info!(path = %path.display(), targets = saved.targets.len(), age_s = saved.age().as_secs(), "start-up health from the state file");
                seed.saved = saved
                    .targets
                    .into_iter()
                    .map(|(t, h)| (t, h == crate::health::Health::Up))
                    .collect();
            }
            Ok(None) => {
                warn!(path = %path.display(), "no state file yet: unprobed targets use their checks' start-up state")
            }
            Err(e) => {
                warn!(error = %e, "state file ignored: unprobed targets use their checks' start-up state")
            }
        },
        (Startup::StateFile, None) => {}
    }
    seed
}

/// Save every published health snapshot to `path`, at most once a second, off the
/// query path and off the health loop.
async fn persist_health(
    path: std::path::PathBuf,
    mut health: watch::Receiver<Arc<crate::health::HealthSnapshot>>,
    shutdown: CancellationToken,
) {
    const SPACING: std::time::Duration = std::time::Duration::from_secs(1);
    loop {
        tokio::select! {
            r = health.changed() => if r.is_err() { return },
            _ = shutdown.cancelled() => return,
        }
        let snap = health.borrow_and_update().clone();
        let p = path.clone();
        match tokio::task::spawn_blocking(move || crate::health::persist::save(&p, &snap)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot save the health state file"),
            Err(e) => warn!(error = %e, "state file writer failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(SPACING) => {},
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Probing and deciding: this region's probers, and with `[agents]`, the reporter that
/// shares their results with the other nameservers.
fn start_health(
    cfg: &ServerConfig,
    zones: &ZoneSet,
    shutdown: &CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<(
    HealthMonitor,
    watch::Receiver<Arc<crate::health::HealthSnapshot>>,
)> {
    let mut opts = MonitorOptions::local(cfg.region.as_str().into());
    let Some(agents) = &cfg.agents else {
        if cfg.report_listen.is_some() {
            anyhow::bail!("[server] report_listen needs an [agents] section (the shared secret that authenticates reports)");
        }
        return Ok(HealthMonitor::start_with(opts, zones.targets()));
    };
    if cfg.report_listen.is_none() && cfg.control.is_none() {
        anyhow::bail!("[agents] is set but there is nowhere to take the agents' reports: add a [control] section or [server] report_listen");
    }
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
    let config = agent::reporter::ReporterConfig {
        region: opts.region.clone(),
        sender: opts.sender.clone(),
        secret: agents.secret.clone(),
        destinations: agents.report_to.clone(),
        batch: agents.batch,
    };
    let started = HealthMonitor::start_with(opts, zones.targets());
    if let Some(rx) = reporter {
        let (task, _stats) = agent::reporter::spawn(config, rx, shutdown.child_token());
        tasks.spawn(async move {
            let _ = task.await;
        });
    }
    Ok(started)
}

impl Running {
    /// Stop accepting, let in-flight TCP answers finish, and stop every task.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        // The TCP tasks end once their connections have drained.
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

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not
/// when it is first polled: call it before announcing readiness, or a signal sent right
/// after the announcement would meet the default action (exit at once).
pub fn terminated() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {},
                _ = ctrl_c => {},
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
