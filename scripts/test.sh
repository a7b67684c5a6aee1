#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests drive
# (dig; iproute2 for the network-namespace tests; chromium for the status page,
# systemd-analyze for the units, promtool for the alert rules, cargo-deb for the
# package; knot as a secondary), then format, lints and tests. Under CI=true a test
# whose tool is missing fails.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v knotd >/dev/null 2>&1 || need+=(knot)
command -v hostname >/dev/null 2>&1 || need+=(hostname)
command -v dnssec-keygen >/dev/null 2>&1 || need+=(bind9-utils)
command -v delv >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v unbound >/dev/null 2>&1 || need+=(unbound)
command -v objcopy >/dev/null 2>&1 || need+=(binutils) # cargo-deb's dbgsym; readelf
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo deb --version >/dev/null 2>&1 || cargo install cargo-deb --locked

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
# The end-to-end tests again with every UDP query on the general path: both paths
# must give the same answers (dns_conformance runs both ways on its own).
SWITCHYARD_TEST_UDP_PATH=general cargo test --locked --test failover --test master_file
