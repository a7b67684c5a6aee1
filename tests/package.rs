//! The Debian package: `cargo deb` packs the binary this test run built, and the
//! unpacked package holds the binary, both systemd units, the example server file and
//! zone and the maintainer script that makes the user, the binary stripped with its
//! debug symbols in a separate -dbgsym package; each unit passes `systemd-analyze verify`.

mod common;

use std::path::Path;
use std::process::Command;

use common::tools;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_holds_the_binary_units_examples_and_user() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_deb = Command::new(&cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_deb {
        assert!(
            !tools::ci(),
            "cargo-deb is required under CI=true: cargo install cargo-deb --locked"
        );
        eprintln!(
            "\n==== SKIPPED: cargo-deb is not installed (cargo install cargo-deb --locked) ====\n"
        );
        return;
    }
    let Some(_) = tools::require("dpkg-deb", "apt-get install -y dpkg") else {
        return;
    };
    // Package the binary cargo built for this test run rather than building a release.
    let bin = Path::new(common::BIN);
    let profile = match bin
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
    {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("where is {}?", bin.display()),
    };
    let dir = tempfile::tempdir().unwrap();
    let deb = dir.path().join("switchyard.deb");
    run(Command::new(&cargo)
        .args([
            "deb",
            "--no-build",
            "--fast",
            "--profile",
            profile,
            "--output",
        ])
        .arg(&deb)
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let root = dir.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    for f in [
        "usr/bin/switchyard",
        "usr/lib/systemd/system/switchyard.service",
        "usr/lib/systemd/system/switchyard-probe.service",
        "etc/default/switchyard-probe",
        "usr/share/doc/switchyard/examples/switchyard.toml",
        "usr/share/doc/switchyard/examples/zones/example.com.toml",
        "usr/share/doc/switchyard/grafana/switchyard.json",
        "usr/share/doc/switchyard/prometheus/alerts.yml",
        "usr/share/doc/switchyard/README.md",
    ] {
        assert!(
            root.join(f).is_file(),
            "{f} is not in the package:\n{listing}"
        );
    }
    let packed = root.join("usr/bin/switchyard");
    // Stripped: the debug symbols go to the -dbgsym package beside it (`dbgsym = true`).
    if let Some(readelf) = tools::require("readelf", "apt-get install -y binutils") {
        let sections = run(Command::new(readelf).args(["-S", "--wide"]).arg(&packed));
        assert!(
            !sections.contains(".debug_info"),
            "the packed binary has debug info:\n{sections}"
        );
    }
    let dbgsym = dir.path().join("switchyard.ddeb");
    let symbols = run(Command::new("dpkg-deb").arg("-c").arg(&dbgsym));
    assert!(
        symbols
            .lines()
            .any(|l| l.contains("./usr/lib/debug/.build-id/") && l.ends_with(".debug")),
        "{symbols}"
    );
    let version = run(Command::new(&packed).arg("--version"));
    assert!(version.starts_with("switchyard "), "{version}");
    // The example zone is one `switchyard check` accepts.
    run(Command::new(&packed)
        .arg("check")
        .arg(root.join("usr/share/doc/switchyard/examples/zones")));

    let control = dir.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");
    assert!(postinst.contains("switchyard-probe.service"), "{postinst}");
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(
        conffiles.contains("/etc/default/switchyard-probe"),
        "{conffiles}"
    );

    let Some(analyze) = tools::require("systemd-analyze", "apt-get install -y systemd") else {
        return;
    };
    // verify checks that ExecStart exists: point the units at the unpacked binary.
    for unit in ["switchyard.service", "switchyard-probe.service"] {
        let text = std::fs::read_to_string(root.join("usr/lib/systemd/system").join(unit)).unwrap();
        assert!(text.contains("/usr/bin/switchyard "), "{unit}");
        let copy = dir.path().join(unit);
        std::fs::write(
            &copy,
            text.replace("/usr/bin/switchyard", packed.to_str().unwrap()),
        )
        .unwrap();
        let out = Command::new(&analyze)
            .arg("verify")
            .arg(&copy)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "systemd-analyze verify {unit}:\n{stderr}"
        );
    }
}
