//! `switchyard probe --region R`: a probe agent. It loads the zones named by the same
//! server file the nameservers use, probes every (check, address) pair once, however many
//! pools share it, and reports the results to every nameserver in `[agents] report_to`.

use std::sync::Arc;

use anyhow::{bail, Context};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::reporter::{self, ReporterConfig};
use super::serve;
use crate::config::{self, ServerConfig};
use crate::health::monitor::{process_sender, spawn_prober};
use crate::health::HealthMetrics;

/// Results waiting for the reporter's batch; probers wait when it is full.
const QUEUE: usize = 4096;

/// A running agent.
pub struct Agent {
    pub region: Arc<str>,
    pub sender: Arc<str>,
    pub targets: usize,
    pub stats: Arc<reporter::ReporterStats>,
    /// Where `/healthz` and `/metrics` are served, with `--listen`.
    pub listen: Option<std::net::SocketAddr>,
    stop: CancellationToken,
    reporter: tokio::task::JoinHandle<()>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Agent {
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.reporter.await;
        if let Some(s) = self.server {
            let _ = s.await;
        }
    }
}

/// Starts probing from `region` and reporting, and with `listen` serving `/healthz` and
/// `/metrics` there. Must be called inside a Tokio runtime.
pub fn start(
    cfg: &ServerConfig,
    region: &str,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<Agent> {
    let Some(agents) = &cfg.agents else {
        bail!("the server file has no [agents] section: a probe agent needs secret_file and report_to");
    };
    if agents.report_to.is_empty() {
        bail!("[agents] report_to is empty: the agent has no nameserver to report to");
    }
    if region.trim().is_empty() {
        bail!("--region is empty");
    }
    if !agents.allows(region) {
        bail!("region {region:?} is not in [agents] regions: the nameservers would refuse its reports");
    }
    let zones = config::load_zones(&cfg.zones)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot load the zones in {}", cfg.zones.display()))?;
    let targets = zones.targets();
    let region: Arc<str> = region.into();
    let sender = process_sender();
    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::channel(QUEUE);
    let n = targets.len();
    let health = Arc::new(HealthMetrics::default());
    for (target, spec) in targets {
        spawn_prober(
            target,
            spec,
            region.clone(),
            sender.clone(),
            tx.clone(),
            stop.child_token(),
            health.clone(),
        );
    }
    let (reporter, stats) = reporter::spawn(
        ReporterConfig {
            region: region.clone(),
            sender: sender.clone(),
            secret: agents.secret.clone(),
            destinations: agents.report_to.clone(),
            batch: agents.batch,
        },
        rx,
        stop.clone(),
    );
    let (listen, server) = match listen {
        Some(addr) => {
            let registry = serve::registry(&stats, &health);
            let (bound, task) = serve::start(addr, registry, stop.clone())?;
            (Some(bound), Some(task))
        }
        None => (None, None),
    };
    info!(region = %region, sender = %sender, targets = n, nameservers = agents.report_to.len(), listen = ?listen, "probe agent started");
    Ok(Agent {
        region,
        sender,
        targets: n,
        stats,
        listen,
        stop,
        reporter,
        server,
    })
}
