//! The server file (`switchyard.toml`): where to listen and where the zones are.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ConfigError, Locator};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    server: RawServer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Vec<SocketAddr>,
    zones: PathBuf,
    #[serde(default = "default_region")]
    region: String,
    #[serde(default = "default_log")]
    log: String,
    #[serde(default)]
    udp_sockets: Option<usize>,
    #[serde(default = "default_fast_path")]
    udp_fast_path: bool,
}

fn default_fast_path() -> bool {
    true
}

fn default_region() -> String {
    "local".into()
}

fn default_log() -> String {
    "info".into()
}

/// A checked server configuration; paths are resolved against the file's directory.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub zones: PathBuf,
    /// The probe region this nameserver's own health checks speak for.
    pub region: String,
    /// A tracing filter directive, e.g. `info` or `switchyard=debug`.
    pub log: String,
    /// UDP sockets (SO_REUSEPORT) per listen address; default: one per core.
    pub udp_sockets: usize,
    /// Answer common UDP queries from prepared wire replies; `false` sends every query
    /// through the general path (same answers, slower; for comparison and tests).
    pub udp_fast_path: bool,
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let loc = Locator::new(path, text);
        let raw: ServerFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => loc.error(span, e.message().to_string()),
            None => ConfigError::whole_file(path, e.message().to_string()),
        })?;
        let raw = raw.server;
        if raw.listen.is_empty() {
            return Err(ConfigError::whole_file(path, "[server] listen is empty"));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            listen: raw.listen,
            zones: base.join(raw.zones),
            region: raw.region,
            log: raw.log,
            udp_sockets: raw.udp_sockets.unwrap_or(cores).clamp(1, 64),
            udp_fast_path: raw.udp_fast_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_path_is_relative_to_the_file() {
        let c = ServerConfig::parse(
            Path::new("/etc/sy/switchyard.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"zones\"\n",
        )
        .unwrap();
        assert_eq!(c.zones, PathBuf::from("/etc/sy/zones"));
        assert_eq!(c.region, "local");
    }

    #[test]
    fn unknown_key_is_located() {
        let e = ServerConfig::parse(
            Path::new("s.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"z\"\nlisen = 1\n",
        )
        .unwrap_err();
        assert_eq!(e.at.map(|a| a.0), Some(4), "{e}");
        assert!(e.message.contains("lisen"), "{e}");
    }
}
