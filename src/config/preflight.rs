//! Everything a server file names, checked before anything is bound: the control token
//! file (readable, not empty), the state and overrides files (their directories
//! writable), the GeoIP
//! database (readable), every zone file, and each declared `max_failover` against the
//! delays the server file adds (the agents' batch). `switchyard check --config` and
//! `serve` both run it, so an `ExecStartPre` check catches what `serve` would refuse.

use std::path::Path;

use super::error::{ConfigError, ConfigErrors};
use super::server::ServerConfig;
use crate::zone::budget::{self, Delays};
use crate::zone::ZoneSet;

/// The delays the server file adds to every decision.
pub fn delays(cfg: &ServerConfig) -> Delays {
    Delays {
        batch: cfg.agents.as_ref().map(|a| a.batch),
    }
}

/// The files the server file names and its zones; every error at once.
pub fn load(cfg: &ServerConfig) -> Result<ZoneSet, ConfigErrors> {
    let mut errors = files(cfg);
    match super::load_zones(&cfg.zones) {
        Ok(zones) => {
            errors.extend(budgets(&zones, delays(cfg)));
            if errors.is_empty() {
                return Ok(zones);
            }
        }
        Err(mut e) => errors.append(&mut e.0),
    }
    Err(ConfigErrors(errors))
}

/// The token, state and GeoIP files: each problem located at the key that names it.
pub fn files(cfg: &ServerConfig) -> Vec<ConfigError> {
    let at = &cfg.at;
    let err = |pos: Option<(usize, usize)>, message: String| ConfigError {
        file: at.file.clone(),
        at: pos,
        message,
    };
    let mut errors = Vec::new();
    if let Some(token) = cfg.control.as_ref().and_then(|c| c.token_file.as_ref()) {
        match std::fs::read_to_string(token) {
            Err(e) => errors.push(err(
                at.token_file,
                format!("token_file {}: cannot read: {e}", token.display()),
            )),
            Ok(t) if t.trim().is_empty() => errors.push(err(
                at.token_file,
                format!(
                    "token_file {} is empty: put the bearer token in it (e.g. `head -c 32 /dev/urandom | base64 > {}`)",
                    token.display(),
                    token.display()
                ),
            )),
            Ok(_) => {}
        }
    }
    if let Some(state) = &cfg.state_file {
        if let Err(msg) = writable(state) {
            errors.push(err(
                at.state_file,
                format!("state_file {}: {msg}", state.display()),
            ));
        }
    }
    if let Some(o) = &cfg.overrides_file {
        if let Err(msg) = writable(o) {
            errors.push(err(
                at.overrides_file,
                format!("overrides_file {}: {msg}", o.display()),
            ));
        }
    }
    if let Some(db) = &cfg.geoip {
        if let Err(e) = std::fs::File::open(db) {
            errors.push(err(
                at.geoip,
                format!("geoip {}: cannot read: {e}", db.display()),
            ));
        }
    }
    errors
}

/// The state file is replaced by a temporary file in its directory and a rename, so the
/// directory must take a new file; an existing state file must be readable.
fn writable(state: &Path) -> Result<(), String> {
    let dir = match state.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(format!("directory {} does not exist", dir.display()));
    }
    if state.exists() {
        std::fs::File::open(state).map_err(|e| format!("cannot read: {e}"))?;
    }
    let probe = dir.join(format!(".switchyard-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("directory {} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `max_failover` again, now with the server file's delays (validation of the zone file
/// alone assumes a nameserver that decides without agents).
fn budgets(zones: &ZoneSet, delays: Delays) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for z in &zones.zones {
        for p in &z.policies {
            let Some((max, at)) = p.max_failover else {
                continue;
            };
            let b = budget::policy_budget(p, &z.policies, &z.pools, &z.checks, delays);
            if b.visible > max {
                errors.push(ConfigError {
                    file: z.file.clone(),
                    at: Some(at),
                    message: format!(
                        "policy {}: worst-case failover {} exceeds max_failover {} ({})",
                        p.label,
                        budget::secs(b.visible),
                        budget::secs(max),
                        b.explain()
                    ),
                });
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(dir: &Path, extra: &str) -> ServerConfig {
        let text = format!("[server]\nlisten = [\"127.0.0.1:0\"]\nzones = \"zones\"\n{extra}");
        let path = dir.join("switchyard.toml");
        std::fs::write(&path, &text).unwrap();
        ServerConfig::parse(&path, &text).unwrap()
    }

    #[test]
    fn named_files_are_checked_at_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("token"), "secret-token\n").unwrap();
        let good = server(
            d,
            "state_file = \"state.json\"\n[control]\ntoken_file = \"token\"\n",
        );
        assert!(files(&good).is_empty(), "{:?}", files(&good));
        std::fs::write(d.join("empty"), "\n").unwrap();
        let bad = server(
            d,
            "state_file = \"nowhere/state.json\"\ngeoip = \"missing.mmdb\"\n[control]\ntoken_file = \"empty\"\n",
        );
        let msgs: Vec<String> = files(&bad).iter().map(|e| e.to_string()).collect();
        let f = d.join("switchyard.toml");
        // The overrides file goes beside the state file: the same missing directory.
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(
            msgs[2].starts_with(&format!(
                "{}:4:14: overrides_file {}: directory",
                f.display(),
                d.join("nowhere/overrides.json").display()
            )),
            "{msgs:?}"
        );
        assert!(
            msgs[0].starts_with(&format!(
                "{}:7:14: token_file {} is empty",
                f.display(),
                d.join("empty").display()
            )),
            "{msgs:?}"
        );
        assert!(
            msgs[1].starts_with(&format!(
                "{}:4:14: state_file {}: directory {} does not exist",
                f.display(),
                d.join("nowhere/state.json").display(),
                d.join("nowhere").display()
            )),
            "{msgs:?}"
        );
        assert!(
            msgs[3].starts_with(&format!(
                "{}:5:9: geoip {}: cannot read:",
                f.display(),
                d.join("missing.mmdb").display()
            )),
            "{msgs:?}"
        );
    }
}
