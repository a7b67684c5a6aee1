#!/usr/bin/env bash
# Queries per second: Switchyard beside knot on the same zone, in one run.
# The server is pinned to core 0 with one worker, dnsperf to core 1; loopback only.
# Usage: benches/dnsperf.sh [seconds per run]   (installs dnsperf and knot when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v knotd >/dev/null || need+=(knot)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q
BIN=target/release/switchyard

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

SY_PORT=15353
KNOT_PORT=15354

# The same 40 static names for both servers; Switchyard adds a failover name.
mkdir -p "$work/zones" "$work/knot"
{
  echo '$ORIGIN example.bench.'
  echo '$TTL 300'
  echo '@ IN SOA ns1 hostmaster 1 3600 600 604800 60'
  echo '@ IN NS ns1'
  echo 'ns1 IN A 192.0.2.53'
  for i in $(seq 1 38); do echo "host$i IN A 192.0.2.$i"; done
} > "$work/example.bench.zone"
cp "$work/example.bench.zone" "$work/zones/example.bench.zone"
# knot serves the failover name as a static record: it has no health-driven answers.
echo 'api IN A 203.0.113.10' >> "$work/example.bench.zone"
cat > "$work/zones/example.bench.toml" <<TOML
[zone]
origin = "example.bench."
records_file = "example.bench.zone"

[pools.primary]
region = "us-east"
addresses = ["203.0.113.10"]

[pools.secondary]
region = "eu-west"
addresses = ["198.51.100.10"]

[[policies]]
name = "api"
policy = "failover"
pools = ["primary", "secondary"]
TOML
cat > "$work/switchyard.toml" <<TOML
[server]
listen = ["127.0.0.1:$SY_PORT"]
zones = "zones"
udp_sockets = 1
log = "warn"
TOML
cat > "$work/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$KNOT_PORT
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: "$work/knot"
log:
  - target: stderr
    any: error
database:
    storage: "$work/knot"
zone:
  - domain: example.bench
    file: "$work/example.bench.zone"
    storage: "$work/knot"
CONF

TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve --config "$work/switchyard.toml" > "$work/sy.out" 2> "$work/sy.err" &
pids+=($!)
taskset -c 0 knotd -c "$work/knot.conf" 2> "$work/knot.err" &
pids+=($!)

wait_for() { for _ in $(seq 1 100); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" A | grep -q . && return 0; sleep 0.1; done; echo "server on $1 did not answer" >&2; exit 1; }
wait_for $SY_PORT host1.example.bench
wait_for $KNOT_PORT host1.example.bench

echo "host7.example.bench A" > "$work/q-static"
echo "api.example.bench A" > "$work/q-failover"

run() { # port queryfile -> "qps avg_latency_ms"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$SECS" -c 4 -T 1 -q 200 2>&1 |
    awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost/ {lost=$3} END {printf "%d %.3f %s\n", q, l, lost}'
}

printf '%-22s %12s %14s %10s\n' "server / name" "queries/s" "avg lat (ms)" "lost"
read -r kq kl klost < <(run $KNOT_PORT "$work/q-static")
printf '%-22s %12s %14s %10s\n' "knot static" "$kq" "$kl" "$klost"
read -r sq sl slost < <(run $SY_PORT "$work/q-static")
printf '%-22s %12s %14s %10s\n' "switchyard static" "$sq" "$sl" "$slost"
read -r fq fl flost < <(run $SY_PORT "$work/q-failover")
printf '%-22s %12s %14s %10s\n' "switchyard failover" "$fq" "$fl" "$flost"
awk -v s="$sq" -v f="$fq" -v k="$kq" 'BEGIN { printf "ratio to knot: static %.2f, failover %.2f\n", s/k, f/k }'
