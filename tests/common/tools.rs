//! External tools a test drives (chromium, cargo-deb, systemd-analyze, promtool): find
//! one, or skip loudly, except under CI=true where a missing tool fails the test.

use std::path::PathBuf;

/// The tool's path on PATH (or as given, when absolute).
pub fn find(tool: &str) -> Option<PathBuf> {
    let p = PathBuf::from(tool);
    if p.is_absolute() {
        return p.is_file().then_some(p);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Whether this run is CI's, where every tool must be there.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The tool, or `None` after a loud skip message; panics under CI=true.
pub fn require(tool: &str, install: &str) -> Option<PathBuf> {
    if let Some(p) = find(tool) {
        return Some(p);
    }
    if ci() {
        panic!("{tool} is required under CI=true: {install} (scripts/test.sh does this)");
    }
    eprintln!("\n==== SKIPPED: {tool} is not installed ({install}); this test did not run ====\n");
    None
}
