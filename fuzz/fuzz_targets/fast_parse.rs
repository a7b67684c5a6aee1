//! Raw bytes into the UDP fast parser (`dns::fast::parse`): it takes a plain query or
//! declines, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _taken: bool = switchyard::fuzzing::fast_parse(data);
});
