//! The server file (`switchyard.toml`): where to listen, where the zones are, the control
//! API and the alert webhooks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::agents::{self, AgentsConfig, RawAgents};
use super::error::{ConfigError, SpanLocator};
use crate::geo::Coord;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerFile {
    server: RawServer,
    agents: Option<RawAgents>,
    control: Option<RawControl>,
    alerts: Option<RawAlerts>,
    limits: Option<super::limits::RawLimits>,
    rrl: Option<super::limits::RawRrl>,
    /// Probe region locations, for latency routing: `us-east = { lat = .., lon = .. }`.
    #[serde(default)]
    regions: BTreeMap<String, toml::Spanned<super::zonefile::Location>>,
}

/// The server file as `switchyard ctl` reads it: `[control]` alone, every other section
/// ignored (an operator may read the token but not, say, the agents' secret).
#[derive(Debug, Deserialize)]
struct ControlOnly {
    control: Option<RawControl>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawControl {
    listen: Option<toml::Spanned<String>>,
    token_file: Option<toml::Spanned<PathBuf>>,
    #[serde(default)]
    open_reads: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    webhooks: Vec<toml::Spanned<String>>,
    attempts: Option<toml::Spanned<i64>>,
    timeout: Option<toml::Spanned<String>>,
    queue: Option<toml::Spanned<i64>>,
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
    log_format: Option<toml::Spanned<String>>,
    #[serde(default)]
    udp_sockets: Option<usize>,
    /// A MaxMind DB (GeoIP2/GeoLite2 City or Country) for client locations.
    #[serde(default)]
    geoip: Option<toml::Spanned<PathBuf>>,
    /// Seed for weighted and multivalue draws, for reproducible runs; random by default.
    #[serde(default)]
    rng_seed: Option<u64>,
    #[serde(default)]
    report_listen: Option<SocketAddr>,
    #[serde(default = "default_fast_path")]
    udp_fast_path: bool,
    /// Where the last decided health is saved, for restarts.
    #[serde(default)]
    state_file: Option<toml::Spanned<PathBuf>>,
    #[serde(default)]
    startup: Option<toml::Spanned<String>>,
    /// Which nameserver this is, for CH TXT `id.server`/`hostname.bind` and NSID.
    #[serde(default)]
    identity: Option<toml::Spanned<String>>,
    /// What `version.bind` answers: `true` (the version, default), `false` (refused) or
    /// a string of the operator's.
    #[serde(default)]
    version: Option<toml::Spanned<VersionSpec>>,
    /// A state file older than this is ignored at start, e.g. "1h".
    #[serde(default)]
    state_max_age: Option<toml::Spanned<String>>,
    /// Where overrides in force are saved; default `overrides.json` beside `state_file`.
    #[serde(default)]
    overrides_file: Option<toml::Spanned<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum VersionSpec {
    Shown(bool),
    Text(String),
}

/// Longest identity or version string: one TXT character-string (RFC 1035 §3.3).
pub const MAX_IDENTITY: usize = 255;

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
    /// How log lines are written (to stderr either way).
    pub log_format: LogFormat,
    /// UDP sockets (SO_REUSEPORT) per listen address; default: one per core.
    pub udp_sockets: usize,
    /// Where probe agents' reports are received (HTTP), when not on the control server.
    pub report_listen: Option<SocketAddr>,
    /// Distributed probing; `None`: this nameserver decides from its own probes alone.
    pub agents: Option<AgentsConfig>,
    /// The control HTTP API; off unless the file has a `[control]` section.
    pub control: Option<ControlConfig>,
    /// Webhooks; off unless the file has an `[alerts]` section.
    pub alerts: Option<AlertsConfig>,
    /// The MaxMind DB, resolved against the file's directory.
    pub geoip: Option<PathBuf>,
    /// Probe region -> location, for latency routing.
    pub regions: BTreeMap<String, Coord>,
    /// Fixed seed for the per-query random draws.
    pub rng_seed: Option<u64>,
    /// What one client may cost: TCP connections, timeouts, query size.
    pub limits: super::limits::Limits,
    /// Response rate limiting on UDP; off unless the file has an `[rrl]` section.
    pub rrl: Option<super::limits::RrlConfig>,
    /// Answer common UDP queries from prepared wire replies; `false` sends every query
    /// through the general path (same answers, slower; for comparison and tests).
    pub udp_fast_path: bool,
    /// The health state file, resolved against the file's directory; written whenever
    /// health changes (at most once a second).
    pub state_file: Option<PathBuf>,
    /// What targets count as before their first probe result.
    pub startup: Startup,
    /// This nameserver's name for `id.server`, `hostname.bind` and NSID (default: the
    /// host name).
    pub identity: String,
    /// What `version.bind` and `version.server` answer; `None`: refused.
    pub version: Option<String>,
    /// A state file saved longer ago than this is ignored (with a warning) at start.
    pub state_max_age: std::time::Duration,
    /// Where overrides (drains, drills) are saved on every change and restored from at
    /// start; `None` (no `overrides_file` and no `state_file`): memory only.
    pub overrides_file: Option<PathBuf>,
    /// Where the files it names were given, for `config::preflight`'s messages.
    pub at: Positions,
}

/// The server file and the line:column of each file path in it; empty for a
/// configuration not read from a file (the demo).
#[derive(Debug, Clone, Default)]
pub struct Positions {
    pub file: PathBuf,
    pub token_file: Option<(usize, usize)>,
    pub state_file: Option<(usize, usize)>,
    pub geoip: Option<(usize, usize)>,
    pub overrides_file: Option<(usize, usize)>,
}

/// How old a state file may be and still say something about the backends.
pub const DEFAULT_STATE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// `[server] log_format`: text for people, JSON (one object a line) for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Start-up behaviour: what an unprobed target counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Startup {
    /// Each check's own `startup` state ("down" unless configured).
    #[default]
    Checks,
    /// Every target up: serve every pool until the first results, as before any outage.
    AllPools,
    /// The last decided state from `state_file`; targets it doesn't know use their check's.
    StateFile,
}

/// Where operators and Prometheus reach the server, and who may change it.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub listen: SocketAddr,
    /// A file holding the bearer token mutating requests need; `None`: read-only API.
    pub token_file: Option<PathBuf>,
    /// Let GET requests through without the token (for Prometheus and dashboards).
    pub open_reads: bool,
}

/// The control API listens on loopback unless told otherwise: it can drain regions.
pub const DEFAULT_CONTROL_LISTEN: &str = "127.0.0.1:8053";

#[derive(Debug, Clone)]
pub struct AlertsConfig {
    pub webhooks: Vec<reqwest::Url>,
    /// Tries per event and webhook, the first included.
    pub attempts: u32,
    /// Per request.
    pub timeout: std::time::Duration,
    /// Events waiting per webhook; more are dropped (and counted), never waited for.
    pub queue: usize,
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = super::source::read(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let loc = SpanLocator::new(path, text);
        let raw: ServerFile = from_toml(&loc, text)?;
        let mut regions = BTreeMap::new();
        for (name, at) in &raw.regions {
            let l = at.get_ref();
            let c = Coord::new(l.lat, l.lon).ok_or_else(|| {
                loc.error(
                    at.span(),
                    format!("region {name}: location out of range (lat -90..=90, lon -180..=180)"),
                )
            })?;
            regions.insert(name.clone(), c);
        }
        let ServerFile {
            server: raw,
            control: ctl,
            alerts,
            agents,
            limits,
            rrl,
            ..
        } = raw;
        let limits = super::limits::limits(&loc, limits)?;
        let rrl = super::limits::rrl(&loc, rrl)?;
        let agents = agents.map(|a| agents::parse(&loc, a)).transpose()?;
        if raw.listen.is_empty() {
            return Err(ConfigError::whole_file(path, "[server] listen is empty"));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let at = Positions {
            file: path.to_path_buf(),
            token_file: ctl
                .as_ref()
                .and_then(|c| c.token_file.as_ref())
                .map(|t| loc.line_col(t.span().start)),
            state_file: raw
                .state_file
                .as_ref()
                .map(|t| loc.line_col(t.span().start)),
            geoip: raw.geoip.as_ref().map(|t| loc.line_col(t.span().start)),
            // Derived from state_file when not given: located there.
            overrides_file: raw
                .overrides_file
                .as_ref()
                .or(raw.state_file.as_ref())
                .map(|t| loc.line_col(t.span().start)),
        };
        let control = raw_control(&loc, base, ctl)?;
        let alerts = raw_alerts(&loc, alerts)?;
        let log_format = match raw
            .log_format
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("text", _)) => LogFormat::Text,
            Some(("json", _)) => LogFormat::Json,
            Some((other, span)) => {
                return Err(loc.error(
                    span,
                    format!("log_format {other:?}: expected \"text\" (default) or \"json\""),
                ))
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let identity = match &raw.identity {
            Some(s) => short_text(&loc, s.get_ref(), s.span(), "identity")?,
            None => host_name(),
        };
        let version = match raw.version.as_ref().map(|v| (v.get_ref(), v.span())) {
            None | Some((VersionSpec::Shown(true), _)) => Some(VERSION.to_string()),
            Some((VersionSpec::Shown(false), _)) => None,
            Some((VersionSpec::Text(t), span)) => Some(short_text(&loc, t, span, "version")?),
        };
        Ok(Self {
            identity,
            version,
            listen: raw.listen,
            zones: base.join(raw.zones),
            region: raw.region,
            log: raw.log,
            log_format,
            udp_sockets: raw.udp_sockets.unwrap_or(cores).clamp(1, 64),
            report_listen: raw.report_listen,
            agents,
            control,
            alerts,
            geoip: raw.geoip.map(|g| base.join(g.into_inner())),
            regions,
            rng_seed: raw.rng_seed,
            limits,
            rrl,
            udp_fast_path: raw.udp_fast_path,
            startup: match raw.startup.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
                None | Some(("checks", _)) => Startup::Checks,
                Some(("all-pools", _)) => Startup::AllPools,
                Some(("state-file", span)) => {
                    if raw.state_file.is_none() {
                        return Err(loc.error(span, "startup = \"state-file\" needs `state_file`"));
                    }
                    Startup::StateFile
                }
                Some((other, span)) => {
                    return Err(loc.error(
                        span,
                        format!("startup {other:?}: expected \"checks\" (default), \"all-pools\" or \"state-file\""),
                    ))
                }
            },
            state_max_age: match &raw.state_max_age {
                None => DEFAULT_STATE_MAX_AGE,
                Some(s) => match humantime::parse_duration(s.get_ref()) {
                    Ok(d) if !d.is_zero() => d,
                    _ => {
                        return Err(loc.error(
                            s.span(),
                            format!("state_max_age {:?}: expected a duration such as \"1h\" or \"30m\"", s.get_ref()),
                        ))
                    }
                },
            },
            overrides_file: raw
                .overrides_file
                .map(|f| base.join(f.into_inner()))
                .or_else(|| raw.state_file.as_ref().map(|f| base.join(f.get_ref()).with_file_name("overrides.json"))),
            state_file: raw.state_file.map(|f| base.join(f.into_inner())),
            at,
        })
    }
}

/// What `version.bind` answers by default.
pub const VERSION: &str = concat!("switchyard ", env!("CARGO_PKG_VERSION"));

/// A string that must fit one TXT character-string and say something.
fn short_text(
    loc: &SpanLocator<'_>,
    t: &str,
    span: std::ops::Range<usize>,
    what: &str,
) -> Result<String, ConfigError> {
    if t.trim().is_empty() {
        return Err(loc.error(span, format!("[server] {what} is empty")));
    }
    if t.len() > MAX_IDENTITY {
        return Err(loc.error(
            span,
            format!(
                "[server] {what} is {} bytes long; at most {MAX_IDENTITY}",
                t.len()
            ),
        ));
    }
    Ok(t.to_string())
}

/// The host name, the default identity; `localhost` when the system has none.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(h) if rc == 0 && !h.is_empty() => h.to_string(),
        _ => "localhost".to_string(),
    }
}

fn from_toml<T: serde::de::DeserializeOwned>(
    loc: &SpanLocator<'_>,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| super::source::toml_error(loc, text, &e))
}

/// The `[control]` section of a server file, checked as [`ServerConfig::load`] checks
/// it (paths resolved against the file's directory), without reading any other section:
/// what `switchyard ctl --config` needs. `Ok(None)`: the file has no `[control]`.
pub fn control_section(path: &Path) -> Result<Option<ControlConfig>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
    let loc = SpanLocator::new(path, &text);
    let raw: ControlOnly = from_toml(&loc, &text)?;
    raw_control(&loc, path.parent().unwrap_or(Path::new(".")), raw.control)
}

fn raw_control(
    loc: &SpanLocator<'_>,
    base: &Path,
    raw: Option<RawControl>,
) -> Result<Option<ControlConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let listen = match &raw.listen {
        None => DEFAULT_CONTROL_LISTEN.parse().expect("valid default"),
        Some(s) => s
            .get_ref()
            .parse()
            .map_err(|e| loc.error(s.span(), format!("[control] listen {:?}: {e}", s.get_ref())))?,
    };
    if raw.token_file.is_none() && !raw.open_reads {
        return Err(ConfigError::whole_file(
            loc.file(),
            "[control] has neither token_file nor open_reads = true: nothing could use it",
        ));
    }
    Ok(Some(ControlConfig {
        listen,
        token_file: raw.token_file.map(|f| base.join(f.into_inner())),
        open_reads: raw.open_reads,
    }))
}

fn raw_alerts(
    loc: &SpanLocator<'_>,
    raw: Option<RawAlerts>,
) -> Result<Option<AlertsConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut webhooks = Vec::new();
    for w in &raw.webhooks {
        let url = reqwest::Url::parse(w.get_ref())
            .map_err(|e| loc.error(w.span(), format!("webhook {:?}: {e}", w.get_ref())))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(loc.error(w.span(), "a webhook URL must be http or https"));
        }
        webhooks.push(url);
    }
    let int = |v: &Option<toml::Spanned<i64>>, what: &str, lo: i64, hi: i64, default: i64| match v {
        None => Ok(default),
        Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref()),
        Some(s) => Err(loc.error(s.span(), format!("{what} out of range {lo}..={hi}"))),
    };
    let timeout = match &raw.timeout {
        None => std::time::Duration::from_secs(5),
        Some(s) => humantime::parse_duration(s.get_ref())
            .ok()
            .filter(|d| !d.is_zero() && *d <= std::time::Duration::from_secs(60))
            .ok_or_else(|| {
                loc.error(
                    s.span(),
                    format!("timeout {:?}: write e.g. \"5s\", at most 60s", s.get_ref()),
                )
            })?,
    };
    Ok(Some(AlertsConfig {
        webhooks,
        attempts: int(&raw.attempts, "attempts", 1, 20, 5)? as u32,
        timeout,
        queue: int(&raw.queue, "queue", 1, 100_000, 1024)? as usize,
    }))
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
    fn control_and_alerts_sections() {
        let c = ServerConfig::parse(
            Path::new("/etc/sy/switchyard.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"zones\"\n\
             [control]\ntoken_file = \"token\"\n\
             [alerts]\nwebhooks = [\"http://127.0.0.1:9/hook\"]\n",
        )
        .unwrap();
        let ctl = c.control.unwrap();
        assert_eq!(ctl.listen, DEFAULT_CONTROL_LISTEN.parse().unwrap());
        assert_eq!(ctl.token_file, Some(PathBuf::from("/etc/sy/token")));
        assert!(!ctl.open_reads);
        let a = c.alerts.unwrap();
        assert_eq!((a.attempts, a.queue), (5, 1024));
        let e = ServerConfig::parse(
            Path::new("s.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"z\"\n[alerts]\nwebhooks = [\"ftp://x\"]\n",
        )
        .unwrap_err();
        assert_eq!(e.at.map(|a| a.0), Some(5), "{e}");
        let e = ServerConfig::parse(
            Path::new("s.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"z\"\n[control]\nlisten = \"nope\"\nopen_reads = true\n",
        )
        .unwrap_err();
        assert_eq!(e.at.map(|a| a.0), Some(5), "{e}");
    }

    #[test]
    fn log_format_is_text_or_json_and_a_typo_is_located() {
        let parse = |extra: &str| {
            ServerConfig::parse(
                Path::new("s.toml"),
                &format!("[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"z\"\n{extra}"),
            )
        };
        assert_eq!(parse("").unwrap().log_format, LogFormat::Text);
        assert_eq!(
            parse("log_format = \"json\"\n").unwrap().log_format,
            LogFormat::Json
        );
        let e = parse("log_format = \"jsn\"\n").unwrap_err();
        assert_eq!(e.at, Some((4, 14)), "{e}");
        assert!(
            e.to_string()
                .contains("expected \"text\" (default) or \"json\""),
            "{e}"
        );
    }

    #[test]
    fn the_control_section_alone_is_read_and_checked_like_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        // An [agents] section whose secret cannot be read, and a [server] missing keys:
        // neither is looked at.
        std::fs::write(
            &f,
            "[server]\nbogus = 1\n[agents]\nsecret_file = \"unreadable\"\n\
             [control]\nlisten = \"127.0.0.1:9053\"\ntoken_file = \"token\"\n",
        )
        .unwrap();
        let c = control_section(&f).unwrap().unwrap();
        assert_eq!(c.listen, "127.0.0.1:9053".parse().unwrap());
        assert_eq!(c.token_file, Some(dir.path().join("token")));
        std::fs::write(
            &f,
            "[server]\n[control]\nlisten = \"nope\"\nopen_reads = true\n",
        )
        .unwrap();
        let e = control_section(&f).unwrap_err();
        assert_eq!(e.at, Some((3, 10)), "{e}");
        std::fs::write(&f, "[control]\nlistn = \"127.0.0.1:1\"\n").unwrap();
        let e = control_section(&f).unwrap_err();
        assert_eq!(e.at.map(|a| a.0), Some(2), "{e}");
        std::fs::write(&f, "[server]\n").unwrap();
        assert!(control_section(&f).unwrap().is_none());
    }

    #[test]
    fn geoip_regions_and_seed_are_read() {
        let c = ServerConfig::parse(
            Path::new("/etc/sy/switchyard.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"zones\"\ngeoip = \"geoip/test.mmdb\"\nrng_seed = 7\n\n[regions]\nus-east = { lat = 39.0, lon = -77.5 }\n",
        )
        .unwrap();
        assert_eq!(c.geoip, Some(PathBuf::from("/etc/sy/geoip/test.mmdb")));
        assert_eq!(c.rng_seed, Some(7));
        assert_eq!(
            c.regions["us-east"],
            Coord {
                lat: 39.0,
                lon: -77.5
            }
        );
        let e = ServerConfig::parse(
            Path::new("s.toml"),
            "[server]\nlisten = [\"127.0.0.1:5353\"]\nzones = \"z\"\n\n[regions]\nx = { lat = 95.0, lon = 0.0 }\n",
        )
        .unwrap_err();
        assert_eq!(e.at.map(|a| a.0), Some(6), "{e}");
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
