#!/usr/bin/env bash
# Online signing cost: Switchyard beside knot with mod-onlinesign, the same zone (40
# static records, 10 failover names) and the same ECDSA P-256 key, in one run.
#   1. CPU per query on the fast path, signed (dnsperf -D) over unsigned, on a mix of
#      static and policy names at a fixed load (target: at most 1.2x).
#   2. The same with 10% fixed NXDOMAIN names in the mix (their denials are cached).
#   3. Negative answers that each need a fresh signature: random nonexistent names with
#      DO at saturation, per second of one core (target: at least 20,000/s).
# knot gets the BIND key through `keymgr import-bind` (manual key policy; the key marked
# ZSK too, a CSK, with single-type signing), so both
# servers sign with the very same key. Each server is pinned to core 0 with one worker,
# dnsperf to core 1. Ratios come from one run: the machine may be shared and noisy.
# Usage: benches/dnssec.sh [--secs 10] [--qps 20000]
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=10 QPS=20000
while (($#)); do
  case $1 in
    --secs) SECS=$2; shift ;;
    --qps) QPS=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for t in dnsperf knotd keymgr dig dnssec-keygen; do
  command -v $t >/dev/null || { echo "$t is missing: apt-get install dnsperf knot bind9-dnsutils bind9-utils" >&2; exit 1; }
done
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-target}/release/switchyard

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
SY_PORT=15363 KNOT_PORT=15364

# ---- zone, key, configs ---------------------------------------------------------
mkdir -p "$work/zones" "$work/knot"
{
  echo '$ORIGIN example.bench.'
  echo '$TTL 300'
  echo '@ IN SOA ns1 hostmaster 1 3600 600 604800 60'
  echo '@ IN NS ns1'
  echo '@ IN NS ns2'
  echo '@ IN MX 10 mail'
  echo '@ IN TXT "v=spf1 mx -all"'
  echo 'ns1 IN A 192.0.2.53'
  echo 'ns2 IN A 192.0.2.54'
  echo 'mail IN A 192.0.2.25'
  echo 'mail IN AAAA 2001:db8::25'
  echo 'web IN A 192.0.2.80'
  echo 'web IN AAAA 2001:db8::80'
  for i in $(seq 1 25); do echo "host$i IN A 192.0.2.$((100 + i))"; done
  for i in $(seq 1 4); do echo "host$i IN AAAA 2001:db8::$((100 + i))"; done
} > "$work/zones/example.bench.zone"
cp "$work/zones/example.bench.zone" "$work/knot.zone"
KEY=$(dnssec-keygen -q -K "$work/zones" -a ECDSAP256SHA256 -f KSK -n ZONE example.bench)
POLICIES=10
{
  echo '[zone]'
  echo 'origin = "example.bench."'
  echo 'records_file = "example.bench.zone"'
  printf '\n[dnssec]\nkeys = ["%s"]\n' "$KEY"
  for i in $(seq 0 $((POLICIES - 1))); do
    printf '\n[pools.p%d]\nregion = "us-east"\naddresses = ["203.0.113.%d", "2001:db8:1::%d"]\n' "$i" $((10 + i)) $((10 + i))
    printf '\n[pools.s%d]\nregion = "eu-west"\naddresses = ["198.51.100.%d", "2001:db8:2::%d"]\n' "$i" $((10 + i)) $((10 + i))
    printf '\n[[policies]]\nname = "api%d"\npolicy = "failover"\npools = ["p%d", "s%d"]\n' "$i" "$i" "$i"
    echo "api$i 30 IN A 203.0.113.$((10 + i))" >> "$work/knot.zone"
    echo "api$i 30 IN AAAA 2001:db8:1::$((10 + i))" >> "$work/knot.zone"
  done
} > "$work/zones/example.bench.toml"

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
policy:
  - id: imported
    manual: on
    single-type-signing: on
    algorithm: ecdsap256sha256
mod-onlinesign:
  - id: same-key
    policy: imported
zone:
  - domain: example.bench
    file: "$work/knot.zone"
    storage: "$work/knot"
    module: mod-onlinesign/same-key
CONF
keymgr -c "$work/knot.conf" example.bench import-bind "$work/zones/$KEY.private" > /dev/null
# The BIND key has flags 257 (KSK); knot signs with it as a CSK once it is also a ZSK.
keymgr -c "$work/knot.conf" example.bench set "$((10#${KEY##*+}))" zsk=yes > /dev/null

# ---- query files ----------------------------------------------------------------
{
  for r in 1 2; do for i in $(seq 1 20); do echo "host$i.example.bench A"; done; done # 40
  for i in 1 2 3 4; do echo "host$i.example.bench AAAA"; done                        # 44
  for n in mail web; do echo "$n.example.bench A"; echo "$n.example.bench AAAA"; done # 48
  echo "example.bench MX"; echo "example.bench TXT"                                   # 50
  for r in 1 2 3 4; do for i in $(seq 0 9); do echo "api$i.example.bench A"; done; done # 90
  for i in $(seq 0 9); do echo "api$i.example.bench AAAA"; done                       # 100
} > "$work/q-positive"
{ head -90 "$work/q-positive"; for i in $(seq 1 10); do echo "nx$i.example.bench A"; done; } > "$work/q-mixed"
# Random nonexistent names, each once: every denial needs its own signature.
awk 'BEGIN {srand(12); for (i = 0; i < 2000000; i++) printf "r%08x%d.example.bench A\n", int(rand() * 4294967295), i}' > "$work/q-random"

# ---- servers ---------------------------------------------------------------------
TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve --config "$work/switchyard.toml" > "$work/sy.out" 2> "$work/sy.err" &
pids+=($!)
taskset -c 0 knotd -c "$work/knot.conf" 2> "$work/knot.err" &
pids+=($!)
declare -A pid_of=([switchyard]=${pids[0]} [knot]=${pids[1]}) port_of=([switchyard]=$SY_PORT [knot]=$KNOT_PORT)
for s in switchyard knot; do
  ok=0
  for _ in $(seq 1 100); do
    if dig +dnssec +time=1 +tries=1 @127.0.0.1 -p "${port_of[$s]}" api3.example.bench A | grep -q 'RRSIG.*A 13 '; then ok=1; break; fi
    sleep 0.1
  done
  ((ok)) || { echo "$s gives no signed answer" >&2; cat "$work"/*.err >&2; exit 1; }
  # The same key signs both: the RRSIG key tag is the BIND key's.
  tag=${KEY##*+}; tag=$((10#$tag))
  dig +dnssec @127.0.0.1 -p "${port_of[$s]}" host1.example.bench A | grep -qE "RRSIG[[:space:]]+A 13 3 300 [0-9]+ [0-9]+ $tag " ||
    { echo "$s does not sign with key $tag" >&2; exit 1; }
done

HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# server file qps(0: unlimited) [dnsperf args] -> "answered/s cpu_us_per_query busy%"
run() {
  local s=$1 file=$2 qps=$3; shift 3
  local c0 c1 t0 t1 out limit=()
  ((qps > 0)) && limit=(-Q "$qps")
  t0=$(date +%s.%N) c0=$(ticks "${pid_of[$s]}")
  out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "${port_of[$s]}" -d "$work/$file" -l "$SECS" \
    -c 2 -T 1 -q 200 "${limit[@]}" "$@" 2>&1)
  c1=$(ticks "${pid_of[$s]}") t1=$(date +%s.%N)
  awk -v c="$((c1 - c0))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" '
    /Queries completed/ {n=$3} /Queries per second/ {q=$4}
    END {printf "%d %.2f %d", q, (n > 0 ? c / hz / n * 1e6 : 0), 100 * c / hz / (t1 - t0)}' <<< "$out"
}

declare -A r
for s in switchyard knot; do
  for m in positive mixed; do
    r[$s/$m/plain]=$(run "$s" "q-$m" "$QPS")
    r[$s/$m/do]=$(run "$s" "q-$m" "$QPS" -D)
    echo "$s $m: unsigned ${r[$s/$m/plain]} | signed ${r[$s/$m/do]}" >&2
  done
  r[$s/random/do]=$(run "$s" q-random 0 -D)
  echo "$s random NXDOMAIN with DO: ${r[$s/random/do]}" >&2
done

f() { echo "${r[$1]}" | awk -v i="$2" '{print $i}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
echo
echo "dnsperf -c 2 -T 1 -q 200, ${SECS}s per run, fixed load $QPS q/s for CPU per query; one run"
printf '%-11s %-9s %14s %14s %14s\n' server mix "unsigned µs/q" "signed µs/q" "signed/unsig."
for s in switchyard knot; do
  for m in positive mixed; do
    printf '%-11s %-9s %14s %14s %14s\n' "$s" "$m" "$(f $s/$m/plain 2)" "$(f $s/$m/do 2)" "$(ratio "$(f $s/$m/do 2)" "$(f $s/$m/plain 2)")"
  done
done
echo "switchyard signed µs/q over knot's (positive): $(ratio "$(f switchyard/positive/do 2)" "$(f knot/positive/do 2)")"
echo
printf '%-11s %16s %8s %22s\n' server "denials/s" busy "per core-second"
declare -A percore
for s in switchyard knot; do
  q=$(f $s/random/do 1) b=$(f $s/random/do 3)
  percore[$s]=$(( q * 100 / (b > 0 ? b : 1) ))
  printf '%-11s %16s %7s%% %22s\n' "$s" "$q" "$b" "${percore[$s]}"
done
echo "switchyard signed denials per core-second over knot's: $(ratio "${percore[switchyard]}" "${percore[knot]}")"
echo "mixes: positive = 50 static (A, AAAA, MX, TXT) + 50 failover-policy (A, AAAA) queries;"
echo "mixed = 90 of those + 10 fixed NXDOMAIN names; random = 2,000,000 distinct nonexistent"
echo "names. busy: the server's core time over the run's wall time."
