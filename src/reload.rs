//! Hot reload of the zone files: on SIGHUP, on a change under the zones path (debounced),
//! or on request from the control API. Parse, validate, then hand the new zone set to the
//! health monitor (unchanged checks keep their state) and to the updater, which builds
//! and swaps the table. A set that fails validation changes nothing: the error is
//! logged, counted, and kept for status.
//!
//! One task owns the reloads (and the health monitor, which reconciling needs), so two
//! triggers at once are simply done one after the other.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config;
use crate::health::HealthMonitor;
use crate::metrics::Metrics;
use crate::updater::Built;
use crate::zone::ZoneSet;

/// Editors write a file in several steps (truncate, write, rename): wait for this much
/// quiet before reading, so we load the finished file once.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// How long a reload waits for the updater to serve the new zones before saying so.
const APPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one reload.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: String,
    /// `sighup`, `file` or `api`.
    pub trigger: &'static str,
    pub ok: bool,
    /// Every validation error, as `file:line:col: message`.
    pub errors: Vec<String>,
    /// The table epoch that first served the new zones.
    pub epoch: Option<u64>,
    pub zones: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadStatus {
    pub successes: u64,
    pub failures: u64,
    pub last: Option<Attempt>,
    /// The latest failure, kept after later successes for the record.
    pub last_failure: Option<Attempt>,
}

type Request = (&'static str, oneshot::Sender<Attempt>);

/// Asks the reload task for a reload; cheap to clone.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: mpsc::Sender<Request>,
    status: Arc<Mutex<ReloadStatus>>,
}

impl ReloadHandle {
    /// Reloads now and returns the outcome; `None` when the server is stopping.
    pub async fn reload(&self, trigger: &'static str) -> Option<Attempt> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((trigger, tx)).await.ok()?;
        rx.await.ok()
    }

    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub struct Reloader {
    pub zones_path: PathBuf,
    pub monitor: HealthMonitor,
    pub zones_tx: watch::Sender<Arc<ZoneSet>>,
    pub built: watch::Receiver<Arc<Built>>,
    pub metrics: Arc<Metrics>,
    /// Run after each successful reload (e.g. re-reading the control token).
    pub after: Vec<Box<dyn Fn() + Send + Sync>>,
}

impl Reloader {
    /// Starts watching (signal and files) right away, so a SIGHUP that arrives before the
    /// task first runs is not the default action (exit).
    pub fn start(
        self,
        shutdown: CancellationToken,
    ) -> anyhow::Result<(ReloadHandle, impl std::future::Future<Output = ()> + Send)> {
        #[cfg(unix)]
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let (fs_tx, fs_rx) = mpsc::channel(1);
        let watcher = watch_files(&self.zones_path, fs_tx);
        let (tx, rx) = mpsc::channel(8);
        let status = Arc::new(Mutex::new(ReloadStatus::default()));
        let handle = ReloadHandle {
            tx,
            status: status.clone(),
        };
        let task = async move {
            let _watcher = watcher;
            #[cfg(unix)]
            self.run(rx, hup, fs_rx, status, shutdown).await;
        };
        Ok((handle, task))
    }

    #[cfg(unix)]
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut hup: tokio::signal::unix::Signal,
        mut files: mpsc::Receiver<()>,
        status: Arc<Mutex<ReloadStatus>>,
        shutdown: CancellationToken,
    ) {
        loop {
            let (trigger, reply) = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = requests.recv() => match r { Some((t, reply)) => (t, Some(reply)), None => break },
                _ = hup.recv() => ("sighup", None),
                Some(()) = files.recv() => {
                    // Quiet period: every further event restarts it.
                    loop {
                        tokio::select! {
                            _ = shutdown.cancelled() => return self.monitor.shutdown().await,
                            Some(()) = files.recv() => continue,
                            _ = tokio::time::sleep(DEBOUNCE) => break,
                        }
                    }
                    ("file", None)
                }
            };
            let attempt = self.reload(trigger).await;
            {
                let mut st = status.lock().unwrap_or_else(|e| e.into_inner());
                if attempt.ok {
                    st.successes += 1;
                } else {
                    st.failures += 1;
                    st.last_failure = Some(attempt.clone());
                }
                st.last = Some(attempt.clone());
            }
            if let Some(reply) = reply {
                let _ = reply.send(attempt);
            }
        }
        self.monitor.shutdown().await;
    }

    async fn reload(&mut self, trigger: &'static str) -> Attempt {
        let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        // Off the runtime's threads: a big zone takes a while to parse, and TCP, the
        // control API and probing go on meanwhile.
        let path = self.zones_path.clone();
        let loaded = tokio::task::spawn_blocking(move || config::load_zones(&path)).await;
        let loaded = loaded.unwrap_or_else(|e| {
            Err(config::ConfigErrors(vec![config::ConfigError::whole_file(
                &self.zones_path,
                format!("zone loading stopped: {e}"),
            )]))
        });
        let zones = match loaded {
            Ok(z) => Arc::new(z),
            Err(errors) => {
                self.metrics.reload(false);
                let errors: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
                error!(trigger, errors = %errors.join("; "), "reload rejected; still serving the previous zones");
                return Attempt {
                    at,
                    trigger,
                    ok: false,
                    errors,
                    epoch: None,
                    zones: self.zones_tx.borrow().zones.len(),
                };
            }
        };
        // Probers first: unchanged targets keep their state, new ones start.
        self.monitor.reconcile(zones.targets());
        self.zones_tx.send_replace(zones.clone());
        let applied = tokio::time::timeout(
            APPLY_TIMEOUT,
            self.built.wait_for(|b| Arc::ptr_eq(&b.zones, &zones)),
        )
        .await;
        let epoch = match applied {
            Ok(Ok(b)) => Some(b.epoch),
            _ => {
                warn!(
                    trigger,
                    "reloaded zones not yet served after {APPLY_TIMEOUT:?}"
                );
                None
            }
        };
        self.metrics.reload(true);
        for f in &self.after {
            f();
        }
        info!(trigger, zones = zones.zones.len(), epoch, "zones reloaded");
        Attempt {
            at,
            trigger,
            ok: true,
            errors: Vec::new(),
            epoch,
            zones: zones.zones.len(),
        }
    }
}

/// Watches the zones directory (or a single zone file's directory) and signals `tx` on
/// changes to files that could be zone data. Failing to watch is logged, not fatal:
/// SIGHUP and the API still reload.
fn watch_files(path: &Path, tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let (dir, only) = if path.is_dir() {
        (path.to_path_buf(), None)
    } else {
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            path.file_name().map(|f| f.to_os_string()),
        )
    };
    let handler = move |res: notify::Result<notify::Event>| {
        let Ok(ev) = res else { return };
        // Our own reads are Access events; metadata (atime) changes are not content.
        let relevant_kind = matches!(
            ev.kind,
            EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any
        ) || matches!(ev.kind, EventKind::Modify(k) if !matches!(k, notify::event::ModifyKind::Metadata(_)));
        let relevant_file = ev.paths.iter().any(|p| {
            let Some(name) = p.file_name() else {
                return false;
            };
            if let Some(only) = &only {
                return name == only;
            }
            let name = name.to_string_lossy();
            !name.starts_with('.') && !name.ends_with('~') && !name.ends_with(".swp")
        });
        if relevant_kind && relevant_file {
            // A full channel already holds a wake-up: that is all we need.
            let _ = tx.try_send(());
        }
    };
    let mut w = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            warn!(error = %e, "cannot watch zone files; reload with SIGHUP or the API");
            return None;
        }
    };
    if let Err(e) = w.watch(&dir, RecursiveMode::NonRecursive) {
        warn!(dir = %dir.display(), error = %e, "cannot watch zone files; reload with SIGHUP or the API");
        return None;
    }
    info!(dir = %dir.display(), "watching zone files for changes");
    Some(w)
}
