//! Delivering alerts to one webhook: a POST of the event's JSON, retried with
//! exponential backoff, one event at a time so the receiver sees them in order.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::Event;
use crate::metrics::Metrics;

/// First retry delay; doubled after each failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub async fn deliver(
    client: reqwest::Client,
    url: reqwest::Url,
    attempts: u32,
    mut rx: mpsc::Receiver<Arc<Event>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            e = rx.recv() => match e { Some(e) => e, None => return },
        };
        let body = match serde_json::to_vec(&*event) {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "cannot encode alert");
                continue;
            }
        };
        let mut backoff = FIRST_BACKOFF;
        let mut delivered = false;
        for attempt in 1..=attempts.max(1) {
            let result = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let error = match result {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => e.to_string(),
            };
            debug!(%url, attempt, error, "webhook attempt failed");
            if attempt == attempts {
                warn!(%url, attempts, error, event = event.event, "alert not delivered");
                break;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        if delivered {
            metrics.alert_sent();
        } else {
            metrics.alert_failed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Alerts, Severity};
    use crate::config::server::AlertsConfig;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_until_the_receiver_accepts_and_drops_on_a_full_queue() {
        // A receiver that fails twice, then accepts.
        let hits = Arc::new(AtomicU32::new(0));
        let (got_tx, mut got) = mpsc::unbounded_channel::<serde_json::Value>();
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<serde_json::Value>| {
                let h = h.clone();
                let got_tx = got_tx.clone();
                async move {
                    if h.fetch_add(1, Ordering::SeqCst) < 2 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let _ = got_tx.send(v);
                    axum::http::StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let metrics = Arc::new(Metrics::default());
        let cfg = AlertsConfig {
            webhooks: vec![format!("http://{addr}/hook").parse().unwrap()],
            attempts: 5,
            timeout: Duration::from_secs(5),
            queue: 1,
        };
        let mut tasks = tokio::task::JoinSet::new();
        let stop = CancellationToken::new();
        let alerts = Alerts::start(
            &cfg,
            "here".into(),
            metrics.clone(),
            &mut tasks,
            stop.clone(),
        );
        let mut e = Event::new("pool", Severity::Warning, "pool a down");
        e.pool = Some("a".into());
        alerts.send(e);
        let v = tokio::time::timeout(Duration::from_secs(10), got.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v["text"], "pool a down");
        assert_eq!(v["pool"], "a");
        assert_eq!(v["server"], "here");
        assert_eq!(v["severity"], "warning");
        assert!(v.get("zone").is_none());
        assert_eq!(hits.load(Ordering::SeqCst), 3);

        // The receiver records before it answers: the count follows the answer.
        let sent = "switchyard_alerts_total{result=\"sent\"} 1";
        tokio::time::timeout(Duration::from_secs(10), async {
            while !metrics.render().contains(sent) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the delivery counted as sent");

        // The queue holds one: a burst while the task is busy drops and counts the rest.
        for _ in 0..50 {
            alerts.send(Event::new("pool", Severity::Info, "burst"));
        }
        let text = metrics.render();
        let dropped = text
            .lines()
            .find(|l| l.starts_with("switchyard_alerts_total{result=\"dropped\"}"))
            .unwrap();
        assert_ne!(
            dropped, "switchyard_alerts_total{result=\"dropped\"} 0",
            "{text}"
        );
        stop.cancel();
        while tasks.join_next().await.is_some() {}
    }
}
