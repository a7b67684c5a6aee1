//! `switchyard dnssec ds` prints the same DS records as BIND's `dnssec-dsfromkey -2`, for
//! a key file and for a directory of keys (key-signing keys only).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Under CI=true a missing BIND tool fails; elsewhere the test says loudly it checked nothing.
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

fn keygen(dir: &Path, args: &[&str]) -> PathBuf {
    let out = Command::new("dnssec-keygen")
        .args(["-q", "-K"])
        .arg(dir)
        .args(args)
        .args(["-n", "ZONE", "Example.com"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join(format!(
        "{}.key",
        String::from_utf8(out.stdout).unwrap().trim()
    ))
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn switchyard_ds(args: &[&Path]) -> (bool, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["dnssec", "ds"])
        .args(args))
}

#[test]
fn ds_matches_dnssec_dsfromkey() {
    if !have("dnssec-keygen") || !have("dnssec-dsfromkey") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ecdsa = keygen(dir.path(), &["-a", "ECDSAP256SHA256", "-f", "KSK"]);
    let ed25519 = keygen(dir.path(), &["-a", "ED25519", "-f", "KSK"]);
    let zsk = keygen(dir.path(), &["-a", "ECDSAP256SHA256"]);
    let bind = |key: &Path| {
        let (ok, out, err) = run(Command::new("dnssec-dsfromkey").arg("-2").arg(key));
        assert!(ok, "{err}");
        out
    };
    for key in [&ecdsa, &ed25519] {
        let (ok, out, err) = switchyard_ds(&[key]);
        assert!(ok, "{err}");
        assert_eq!(out, bind(key), "{}", key.display());
    }
    // A directory: the key-signing keys, in file name order; the ZSK has no DS.
    let (ok, out, err) = switchyard_ds(&[dir.path()]);
    assert!(ok, "{err}");
    let mut ksks = [&ecdsa, &ed25519];
    ksks.sort();
    assert_eq!(out, format!("{}{}", bind(ksks[0]), bind(ksks[1])));
    assert!(!out.contains(&bind(&zsk)));
}

#[test]
fn ds_of_a_missing_key_fails_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("Kexample.com.+013+00001");
    let (ok, out, err) = switchyard_ds(&[&missing]);
    assert!(!ok);
    assert!(out.is_empty());
    assert!(
        err.contains("Kexample.com.+013+00001.key: missing file"),
        "{err}"
    );
}
