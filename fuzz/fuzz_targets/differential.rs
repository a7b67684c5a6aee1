//! For any packet the fast path answers, the general path's reply is the same bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchyard::routing::RoutingTable;

fn table() -> &'static RoutingTable {
    static TABLE: OnceLock<RoutingTable> = OnceLock::new();
    TABLE.get_or_init(switchyard::fuzzing::sample_table)
}

fuzz_target!(|data: &[u8]| {
    if let Err(d) = switchyard::fuzzing::differential(table(), data) {
        panic!("fast and general paths differ: {d}");
    }
});
