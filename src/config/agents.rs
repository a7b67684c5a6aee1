//! The `[agents]` section of the server file: distributed probing. Where reports go, the
//! shared secret that signs them, which regions may vote, and how votes age and are
//! distrusted (staleness, the mass-failure guard). Parsed and checked here, once.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, SpanLocator};

type S<T> = Spanned<T>;

/// A shared secret shorter than this is guessable; 16 bytes is the HMAC-SHA256 floor most
/// guidance gives (RFC 2104 §3 recommends at least the hash output, 32).
const MIN_SECRET: usize = 16;
const DEFAULT_STALE_INTERVALS: u32 = 3;
/// Long enough to gather a burst of results into one report, short enough not to add
/// noticeably to the time to fail over.
const DEFAULT_BATCH: Duration = Duration::from_millis(200);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgents {
    secret_file: S<String>,
    #[serde(default)]
    report_to: Vec<S<String>>,
    regions: Option<S<Vec<S<String>>>>,
    staleness: Option<S<String>>,
    batch: Option<S<String>>,
    mass_failure: Option<S<RawMassFailure>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMassFailure {
    fraction: Option<S<f64>>,
    min_targets: Option<S<i64>>,
    window: Option<S<String>>,
}

/// Distributed probing, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentsConfig {
    pub secret: Secret,
    /// Every nameserver's report endpoint (`.../v1/reports`).
    pub report_to: Vec<reqwest::Url>,
    /// The regions allowed to vote; `None`: any region that signs its reports.
    pub regions: Option<Vec<Arc<str>>>,
    pub staleness: Staleness,
    /// How long an agent gathers results before sending them.
    pub batch: Duration,
    pub mass_failure: MassFailure,
}

impl Default for AgentsConfig {
    /// No agents: the nameserver decides alone, from its own region.
    fn default() -> Self {
        AgentsConfig {
            secret: Secret(Arc::from(&b""[..])),
            report_to: Vec::new(),
            regions: None,
            staleness: Staleness::default(),
            batch: DEFAULT_BATCH,
            mass_failure: MassFailure::default(),
        }
    }
}

impl AgentsConfig {
    /// Whether `region` may vote.
    pub fn allows(&self, region: &str) -> bool {
        self.regions
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| &**x == region))
    }
}

/// The key that signs reports. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    pub fn new(bytes: &[u8]) -> Secret {
        Secret(Arc::from(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(<{} bytes>)", self.0.len())
    }
}

/// How long a region's verdict on a target counts after its last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// This many of the target's check intervals.
    Intervals(u32),
    /// The same window for every check.
    Fixed(Duration),
}

impl Default for Staleness {
    fn default() -> Self {
        Staleness::Intervals(DEFAULT_STALE_INTERVALS)
    }
}

impl Staleness {
    pub fn window(self, interval: Duration) -> Duration {
        match self {
            Staleness::Intervals(n) => interval * n,
            Staleness::Fixed(d) => d,
        }
    }
}

/// When a region is suspected instead of its targets: it saw more than `fraction` of its
/// targets, and at least `min_targets`, go down within `window`, and the other regions
/// mostly don't see them down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MassFailure {
    pub fraction: f64,
    pub min_targets: usize,
    /// `None`: the longest `interval × (fall + 1)` among the checks, the span over which
    /// one outage's failures are detected.
    pub window: Option<Duration>,
}

impl Default for MassFailure {
    fn default() -> Self {
        MassFailure {
            fraction: 0.5,
            min_targets: 3,
            window: None,
        }
    }
}

/// The `[agents]` section, one setting after another; the first bad one is the error.
pub(super) fn parse(loc: &SpanLocator<'_>, raw: RawAgents) -> Result<AgentsConfig, ConfigError> {
    Ok(AgentsConfig {
        secret: secret(loc, &raw.secret_file)?,
        report_to: report_to(loc, &raw.report_to)?,
        regions: regions(loc, raw.regions)?,
        staleness: staleness(loc, raw.staleness.as_ref())?,
        batch: batch(loc, raw.batch.as_ref())?,
        mass_failure: mass_failure(loc, raw.mass_failure.as_ref())?,
    })
}

/// `secret_file`, relative to the server file: the shared key agents sign reports with.
fn secret(loc: &SpanLocator<'_>, secret_file: &S<String>) -> Result<Secret, ConfigError> {
    let base = loc.file().parent().unwrap_or(Path::new("."));
    let secret_path = base.join(secret_file.get_ref());
    match std::fs::read(&secret_path) {
        Ok(bytes) => {
            // Files written by editors and `echo` end with a newline that is not key material.
            let trimmed = bytes.trim_ascii();
            if trimmed.len() < MIN_SECRET {
                return Err(loc.error(
                    secret_file.span(),
                    format!(
                        "secret_file {}: the secret is {} bytes; at least {MIN_SECRET} are needed (e.g. `head -c 32 /dev/urandom | base64 > {}`)",
                        secret_path.display(),
                        trimmed.len(),
                        secret_file.get_ref()
                    ),
                ));
            }
            Ok(Secret::new(trimmed))
        }
        Err(e) => Err(loc.error(
            secret_file.span(),
            format!("secret_file {}: cannot read: {e}", secret_path.display()),
        )),
    }
}

/// `report_to`: the nameservers' report endpoints, each listed once.
fn report_to(loc: &SpanLocator<'_>, raw: &[S<String>]) -> Result<Vec<reqwest::Url>, ConfigError> {
    let mut report_to = Vec::new();
    for u in raw {
        let url = reqwest::Url::parse(u.get_ref())
            .map_err(|e| loc.error(u.span(), format!("report_to {:?}: {e}", u.get_ref())))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(loc.error(
                u.span(),
                format!(
                    "report_to {:?}: expected an http:// or https:// URL of a nameserver",
                    u.get_ref()
                ),
            ));
        }
        let url = url
            .join("/v1/reports")
            .map_err(|e| loc.error(u.span(), format!("report_to {:?}: {e}", u.get_ref())))?;
        if report_to.contains(&url) {
            return Err(loc.error(u.span(), format!("report_to {url} listed twice")));
        }
        report_to.push(url);
    }
    Ok(report_to)
}

/// `regions`: the regions whose reports are accepted; `None` accepts any.
fn regions(
    loc: &SpanLocator<'_>,
    raw: Option<S<Vec<S<String>>>>,
) -> Result<Option<Vec<Arc<str>>>, ConfigError> {
    let list = match raw {
        None => return Ok(None),
        Some(list) => list,
    };
    let mut out: Vec<Arc<str>> = Vec::new();
    for r in list.get_ref() {
        let name = r.get_ref().trim();
        if name.is_empty() {
            return Err(loc.error(r.span(), "region name is empty"));
        }
        if out.iter().any(|x| &**x == name) {
            return Err(loc.error(r.span(), format!("region {name:?} listed twice")));
        }
        out.push(name.into());
    }
    if out.is_empty() {
        return Err(loc.error(
            list.span(),
            "regions is empty: leave it out to accept any region",
        ));
    }
    Ok(Some(out))
}

/// `staleness`: how long a vantage's last report counts.
fn staleness(loc: &SpanLocator<'_>, raw: Option<&S<String>>) -> Result<Staleness, ConfigError> {
    match raw {
        None => Ok(Staleness::default()),
        Some(s) => parse_staleness(s.get_ref()).ok_or_else(|| {
            loc.error(
                s.span(),
                format!(
                    "staleness {:?}: expected a number of check intervals like \"3x\" (1x..=100x) or a duration like \"30s\" (100ms..=1h)",
                    s.get_ref()
                ),
            )
        }),
    }
}

/// `batch`: how long an agent gathers results before sending them.
fn batch(loc: &SpanLocator<'_>, raw: Option<&S<String>>) -> Result<Duration, ConfigError> {
    match raw {
        None => Ok(DEFAULT_BATCH),
        Some(b) => duration_in(
            loc,
            b,
            "batch",
            Duration::from_millis(10),
            Duration::from_secs(10),
        ),
    }
}

/// `[agents.mass_failure]`: when many targets fail at once, suspect the vantage.
fn mass_failure(
    loc: &SpanLocator<'_>,
    raw: Option<&S<RawMassFailure>>,
) -> Result<MassFailure, ConfigError> {
    let mut mass_failure = MassFailure::default();
    if let Some(m) = raw {
        let m = m.get_ref();
        if let Some(f) = &m.fraction {
            let v = *f.get_ref();
            if !(0.0..=1.0).contains(&v) {
                return Err(loc.error(
                    f.span(),
                    format!("fraction {v} out of range 0.0..=1.0 (1.0 turns the guard off)"),
                ));
            }
            mass_failure.fraction = v;
        }
        if let Some(n) = &m.min_targets {
            let v = *n.get_ref();
            if !(1..=1_000_000).contains(&v) {
                return Err(loc.error(n.span(), format!("min_targets {v} out of range 1..")));
            }
            mass_failure.min_targets = v as usize;
        }
        if let Some(w) = &m.window {
            mass_failure.window = Some(duration_in(
                loc,
                w,
                "window",
                Duration::from_millis(100),
                Duration::from_secs(86_400),
            )?);
        }
    }
    Ok(mass_failure)
}

fn parse_staleness(s: &str) -> Option<Staleness> {
    let s = s.trim();
    if let Some(n) = s.strip_suffix('x') {
        return match n.trim().parse::<u32>() {
            Ok(n @ 1..=100) => Some(Staleness::Intervals(n)),
            _ => None,
        };
    }
    match humantime::parse_duration(s) {
        Ok(d) if d >= Duration::from_millis(100) && d <= Duration::from_secs(3600) => {
            Some(Staleness::Fixed(d))
        }
        _ => None,
    }
}

fn duration_in(
    loc: &SpanLocator<'_>,
    raw: &S<String>,
    what: &str,
    lo: Duration,
    hi: Duration,
) -> Result<Duration, ConfigError> {
    match humantime::parse_duration(raw.get_ref()) {
        Ok(d) if d >= lo && d <= hi => Ok(d),
        Ok(_) => Err(loc.error(
            raw.span(),
            format!(
                "{what} {:?} out of range {}..={}",
                raw.get_ref(),
                humantime::format_duration(lo),
                humantime::format_duration(hi)
            ),
        )),
        Err(e) => Err(loc.error(
            raw.span(),
            format!("{what} {:?}: {e} (write e.g. \"200ms\")", raw.get_ref()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_takes_intervals_or_a_duration() {
        assert_eq!(parse_staleness("3x"), Some(Staleness::Intervals(3)));
        assert_eq!(
            parse_staleness("45s"),
            Some(Staleness::Fixed(Duration::from_secs(45)))
        );
        assert_eq!(parse_staleness("0x"), None);
        assert_eq!(parse_staleness("10ms"), None);
        assert_eq!(parse_staleness("soon"), None);
        assert_eq!(
            Staleness::Intervals(3).window(Duration::from_secs(5)),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let s = Secret::new(b"0123456789abcdef-very-secret");
        assert!(!format!("{s:?}").contains("secret"), "{s:?}");
    }
}
