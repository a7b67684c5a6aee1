//! Raw bytes in, a response or nothing out: the UDP request path must never panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchyard::routing::RoutingTable;

fn table() -> &'static RoutingTable {
    static TABLE: OnceLock<RoutingTable> = OnceLock::new();
    TABLE.get_or_init(switchyard::fuzzing::sample_table)
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::with_capacity(1232);
    let src = "192.0.2.1:5300".parse().unwrap();
    if let Some(reply) = switchyard::dns::udp::handle_datagram(table(), data, src, &mut out) {
        assert!(reply.len() <= 1232, "UDP reply over the size cap");
    }
});
