//! Where the control API is and which token to send: `--url` and `--token-file`, or
//! the `[control]` section of the server file, parsed and checked by the server's own
//! [`control_section`]. Only that section is read, so `ctl` works for an operator who
//! may read the token but not, say, the agents' secret.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::error::CtlError;
use crate::config::server::control_section;
#[cfg(test)]
use crate::config::server::DEFAULT_CONTROL_LISTEN;

/// The API's base URL (no trailing slash) and the bearer token, if any.
#[derive(Debug, Clone)]
pub struct Target {
    pub base: String,
    pub token: Option<String>,
}

impl Target {
    pub fn find(
        url: Option<&str>,
        config: &Path,
        token_file: Option<&Path>,
    ) -> Result<Target, CtlError> {
        let (base, from_config) = match url {
            Some(u) => (u.trim_end_matches('/').to_string(), None),
            None => {
                let (listen, token) = read_config(config)?;
                (format!("http://{}", connectable(listen)), token)
            }
        };
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(CtlError::Usage(format!(
                "--url {base:?}: expected http://HOST:PORT or https://HOST:PORT"
            )));
        }
        let token = match token_file.map(Path::to_path_buf).or(from_config) {
            Some(f) => Some(read_token(&f)?),
            None => None,
        };
        Ok(Target { base, token })
    }
}

/// The control address and token file named by a server file.
fn read_config(path: &Path) -> Result<(SocketAddr, Option<PathBuf>), CtlError> {
    let control = control_section(path).map_err(|e| {
        let hint = if e.at.is_none() && e.message.starts_with("cannot read") {
            " (give --config FILE, or --url)"
        } else {
            ""
        };
        CtlError::Usage(format!("{e}{hint}"))
    })?;
    let Some(control) = control else {
        return Err(CtlError::Usage(format!(
            "{} has no [control] section: the server runs no control API",
            path.display()
        )));
    };
    if control.listen.port() == 0 {
        return Err(CtlError::Usage(format!(
            "{}: [control] listen has port 0 (any free port): give --url with the port the server printed",
            path.display()
        )));
    }
    Ok((control.listen, control.token_file))
}

/// A listen address one can connect to: the wildcard means this host.
fn connectable(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), a.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), a.port())
        }
        _ => a,
    }
}

fn read_token(f: &Path) -> Result<String, CtlError> {
    let text = std::fs::read_to_string(f)
        .map_err(|e| CtlError::Usage(format!("cannot read the token file {}: {e}", f.display())))?;
    let t = text.trim();
    if t.is_empty() {
        return Err(CtlError::Usage(format!(
            "the token file {} is empty",
            f.display()
        )));
    }
    Ok(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_file_gives_address_and_token() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "abc\n").unwrap();
        let cfg = dir.path().join("switchyard.toml");
        std::fs::write(
            &cfg,
            "[server]\nlisten = [\"127.0.0.1:53\"]\nzones = \"zones\"\n\
             [agents]\nsecret_file = \"unreadable\"\n\
             [control]\nlisten = \"0.0.0.0:9053\"\ntoken_file = \"token\"\n",
        )
        .unwrap();
        let t = Target::find(None, &cfg, None).unwrap();
        assert_eq!(t.base, "http://127.0.0.1:9053");
        assert_eq!(t.token.as_deref(), Some("abc"));

        std::fs::write(
            &cfg,
            "[server]\nlisten = []\nzones = \"z\"\n[control]\nopen_reads = true\n",
        )
        .unwrap();
        let t = Target::find(None, &cfg, None).unwrap();
        assert_eq!(t.base, format!("http://{DEFAULT_CONTROL_LISTEN}"));
        assert!(t.token.is_none());

        std::fs::write(&cfg, "[server]\nlisten = []\nzones = \"z\"\n").unwrap();
        let e = Target::find(None, &cfg, None).unwrap_err();
        assert!(e.to_string().contains("no [control] section"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_url_needs_a_scheme() {
        let e = Target::find(Some("127.0.0.1:8053"), Path::new("none"), None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let t = Target::find(Some("http://127.0.0.1:8053/"), Path::new("none"), None).unwrap();
        assert_eq!(t.base, "http://127.0.0.1:8053");
    }
}
