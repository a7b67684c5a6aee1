//! Reading configuration: the server file and the zone policy files, parsed into types
//! once and validated there. Errors name the file, line and column.

pub mod agents;
pub mod error;
pub mod limits;
pub mod masterfile;
pub mod preflight;
pub mod server;
pub mod source;
pub mod validate;
pub mod zonefile;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::LowerName;

pub use error::{ConfigError, ConfigErrors, SpanLocator};
pub use server::ServerConfig;

use crate::zone::{Zone, ZoneSet};

/// Parse and validate one zone policy file.
pub fn load_zone_file(path: &Path) -> Result<Zone, Vec<ConfigError>> {
    let text = source::read(path).map_err(|e| vec![e])?;
    parse_zone(path, &text)
}

/// Parse and validate a zone policy file's text; `path` is used for messages and to
/// resolve `records_file`.
pub fn parse_zone(path: &Path, text: &str) -> Result<Zone, Vec<ConfigError>> {
    let loc = SpanLocator::new(path, text);
    let raw: zonefile::ZoneFile =
        toml::from_str(text).map_err(|e| vec![source::toml_error(&loc, text, &e)])?;
    validate::validate(path, text, raw)
}

/// The zone policy files of a directory (`*.toml`), in name order.
pub fn zone_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| ConfigError::whole_file(dir, format!("cannot read zone directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Load every zone file of a directory, or a single file. All-or-nothing: any error in
/// any file fails the whole load, so a running server never serves half an edit.
pub fn load_zones(path: &Path) -> Result<ZoneSet, ConfigErrors> {
    let files = if path.is_dir() {
        zone_files(path)?
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(ConfigError::whole_file(path, "no zone policy files (*.toml) found").into());
    }
    let mut errors = Vec::new();
    let mut zones: Vec<Arc<Zone>> = Vec::new();
    let mut origins: HashMap<LowerName, PathBuf> = HashMap::new();
    for f in files {
        match load_zone_file(&f) {
            Ok(z) => {
                let key = LowerName::new(&z.origin);
                if let Some(first) = origins.get(&key) {
                    errors.push(ConfigError::whole_file(
                        &f,
                        format!(
                            "zone {} is already defined in {}",
                            z.origin,
                            first.display()
                        ),
                    ));
                    continue;
                }
                origins.insert(key, f.clone());
                zones.push(Arc::new(z));
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(ZoneSet { zones })
    } else {
        Err(ConfigErrors(errors))
    }
}
