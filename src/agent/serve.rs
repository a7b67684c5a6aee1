//! A probe agent's own HTTP listener (`switchyard probe --listen ADDR`): `GET /healthz`
//! for a supervisor or load balancer, and `GET /metrics` for Prometheus, with the
//! agent's probe and delivery counters, its checks' latency and results, the build and
//! the process. Read-only and unauthenticated, like a node exporter: bind it to an
//! address only the monitoring can reach.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::reporter::ReporterStats;
use crate::health::HealthMetrics;
use crate::metrics::process::ProcessCollector;

/// The reporter's counters, read at scrape time.
#[derive(Debug)]
struct Delivery(Arc<ReporterStats>);

impl Collector for Delivery {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        for (name, help, v) in [
            (
                "switchyard_probe_checks",
                "Probes run (one result each).",
                s.probes.load(Relaxed),
            ),
            (
                "switchyard_probe_results_sent",
                "Probe results in reports a nameserver accepted.",
                s.results_sent.load(Relaxed),
            ),
            (
                "switchyard_probe_results_dropped",
                "Probe results dropped: their report was refused or not answered, or the outbox was full.",
                s.dropped.load(Relaxed),
            ),
        ] {
            encoder
                .encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
        }
        let last = s.last_success_ms.load(Relaxed);
        let mut e = encoder.encode_descriptor(
            "switchyard_probe_last_success_timestamp_seconds",
            "When a nameserver last accepted a report from this agent, Unix time; absent before the first.",
            None,
            MetricType::Gauge,
        )?;
        if last > 0 {
            e.encode_gauge(&(last as f64 / 1000.0))?;
        }
        Ok(())
    }
}

/// Everything the agent exposes.
pub fn registry(stats: &Arc<ReporterStats>, health: &HealthMetrics) -> Registry {
    let mut r = Registry::default();
    let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
    build
        .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
        .set(1);
    r.register(
        "switchyard_build_info",
        "The running version: always 1",
        build,
    );
    r.register(
        "switchyard_probe_reports",
        "Reports sent to nameservers, by result (accepted, refused, failed) and reason (the nameserver's word for a refusal; timeout or unreachable for a failure)",
        crate::metrics::Declared(stats.outcomes.clone()),
    );
    r.register_collector(Box::new(Delivery(stats.clone())));
    health.register(&mut r);
    r.register_collector(Box::new(ProcessCollector));
    r
}

/// Serves `/healthz` and `/metrics` on `listen` until `stop`; returns the bound address.
/// Binds before returning, so a taken port fails the start. Inside a Tokio runtime.
pub fn start(
    listen: SocketAddr,
    registry: Registry,
    stop: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let bind = || -> std::io::Result<tokio::net::TcpListener> {
        let l = std::net::TcpListener::bind(listen)?;
        l.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(l)
    };
    let listener =
        bind().map_err(|e| anyhow::anyhow!("cannot listen on {listen} (--listen): {e}"))?;
    let bound = listener.local_addr()?;
    let registry = Arc::new(registry);
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move { render(&registry) }
            }),
        );
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the agent's metrics listener failed");
        }
    });
    Ok((bound, task))
}

fn render(registry: &Registry) -> Response {
    let mut out = String::new();
    match prometheus_text::encode(&mut out, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], out).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
