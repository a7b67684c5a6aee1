#!/usr/bin/env bash
# Health swaps are free for queries: dnsperf at full load against Switchyard while a
# real backend flaps, so the health checker sees a transition every 50 ms and the
# updater rebuilds and swaps the routing table about 20 times a second. Compared with
# the same setup without flapping: queries/s, lost queries, SERVFAILs.
#
# Setup: `switchyard demo` (DNS, health checks and the controllable backends in one
# process) pinned to core 0 with one worker thread; the failover policy's primary
# backend is probed every 20 ms with fall = rise = 1; dnsperf on core 1. The flapper
# (bash alone: no process per request or per sleep) runs on core 0 beside the server,
# which has room to spare, rather than slow dnsperf, which sets the pace; the table
# reports the server's own CPU use in each run.
#
# Usage: benches/swaps.sh [--secs 60]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=60
while (($#)); do
  case $1 in
    --secs) SECS=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
CLIENTS=${DNSPERF_CLIENTS:-2}
OUTSTANDING=${DNSPERF_OUTSTANDING:-200}

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if ((${#need[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-target}/release/switchyard

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

PORT=15356
PRIMARY=127.0.0.21 SECONDARY=127.0.0.22
mkdir -p "$work/zones"
{
  echo '$ORIGIN example.bench.'
  echo '$TTL 300'
  echo '@ IN SOA ns1 hostmaster 1 3600 600 604800 60'
  echo '@ IN NS ns1'
  echo 'ns1 IN A 192.0.2.53'
  for i in $(seq 1 37); do echo "host$i IN A 192.0.2.$((100 + i))"; done
} > "$work/zones/example.bench.zone"
cat > "$work/zones/example.bench.toml" <<TOML
[zone]
origin = "example.bench."
records_file = "example.bench.zone"

[checks.web]
kind = "http"
port = 8080
path = "/health"
interval = "20ms"
timeout = "20ms"
fall = 1
rise = 1
startup = "up"

[pools.primary]
region = "us-east"
addresses = ["$PRIMARY"]
check = "web"

[pools.secondary]
region = "eu-west"
addresses = ["$SECONDARY"]
check = "web"

[[policies]]
name = "api"
policy = "failover"
pools = ["primary", "secondary"]
TOML
# Half policy answers (the flapping name), half static.
{
  for i in $(seq 1 50); do echo "api.example.bench A"; done
  for i in $(seq 1 50); do echo "host$(( (i % 37) + 1 )).example.bench A"; done
} > "$work/queries"

TOKIO_WORKER_THREADS=1 RUST_LOG=info taskset -c 0 "$BIN" demo --zones "$work/zones" \
  --listen "127.0.0.1:$PORT" > "$work/sy.out" 2> "$work/sy.err" &
pids+=($!)
for _ in $(seq 1 100); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p $PORT api.example.bench A | grep -q "$PRIMARY" && break
  sleep 0.1
done
dig +short @127.0.0.1 -p $PORT api.example.bench A | grep -q "$PRIMARY" || { echo "no answer" >&2; cat "$work/sy.err" >&2; exit 1; }

# POST to the primary's control API from bash itself: no process per request.
post() {
  exec 3<>"/dev/tcp/$PRIMARY/9000"
  printf 'POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$1" >&3
  while read -r -u 3 _; do :; done
  exec 3<&-
}
flap() { # alternate fail/recover every 50 ms until killed; sleeps without forking
  exec 4<>"$NEVER"
  while :; do
    post fail; read -r -t 0.05 -u 4 _ || true
    post recover; read -r -t 0.05 -u 4 _ || true
  done
}

swaps() { grep -c "routing table swapped" "$work/sy.err" || true; }
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/${pids[0]}/stat"; }
run() { # -> "qps sent lost servfail"
  taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d "$work/queries" -l "$SECS" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" 2>&1 |
    awk '/Queries sent/ {s=$3} /Queries lost/ {l=$3} /Queries per second/ {q=$4} /SERVFAIL/ {f=$2}
         END {printf "%d %d %d %d\n", q, s, l, f+0}'
}

NEVER=$work/never
mkfifo "$NEVER"
# Three runs: without, with, and again without flapping, so drift on a shared machine
# shows instead of passing for the cost of swaps.
printf '%-16s %12s %12s %8s %9s %14s %12s\n' run "queries/s" sent lost SERVFAIL "table swaps" "server busy" > "$work/table"
rates=()
for phase in quiet flapping quiet; do
  flapper=""
  if [[ $phase == flapping ]]; then
    taskset -c 0 bash -c "$(declare -f post flap); PRIMARY=$PRIMARY NEVER=$NEVER; flap" &
    flapper=$!
    pids+=("$flapper")
  fi
  before=$(swaps) c0=$(ticks) t0=$(date +%s.%N)
  read -r q s l f < <(run)
  n=$(( $(swaps) - before ))
  busy=$(awk -v c="$(( $(ticks) - c0 ))" -v hz="$HZ" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN {printf "%d%%", 100 * c / hz / (t1 - t0)}')
  [[ -n $flapper ]] && kill "$flapper" 2>/dev/null
  rates+=("$q")
  printf '%-16s %12s %12s %8s %9s %14s %12s\n' "$phase" "$q" "$s" "$l" "$f" \
    "$n ($(awk -v n="$n" -v s="$SECS" 'BEGIN {printf "%.1f/s", n/s}'))" "$busy" >> "$work/table"
done
answers=$(grep -c "answer changed" "$work/sy.err" || true)

echo
echo "dnsperf -c $CLIENTS -T 1 -q $OUTSTANDING, ${SECS}s per run; 50% policy name (flapping), 50% static"
cat "$work/table"
awk -v a="${rates[1]}" -v b="${rates[0]}" -v c="${rates[2]}" \
  'BEGIN {printf "rate with swaps: %.1f%% of the mean rate without\n", 200*a/(b+c)}'
echo "answer changes logged in all: $answers"
