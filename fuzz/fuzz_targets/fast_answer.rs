//! Raw bytes through the fast parser and the prepared answer: a reply within the UDP
//! size limit, or a decline, and never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchyard::routing::RoutingTable;

fn table() -> &'static RoutingTable {
    static TABLE: OnceLock<RoutingTable> = OnceLock::new();
    TABLE.get_or_init(switchyard::fuzzing::sample_table)
}

fuzz_target!(|data: &[u8]| {
    if let Some(reply) = switchyard::fuzzing::fast_answer(table(), data) {
        assert!(reply.len() <= 1232, "fast reply over the size cap");
        assert_eq!(reply[..2], data[..2], "fast reply with another ID");
    }
});
