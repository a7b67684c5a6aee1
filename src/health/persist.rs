//! The health state file: the last decided state of every target, written atomically
//! so a restart can answer from what was known instead of flapping through start-up.
//!
//! Format: JSON `{"version":1,"saved_at":<unix secs>,"targets":[{"check","address","health"}]}`.
//! Written to `<file>.tmp`, fsynced, then renamed over `<file>` and the directory
//! fsynced: a crash at any point leaves either the old file or the new one, never a
//! torn write.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::snapshot::{Health, HealthSnapshot};
use crate::zone::Target;

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a switchyard state file: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: state file version {found}, this build reads {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

#[derive(Serialize, Deserialize)]
struct File1 {
    version: u32,
    saved_at: u64,
    targets: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    check: String,
    address: IpAddr,
    health: String,
}

/// What a state file says: decided states (Up or Down) and when they were saved.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedState {
    pub saved_at: SystemTime,
    pub targets: HashMap<Target, Health>,
}

impl SavedState {
    pub fn age(&self) -> Duration {
        SystemTime::now()
            .duration_since(self.saved_at)
            .unwrap_or_default()
    }
}

/// Write the decided states of `snapshot` to `path` atomically. Unknown targets are
/// left out: they carry no knowledge worth keeping.
pub fn save(path: &Path, snapshot: &HealthSnapshot) -> Result<(), PersistError> {
    let mut targets: Vec<Entry> = snapshot
        .targets
        .iter()
        .filter(|(_, s)| s.health != Health::Unknown)
        .map(|(t, s)| Entry {
            check: t.check.to_string(),
            address: t.addr,
            health: s.health.as_str().to_string(),
        })
        .collect();
    targets.sort_by(|a, b| (&a.check, a.address).cmp(&(&b.check, b.address)));
    let body = File1 {
        version: VERSION,
        saved_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        targets,
    };
    let bytes = serde_json::to_vec_pretty(&body).map_err(|e| PersistError::Format {
        path: path.to_path_buf(),
        source: e,
    })?;
    write_atomically(path, &bytes).map_err(|source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Write `bytes` to `path` so that a crash at any moment leaves either the old file or
/// the new one, never a torn one: a temporary file beside it, fsync, rename, then fsync
/// of the directory (the rename is durable only once the directory entry is). Every
/// file the server keeps across restarts (health state, overrides) is written this way.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Read a state file. A missing file is `Ok(None)`: a first start, not an error.
pub fn load(path: &Path) -> Result<Option<SavedState>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let file: File1 = serde_json::from_slice(&bytes).map_err(|source| PersistError::Format {
        path: path.to_path_buf(),
        source,
    })?;
    if file.version != VERSION {
        return Err(PersistError::Version {
            path: path.to_path_buf(),
            found: file.version,
        });
    }
    let targets = file
        .targets
        .into_iter()
        .filter_map(|e| {
            let health = match e.health.as_str() {
                "up" => Health::Up,
                "down" => Health::Down,
                _ => return None,
            };
            Some((
                Target {
                    check: e.check.into(),
                    addr: e.address,
                },
                health,
            ))
        })
        .collect();
    Ok(Some(SavedState {
        saved_at: UNIX_EPOCH + Duration::from_secs(file.saved_at),
        targets,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::snapshot::TargetStatus;

    fn snapshot() -> HealthSnapshot {
        let mut s = HealthSnapshot::default();
        for (n, h) in [(1, Health::Up), (2, Health::Down), (3, Health::Unknown)] {
            s.targets.insert(
                Target {
                    check: "example.test./web".into(),
                    addr: IpAddr::from([192, 0, 2, n]),
                },
                TargetStatus {
                    health: h,
                    since: SystemTime::now(),
                    last_reason: String::new(),
                    latency: None,
                },
            );
        }
        s
    }

    #[test]
    fn saves_and_loads_decided_states_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health.json");
        assert_eq!(
            load(&path).unwrap(),
            None,
            "a missing file is a first start"
        );
        save(&path, &snapshot()).unwrap();
        let loaded = load(&path).unwrap().expect("state");
        assert_eq!(loaded.targets.len(), 2);
        let up = Target {
            check: "example.test./web".into(),
            addr: IpAddr::from([192, 0, 2, 1]),
        };
        assert_eq!(loaded.targets[&up], Health::Up);
        assert!(loaded.age() < Duration::from_secs(60));
        assert!(
            !path.with_extension("tmp").exists(),
            "the temporary file is renamed away"
        );
    }

    #[test]
    fn a_torn_or_foreign_file_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health.json");
        save(&path, &snapshot()).unwrap();
        let full = fs::read(&path).unwrap();
        fs::write(&path, &full[..full.len() / 2]).unwrap();
        assert!(matches!(load(&path), Err(PersistError::Format { .. })));
        fs::write(&path, br#"{"version":9,"saved_at":0,"targets":[]}"#).unwrap();
        assert!(matches!(
            load(&path),
            Err(PersistError::Version { found: 9, .. })
        ));
    }

    #[test]
    fn a_crash_before_rename_leaves_the_previous_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("health.json");
        save(&path, &snapshot()).unwrap();
        let before = fs::read(&path).unwrap();
        // A writer that died mid-write leaves only a partial temporary file behind.
        fs::write(
            path.with_extension("tmp"),
            b"{\"version\":1,\"saved_at\":1,\"tar",
        )
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(load(&path).unwrap().unwrap().targets.len(), 2);
        // The next save replaces the leftover.
        save(&path, &HealthSnapshot::default()).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().targets.len(), 0);
    }
}
