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

use super::denial::{self, NXNAME};
use super::keys::{parse_bind_time, Key, KeyError, Timing};
use super::keyset::KeySet;
use super::rrset::Rrset;
use super::signer::{sign_rrset, unix_now, SignerConfig, ZoneSigner};
use super::SigCache;

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// `\000.s` (hickory's parser refuses the escape).
fn zero_dot(s: &str) -> Name {
    name(s).prepend_label(b"\x00" as &[u8]).unwrap()
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

fn a_rrset(owner: &str, addrs: &[[u8; 4]]) -> Rrset {
    Rrset::new(
        name(owner),
        RecordType::A,
        300,
        addrs
            .iter()
            .map(|a| RData::A(A(std::net::Ipv4Addr::from(*a))))
            .collect(),
    )
}

fn rrsig(r: &Record) -> &RRSIG {
    match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(s)) => s,
        other => panic!("not an RRSIG: {other:?}"),
    }
}

/// hickory's verifier over the records as a resolver sees them (owner = `at`).
fn verify(dnskey: &DNSKEY, at: &Name, rrset: &Rrset, sig: &Record) -> bool {
    let records = rrset.records_at(at);
    dnskey
        .verify_rrsig(at, DNSClass::IN, rrsig(sig), records.iter())
        .is_ok()
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
        let now = unix_now();
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
    fn short_ecdsa_scalars_are_padded() {
        // BIND prints the scalar as an integer: a key whose first octet is 0 has 31 bytes.
        // (Seen for real: a dnssec-keygen key failed to load before this.)
        let short = data_encoding::BASE64.encode(&[7u8; 31]);
        let text = format!(
            "Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: {short}\n"
        );
        let p = super::super::keys::PrivateFile::parse(Path::new("K.private"), &text).unwrap();
        assert_eq!(p.key.len(), 32);
        assert_eq!(p.key[0], 0);
        assert_eq!(&p.key[1..], &[7u8; 31]);
        assert_eq!((p.algorithm, p.algorithm_line), (13, 2));
        assert_eq!(p.timing, Timing::default());
        // An Ed25519 seed is not an integer: 31 bytes is an error.
        let text = text.replace("13 (ECDSAP256SHA256)", "15 (ED25519)");
        assert!(super::super::keys::PrivateFile::parse(Path::new("K.private"), &text).is_err());
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
        let now = unix_now();
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
        // `-P now` is the keygen's second: read the clock after it.
        let now = unix_now();
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

/// Key set and signer for `example.com` from fresh `dnssec-keygen` keys.
fn signer_with(dir: &Path, specs: &[&[&str]]) -> ZoneSigner {
    let zone = name("example.com.");
    let bases: Vec<PathBuf> = specs
        .iter()
        .map(|args| keygen(dir, "example.com", args))
        .collect();
    ZoneSigner::new(
        KeySet::load(&zone, &bases).unwrap(),
        SignerConfig::default(),
    )
}

const ECDSA_KSK: &[&str] = &["-a", "ECDSAP256SHA256", "-f", "KSK"];
const ECDSA_ZSK: &[&str] = &["-a", "ECDSAP256SHA256"];
const ED25519_CSK: &[&str] = &["-a", "ED25519", "-f", "KSK"];

mod signing {
    use super::*;

    #[test]
    fn rrsig_fields_and_hickory_verifies_both_algorithms() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for spec in [ECDSA_ZSK, &["-a", "ED25519"][..]] {
            let signer = signer_with(dir.path(), &[spec]);
            let key = &signer.keys().keys()[0];
            let rrset = a_rrset("www.example.com.", &[[192, 0, 2, 2], [192, 0, 2, 1]]);
            let now = unix_now();
            let sigs = signer.sign_at(&rrset, now).unwrap();
            assert_eq!(sigs.len(), 1);
            let s = rrsig(&sigs[0]);
            assert_eq!(sigs[0].name, rrset.name);
            assert_eq!(sigs[0].ttl, 300);
            assert_eq!(s.input().type_covered, RecordType::A);
            assert_eq!(s.input().algorithm, key.algorithm());
            assert_eq!(s.input().num_labels, 3);
            assert_eq!(s.input().original_ttl, 300);
            assert_eq!(s.input().key_tag, key.tag());
            assert_eq!(s.input().signer_name, name("example.com."));
            assert_eq!(u64::from(s.input().sig_inception.get()), now - 3600);
            assert_eq!(u64::from(s.input().sig_expiration.get()), now + 7 * 86_400);
            assert!(verify(key.dnskey(), &rrset.name, &rrset, &sigs[0]));

            // Any change to the data breaks the signature.
            let tampered = a_rrset("www.example.com.", &[[192, 0, 2, 2], [192, 0, 2, 9]]);
            assert!(!verify(key.dnskey(), &rrset.name, &tampered, &sigs[0]));
            let other_owner = a_rrset("ftp.example.com.", &[[192, 0, 2, 2], [192, 0, 2, 1]]);
            assert!(!verify(
                key.dnskey(),
                &other_owner.name,
                &other_owner,
                &sigs[0]
            ));
        }
    }

    #[test]
    fn canonical_bytes_match_hickorys_tbs_where_they_must() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), &[ECDSA_ZSK]);
        let key = &signer.keys().keys()[0];
        // Owner case does not matter; records arrive unsorted.
        let rrset = a_rrset("WWW.Example.COM.", &[[192, 0, 2, 3], [192, 0, 2, 1]]);
        let sig = sign_rrset(key, &name("example.com."), &rrset, 1000, 2000).unwrap();
        let records = rrset.records();
        let hickory = TBS::from_input(
            &rrset.name,
            DNSClass::IN,
            rrsig(&sig).input(),
            records.iter(),
        )
        .unwrap();
        let ours = rrset.canonical_bytes().unwrap();
        assert!(hickory.as_ref().ends_with(&ours));
        // Duplicates count once (RFC 4034 §6.3).
        let dup = a_rrset(
            "www.example.com.",
            &[[192, 0, 2, 1], [192, 0, 2, 3], [192, 0, 2, 1]],
        );
        assert_eq!(dup.canonical_bytes().unwrap(), ours);
    }

    #[test]
    fn wildcard_expansion_signs_the_wildcard_with_its_label_count() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), &[ED25519_CSK]);
        let key = &signer.keys().keys()[0];
        let expanded = name("a.b.example.com.");
        let rrset = a_rrset("a.b.example.com.", &[[192, 0, 2, 7]])
            .as_wildcard_of(2)
            .unwrap();
        assert_eq!(rrset.name, name("*.example.com."));
        let sigs = signer.sign(&rrset).unwrap();
        assert_eq!(rrsig(&sigs[0]).input().num_labels, 2);
        // A resolver sees the records at the query name and rebuilds `*.example.com`.
        assert!(verify(key.dnskey(), &expanded, &rrset, &sigs[0]));
        // Any other expansion reuses the cached signature.
        let again = a_rrset("c.example.com.", &[[192, 0, 2, 7]])
            .as_wildcard_of(2)
            .unwrap();
        let hits = signer.stats().snapshot().cache_hits;
        assert!(Arc::ptr_eq(&signer.sign(&again).unwrap(), &sigs));
        assert_eq!(signer.stats().snapshot().cache_hits, hits + 1);
        assert!(a_rrset("example.com.", &[[192, 0, 2, 7]])
            .as_wildcard_of(3)
            .is_err());
    }

    #[test]
    fn dnskey_is_signed_by_ksks_and_the_rest_by_zsks() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), &[ECDSA_KSK, ECDSA_ZSK]);
        let [ksk, zsk] = [0, 1].map(|i| signer.keys().keys()[i].clone());
        let (dnskey, sigs) = signer.signed_dnskey().unwrap();
        assert_eq!(dnskey.rdata.len(), 2);
        assert_eq!(sigs.len(), 1);
        assert_eq!(rrsig(&sigs[0]).input().key_tag, ksk.tag());
        assert!(verify(ksk.dnskey(), &dnskey.name, &dnskey, &sigs[0]));
        let a = a_rrset("example.com.", &[[192, 0, 2, 1]]);
        let sigs = signer.sign(&a).unwrap();
        assert_eq!(rrsig(&sigs[0]).input().key_tag, zsk.tag());
        assert!(verify(zsk.dnskey(), &a.name, &a, &sigs[0]));
        // RRSIGs are not signed.
        let sig_set = Rrset::from_records(&sigs).unwrap();
        assert!(signer.sign(&sig_set).is_err());
    }

    fn rec(owner: &str, ttl: u32, data: RData) -> Record {
        Record::from_rdata(name(owner), ttl, data)
    }

    /// A whole small zone signed by us and checked by BIND's own verifier, which rebuilds
    /// the canonical form independently: mixed-case names in RDATA whose raw and canonical
    /// orders differ, a duplicate, a wildcard, an NSEC chain, DNSKEY signed by the KSK.
    fn zone_verifies_with_dnssec_verify(specs: &[&[&str]], verify_args: &[&str]) {
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), specs);
        let soa = SOA::new(
            name("ns1.example.net."),
            name("hostmaster.example.com."),
            1,
            3600,
            600,
            86_400,
            300,
        );
        let nsec = |owner: &str, next: &str, types: &[RecordType]| {
            rec(
                owner,
                300,
                RData::DNSSEC(DNSSECRData::NSEC(NSEC::new_cover_self(
                    name(next),
                    types.iter().copied(),
                ))),
            )
        };
        use RecordType as T;
        let mut records = vec![
            rec("example.com.", 3600, RData::SOA(soa)),
            // Raw order B < a, canonical order a < b: the case hickory's TBS gets wrong.
            rec("example.com.", 3600, RData::NS(NS(name("B.Example.NET.")))),
            rec("example.com.", 3600, RData::NS(NS(name("a.example.net.")))),
            rec(
                "example.com.",
                3600,
                RData::MX(MX::new(10, name("MAIL.example.com."))),
            ),
            rec(
                "example.com.",
                3600,
                RData::TXT(TXT::new(vec!["hello".into()])),
            ),
            rec("*.example.com.", 60, RData::A(A([192, 0, 2, 9].into()))),
            rec("mail.example.com.", 60, RData::A(A([192, 0, 2, 25].into()))),
            rec("www.example.com.", 60, RData::A(A([192, 0, 2, 2].into()))),
            rec("www.example.com.", 60, RData::A(A([192, 0, 2, 1].into()))),
            rec("www.example.com.", 60, RData::A(A([192, 0, 2, 2].into()))),
            nsec(
                "example.com.",
                "*.example.com.",
                &[T::SOA, T::NS, T::MX, T::TXT, T::DNSKEY],
            ),
            nsec("*.example.com.", "mail.example.com.", &[T::A]),
            nsec("mail.example.com.", "www.example.com.", &[T::A]),
            nsec("www.example.com.", "example.com.", &[T::A]),
        ];
        records.extend(signer.dnskey_rrset().records());
        let mut text = String::new();
        let mut done: Vec<(Name, RecordType)> = Vec::new();
        for r in &records {
            text.push_str(&format!("{r}\n"));
        }
        for r in &records {
            let k = (r.name.clone(), r.record_type());
            if done.contains(&k) {
                continue;
            }
            done.push(k);
            let same: Vec<Record> = records
                .iter()
                .filter(|x| x.name == r.name && x.record_type() == r.record_type())
                .cloned()
                .collect();
            let rrset = Rrset::from_records(&same).unwrap();
            for s in signer.sign(&rrset).unwrap().iter() {
                text.push_str(&format!("{s}\n"));
            }
        }
        let file = dir.path().join("example.com.signed");
        std::fs::write(&file, &text).unwrap();
        let out = Command::new("dnssec-verify")
            .args(["-o", "example.com"])
            .args(verify_args)
            .arg(&file)
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{report}\n{text}");
        assert!(report.contains("Zone fully signed"), "{report}");

        // And it would have noticed: one changed address fails verification.
        std::fs::write(&file, text.replacen("192.0.2.25", "192.0.2.26", 1)).unwrap();
        let out = Command::new("dnssec-verify")
            .args(["-o", "example.com"])
            .args(verify_args)
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success(), "a tampered zone verified");
    }

    #[test]
    fn dnssec_verify_accepts_a_zone_signed_with_ecdsa_ksk_and_zsk() {
        if have("dnssec-keygen") && have("dnssec-verify") {
            zone_verifies_with_dnssec_verify(&[ECDSA_KSK, ECDSA_ZSK], &[]);
        }
    }

    #[test]
    fn dnssec_verify_accepts_a_zone_signed_with_an_ed25519_csk() {
        if have("dnssec-keygen") && have("dnssec-verify") {
            // -z: a CSK has no separate ZSK, which dnssec-verify's completeness check wants
            // unless told to ignore the KSK flag.
            zone_verifies_with_dnssec_verify(&[ED25519_CSK], &["-z"]);
        }
    }

    #[test]
    fn dnssec_verify_accepts_an_algorithm_rollover_signed_by_both() {
        // ECDSA KSK alone for 13 and Ed25519 ZSK alone for 15: every RRset must carry a
        // signature of each algorithm (RFC 4035 §2.2), so each key stands in for the role
        // its algorithm lacks.
        if have("dnssec-keygen") && have("dnssec-verify") {
            zone_verifies_with_dnssec_verify(&[ECDSA_KSK, &["-a", "ED25519"]], &["-z"]);
        }
    }
}

mod compact_denial {
    use super::*;
    use hickory_proto::serialize::binary::BinEncodable;

    fn nsec_of(rrset: &Rrset) -> &NSEC {
        match &rrset.rdata[..] {
            [RData::DNSSEC(DNSSECRData::NSEC(n))] => n,
            other => panic!("not one NSEC: {other:?}"),
        }
    }

    fn types(rrset: &Rrset) -> Vec<RecordType> {
        let mut t: Vec<RecordType> = nsec_of(rrset).type_bit_maps().collect();
        t.sort_by_key(|t| u16::from(*t));
        t
    }

    #[test]
    fn nxdomain_is_an_nsec_at_the_name_covering_only_the_name() {
        let q = name("nope.example.com.");
        let nsec = denial::nxdomain(&q, 300);
        assert_eq!(nsec.name, q);
        assert_eq!(nsec.rtype, RecordType::NSEC);
        assert_eq!(nsec.ttl, 300);
        let next = nsec_of(&nsec).next_domain_name();
        assert_eq!(next, &zero_dot("nope.example.com."));
        // Immediately after the query name: nothing else of the zone is in between.
        assert!(q < *next);
        assert!(
            *next
                < zero_dot("nope.example.com.")
                    .prepend_label(b"\x00" as &[u8])
                    .unwrap()
        );
        assert_eq!(types(&nsec), [RecordType::RRSIG, RecordType::NSEC, NXNAME]);
        // On the wire the bitmap is window 0 with bits 46, 47 and 128 (RFC 9824 §3.1).
        let wire = nsec.rdata[0].to_bytes().unwrap();
        let bitmap = &wire[wire.len() - 19..];
        assert_eq!(&bitmap[..2], &[0, 17]);
        assert_eq!(bitmap[2 + 5], 0b0000_0011);
        assert_eq!(bitmap[2 + 16], 0b1000_0000);
        assert!(!denial::Denial::NxDomain.rcode_is_nxdomain(false));
        assert!(denial::Denial::NxDomain.rcode_is_nxdomain(true));
        assert!(!denial::Denial::NoData.rcode_is_nxdomain(true));
    }

    #[test]
    fn nodata_empty_non_terminal_and_unsigned_delegation() {
        use RecordType as T;
        let q = name("www.example.com.");
        let n = denial::nodata(&q, &[T::A, T::AAAA, T::NSEC], 60);
        assert_eq!(types(&n), [T::A, T::AAAA, T::RRSIG, T::NSEC]);
        assert_eq!(
            nsec_of(&n).next_domain_name(),
            &zero_dot("www.example.com.")
        );
        let ent = denial::empty_non_terminal(&name("b.example.com."), 60);
        assert_eq!(types(&ent), [T::RRSIG, T::NSEC]);
        let cut = denial::unsigned_delegation(&name("child.example.com."), 60);
        assert_eq!(types(&cut), [T::NS, T::RRSIG, T::NSEC]);
        // Parent side of a cut without DS: what proves the child is unsigned.
        assert!(nsec_of(&cut).is_ancestor_delegation());
        assert!(!nsec_of(&cut).type_set().contains(T::DS));
    }

    #[test]
    fn successor_of_a_name_too_long_to_prefix() {
        // 254 octets on the wire: no room for `\000.`.
        let label = "a".repeat(61);
        let long = name(&format!("{label}.{label}.{label}.{label}.abcd."));
        assert!(long.prepend_label(b"\x00" as &[u8]).is_err());
        let next = denial::successor(&long);
        assert!(long < next, "{long} !< {next}");
        assert_eq!(next.num_labels(), long.num_labels());
        let short = name("x.example.");
        assert_eq!(denial::successor(&short), zero_dot("x.example."));
    }

    #[test]
    fn denials_are_signed_and_verify() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), &[ECDSA_KSK, ECDSA_ZSK]);
        let zsk = signer.keys().keys()[1].clone();
        let q = name("random123.example.com.");
        let (nsec, sigs) = signer.deny(&q, None, 300).unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(rrsig(&sigs[0]).input().type_covered, RecordType::NSEC);
        assert!(verify(zsk.dnskey(), &q, &nsec, &sigs[0]));
        let (nsec, sigs) = signer
            .deny(&name("www.example.com."), Some(&[RecordType::A]), 300)
            .unwrap();
        assert!(verify(zsk.dnskey(), &nsec.name, &nsec, &sigs[0]));
    }
}

mod cache {
    use super::*;

    #[test]
    fn repeated_rrsets_hit_and_refresh_before_expiry() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = signer_with(dir.path(), &[ECDSA_ZSK]);
        let rrset = a_rrset("www.example.com.", &[[192, 0, 2, 1]]);
        let now = unix_now();
        let first = signer.sign_at(&rrset, now).unwrap();
        // Same content built elsewhere (other order, other case): the same signature.
        let same = a_rrset("WWW.example.com.", &[[192, 0, 2, 1]]);
        assert!(Arc::ptr_eq(
            &signer.sign_at(&same, now + 10).unwrap(),
            &first
        ));
        // Other TTL is other content.
        let mut longer = rrset.clone();
        longer.ttl = 301;
        assert!(!Arc::ptr_eq(&signer.sign_at(&longer, now).unwrap(), &first));
        let s = signer.stats().snapshot();
        assert_eq!((s.signatures, s.cache_hits, s.cache_misses), (2, 1, 2));
        assert!(s.signing_nanos > 0);

        // With 3/4 of the validity gone the cached signature is no longer served: a new one
        // is made, valid from the new time.
        let validity = 7 * 86_400;
        let later = now + validity * 3 / 4;
        let before = signer.sign_at(&rrset, later - 1).unwrap();
        assert!(Arc::ptr_eq(&before, &first));
        let fresh = signer.sign_at(&rrset, later).unwrap();
        assert!(!Arc::ptr_eq(&fresh, &first));
        assert_eq!(
            u64::from(rrsig(&fresh[0]).input().sig_expiration.get()),
            later + validity
        );
    }

    #[test]
    fn a_key_change_makes_new_signatures() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let zone = name("example.com.");
        let old = keygen(
            dir.path(),
            "example.com",
            &["-a", "ECDSAP256SHA256", "-I", "+1d"],
        );
        let new = keygen(
            dir.path(),
            "example.com",
            &["-a", "ECDSAP256SHA256", "-P", "now", "-A", "+1d"],
        );
        let signer = ZoneSigner::new(
            KeySet::load(&zone, &[old, new]).unwrap(),
            SignerConfig::default(),
        );
        let [old_tag, new_tag] = [0, 1].map(|i| signer.keys().keys()[i].tag());
        let rrset = a_rrset("www.example.com.", &[[192, 0, 2, 1]]);
        let now = unix_now();
        let tags = |sigs: &[Record]| {
            sigs.iter()
                .map(|s| rrsig(s).input().key_tag)
                .collect::<Vec<_>>()
        };
        assert_eq!(tags(&signer.sign_at(&rrset, now).unwrap()), [old_tag]);
        // Two days on the old key is inactive and the new one signs, cache or not.
        assert_eq!(
            tags(&signer.sign_at(&rrset, now + 2 * 86_400).unwrap()),
            [new_tag]
        );
    }

    fn fake_sig() -> Arc<[Record]> {
        vec![Record::from_rdata(
            name("x."),
            1,
            RData::A(A([0, 0, 0, 0].into())),
        )]
        .into()
    }

    #[test]
    fn bounded_by_capacity_and_keeps_what_is_used() {
        let cache = SigCache::new(1024);
        let cap = cache.capacity();
        assert!(cap >= 1024);
        let hot = b"hot".to_vec();
        cache.insert(
            hot.clone().into(),
            fake_sig(),
            u64::MAX,
            1,
            Default::default(),
        );
        for i in 0..10_000u32 {
            cache.insert(
                i.to_be_bytes().into(),
                fake_sig(),
                u64::MAX,
                1,
                Default::default(),
            );
            assert!(cache.len() <= cap);
            // Read regularly, as the static RRsets are: survives the flood.
            if i % 64 == 0 {
                assert!(cache.get(&hot, 0).is_some(), "hot entry lost at {i}");
            }
        }
        assert!(cache.stats().snapshot().evictions > 0);
        // Stale entries are misses.
        cache.insert(
            b"stale".to_vec().into(),
            fake_sig(),
            100,
            1,
            Default::default(),
        );
        assert!(cache.get(b"stale", 99).is_some());
        assert!(cache.get(b"stale", 100).is_none());
    }

    #[test]
    fn concurrent_signing_from_many_threads() {
        if !have("dnssec-keygen") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let signer = Arc::new(signer_with(dir.path(), &[ECDSA_ZSK]));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let signer = signer.clone();
                std::thread::spawn(move || {
                    for i in 0..200u8 {
                        let r = a_rrset("www.example.com.", &[[192, 0, 2, i % 20]]);
                        let sigs = signer.sign(&r).unwrap();
                        assert_eq!(sigs.len(), 1, "thread {t}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = signer.stats().snapshot();
        assert_eq!(s.cache_hits + s.cache_misses, 800);
        // 20 distinct RRsets; a race may sign one twice, never more than once per thread.
        assert!((20..=80).contains(&s.signatures), "{s:?}");
    }
}
