//! The `switchyard` command: CLI parsing and wiring only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchyard::config::server::LogFormat;
use switchyard::config::{self, ServerConfig};
use switchyard::{agent, demo, server};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Authoritative DNS that answers by policy and live health"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the zones named by a server file.
    Serve {
        #[arg(long, short, default_value = "switchyard.toml")]
        config: PathBuf,
    },
    /// Validate zone policy files (a directory or one file), or with `--config` a server
    /// file and everything it names, and print a summary, the failover budget and what
    /// resolvers will do to the answers.
    Check {
        /// Zone policy files: a directory or one file.
        #[arg(required_unless_present = "config", conflicts_with = "config")]
        path: Option<PathBuf>,
        /// A server file: it, its token, state and GeoIP files and every zone it names.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run a probe agent: probe the zones of a server file from one region and report the
    /// results to every nameserver in its `[agents] report_to`.
    Probe {
        #[arg(long)]
        region: String,
        #[arg(long, short, default_value = "switchyard.toml")]
        config: PathBuf,
        /// Serve `/healthz` and `/metrics` on this address (e.g. 127.0.0.1:9154).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Talk to a running server's control API: status, overrides, reload, explain, drills.
    Ctl(switchyard::ctl::CtlArgs),
    /// DNSSEC tools.
    Dnssec {
        #[command(subcommand)]
        command: DnssecCommand,
    },
    /// A controllable HTTP backend as its own process (for tests).
    #[command(hide = true)]
    TestBackend {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        control: Option<std::net::SocketAddr>,
    },
    /// Run the demo: the zones under `zones/` with two local backends you can fail.
    Demo {
        #[arg(long, default_value = "zones")]
        zones: PathBuf,
        #[arg(long, default_value = "127.0.0.1:5353")]
        listen: std::net::SocketAddr,
        /// The control API (status, metrics, overrides, drills).
        #[arg(long, default_value = switchyard::config::server::DEFAULT_CONTROL_LISTEN)]
        control: std::net::SocketAddr,
        /// MaxMind DB for the geo policies; the project's test database by default.
        #[arg(long, default_value = "geoip/test.mmdb")]
        geoip: PathBuf,
    },
}

#[derive(Subcommand)]
enum DnssecCommand {
    /// Print the DS records (SHA-256) to give the parent zone, as `dnssec-dsfromkey -2`
    /// does: for each key file named, each key-signing key in a directory, or the
    /// key-signing keys of a zone policy file's `[dnssec]` section (`*.toml`).
    Ds {
        #[arg(required = true)]
        keys: Vec<PathBuf>,
    },
}

/// DS lines for `dnssec ds`: a `*.toml` argument is a zone policy file, whose
/// `[dnssec]` keys are loaded and checked as `serve` would.
fn ds_lines(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for p in paths {
        if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
            let zones = switchyard::config::load_zones(p).map_err(|e| anyhow::anyhow!("{e}"))?;
            for z in &zones.zones {
                let Some(keys) = &z.dnssec else {
                    anyhow::bail!("{}: zone {} has no [dnssec] keys", p.display(), z.origin);
                };
                out.extend(switchyard::dnssec::ds::ds_lines_of(keys)?);
            }
        } else {
            out.extend(switchyard::dnssec::ds::ds_lines(std::slice::from_ref(p))?);
        }
    }
    Ok(out)
}

/// Logs go to stderr (the journal, under systemd), as text or as one JSON object a line.
fn init_logging(default: &str, format: LogFormat) {
    // hickory-server logs every response at info: far too much for a nameserver.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{default},hickory_server=warn,hickory_proto=warn"))
    });
    use std::io::IsTerminal;
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => fmt.json().with_ansi(false).init(),
    }
}

fn main() -> ExitCode {
    switchyard::alloc::return_large_blocks();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { path, config } => check(path, config),
        Command::Serve { config } => {
            let cfg = match ServerConfig::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logging(&cfg.log, cfg.log_format);
            // Before anything is bound: the files the server file names and every zone.
            let zones = match config::preflight::load(&cfg) {
                Ok(z) => z,
                Err(errors) => {
                    eprintln!("{errors}");
                    eprintln!(
                        "refusing to start: {} error(s) in the configuration",
                        errors.0.len()
                    );
                    return ExitCode::FAILURE;
                }
            };
            run(async move {
                let running = server::start(&cfg, zones).await?;
                let stop = server::terminated();
                announce(&running);
                stop.await;
                tracing::info!(
                    "shutting down: no new connections; finishing in-flight TCP answers"
                );
                running.stop().await;
                tracing::info!("stopped");
                Ok(())
            })
        }
        Command::Probe {
            region,
            config,
            listen,
        } => {
            let cfg = match ServerConfig::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            init_logging(&cfg.log, cfg.log_format);
            run(async move {
                let agent = agent::probe::start(&cfg, &region, listen)?;
                // Tests and scripts read these lines to know the agent is up, and where.
                if let Some(a) = agent.listen {
                    println!("listening metrics={a}");
                }
                println!(
                    "probing region={} sender={} targets={}",
                    agent.region, agent.sender, agent.targets
                );
                use std::io::Write;
                let _ = std::io::stdout().flush();
                server::terminated().await;
                agent.stop().await;
                Ok(())
            })
        }
        Command::Ctl(args) => switchyard::ctl::main(args),
        Command::Dnssec {
            command: DnssecCommand::Ds { keys },
        } => match ds_lines(&keys) {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::TestBackend { listen, control } => {
            init_logging("warn", LogFormat::Text);
            run(demo::serve_backend(listen, control))
        }
        Command::Demo {
            zones,
            listen,
            control,
            geoip,
        } => {
            init_logging("info", LogFormat::Text);
            run(demo::run(zones, listen, control, Some(geoip)))
        }
    }
}

/// `switchyard check`: zone files alone, or a server file and all it names.
fn check(path: Option<PathBuf>, server_file: Option<PathBuf>) -> ExitCode {
    let (loaded, delays) = match (path, server_file) {
        (_, Some(f)) => match ServerConfig::load(&f) {
            Ok(cfg) => (
                config::preflight::load(&cfg),
                config::preflight::delays(&cfg),
            ),
            Err(e) => (Err(e.into()), Default::default()),
        },
        (Some(p), None) => (config::load_zones(&p), Default::default()),
        (None, None) => unreachable!("clap requires a path or --config"),
    };
    match loaded {
        Ok(zones) => {
            print!("{}", switchyard::zone::summary::summarize(&zones));
            print!("{}", switchyard::zone::budget::report(&zones, delays));
            for w in switchyard::zone::resolvers::warnings(&zones) {
                eprintln!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{} error(s); nothing was loaded", errors.0.len());
            ExitCode::FAILURE
        }
    }
}

/// Tests and scripts read this line to learn the bound port.
fn announce(running: &server::Running) {
    // Before the DNS lines: a reader that stops at the first `dns=` has seen this one.
    if let Some(a) = running.control_addr {
        println!("listening control={a}");
    }
    for a in &running.dns_addrs {
        println!("listening dns={a}");
    }
    if let Some(a) = running.report_addr {
        println!("listening reports={a}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

fn run(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
