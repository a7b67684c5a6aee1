//! DS records for the parent zone, from `.key` files: what `switchyard dnssec ds` prints,
//! in the same form as `dnssec-dsfromkey -2` (SHA-256, digest type 2; RFC 8624 makes SHA-1
//! DS "MUST NOT" for new delegations, so it is not offered).

use std::path::{Path, PathBuf};

use super::keys::{key_paths, KeyError, PublicKeyFile};

/// One DS line per key. A path may be a key file (`.key`, `.private` or the bare
/// `K<zone>+<alg>+<tag>` base) or a directory: then every `K*.key` in it that has the Secure
/// Entry Point flag (a KSK or CSK, the keys a parent's DS points at), in file name order.
pub fn ds_lines(paths: &[PathBuf]) -> Result<Vec<String>, KeyError> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            for key in sep_keys_in(path)? {
                out.push(key.ds_sha256()?);
            }
        } else {
            let (key_path, _) = key_paths(path);
            out.push(PublicKeyFile::read(&key_path)?.ds_sha256()?);
        }
    }
    Ok(out)
}

/// One DS line per key-signing key (SEP flag) of a zone's loaded key set: what
/// `switchyard dnssec ds <zone file>` prints.
pub fn ds_lines_of(keys: &super::KeySet) -> Result<Vec<String>, KeyError> {
    keys.keys()
        .iter()
        .filter(|k| k.flags() & 1 != 0)
        .map(|k| k.public.ds_sha256())
        .collect()
}

fn sep_keys_in(dir: &Path) -> Result<Vec<PublicKeyFile>, KeyError> {
    let unreadable = |source| KeyError::Unreadable {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with('K') && name.ends_with(".key")
        })
        .collect();
    files.sort();
    let mut keys = Vec::new();
    for f in files {
        let key = PublicKeyFile::read(&f)?;
        if key.dnskey.flags() & 1 != 0 {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Err(KeyError::Invalid {
            path: dir.to_owned(),
            message: "no key-signing key (K*.key with flags 257) in this directory".into(),
        });
    }
    Ok(keys)
}
