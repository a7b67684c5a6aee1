//! `switchyard ctl`: the operator's command line for a running server's control API,
//! shaped like knotc and gdnsdctl. This file owns the arguments and the exit codes;
//! [`target`] finds the API and its token, [`client`] talks HTTP, [`verbs`] does each
//! command and [`render`] prints what came back.

pub mod client;
pub mod error;
pub mod render;
pub mod target;
pub mod verbs;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// What each failure exits with; printed in `switchyard ctl --help`.
pub const EXIT_CODES: &str = "Exit codes:\n  \
    0  done\n  \
    1  the server said no, or the operation failed (a bad reload, an unknown pool)\n  \
    2  usage: bad arguments, an unreadable server file or token file\n  \
    3  the control API cannot be reached\n  \
    4  the control API refused the token (401) or has none configured (403)";

#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct CtlArgs {
    /// The server file: its [control] section gives the address and the token file.
    #[arg(long, short, default_value = "switchyard.toml", conflicts_with = "url")]
    pub config: PathBuf,
    /// The control API's base URL (e.g. http://127.0.0.1:8053), instead of --config.
    #[arg(long)]
    pub url: Option<String>,
    /// A file holding the bearer token (with --url, or to override the server file's).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Give up on a request after this long (a drill waits for its report beyond this).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand, Debug)]
pub enum Verb {
    /// Every policy with its answer and every pool with its state.
    Status {
        /// Print the raw JSON of /v1/status.
        #[arg(long)]
        json: bool,
    },
    /// Take a pool (or some of its addresses) out of the answers until the time is up.
    Drain(Change),
    /// Force a pool, or some of its addresses, down (same as drain).
    Down(Change),
    /// Force a pool, or some of its addresses, up whatever the checks say.
    Up(Change),
    /// Remove the override on a pool, or on some of its addresses.
    Clear(Clear),
    /// The overrides in force and the time they have left.
    Overrides {
        #[arg(long)]
        json: bool,
    },
    /// Reload the zone files now; prints the epoch that serves them, or every error.
    Reload {
        #[arg(long)]
        json: bool,
    },
    /// Why a client gets the answer it gets.
    Explain {
        /// The query name, e.g. api.example.com
        name: String,
        /// The query type (default A).
        #[arg(value_name = "TYPE")]
        qtype: Option<String>,
        /// The client's address.
        #[arg(long)]
        client: Option<IpAddr>,
        /// An EDNS Client Subnet, e.g. 198.51.100.0/24.
        #[arg(long)]
        ecs: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take a pool out for N seconds, watch the answers move and back, print the report.
    Drill {
        pool: String,
        #[arg(long)]
        seconds: u64,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        zone: Option<String>,
        /// How often the nameservers are asked during the drill (ms).
        #[arg(long)]
        poll_ms: Option<u64>,
        #[arg(long)]
        json: bool,
    },
}

/// An override on a pool or on some of its addresses.
#[derive(Args, Debug)]
pub struct Change {
    pub pool: String,
    /// Addresses of the pool; none: the whole pool.
    pub addresses: Vec<IpAddr>,
    /// How long until it reverts by itself, e.g. 30m (at most 7 days).
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: String,
    /// Why: shown in status, logs and alerts.
    #[arg(long)]
    pub reason: String,
    /// Needed only when two zones have a pool of that name.
    #[arg(long)]
    pub zone: Option<String>,
}

#[derive(Args, Debug)]
pub struct Clear {
    pub pool: String,
    pub addresses: Vec<IpAddr>,
    #[arg(long)]
    pub zone: Option<String>,
    #[arg(long)]
    pub reason: Option<String>,
}

/// Runs one command and maps its outcome to the documented exit code.
pub fn main(args: CtlArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchyard ctl: cannot start a runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchyard ctl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(args: CtlArgs) -> Result<(), error::CtlError> {
    let target = target::Target::find(
        args.url.as_deref(),
        &args.config,
        args.token_file.as_deref(),
    )?;
    let api = client::Client::new(target, args.timeout)?;
    verbs::run(&api, args.verb).await
}
