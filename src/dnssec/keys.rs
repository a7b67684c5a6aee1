//! DNSSEC keys: loading BIND key pairs (`K<zone>+<alg>+<tag>.key` and `.private`, as written
//! by `dnssec-keygen`), their timing metadata, and DNSKEY/DS helpers. Which key signs what
//! is `keyset`'s.
//!
//! Only ECDSA P-256 (13) and Ed25519 (15) are accepted: they are what every validator
//! supports and what RFC 8624 recommends, and both sign in microseconds, which online
//! signing of negative answers needs. RSA would be slow and large for the same job.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKey, PublicKeyBuf, SigningKey};
use hickory_proto::rr::Name;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// DNSKEY flags of a zone-signing key (Zone Key bit).
pub const FLAGS_ZSK: u16 = 256;
/// DNSKEY flags of a key-signing key (Zone Key + Secure Entry Point).
pub const FLAGS_KSK: u16 = 257;
const FLAG_SEP: u16 = 1;
const FLAG_REVOKE: u16 = 0x80;

/// Why a key could not be used. Each names the file (and line where there is one) and says
/// in plain words what is wrong, so `check` can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: missing file", .path.display())]
    Missing { path: PathBuf },
    #[error("{}: cannot read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: private key file is readable by group or others (mode {mode:03o}); run chmod 600 on it",
        .path.display()
    )]
    ReadableByOthers { path: PathBuf, mode: u32 },
    #[error("{}:{line}: key is for zone {found}, not {expected}", .path.display())]
    OtherZone {
        path: PathBuf,
        line: usize,
        found: String,
        expected: String,
    },
    #[error(
        "{}:{line}: algorithm {algorithm} is not supported (use 13 ECDSAP256SHA256 or 15 ED25519)",
        .path.display()
    )]
    UnsupportedAlgorithm {
        path: PathBuf,
        line: usize,
        algorithm: u8,
    },
    #[error("{}: private key does not match the public key in {}", .path.display(), .public.display())]
    Mismatch { path: PathBuf, public: PathBuf },
    #[error("{}:{line}: {message}", .path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", .path.display())]
    Invalid { path: PathBuf, message: String },
}

fn malformed(path: &Path, line: usize, message: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        path: path.to_owned(),
        line,
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            KeyError::Missing {
                path: path.to_owned(),
            }
        } else {
            KeyError::Unreadable {
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// The public half: the DNSKEY record of a `.key` file.
#[derive(Clone, Debug)]
pub struct PublicKeyFile {
    pub path: PathBuf,
    /// Lowercase, fully qualified: for comparing and digesting.
    pub owner: Name,
    /// As written in the file: `dnssec-dsfromkey` keeps the case, so `ds` does too.
    pub owner_as_written: Name,
    /// Line of the DNSKEY record in the file (1-based), for error messages.
    pub line: usize,
    /// TTL written in the file (`dnssec-keygen -L`), if any.
    pub ttl: Option<u32>,
    pub dnskey: DNSKEY,
}

impl PublicKeyFile {
    /// Reads a `.key` file: `;` comments, then one `owner [ttl] [IN] DNSKEY flags 3 alg key`.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let text = read(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, KeyError> {
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split(';').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut tokens = content.split_whitespace().peekable();
            let owner = tokens.next().unwrap_or_default();
            let owner = Name::from_ascii(owner)
                .map_err(|e| malformed(path, line, format!("bad owner name {owner:?}: {e}")))?;
            let mut ttl = None;
            if let Some(t) = tokens.peek().and_then(|t| t.parse::<u32>().ok()) {
                ttl = Some(t);
                tokens.next();
            }
            if tokens.peek().is_some_and(|t| t.eq_ignore_ascii_case("IN")) {
                tokens.next();
            }
            match tokens.next() {
                Some(t) if t.eq_ignore_ascii_case("DNSKEY") => {}
                other => {
                    return Err(malformed(
                        path,
                        line,
                        format!("expected a DNSKEY record, found {:?}", other.unwrap_or("")),
                    ))
                }
            }
            let rest: Vec<&str> = tokens.collect();
            if rest.len() < 4 {
                return Err(malformed(
                    path,
                    line,
                    "DNSKEY needs flags, protocol, algorithm and key",
                ));
            }
            let flags: u16 = rest[0]
                .parse()
                .map_err(|_| malformed(path, line, format!("bad flags {:?}", rest[0])))?;
            if rest[1] != "3" {
                return Err(malformed(path, line, "DNSKEY protocol must be 3"));
            }
            let algorithm: u8 = rest[2]
                .parse()
                .map_err(|_| malformed(path, line, format!("bad algorithm {:?}", rest[2])))?;
            let key = data_encoding::BASE64
                .decode(rest[3..].concat().as_bytes())
                .map_err(|e| malformed(path, line, format!("public key is not base64: {e}")))?;
            let dnskey =
                DNSKEY::with_flags(flags, PublicKeyBuf::new(key, Algorithm::from_u8(algorithm)));
            return Ok(Self {
                path: path.to_owned(),
                owner: normalize(&owner),
                owner_as_written: owner,
                line,
                ttl,
                dnskey,
            });
        }
        Err(malformed(path, 1, "no DNSKEY record in the file"))
    }

    pub fn algorithm(&self) -> u8 {
        u8::from(self.dnskey.public_key().algorithm())
    }

    pub fn key_tag(&self) -> u16 {
        key_tag(&self.dnskey)
    }

    /// The DS record (SHA-256, digest type 2) in presentation form, exactly as
    /// `dnssec-dsfromkey -2` prints it.
    pub fn ds_sha256(&self) -> Result<String, KeyError> {
        let digest = self
            .dnskey
            .to_digest(&self.owner, DigestType::SHA256)
            .map_err(|e| KeyError::Invalid {
                path: self.path.clone(),
                message: format!("cannot digest the key: {e}"),
            })?;
        let ds = DS::new(
            self.key_tag(),
            self.dnskey.public_key().algorithm(),
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        );
        Ok(format!("{} IN DS {ds}", fqdn(&self.owner_as_written)))
    }
}

/// Lowercase and fully qualified, so names compare and print the same however the
/// operator wrote them.
pub fn normalize(name: &Name) -> Name {
    let mut n = name.to_lowercase();
    n.set_fqdn(true);
    n
}

/// Case-insensitive, with or without the trailing dot.
pub fn same_name(a: &Name, b: &Name) -> bool {
    normalize(a) == normalize(b)
}

pub(crate) fn fqdn(name: &Name) -> String {
    let s = name.to_ascii();
    if s.ends_with('.') {
        s
    } else {
        format!("{s}.")
    }
}

/// RFC 4034 Appendix B, over the DNSKEY RDATA. Kept here because hickory's version is
/// fallible only through encoding, which cannot fail for a key we hold in memory.
pub fn key_tag(dnskey: &DNSKEY) -> u16 {
    dnskey.calculate_key_tag().unwrap_or(0)
}

/// The key lifecycle as BIND writes it in the `.private` file, in Unix seconds. A time not
/// written means "no event": no Publish/Activate means published/active since ever (BIND
/// treats keys without metadata the same way), no Inactive/Delete means forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    pub created: Option<u64>,
    pub publish: Option<u64>,
    pub activate: Option<u64>,
    pub revoke: Option<u64>,
    pub inactive: Option<u64>,
    pub delete: Option<u64>,
}

impl Timing {
    /// In the DNSKEY RRset at `now`.
    pub fn is_published(&self, now: u64) -> bool {
        self.publish.is_none_or(|t| t <= now) && self.delete.is_none_or(|t| now < t)
    }

    /// Signing at `now`. An active key must also be published: a signature by a key that
    /// is not in DNSKEY cannot validate.
    pub fn is_active(&self, now: u64) -> bool {
        self.is_published(now)
            && self.activate.is_none_or(|t| t <= now)
            && self.inactive.is_none_or(|t| now < t)
            && self.revoke.is_none_or(|t| now < t)
    }
}

/// Parses BIND's `YYYYMMDDHHMMSS` (UTC) into Unix seconds.
pub fn parse_bind_time(s: &str) -> Option<u64> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(4, 6)?, n(6, 8)?);
    let (hh, mm, ss) = (n(8, 10)?, n(10, 12)?, n(12, 14)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm): exact for the proleptic Gregorian calendar.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// One loaded key pair.
pub struct Key {
    pub public: PublicKeyFile,
    pub private_path: PathBuf,
    pub timing: Timing,
    tag: u16,
    signer: Box<dyn SigningKey>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("zone", &self.public.owner)
            .field("flags", &self.flags())
            .field("algorithm", &self.algorithm())
            .field("tag", &self.tag)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// `Kexample.com.+013+12345`, `...key` or `...private` -> the two file paths.
pub fn key_paths(base: &Path) -> (PathBuf, PathBuf) {
    let s = base.as_os_str().to_string_lossy();
    let stem = s
        .strip_suffix(".key")
        .or_else(|| s.strip_suffix(".private"))
        .unwrap_or(&s);
    (
        PathBuf::from(format!("{stem}.key")),
        PathBuf::from(format!("{stem}.private")),
    )
}

impl Key {
    /// Loads `<base>.key` and `<base>.private` for `zone`. `base` may also end in `.key` or
    /// `.private`.
    pub fn load(base: &Path, zone: &Name) -> Result<Self, KeyError> {
        let (key_path, private_path) = key_paths(base);
        let public = PublicKeyFile::read(&key_path)?;
        if !same_name(&public.owner, zone) {
            return Err(KeyError::OtherZone {
                path: key_path,
                line: public.line,
                found: fqdn(&public.owner),
                expected: fqdn(zone),
            });
        }
        let algorithm = public.algorithm();
        if !matches!(algorithm, 13 | 15) {
            return Err(KeyError::UnsupportedAlgorithm {
                path: key_path,
                line: public.line,
                algorithm,
            });
        }
        check_private_mode(&private_path)?;
        let text = read(&private_path)?;
        let private = PrivateFile::parse(&private_path, &text)?;
        if private.algorithm != algorithm {
            return Err(malformed(
                &private_path,
                private.algorithm_line,
                format!(
                    "algorithm {} does not match {} in {}",
                    private.algorithm,
                    algorithm,
                    key_path.display()
                ),
            ));
        }
        let public_bytes = public.dnskey.public_key().public_bytes();
        let mismatch = || KeyError::Mismatch {
            path: private_path.clone(),
            public: key_path.clone(),
        };
        let signer: Box<dyn SigningKey> = match algorithm {
            13 => {
                // ring wants the SEC1 uncompressed point (0x04 | x | y); DNSKEY stores x | y.
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(public_bytes);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &private.key,
                    &point,
                    &SystemRandom::new(),
                )
                .map_err(|_| mismatch())?;
                Box::new(EcdsaSigningKey::from_ecdsa(
                    pair,
                    Algorithm::ECDSAP256SHA256,
                ))
            }
            _ => {
                let pair = Ed25519KeyPair::from_seed_and_public_key(&private.key, public_bytes)
                    .map_err(|_| mismatch())?;
                Box::new(Ed25519SigningKey::from_ed25519(pair))
            }
        };
        let tag = public.key_tag();
        Ok(Self {
            public,
            private_path,
            timing: private.timing,
            tag,
            signer,
        })
    }

    pub fn zone(&self) -> &Name {
        &self.public.owner
    }
    pub fn flags(&self) -> u16 {
        self.public.dnskey.flags()
    }
    /// A key with the Secure Entry Point flag (257): signs DNSKEY; a CSK when it is alone.
    pub fn is_ksk(&self) -> bool {
        self.flags() & FLAG_SEP != 0
    }
    pub fn is_revoked(&self) -> bool {
        self.flags() & FLAG_REVOKE != 0
    }
    pub fn algorithm(&self) -> Algorithm {
        self.public.dnskey.public_key().algorithm()
    }
    pub fn tag(&self) -> u16 {
        self.tag
    }
    pub fn dnskey(&self) -> &DNSKEY {
        &self.public.dnskey
    }
    pub fn signing_key(&self) -> &dyn SigningKey {
        self.signer.as_ref()
    }
}

fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    let meta = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            KeyError::Missing {
                path: path.to_owned(),
            }
        } else {
            KeyError::Unreadable {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::ReadableByOthers {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The parsed `.private` file (visible to the tests of this module's parent).
pub(super) struct PrivateFile {
    pub(super) algorithm: u8,
    pub(super) algorithm_line: usize,
    pub(super) key: Vec<u8>,
    pub(super) timing: Timing,
}

impl PrivateFile {
    pub(super) fn parse(path: &Path, text: &str) -> Result<Self, KeyError> {
        let mut format_seen = false;
        let mut algorithm = None;
        let mut key = None;
        let mut timing = Timing::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let Some((field, value)) = raw.split_once(':') else {
                return Err(malformed(path, line, "expected `Field: value`"));
            };
            let value = value.trim();
            let time = || {
                parse_bind_time(value).ok_or_else(|| {
                    malformed(
                        path,
                        line,
                        format!("{field}: expected YYYYMMDDHHMMSS, found {value:?}"),
                    )
                })
            };
            match field.trim() {
                "Private-key-format" => {
                    if !value.starts_with("v1.") {
                        return Err(malformed(
                            path,
                            line,
                            format!("unknown private key format {value:?} (expected v1.x)"),
                        ));
                    }
                    format_seen = true;
                }
                "Algorithm" => {
                    let n = value.split_whitespace().next().unwrap_or("");
                    let n: u8 = n
                        .parse()
                        .map_err(|_| malformed(path, line, format!("bad algorithm {value:?}")))?;
                    if !matches!(n, 13 | 15) {
                        return Err(KeyError::UnsupportedAlgorithm {
                            path: path.to_owned(),
                            line,
                            algorithm: n,
                        });
                    }
                    algorithm = Some((n, line));
                }
                "PrivateKey" => {
                    let bytes = data_encoding::BASE64
                        .decode(value.as_bytes())
                        .map_err(|e| {
                            malformed(path, line, format!("PrivateKey is not base64: {e}"))
                        })?;
                    // BIND writes the ECDSA scalar as an integer, without leading zero
                    // octets (1 key in 256 has 31 bytes): pad it back to the field size.
                    // An Ed25519 seed is always 32 octets.
                    let ecdsa = algorithm.is_some_and(|(a, _)| a == 13);
                    if bytes.len() > 32 || (bytes.len() < 32 && !ecdsa) || bytes.is_empty() {
                        return Err(malformed(
                            path,
                            line,
                            format!("PrivateKey has {} bytes, expected 32", bytes.len()),
                        ));
                    }
                    let mut bytes = bytes;
                    while bytes.len() < 32 {
                        bytes.insert(0, 0);
                    }
                    key = Some(bytes);
                }
                "Created" => timing.created = Some(time()?),
                "Publish" => timing.publish = Some(time()?),
                "Activate" => timing.activate = Some(time()?),
                "Revoke" => timing.revoke = Some(time()?),
                "Inactive" => timing.inactive = Some(time()?),
                "Delete" => timing.delete = Some(time()?),
                // SyncPublish, SyncDelete, Successor...: for the parent's CDS, not for signing.
                _ => {}
            }
        }
        let last = text.lines().count().max(1);
        if !format_seen {
            return Err(malformed(
                path,
                1,
                "not a BIND private key (no Private-key-format line)",
            ));
        }
        let (algorithm, algorithm_line) =
            algorithm.ok_or_else(|| malformed(path, last, "no Algorithm line"))?;
        let key = key.ok_or_else(|| malformed(path, last, "no PrivateKey line"))?;
        Ok(Self {
            algorithm,
            algorithm_line,
            key,
            timing,
        })
    }
}
