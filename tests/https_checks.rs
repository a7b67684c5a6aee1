//! HTTPS health checks end to end: the real server probing a TLS backend the test runs
//! (tokio-rustls) with a certificate from a CA the test makes (rcgen), for the name
//! `backend.test` only. Seen through `/v1/status` and `/metrics`: success with
//! `tls_verify = false` and with the CA trusted through `tls_ca`; a certificate nobody
//! trusts, or one for another name, failing as `tls`; status range and body match over
//! TLS; and the SNI the backend received is the check's `host`.

mod common;
mod control;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{wait_for, ZONE_HEAD};
use control::Api;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const BACKEND: &str = "127.0.0.91";

/// A CA, and a leaf for `backend.test` it signed: (CA PEM, leaf chain, leaf key).
fn certificates() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["backend.test".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    (
        ca_cert.pem(),
        leaf.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    )
}

/// The TLS backend: `/ok` is 200 "all good", `/teapot` is 418 "short and stout".
/// Records the SNI of every handshake.
async fn tls_backend(
    chain: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, Arc<Mutex<BTreeSet<String>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![chain], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = tokio::net::TcpListener::bind((BACKEND, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sni = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = sni.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (config, seen) = (config.clone(), seen.clone());
            tokio::spawn(async move {
                // The SNI is read from the ClientHello, before the client can refuse
                // the certificate.
                let acceptor = rustls::server::Acceptor::default();
                let Ok(start) = tokio_rustls::LazyConfigAcceptor::new(acceptor, tcp).await else {
                    return;
                };
                if let Some(name) = start.client_hello().server_name() {
                    seen.lock().unwrap().insert(name.to_string());
                }
                // A refused handshake (the client distrusts us) ends here.
                let Ok(mut tls) = start.into_stream(config).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let (status, body) = if text.starts_with("GET /teapot ") {
                    ("418 I'm a teapot", "short and stout")
                } else if text.starts_with("GET /ok ") {
                    ("200 OK", "all good")
                } else {
                    ("404 Not Found", "no")
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, sni)
}

/// One check and one pool per case, all probing the same backend.
fn zone(port: u16, cases: &[(&str, &str)]) -> String {
    let mut z = ZONE_HEAD.replace("example.test.", "tls.test.");
    for (name, options) in cases {
        z.push_str(&format!(
            "\n[checks.{name}]\nkind = \"https\"\nport = {port}\ninterval = \"300ms\"\ntimeout = \"300ms\"\nfall = 1\nrise = 1\n{options}\n\
             [pools.{name}]\nregion = \"local\"\naddresses = [\"{BACKEND}\"]\ncheck = \"{name}\"\n"
        ));
    }
    z
}

fn address(status: &Value, pool: &str) -> Value {
    status["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["origin"] == "tls.test.")
        .and_then(|z| z["pools"].as_array())
        .and_then(|p| p.iter().find(|p| p["name"] == pool))
        .unwrap_or_else(|| panic!("pool {pool} missing: {status}"))["addresses"][0]
        .clone()
}

#[test]
fn https_checks_verify_trust_status_body_and_sni() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ca_pem, chain, key) = certificates();
    let (addr, sni) = rt.block_on(tls_backend(chain, key));
    let cases: &[(&str, &str, &str, &str)] = &[
        // (pool, check options, health, last result)
        (
            "insecure",
            "path = \"/ok\"\ntls_verify = false",
            "up",
            "HTTP 200",
        ),
        (
            "trusted",
            "path = \"/ok\"\nbody_contains = \"all good\"\nhost = \"backend.test\"\ntls_ca = \"ca.pem\"",
            "up",
            "HTTP 200",
        ),
        (
            "untrusted",
            "path = \"/ok\"\nhost = \"backend.test\"",
            "down",
            "TLS failed",
        ),
        (
            "wrongname",
            "path = \"/ok\"\nhost = \"other.test\"\ntls_ca = \"ca.pem\"",
            "down",
            "TLS failed",
        ),
        (
            "teapot",
            "path = \"/teapot\"\nexpect_status = \"400-499\"\nbody_contains = \"stout\"\ntls_verify = false",
            "up",
            "HTTP 418",
        ),
        (
            "badstatus",
            "path = \"/teapot\"\ntls_verify = false",
            "down",
            "unexpected HTTP status 418",
        ),
        (
            "badbody",
            "path = \"/ok\"\nbody_contains = \"not there\"\nhost = \"backend.test\"\ntls_ca = \"ca.pem\"",
            "down",
            "response body lacks the expected text",
        ),
    ];
    let options: Vec<(&str, &str)> = cases.iter().map(|(n, o, _, _)| (*n, *o)).collect();

    let l = control::layout(true, "");
    std::fs::write(l.dir.path().join("zones/ca.pem"), &ca_pem).unwrap();
    l.zone("tls.test.toml", &zone(addr.port(), &options));
    let s = l.serve();
    let api = Api::new(s.control.expect("control listener"));

    for (pool, _, health, result) in cases {
        wait_for(Duration::from_secs(20), &format!("pool {pool}"), || {
            let a = address(&api.get("/v1/status"), pool);
            let got = a["last_result"].as_str().unwrap_or("");
            (a["health"] == *health && got.starts_with(result)).then_some(())
        });
    }
    // Failures by kind: an untrusted certificate and a name mismatch are `tls`.
    for pool in ["untrusted", "wrongname"] {
        let errors = format!(
            "switchyard_check_errors_total{{zone=\"tls.test.\",check=\"{pool}\",kind=\"tls\"}}"
        );
        assert!(api.metric(&errors) >= 1.0, "{pool}");
    }
    let errors =
        "switchyard_check_errors_total{zone=\"tls.test.\",check=\"badstatus\",kind=\"bad_status\"}";
    assert!(api.metric(errors) >= 1.0);
    // SNI comes from `host`; with no host, the address (no SNI for an IP literal).
    let names = sni.lock().unwrap().clone();
    assert_eq!(
        names,
        BTreeSet::from(["backend.test".to_string(), "other.test".to_string()]),
        "SNI names the backend saw"
    );
    drop(rt);
}

#[test]
fn a_missing_tls_ca_is_a_located_error() {
    let l = control::layout(true, "");
    let file = l.zone(
        "tls.test.toml",
        &zone(443, &[("c", "tls_ca = \"missing.pem\"")]),
    );
    let line = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("tls_ca"))
        .unwrap()
        + 1;
    common::assert_rejected(&l, &file, line, "tls_ca", "a missing tls_ca");
}
