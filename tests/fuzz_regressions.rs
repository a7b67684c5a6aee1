//! Replays every input the fuzzers ever found interesting (tests/fixtures/fuzz/<target>/,
//! which scripts/fuzz.sh fills with each crash) and the fuzz seeds through the same entry
//! points as the fuzz targets (`switchyard::fuzzing`). No input may panic: each runs under
//! `catch_unwind` and the panics are counted and must be 0, with the inputs named. A
//! missing fixture folder fails the test rather than replaying nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use switchyard::dns::udp::handle_datagram;
use switchyard::fuzzing::{self, sample_table};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TARGETS: [&str; 5] = [
    "request",
    "fast_parse",
    "fast_answer",
    "differential",
    "zone_policy",
];

/// The files in each of `dirs` (relative to the crate), sorted; every folder must exist.
fn inputs(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let dir = Path::new(ROOT).join(d);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        out.extend(
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file() && p.file_name() != Some(".keep".as_ref())),
        );
    }
    out.sort();
    out
}

/// Packet inputs of a target: its fixtures, the request seeds and the wire seeds.
fn packets(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fixtures = format!("tests/fixtures/fuzz/{target}");
    inputs(&[&fixtures, "fuzz/seeds/request", "fuzz/seeds/wire"])
        .into_iter()
        .map(|f| {
            let data = std::fs::read(&f).unwrap();
            (f, data)
        })
        .collect()
}

/// Run `f` on every input; the ones that panicked, by name.
fn panics<T>(inputs: &[(PathBuf, T)], mut f: impl FnMut(&Path, &T)) -> Vec<String> {
    let mut out = Vec::new();
    for (p, data) in inputs {
        if catch_unwind(AssertUnwindSafe(|| f(p, data))).is_err() {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn every_target_has_its_fixture_folder() {
    for t in TARGETS {
        let dir = Path::new(ROOT).join("tests/fixtures/fuzz").join(t);
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }
}

#[test]
fn request_inputs_never_panic_and_replies_fit_udp() {
    let table = sample_table();
    let files = packets("request");
    assert!(files.len() >= 40, "the seed corpus is missing: {files:?}");
    let src = fuzzing::FUZZ_SRC.parse().unwrap();
    let mut answered = 0;
    let panicked = panics(&files, |f, data| {
        let mut out = Vec::new();
        if let Some(reply) = handle_datagram(&table, data, src, &mut out) {
            assert!(
                reply.len() <= 1232,
                "{}: reply of {} bytes",
                f.display(),
                reply.len()
            );
            answered += 1;
        }
    });
    assert_eq!(panicked, Vec::<String>::new(), "inputs that panicked");
    assert!(answered >= 30, "only {answered} seed queries answered");
}

#[test]
fn fast_parser_inputs_never_panic_and_take_the_plain_queries() {
    let files = packets("fast_parse");
    let mut taken = Vec::new();
    let panicked = panics(&files, |f, data| {
        if fuzzing::fast_parse(data) {
            taken.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    });
    assert_eq!(panicked, Vec::<String>::new(), "inputs that panicked");
    // Real clients' plain queries are the fast path's business; broken ones are not.
    for seed in ["dig-a", "kdig-a", "unbound-a-0x20", "dig-ecs-v4", "a-api"] {
        assert!(
            taken.iter().any(|t| t == seed),
            "{seed} not taken: {taken:?}"
        );
    }
    assert!(
        !taken.iter().any(|t| t.starts_with("hostile-")),
        "a hostile packet was taken: {taken:?}"
    );
}

#[test]
fn fast_answers_never_panic_and_fit_udp() {
    let table = sample_table();
    let files = packets("fast_answer");
    let mut answered = 0;
    let panicked = panics(&files, |f, data| {
        if let Some(reply) = fuzzing::fast_answer(&table, data) {
            assert!(reply.len() <= 1232, "{}", f.display());
            assert_eq!(reply[..2], data[..2], "{}: another ID", f.display());
            answered += 1;
        }
    });
    assert_eq!(panicked, Vec::<String>::new(), "inputs that panicked");
    assert!(answered >= 10, "only {answered} answered by the fast path");
}

#[test]
fn fast_and_general_paths_agree_byte_for_byte_on_every_input() {
    let table = sample_table();
    let files = packets("differential");
    let mut compared = 0;
    let mut diverged = Vec::new();
    let panicked = panics(&files, |f, data| {
        match fuzzing::differential(&table, data) {
            Ok(true) => compared += 1,
            Ok(false) => {}
            Err(d) => diverged.push(format!("{}: {d}", f.display())),
        }
    });
    assert_eq!(panicked, Vec::<String>::new(), "inputs that panicked");
    assert_eq!(diverged, Vec::<String>::new());
    assert!(compared >= 10, "only {compared} inputs compared");
}

/// What a zone input must give: a zone, or errors that name the file. The seed zones
/// (`*.toml`, and every file under zones/) must load; fixtures may be rejected.
#[test]
fn zone_policy_inputs_never_panic_and_give_a_zone_or_located_errors() {
    let mut files = inputs(&["tests/fixtures/fuzz/zone_policy", "fuzz/seeds/zone_policy"]);
    // The demo's zone is a seed as it is, not as a copy that goes stale.
    files.extend(inputs(&["zones"]));
    assert!(files.len() >= 2, "{files:?}");
    let inputs: Vec<(PathBuf, Vec<u8>)> = files
        .into_iter()
        .map(|f| {
            let d = std::fs::read(&f).unwrap();
            (f, d)
        })
        .collect();
    let mut loaded = 0;
    let panicked = panics(&inputs, |f, bytes| {
        // The fuzz target's bytes, as bytes: not UTF-8 is one more way to be rejected.
        match switchyard::fuzzing::zone_from_bytes(bytes) {
            Ok(zone) => {
                assert!(!zone.origin.is_root(), "{}", f.display());
                loaded += 1;
            }
            Err(errors) => {
                assert!(
                    !errors.is_empty(),
                    "{}: rejected without an error",
                    f.display()
                );
                for e in &errors {
                    assert!(
                        e.starts_with("fuzz.toml"),
                        "{}: an error without its file: {e}",
                        f.display()
                    );
                }
                let name = f.file_name().unwrap().to_string_lossy();
                assert!(
                    !name.ends_with(".toml"),
                    "{}: a seed zone was rejected: {errors:?}",
                    f.display()
                );
            }
        }
    });
    assert_eq!(panicked, Vec::<String>::new(), "inputs that panicked");
    assert!(loaded >= 2, "the seed zones should load");
}
