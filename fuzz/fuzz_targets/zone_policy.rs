//! Any bytes as a zone policy file: parse and validate must return a zone or errors,
//! never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(errors) = switchyard::fuzzing::zone_from_bytes(data) {
        assert!(!errors.is_empty(), "rejected without an error");
    }
});
