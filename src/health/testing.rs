//! Fixtures shared by the health unit tests: an HTTP check spec and its targets.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::zone::{CheckKind, CheckSpec, HttpCheck, StartupState, Target};

pub(crate) fn http_spec(port: u16, interval_ms: u64, fall: u32, rise: u32) -> Arc<CheckSpec> {
    Arc::new(CheckSpec {
        id: "test.example./web".into(),
        kind: CheckKind::Http(HttpCheck {
            host: None,
            path: "/health".into(),
            expect_status: 200..=299,
            body_contains: None,
            tls_verify: true,
            tls_ca: None,
        }),
        port,
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(1000),
        fall,
        rise,
        startup: StartupState::Down,
        quorum: crate::zone::Quorum::Majority,
        hold_down: Duration::ZERO,
    })
}

pub(crate) fn target(addr: IpAddr, spec: &CheckSpec) -> Target {
    Target {
        check: spec.id.clone(),
        addr,
    }
}
