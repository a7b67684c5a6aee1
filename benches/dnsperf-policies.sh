#!/usr/bin/env bash
# Queries per second for location-based policies, beside a static name, in one run:
# a geolocation name and a latency name (static RTT table over three located regions),
# each queried with EDNS Client Subnet from a spread of 1000 client subnets (IPv4 and
# IPv6, located by geoip/test.mmdb or not), and a static name with the same ECS spread.
# dnsperf's -E puts one fixed option on every query, so the spread is a -B file of
# prepared packets (examples/ecs_queries.rs), each with its own subnet.
# The server is pinned to core 0 with one worker and one UDP socket, dnsperf to core 1.
# Usage: benches/dnsperf-policies.sh [seconds per run]   (installs dnsperf when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}

need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q --bin switchyard --example ecs_queries
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release/switchyard
GEN=$TARGET/release/examples/ecs_queries

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

PORT=15363
mkdir -p "$work/zones"
cat > "$work/zones/example.bench.toml" <<TOML
[zone]
origin = "example.bench."
nameservers = ["ns1.example.bench."]
soa = { mname = "ns1.example.bench.", rname = "hostmaster.example.bench." }

[[records]]
name = "ns1"
A = ["192.0.2.53"]

[[records]]
name = "host7"
A = ["192.0.2.7"]

[pools.us-east]
region = "us-east"
location = { lat = 39.0, lon = -77.5 }
addresses = ["203.0.113.10"]

[pools.eu-west]
region = "eu-west"
location = { lat = 53.3, lon = -6.3 }
addresses = ["198.51.100.20"]

[pools.ap-northeast]
region = "ap-northeast"
location = { lat = 35.7, lon = 139.7 }
addresses = ["192.0.2.30"]

[[policies]]
name = "geo"
policy = "geolocation"
countries = { FR = "eu-west", DE = "eu-west", JP = "ap-northeast" }
continents = { EU = "eu-west", NA = "us-east", AS = "ap-northeast", OC = "ap-northeast" }
default = "us-east"

[[policies]]
name = "lat"
policy = "latency"
pools = ["us-east", "eu-west", "ap-northeast"]
static_rtt_ms = { us-east = { us-east = 2, eu-west = 75, ap-northeast = 150 }, eu-west = { us-east = 75, eu-west = 2, ap-northeast = 220 }, ap-northeast = { us-east = 150, eu-west = 220, ap-northeast = 2 } }
TOML
cat > "$work/switchyard.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
zones = "zones"
region = "us-east"
geoip = "$PWD/geoip/test.mmdb"
udp_sockets = 1
log = "warn"
TOML

for n in host7 geo lat; do "$GEN" "$work/q-$n" "$n.example.bench." 1000 >/dev/null; done

TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve --config "$work/switchyard.toml" > "$work/sy.out" 2> "$work/sy.err" &
pids+=($!)
for _ in $(seq 1 100); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p $PORT host7.example.bench A | grep -qE "^[0-9.]+$" && break
  sleep 0.1
done
# A located client must get its continent's pool, with the database's scope.
dig +norec +time=1 @127.0.0.1 -p $PORT geo.example.bench A +subnet=198.51.100.0/24 | grep -q "198.51.100.20" ||
  { echo "geolocation sanity check failed" >&2; cat "$work/sy.err" >&2; exit 1; }

run() { # queryfile -> "qps avg_latency_ms lost"
  taskset -c 1 dnsperf -B -s 127.0.0.1 -p $PORT -d "$1" -l "$SECS" -c 4 -T 1 -q 200 2>&1 |
    awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost/ {lost=$3} END {printf "%d %.3f %s\n", q, l, lost}'
}

printf '%-34s %12s %14s %10s\n' "name (ECS from 1000 subnets)" "queries/s" "avg lat (ms)" "lost"
read -r sq sl slost < <(run "$work/q-host7")
printf '%-34s %12s %14s %10s\n' "static host7" "$sq" "$sl" "$slost"
read -r gq gl glost < <(run "$work/q-geo")
printf '%-34s %12s %14s %10s\n' "geolocation geo" "$gq" "$gl" "$glost"
read -r lq ll llost < <(run "$work/q-lat")
printf '%-34s %12s %14s %10s\n' "latency lat" "$lq" "$ll" "$llost"
awk -v s="$sq" -v g="$gq" -v l="$lq" 'BEGIN { printf "ratio to static: geolocation %.2f, latency %.2f\n", g/s, l/s }'
