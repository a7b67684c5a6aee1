#!/usr/bin/env bash
# One big master file (N A records) loaded by knot and by Switchyard in the same run:
# time until each answers the last name, resident memory once it answers, queries/s on
# random names of the zone, `switchyard check` peak memory, and a SIGHUP reload of the
# zone under load (peak memory during it, queries lost).
#
# Usage: benches/bigzone.sh [--records 1000000] [--secs 10] [--no-reload]
# Each server is pinned to core 0 with one UDP worker, dnsperf to core 1; loopback only.
# Servers run one after the other, so each has the machine's memory to itself.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=1000000 SECS=10 RELOAD=1
while (($#)); do
  case $1 in
    --records) RECORDS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --no-reload) RELOAD=0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v knotd >/dev/null || need+=(knot)
command -v dig >/dev/null || need+=(bind9-dnsutils)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/switchyard")

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
SY_PORT=15363 KNOT_PORT=15364

# ---- the zone: SOA, two NS, their addresses, then N A records --------------------
mkdir -p "$work/zones" "$work/knot"
ZONE=$work/zones/big.bench.zone
{
  echo '$ORIGIN big.bench.'
  echo '$TTL 300'
  echo '@ IN SOA ns1 hostmaster 1 3600 600 604800 60'
  echo '@ IN NS ns1'
  echo '@ IN NS ns2'
  echo 'ns1 IN A 192.0.2.53'
  echo 'ns2 IN A 192.0.2.54'
  awk -v n="$RECORDS" 'BEGIN { for (i = 1; i <= n; i++)
    printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256 }'
} > "$ZONE"
LAST="h$RECORDS.big.bench"
SIZE=$(stat -c %s "$ZONE")
# Random names of the zone, 10% of them absent (NXDOMAIN).
awk -v n="$RECORDS" 'BEGIN { srand(7); for (i = 0; i < 100000; i++) {
  if (i % 10 == 0) printf "x%d.big.bench A\n", int(rand() * n) + 1
  else printf "h%d.big.bench A\n", int(rand() * n) + 1 } }' > "$work/queries"

cat > "$work/zones/big.bench.toml" <<TOML
[zone]
origin = "big.bench."
records_file = "big.bench.zone"
TOML
cat > "$work/switchyard.toml" <<TOML
[server]
listen = ["127.0.0.1:$SY_PORT"]
zones = "zones"
udp_sockets = 1
log = "info"
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
template:
  - id: default
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
zone:
  - domain: big.bench
    file: "$ZONE"
    storage: "$work/knot"
CONF

now() { date +%s.%N; }
mem() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "%d %d\n", r/1024, h/1024}' "/proc/$1/status"; }
# dig +short prints its errors (connection refused) on stdout too: look for an address.
answers() { dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" A | grep -qE "^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$"; }
FIRST=$(realpath benches/first_answer.py)
stop() { kill "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }
# start NAME PORT DIR CMD... : start the server three times, each timed from spawn until
# it answers the zone's last name (first_answer.py polls every 5 ms); keep the third
# running. Sets load[NAME] (the median) and pid.
start() {
  local who=$1 port=$2 dir=$3; shift 3
  local times=() t p
  for run in 1 2 3; do
    read -r t p < <(cd "$dir" && python3 "$FIRST" "$port" "$LAST" "$work/$who.out" "$work/$who.err" -- "$@") ||
      true
    [[ -n ${p:-} ]] || { echo "$who did not answer $LAST" >&2; cat "$work/$who.err" >&2; exit 1; }
    pids+=("$p")
    times+=("$t")
    ((run == 3)) || stop "$p"
  done
  load[$who]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  pid=$p
}
qps() { # port -> "qps lost"
  taskset -c 1 dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries" -l "$SECS" -c 2 -T 1 -q 200 2>&1 |
    awk '/Queries per second/ {q=$4} /Queries lost/ {l=$3} END {printf "%d %s\n", q, l}'
}

declare -A load rss hwm rate
# ---- knot --------------------------------------------------------------------------
start knot $KNOT_PORT "$work" taskset -c 0 knotd -c "$work/knot.conf"
kpid=$pid
read -r rss[knot] hwm[knot] < <(mem "$kpid")
read -r rate[knot] _ < <(qps $KNOT_PORT)
stop "$kpid"

# ---- switchyard ----------------------------------------------------------------------
start switchyard $SY_PORT "$work" env TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve --config switchyard.toml
spid=$pid
read -r rss[switchyard] hwm[switchyard] < <(mem "$spid")
read -r rate[switchyard] _ < <(qps $SY_PORT)

if ((RELOAD)); then
  # Reset the high-water mark, reload under load, and read the peak the reload reached.
  read -r steady _ < <(mem "$spid")
  echo 5 > "/proc/$spid/clear_refs"
  before=$(grep -c 'zones reloaded' "$work/switchyard.err" || true)
  taskset -c 1 dnsperf -s 127.0.0.1 -p $SY_PORT -d "$work/queries" -l $((SECS + 10)) -c 2 -T 1 -q 200 \
    > "$work/reload.perf" 2>&1 &
  dpid=$!
  sleep 2
  kill -HUP "$spid"
  t1=$(now)
  deadline=$(( $(date +%s) + 120 ))
  until (( $(grep -c 'zones reloaded' "$work/switchyard.err" || true) > before )); do
    (( $(date +%s) < deadline )) || { echo "reload did not finish" >&2; exit 1; }
    sleep 0.05
  done
  reload_s=$(awk -v a="$t1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
  wait "$dpid"
  read -r _ reload_peak < <(mem "$spid")
  read -r rq rsent rlost < <(awk '/Queries per second/ {q=$4} /Queries sent/ {s=$3} /Queries lost/ {l=$3} END {print q, s, l}' "$work/reload.perf")
fi
stop "$spid"

# ---- switchyard check ------------------------------------------------------------------
t0=$(now)
/usr/bin/time -v "$BIN" check "$work/zones" > "$work/check.out" 2> "$work/check.err" ||
  { cat "$work/check.out" "$work/check.err" >&2; exit 1; }
check_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}')
check_mib=$(awk '/Maximum resident set size/ {printf "%d", $NF / 1024}' "$work/check.err")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo
echo "zone: $RECORDS A records (+ SOA, 2 NS, 2 glue), $((SIZE / 1024 / 1024)) MiB of text; dnsperf -c 2 -T 1 -q 200 for ${SECS}s on random names (10% NXDOMAIN)"
printf '%-11s %10s %8s %10s %8s %10s %8s %10s %8s\n' server "load s" "x knot" "RSS MiB" "x knot" "HWM MiB" "x knot" "queries/s" "x knot"
for s in knot switchyard; do
  printf '%-11s %10s %8s %10s %8s %10s %8s %10s %8s\n' "$s" \
    "${load[$s]}" "$(ratio "${load[$s]}" "${load[knot]}")" \
    "${rss[$s]}" "$(ratio "${rss[$s]}" "${rss[knot]}")" \
    "${hwm[$s]}" "$(ratio "${hwm[$s]}" "${hwm[knot]}")" \
    "${rate[$s]}" "$(ratio "${rate[$s]}" "${rate[knot]}")"
done
echo "switchyard check: ${check_s} s, peak RSS ${check_mib} MiB ($(ratio "$check_mib" "${rss[knot]}") x knot's RSS)"
if ((RELOAD)); then
  echo "reload (SIGHUP under load): served after ${reload_s} s; peak RSS ${reload_peak} MiB = $(ratio "$reload_peak" "$steady") x steady ${steady} MiB;"
  echo "  dnsperf during it: ${rq} q/s, ${rsent} sent, lost ${rlost}"
fi
echo "load s: from start until the last name answers (median of 3 starts, polled every 5 ms);"
echo "RSS/HWM: VmRSS/VmHWM after answering."
