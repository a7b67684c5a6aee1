//! The standard process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_start_time_seconds`, `process_open_fds`, `process_max_fds`), read from
//! /proc at scrape time, so nothing runs between scrapes. Names and meanings are those
//! of the Prometheus client libraries, so stock dashboards work. Off Linux (no /proc)
//! the families are declared with no sample.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// What one scrape read; any part /proc did not give is `None` and left out.
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
}

impl ProcessStats {
    /// This process, now.
    pub fn read() -> ProcessStats {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        // SAFETY: sysconf only reads a system constant.
        let (ticks, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let mut s = parse(
            read("/proc/self/stat").as_deref(),
            read("/proc/stat").as_deref(),
            read("/proc/self/statm").as_deref(),
            read("/proc/self/limits").as_deref(),
            ticks as f64,
            page as f64,
        );
        s.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64);
        s
    }
}

/// The arithmetic of [`ProcessStats::read`] on the files' text, for tests.
fn parse(
    stat: Option<&str>,
    system_stat: Option<&str>,
    statm: Option<&str>,
    limits: Option<&str>,
    ticks: f64,
    page: f64,
) -> ProcessStats {
    // The command name (field 2) is in parentheses and may hold spaces or parentheses:
    // the fields that matter follow the last `)`. After it, field 3 is index 0.
    let fields: Vec<&str> = stat
        .and_then(|s| s.rsplit_once(')'))
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let boot = system_stat.and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let ticks = Some(ticks).filter(|t| *t > 0.0);
    let cpu = match (field(14), field(15), ticks) {
        (Some(u), Some(s), Some(t)) => Some((u + s) / t),
        _ => None,
    };
    let start = match (field(22), boot, ticks) {
        (Some(since_boot), Some(boot), Some(t)) => Some(boot + since_boot / t),
        _ => None,
    };
    let resident = statm
        .and_then(|s| s.split_whitespace().nth(1))
        .and_then(|p| p.parse::<f64>().ok())
        .map(|pages| pages * page);
    let max_fds = limits.and_then(|l| {
        l.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|soft| soft.parse::<f64>().ok())
    });
    ProcessStats {
        cpu_seconds: cpu,
        resident_bytes: resident,
        virtual_bytes: field(23),
        start_time_seconds: start,
        open_fds: None,
        max_fds,
    }
}

/// Registered by [`super::Metrics`] (and the probe agent's registry).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let s = ProcessStats::read();
        let mut cpu = encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?;
        if let Some(v) = s.cpu_seconds {
            cpu.encode_counter::<NoLabelSet, _, f64>(&v, None)?;
        }
        for (name, help, v) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                s.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                s.virtual_bytes,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                s.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                s.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                s.max_fds,
            ),
        ] {
            let mut e = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            if let Some(v) = v {
                e.encode_gauge(&v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // Field 14/15: utime/stime = 250/150 ticks; 22: start 1000 ticks after boot;
        // 23: vsize. The command name has a space and a parenthesis in it.
        let stat = "42 (a b) c) S 1 1 1 0 -1 0 0 0 0 0 250 150 0 0 20 0 4 0 1000 8192000 500";
        let s = parse(
            Some(stat),
            Some("cpu 1 2 3\nbtime 1700000000\n"),
            Some("2000 300 100 1 0 50 0\n"),
            Some("Limit Soft Hard Units\nMax open files            1024                 524288               files\n"),
            100.0,
            4096.0,
        );
        assert_eq!(
            s,
            ProcessStats {
                cpu_seconds: Some(4.0),
                resident_bytes: Some(300.0 * 4096.0),
                virtual_bytes: Some(8_192_000.0),
                start_time_seconds: Some(1_700_000_010.0),
                open_fds: None,
                max_fds: Some(1024.0),
            }
        );
        assert_eq!(
            parse(None, None, None, None, 100.0, 4096.0),
            ProcessStats::default()
        );
    }

    #[test]
    fn this_process_is_read() {
        let s = ProcessStats::read();
        if cfg!(target_os = "linux") {
            assert!(s.resident_bytes.unwrap() > 0.0);
            assert!(s.open_fds.unwrap() >= 3.0, "{s:?}");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let start = s.start_time_seconds.unwrap();
            assert!(
                start <= now + 1.0 && start > now - 3600.0,
                "{start} vs {now}"
            );
            assert!(s.cpu_seconds.unwrap() >= 0.0);
        }
    }
}
