//! Unit tests of the DNSSEC core: keys made by the real `dnssec-keygen`, signatures checked
//! by hickory's verifier and by BIND's `dnssec-verify`, compact denial, the cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, NSEC, RRSIG};
use hickory_proto::dnssec::{Verifier, TBS};
use hickory_proto::rr::rdata::{A, MX, NS, SOA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::keys::{parse_bind_time, Key, KeyError, KeySet, Timing};

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// Whether `tool` can run. Under CI=true a missing tool fails the test; elsewhere the test
/// says loudly that it is skipped, so a green run without BIND tools is not mistaken for a
/// checked one.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-h").output().is_ok();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{tool} is not installed (CI=true: install bind9-utils)");
        }
        eprintln!("SKIPPED: {tool} is not installed; this test checked nothing");
    }
    ok
}

/// Runs `dnssec-keygen -K dir <args> zone` and returns the key base path.
fn keygen(dir: &Path, zone: &str, args: &[&str]) -> PathBuf {
    let out = Command::new("dnssec-keygen")
        .arg("-q")
        .arg("-K")
        .arg(dir)
        .args(args)
        .args(["-n", "ZONE", zone])
        .output()
        .expect("dnssec-keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(String::from_utf8(out.stdout).unwrap().trim())
}

fn ksk(dir: &Path, zone: &str) -> PathBuf {
    keygen(dir, zone, &["-a", "ECDSAP256SHA256", "-f", "KSK"])
}

fn zsk(dir: &Path, zone: &str) -> PathBuf {
    keygen(dir, zone, &["-a", "ECDSAP256SHA256"])
}

/// `base.ext` (Path::with_extension would cut the key base at its last dot).
trait JoinExt {
    fn join_ext(&self, ext: &str) -> PathBuf;
}

impl JoinExt for Path {
    fn join_ext(&self, ext: &str) -> PathBuf {
        PathBuf::from(format!("{}.{ext}", self.display()))
    }
}

mod keys {
    use super::*;

    #[test]
    fn loads_ecdsa_ksk_and_ed25519_zsk_from_dnssec_keygen() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let k = ksk(dir.path(), "example.com");
        let z = keygen(dir.path(), "example.com", &["-a", "ED25519"]);
        let zone = name("example.com.");
        let ksk = Key::load(&k, &zone).unwrap();
        assert_eq!(ksk.flags(), 257);
        assert!(ksk.is_ksk());
        assert_eq!(u8::from(ksk.algorithm()), 13);
        // The file name carries the tag dnssec-keygen computed: ours must agree.
        let tag: u16 = k
            .to_str()
            .unwrap()
            .rsplit('+')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(ksk.tag(), tag);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(ksk.timing.is_published(now) && ksk.timing.is_active(now));
        assert!(ksk.timing.created.is_some());

        // `.key` and `.private` paths work as well as the base.
        let zsk = Key::load(&z.join_ext("key"), &name("EXAMPLE.com")).unwrap();
        assert_eq!(zsk.flags(), 256);
        assert_eq!(u8::from(zsk.algorithm()), 15);
        let tag: u16 = z
            .to_str()
            .unwrap()
            .rsplit('+')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(zsk.tag(), tag);
    }

    #[test]
    fn refuses_bad_keys_with_the_file_and_a_plain_message() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let zone = name("example.com.");
        let k = ksk(dir.path(), "example.com");
        let key_path = k.join_ext("key");
        let private = PathBuf::from(format!("{}.private", k.display()));

        // Another zone's key, with the line of the DNSKEY record.
        let other = ksk(dir.path(), "example.net");
        let e = Key::load(&other, &zone).unwrap_err();
        assert!(matches!(e, KeyError::OtherZone { line: 5, .. }), "{e}");
        assert!(e.to_string().contains("not example.com."), "{e}");

        // A private file readable by others.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Key::load(&k, &zone).unwrap_err();
        assert!(
            matches!(e, KeyError::ReadableByOthers { mode: 0o644, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains(".private: private key file is readable"),
            "{e}"
        );
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();

        // Missing files.
        let e = Key::load(&dir.path().join("Kexample.com.+013+00001"), &zone).unwrap_err();
        assert!(matches!(e, KeyError::Missing { .. }), "{e}");
        assert!(e.to_string().ends_with(".key: missing file"), "{e}");
        let lonely = dir.path().join("Kexample.com.+013+00002");
        std::fs::copy(&key_path, lonely.join_ext("key")).unwrap();
        let e = Key::load(&lonely, &zone).unwrap_err();
        assert!(e.to_string().ends_with(".private: missing file"), "{e}");

        // The public half of one key with the private half of another.
        let k2 = ksk(dir.path(), "example.com");
        let mixed = dir.path().join("Kexample.com.+013+00003");
        std::fs::copy(&key_path, mixed.join_ext("key")).unwrap();
        let mixed_private = PathBuf::from(format!("{}.private", mixed.display()));
        std::fs::copy(format!("{}.private", k2.display()), &mixed_private).unwrap();
        std::fs::set_permissions(&mixed_private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = Key::load(&mixed, &zone).unwrap_err();
        assert!(matches!(e, KeyError::Mismatch { .. }), "{e}");
    }

    fn hand_made(dir: &Path, base: &str, key: &str, private: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let b = dir.join(base);
        std::fs::write(b.join_ext("key"), key).unwrap();
        let p = PathBuf::from(format!("{}.private", b.display()));
        std::fs::write(&p, private).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        b
    }

    #[test]
    fn malformed_and_unsupported_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let zone = name("example.com.");
        let rsa = hand_made(
            dir.path(),
            "Kexample.com.+008+11111",
            "; RSA\nexample.com. IN DNSKEY 257 3 8 AwEAAQ==\n",
            "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\n",
        );
        let e = Key::load(&rsa, &zone).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::UnsupportedAlgorithm {
                    line: 2,
                    algorithm: 8,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains(".key:2: algorithm 8 is not supported"),
            "{e}"
        );

        let good_key =
            "example.com. 3600 IN DNSKEY 256 3 15 EzddZkxUrnUb5yMoMFU8twYYmviMRgSmoh+bwvItmaE=\n";
        let cases = [
            ("Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\nPrivateKey: !!!\n", 3, "not base64"),
            ("Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\nPrivateKey: AAAA\n", 3, "expected 32"),
            (
                "Private-key-format: v1.3\nAlgorithm: 15\nPrivateKey: yaEq1Z52Hl+QowimdAdOHpeFjbb3kHpvG8Cnn8bzvTM=\nActivate: 2026-01-01\n",
                4,
                "expected YYYYMMDDHHMMSS",
            ),
            ("Algorithm: 15\n", 1, "no Private-key-format"),
            ("Private-key-format: v1.3\nAlgorithm: 15\n", 2, "no PrivateKey"),
            ("Private-key-format: v1.3\njunk\n", 2, "expected `Field: value`"),
            ("Private-key-format: v1.3\nAlgorithm: 13\nPrivateKey: yaEq1Z52Hl+QowimdAdOHpeFjbb3kHpvG8Cnn8bzvTM=\n", 2, "does not match 15"),
        ];
        for (i, (private, line, message)) in cases.iter().enumerate() {
            let b = hand_made(
                dir.path(),
                &format!("Kexample.com.+015+{i:05}"),
                good_key,
                private,
            );
            match Key::load(&b, &zone) {
                Err(KeyError::Malformed {
                    line: l,
                    message: m,
                    ..
                }) => {
                    assert_eq!(l, *line, "case {i}: {m}");
                    assert!(m.contains(message), "case {i}: {m}");
                }
                other => panic!("case {i}: {other:?}"),
            }
        }
        for (i, (key, line, message)) in [
            ("; only comments\n", 1, "no DNSKEY"),
            ("example.com. IN A 192.0.2.1\n", 1, "expected a DNSKEY"),
            (
                "; c\nexample.com. IN DNSKEY 256 2 15 AAAA\n",
                2,
                "protocol must be 3",
            ),
            ("example.com. IN DNSKEY 256 3 15 %%%\n", 1, "not base64"),
            ("example.com. IN DNSKEY 256 3\n", 1, "needs flags"),
        ]
        .iter()
        .enumerate()
        {
            let b = hand_made(dir.path(), &format!("Kexample.com.+015+1{i:04}"), key, "");
            match Key::load(&b, &zone) {
                Err(KeyError::Malformed {
                    line: l,
                    message: m,
                    ..
                }) => {
                    assert_eq!(l, *line, "key case {i}: {m}");
                    assert!(m.contains(message), "key case {i}: {m}");
                }
                other => panic!("key case {i}: {other:?}"),
            }
        }
    }

    #[test]
    fn bind_times_are_utc() {
        // date -u -d 2026-12-01T08:36:42 +%s
        assert_eq!(parse_bind_time("20261201083642"), Some(1_796_114_202));
        assert_eq!(parse_bind_time("19700101000000"), Some(0));
        assert_eq!(parse_bind_time("20240229235959"), Some(1_709_251_199));
        assert_eq!(parse_bind_time("2024022923595"), None);
        assert_eq!(parse_bind_time("20241301000000"), None);
    }

    #[test]
    fn timing_decides_published_and_active() {
        let t = Timing {
            publish: Some(100),
            activate: Some(200),
            inactive: Some(300),
            delete: Some(400),
            ..Timing::default()
        };
        let states: Vec<(bool, bool)> = [50, 100, 200, 300, 400]
            .iter()
            .map(|&now| (t.is_published(now), t.is_active(now)))
            .collect();
        assert_eq!(
            states,
            [
                (false, false),
                (true, false),
                (true, true),
                (true, false),
                (false, false)
            ]
        );
        // No metadata: published and active since ever.
        assert!(Timing::default().is_active(0));
    }

    #[test]
    fn key_set_roles_for_csk_ksk_zsk_and_rollover() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let zone = name("example.com.");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let tags = |keys: Vec<Arc<Key>>| keys.iter().map(|k| k.tag()).collect::<Vec<_>>();

        // A CSK alone signs everything.
        let c = ksk(dir.path(), "example.com");
        let csk = KeySet::load(&zone, std::slice::from_ref(&c)).unwrap();
        let t = csk.keys()[0].tag();
        assert_eq!(tags(csk.dnskey_signers(now)), [t]);
        assert_eq!(tags(csk.zone_signers(now)), [t]);
        assert!(csk.problems(now).is_empty());

        // KSK + ZSK, and a second ZSK pre-published for a rollover (active tomorrow).
        let z = zsk(dir.path(), "example.com");
        let next = keygen(
            dir.path(),
            "example.com",
            &["-a", "ECDSAP256SHA256", "-P", "now", "-A", "+1d"],
        );
        let set = KeySet::load(&zone, &[c, z, next]).unwrap();
        let [k, z, n] = [0, 1, 2].map(|i| set.keys()[i].tag());
        assert_eq!(tags(set.published(now)), [k, z, n]);
        assert_eq!(tags(set.dnskey_signers(now)), [k]);
        assert_eq!(tags(set.zone_signers(now)), [z]);
        // The day after, both ZSKs are active and both sign (the old one until Inactive).
        assert_eq!(tags(set.zone_signers(now + 86_400 + 60)), [z, n]);

        // Errors from several files come back together.
        let errors =
            KeySet::load(&zone, &[dir.path().join("K1"), dir.path().join("K2")]).unwrap_err();
        assert_eq!(errors.len(), 2);
    }
}
