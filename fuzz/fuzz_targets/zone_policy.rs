//! Any text as a zone policy file: parse and validate must return a zone or errors,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = switchyard::config::parse_zone(std::path::Path::new("fuzz.toml"), text);
    }
});
