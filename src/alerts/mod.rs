//! Alerts: events worth telling a human (health transitions, failovers, all pools down,
//! overrides and drills), delivered to webhooks as JSON with a Slack-compatible `text`.
//!
//! Raising an alert is a `try_send` into a bounded queue per webhook: it never waits, so
//! neither the updater nor the health loop can be held up by a slow receiver. A full
//! queue drops the event and counts it. Delivery, with retries, is in [`webhook`].
//! (Named `alerts` rather than DESIGN's `notify`, which is also the file-watching crate.)

pub mod webhook;

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::config::server::AlertsConfig;
use crate::metrics::Metrics;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// One alert as sent: `text` for chat tools, the rest for machines.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// `health`, `pool`, `failover`, `all_down`, `override` or `drill`.
    pub event: &'static str,
    pub severity: Severity,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
    /// The probe region of the nameserver that raised it.
    pub server: String,
}

impl Event {
    pub fn new(event: &'static str, severity: Severity, text: impl Into<String>) -> Self {
        Self {
            event,
            severity,
            text: text.into(),
            zone: None,
            policy: None,
            pool: None,
            address: None,
            check: None,
            region: None,
            from: None,
            to: None,
            reason: None,
            at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            server: String::new(),
        }
    }
}

/// The sending side; cheap to clone. The default sends nowhere.
#[derive(Clone, Default)]
pub struct Alerts {
    queues: Arc<[mpsc::Sender<Arc<Event>>]>,
    metrics: Option<Arc<Metrics>>,
    server: Arc<str>,
}

impl Alerts {
    /// Starts one delivery task per webhook in `tasks`; they end with `shutdown`.
    pub fn start(
        cfg: &AlertsConfig,
        server: Arc<str>,
        metrics: Arc<Metrics>,
        tasks: &mut JoinSet<()>,
        shutdown: CancellationToken,
    ) -> Alerts {
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mut queues = Vec::new();
        for url in &cfg.webhooks {
            let (tx, rx) = mpsc::channel(cfg.queue);
            queues.push(tx);
            tasks.spawn(webhook::deliver(
                client.clone(),
                url.clone(),
                cfg.attempts,
                rx,
                metrics.clone(),
                shutdown.clone(),
            ));
        }
        Alerts {
            queues: queues.into(),
            metrics: Some(metrics),
            server,
        }
    }

    /// Queue `event` for every webhook, dropping it where a queue is full.
    pub fn send(&self, mut event: Event) {
        if self.queues.is_empty() {
            return;
        }
        event.server = self.server.to_string();
        let event = Arc::new(event);
        for q in self.queues.iter() {
            if let Err(e) = q.try_send(event.clone()) {
                if let Some(m) = &self.metrics {
                    m.alert_dropped();
                }
                warn!(event = event.event, error = %e, "alert dropped: webhook queue full or closed");
            }
        }
    }
}
