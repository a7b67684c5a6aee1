//! Replays every input the fuzzers ever found interesting (tests/fixtures/fuzz/<target>/)
//! and the fuzz seeds through the same entry points as the fuzz targets: none may panic.

use std::path::{Path, PathBuf};

use switchyard::dns::udp::handle_datagram;

fn inputs(dirs: &[&str]) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in dirs {
        if let Ok(entries) = std::fs::read_dir(root.join(d)) {
            out.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file()),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn request_inputs_never_panic_and_replies_fit_udp() {
    let table = switchyard::fuzzing::sample_table();
    let files = inputs(&["tests/fixtures/fuzz/request", "fuzz/seeds/request"]);
    assert!(files.len() >= 7, "the seed corpus is missing: {files:?}");
    let src = "192.0.2.1:5300".parse().unwrap();
    let mut answered = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let mut out = Vec::new();
        if let Some(reply) = handle_datagram(&table, &data, src, &mut out) {
            assert!(
                reply.len() <= 1232,
                "{}: reply of {} bytes",
                f.display(),
                reply.len()
            );
            answered += 1;
        }
    }
    assert!(answered >= 7, "the seed queries should all be answered");
}

#[test]
fn zone_policy_inputs_never_panic() {
    let files = inputs(&["tests/fixtures/fuzz/zone_policy", "fuzz/seeds/zone_policy"]);
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = switchyard::config::parse_zone(Path::new("fuzz.toml"), text);
        }
    }
}
