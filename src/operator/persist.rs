//! The overrides file: every override in force (drills' included), written atomically on
//! each change so a restart, clean or not, keeps a drain.
//!
//! Format: JSON `{"version":1,"saved_at":<unix secs>,"overrides":[{id, zone, pool,
//! address?, action, reason, source, created_ms, expires_ms}]}`, times in unix ms.
//! Written like the health state file (health/persist.rs): `<file>.tmp`, fsync, rename,
//! fsync the directory; a crash leaves the old file or the new one, never a torn one.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::overrides::{Override, Source};
use crate::health::persist::write_atomically;
use crate::routing::Forced;

const VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: not a switchyard overrides file: {source}")]
    Format {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: overrides file version {found}, this build reads {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

#[derive(Serialize, Deserialize)]
struct File1 {
    version: u32,
    saved_at: u64,
    overrides: Vec<Saved>,
}

/// One override as saved: its scope spelled out, its times as unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub id: u64,
    pub zone: String,
    pub pool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<IpAddr>,
    pub action: Forced,
    pub reason: String,
    /// `"operator"` or `"drill"`; a drill's id is kept in `drill`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<u64>,
    pub created_ms: u64,
    pub expires_ms: u64,
}

impl Saved {
    pub fn source(&self) -> Source {
        match (self.source.as_str(), self.drill) {
            ("drill", Some(id)) => Source::Drill(id),
            _ => Source::Operator,
        }
    }

    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_ms)
    }

    pub fn created_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.created_ms)
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix milliseconds, rounded up: a restored override never ends before its time.
fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_millis() as u64 + u64::from(d.subsec_nanos() % 1_000_000 > 0)
    })
}

impl From<&Override> for Saved {
    fn from(o: &Override) -> Self {
        let (source, drill) = match o.source {
            Source::Operator => ("operator", None),
            Source::Drill(id) => ("drill", Some(id)),
        };
        Saved {
            id: o.id,
            zone: o.scope.zone.to_string(),
            pool: o.scope.pool.to_string(),
            address: o.scope.address,
            action: o.action,
            reason: o.reason.clone(),
            source: source.into(),
            drill,
            created_ms: o
                .created
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            expires_ms: millis(o.expires),
        }
    }
}

/// Write `overrides` to `path` atomically and durably.
pub fn save<'a>(
    path: &Path,
    overrides: impl Iterator<Item = &'a Override>,
) -> Result<(), PersistError> {
    let body = File1 {
        version: VERSION,
        saved_at: secs(SystemTime::now()),
        overrides: overrides.map(Saved::from).collect(),
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

/// Read an overrides file; a missing one is `Ok(vec![])`: nothing was in force.
pub fn load(path: &Path) -> Result<Vec<Saved>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
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
    Ok(file.overrides)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::overrides::{Overrides, Scope};
    use hickory_proto::rr::Name;

    #[test]
    fn saves_and_loads_every_field_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overrides.json");
        assert!(load(&path).unwrap().is_empty(), "missing: nothing in force");
        let mut o = Overrides::default();
        let scope = Scope {
            zone: Name::from_ascii("example.test.").unwrap(),
            pool: "east".into(),
            address: Some("192.0.2.1".parse().unwrap()),
        };
        let (x, _) = o.set(
            scope,
            Forced::Down,
            "drill".into(),
            Source::Drill(7),
            Duration::from_secs(90),
            tokio::time::Instant::now(),
        );
        save(&path, o.iter()).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back, vec![Saved::from(&x)]);
        assert_eq!(back[0].source(), Source::Drill(7));
        assert!(back[0].expires_at() >= x.expires);
        assert!(!path.with_extension("tmp").exists());
        fs::write(&path, b"{\"version\":1,\"saved_at\":1,\"over").unwrap();
        assert!(matches!(load(&path), Err(PersistError::Format { .. })));
    }
}
