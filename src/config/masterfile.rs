//! TEMPORARY shim until the master file loader lands.
use hickory_proto::rr::{Name, Record};
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct MasterFileError { pub file: PathBuf, pub line: Option<usize>, pub message: String }
pub fn load(path: &Path, _origin: &Name) -> Result<Vec<Record>, MasterFileError> {
    Err(MasterFileError { file: path.into(), line: None, message: "not yet".into() })
}
