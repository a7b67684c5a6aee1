#!/usr/bin/env bash
# Queries per second and latency: Switchyard beside knot (and gdnsd when it installs)
# on the same generated 41-record zone, with the same 100-query mixes, in one run.
# Each server is pinned to core 0 with one worker (Switchyard: one UDP socket and
# thread, TOKIO_WORKER_THREADS=1; knot: udp-workers 1; gdnsd: udp_threads 1) and
# dnsperf to core 1; loopback only.
#
# At the fixed load it also prints each server's CPU time per query (median of --runs
# interleaved rounds).
# Usage: benches/dnsperf.sh [--secs 15] [--runs 3] [--lat-secs 10] [--qps N]
#                           [--no-gdnsd] [--explore]
#   --secs/--runs  length and count of the throughput runs (median reported)
#   --lat-secs     length of the fixed-load latency runs
#   --qps          the fixed load (default: half the slowest median, rounded down)
#   --explore      sweep dnsperf's clients and outstanding queries against knot
# dnsperf settings: DNSPERF_CLIENTS (default 2), DNSPERF_OUTSTANDING (default 200): the
# --explore sweep found knot at its peak (~90% of its core busy) there; more clients or
# more outstanding queries did not raise it.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=15 RUNS=3 LAT_SECS=10 QPS="" GDNSD=1 EXPLORE=0
while (($#)); do
  case $1 in
    --secs) SECS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --lat-secs) LAT_SECS=$2; shift ;;
    --qps) QPS=$2; shift ;;
    --no-gdnsd) GDNSD=0 ;;
    --explore) EXPLORE=1 ;;
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
command -v knotd >/dev/null || need+=(knot)
command -v dig >/dev/null || need+=(bind9-dnsutils)
if ((${#need[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ((GDNSD)) && ! command -v gdnsd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gdnsd >/dev/null 2>&1 || true
  command -v gdnsd >/dev/null || { echo "gdnsd did not install; going on without it" >&2; GDNSD=0; }
fi
# The Debian package starts a system gdnsd; ours runs on its own port and directory.
cargo build --release --locked -q
BIN=${CARGO_TARGET_DIR:-target}/release/switchyard

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

SY_PORT=15353 KNOT_PORT=15354 GDNSD_PORT=15355

# ---- the zone: 41 records, the same for every server -----------------------------
mkdir -p "$work/zones" "$work/knot" "$work/gdnsd/zones" "$work/gdnsd/run" "$work/gdnsd/state"
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
  echo 'www IN CNAME web'
  echo 'web IN A 192.0.2.80'
  echo 'web IN AAAA 2001:db8::80'
  for i in $(seq 1 24); do echo "host$i IN A 192.0.2.$((100 + i))"; done
  for i in $(seq 1 4); do echo "host$i IN AAAA 2001:db8::$((100 + i))"; done
  echo '*.wild IN A 192.0.2.99'
} > "$work/static.zone"
[[ $(grep -c ' IN ' "$work/static.zone") -eq 41 ]] || { echo "zone is not 41 records" >&2; exit 1; }
cp "$work/static.zone" "$work/zones/example.bench.zone"

# Ten failover names. Switchyard answers them by policy (both pools always up, so
# the primary answers); knot serves the primary's addresses as static records; gdnsd
# answers with its simplefo (primary/secondary failover) plugin.
POLICIES=10
cp "$work/static.zone" "$work/knot.zone"
cp "$work/static.zone" "$work/gdnsd/zones/example.bench"
{
  echo '[zone]'
  echo 'origin = "example.bench."'
  echo 'records_file = "example.bench.zone"'
  for i in $(seq 0 $((POLICIES - 1))); do
    printf '\n[pools.p%d]\nregion = "us-east"\naddresses = ["203.0.113.%d", "2001:db8:1::%d"]\n' "$i" $((10 + i)) $((10 + i))
    printf '\n[pools.s%d]\nregion = "eu-west"\naddresses = ["198.51.100.%d", "2001:db8:2::%d"]\n' "$i" $((10 + i)) $((10 + i))
    printf '\n[[policies]]\nname = "api%d"\npolicy = "failover"\npools = ["p%d", "s%d"]\n' "$i" "$i" "$i"
  done
} > "$work/zones/example.bench.toml"
gdnsd_fo=""
for i in $(seq 0 $((POLICIES - 1))); do
  echo "api$i IN A 203.0.113.$((10 + i))" >> "$work/knot.zone"
  echo "api$i IN AAAA 2001:db8:1::$((10 + i))" >> "$work/knot.zone"
  echo "api$i 30 IN DYNA simplefo!api$i" >> "$work/gdnsd/zones/example.bench"
  gdnsd_fo+="    api$i => { service_types => up, addrs_v4 => { primary => 203.0.113.$((10 + i)), secondary => 198.51.100.$((10 + i)) }, addrs_v6 => { primary => 2001:db8:1::$((10 + i)), secondary => 2001:db8:2::$((10 + i)) } }
"
done

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
    file: "$work/knot.zone"
    storage: "$work/knot"
CONF
cat > "$work/gdnsd/config" <<CONF
options => {
  listen => [ 127.0.0.1:$GDNSD_PORT ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => $work/gdnsd/run
  state_dir => $work/gdnsd/state
}
plugins => {
  simplefo => {
$gdnsd_fo  }
}
CONF

# ---- the query mixes: 100 lines each ---------------------------------------------
{
  for r in 1 2; do for i in $(seq 1 24); do echo "host$i.example.bench A"; done; done # 48
  for i in 1 2 3 4; do echo "host$i.example.bench A"; done                           # 52
  for r in 1 2; do for i in 1 2 3 4; do echo "host$i.example.bench AAAA"; done; done # 60
  for i in 5 6 7 8 9 10; do echo "host$i.example.bench AAAA"; done                   # 66 NODATA
  for t in A AAAA; do echo "web.example.bench $t"; echo "web.example.bench $t"; echo "mail.example.bench $t"; echo "mail.example.bench $t"; done # 74
  for t in MX MX MX TXT TXT NS NS SOA SOA; do echo "example.bench $t"; done          # 83
  for n in ns1 ns2 ns1 ns2; do echo "$n.example.bench A"; done                       # 87
  for r in 1 2 3; do echo "www.example.bench A"; done                                # 90 CNAME
  for i in $(seq 1 10); do echo "nx$i.example.bench A"; done                         # 100 NXDOMAIN
} > "$work/q-static"
{
  for r in $(seq 1 8); do for i in $(seq 0 $((POLICIES - 1))); do echo "api$i.example.bench A"; done; done
  for r in 1 2; do for i in $(seq 0 $((POLICIES - 1))); do echo "api$i.example.bench AAAA"; done; done
} > "$work/q-failover"
# The issue's mix: static names, NXDOMAIN, wildcards, CNAMEs and one failover name.
{
  for r in 1 2; do for i in $(seq 1 20); do echo "host$i.example.bench A"; done; done # 40
  for i in $(seq 1 15); do echo "nx$i.example.bench A"; done                         # 55 NXDOMAIN
  for i in $(seq 1 15); do echo "w$i.wild.example.bench A"; done                     # 70 wildcard
  for i in $(seq 1 15); do echo "www.example.bench A"; done                          # 85 CNAME
  for i in $(seq 1 15); do echo "api0.example.bench A"; done                         # 100 failover
} > "$work/q-mixed"
for f in q-static q-failover q-mixed; do [[ $(wc -l < "$work/$f") -eq 100 ]] || { echo "$f is not 100 queries" >&2; exit 1; }; done

# ---- servers -----------------------------------------------------------------------
TOKIO_WORKER_THREADS=1 taskset -c 0 "$BIN" serve --config "$work/switchyard.toml" > "$work/sy.out" 2> "$work/sy.err" &
pids+=($!)
taskset -c 0 knotd -c "$work/knot.conf" 2> "$work/knot.err" &
pids+=($!)
if ((GDNSD)); then
  taskset -c 0 gdnsd -c "$work/gdnsd" start 2> "$work/gdnsd.err" &
  pids+=($!)
fi

wait_for() {
  # dig +short prints its errors (connection refused) on stdout too: look for an address.
  for _ in $(seq 1 100); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "$2" A | grep -qE '^[0-9.]+$' && return 0; sleep 0.1; done
  echo "server on port $1 did not answer" >&2; cat "$work"/*.err >&2; exit 1
}
wait_for $SY_PORT api0.example.bench
wait_for $KNOT_PORT api0.example.bench
((GDNSD)) && wait_for $GDNSD_PORT api0.example.bench

# Every server gives the same answer to the failover name.
for p in $SY_PORT $KNOT_PORT $( ((GDNSD)) && echo $GDNSD_PORT); do
  got=$(dig +short @127.0.0.1 -p "$p" api3.example.bench A)
  [[ $got == 203.0.113.13 ]] || { echo "port $p answers api3 with '$got'" >&2; exit 1; }
done

servers=(switchyard knot)
((GDNSD)) && servers+=(gdnsd)
port_of() { case $1 in switchyard) echo $SY_PORT ;; knot) echo $KNOT_PORT ;; gdnsd) echo $GDNSD_PORT ;; esac; }
declare -A pid_of=([switchyard]=${pids[0]} [knot]=${pids[1]})
((GDNSD)) && pid_of[gdnsd]=${pids[2]}
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# ECS for 198.51.100.0/24 (family 1, source 24, scope 0), added to every query.
ECS_OPT="8:00011800c63364"
perf() { # server mix [extra dnsperf args...] -> "qps avg_ms lost busy%"
  # busy%: the server's CPU time over the run's wall time, in % of its one core. Below
  # 100, dnsperf (one core) is the limit, and qps / busy is the server's capacity.
  local server=$1 mix=$2; shift 2
  local t0 c0 out
  t0=$(date +%s.%N) c0=$(ticks "${pid_of[$server]}")
  out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p "$(port_of "$server")" -d "$work/q-$mix" -l "$SECS" \
    -c "$CLIENTS" -T 1 -q "$OUTSTANDING" "$@" 2>&1 |
    awk '/Queries per second/ {q=$4} /Average Latency/ {l=$4*1000} /Queries lost/ {lost=$3} END {printf "%d %.3f %s", q, l, lost}')
  echo "$out $(awk -v c="$(( $(ticks "${pid_of[$server]}") - c0 ))" -v hz="$HZ" -v t0="$t0" -v t1="$(date +%s.%N)" \
    'BEGIN {printf "%d", 100 * c / hz / (t1 - t0)}')"
}

if ((EXPLORE)); then
  printf '%8s %12s %12s %10s %12s\n' clients outstanding "knot q/s" "knot busy" "q/s per core"
  for c in ${EXPLORE_CLIENTS:-1 2 4 8 16}; do
    for q in ${EXPLORE_OUTSTANDING:-20 50 100 200 500 1000}; do
      CLIENTS=$c OUTSTANDING=$q
      read -r kq _ _ kb < <(perf knot static)
      printf '%8s %12s %12s %9s%% %12s\n' "$c" "$q" "$kq" "$kb" "$(( kq * 100 / (kb > 0 ? kb : 1) ))"
    done
  done
  exit 0
fi

mixes=(static failover ecs mixed)
mix_file() { case $1 in ecs) echo failover ;; *) echo "$1" ;; esac; }
mix_args() { case $1 in ecs) echo "-E $ECS_OPT" ;; esac; }

declare -A results lost busy cap
for run in $(seq 1 "$RUNS"); do
  for mix in "${mixes[@]}"; do
    for s in "${servers[@]}"; do
      # shellcheck disable=SC2046
      read -r q _ l b < <(perf "$s" "$(mix_file "$mix")" $(mix_args "$mix"))
      results[$s/$mix]+="$q "
      busy[$s/$mix]+="$b "
      cap[$s/$mix]+="$(( q * 100 / (b > 0 ? b : 1) )) "
      lost[$s/$mix]=$(( ${lost[$s/$mix]:-0} + ${l%%[^0-9]*} ))
      echo "run $run: $s $mix $q q/s, server core $b% busy" >&2
    done
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# Latency at a fixed load every server sustains: per-query latencies from dnsperf -v.
declare -A med medbusy medcap
slowest=""
for k in "${!results[@]}"; do
  med[$k]=$(echo "${results[$k]}" | median)
  medbusy[$k]=$(echo "${busy[$k]}" | median)
  medcap[$k]=$(echo "${cap[$k]}" | median)
  if [[ -z $slowest || ${med[$k]} -lt $slowest ]]; then slowest=${med[$k]}; fi
done
[[ -n $QPS ]] || QPS=$(( slowest / 2 / 10000 * 10000 ))
((QPS > 0)) || QPS=10000
declare -A lat cpu cpus
# The fixed-load runs go round the servers $RUNS times (CPU per query moves by a few %
# from run to run on a shared VM; the median of interleaved rounds is what is printed,
# the latency is the last round's).
for round in $(seq 1 "$RUNS"); do
  for mix in "${mixes[@]}"; do
    for s in "${servers[@]}"; do
      # CPU per query: the server's CPU time during the fixed-load run over the queries
      # it answered (below saturation, so this is cost, not capacity).
      c0=$(ticks "${pid_of[$s]}")
      # shellcheck disable=SC2046
      taskset -c 1 dnsperf -s 127.0.0.1 -p "$(port_of "$s")" -d "$work/q-$(mix_file "$mix")" \
        -l "$LAT_SECS" -c "$CLIENTS" -T 1 -q "$OUTSTANDING" -Q "$QPS" -v $(mix_args "$mix") > "$work/lat.out" 2>/dev/null
      c1=$(ticks "${pid_of[$s]}")
      lat[$s/$mix]=$(awk '$1 == ">" {print $NF * 1e6}' "$work/lat.out" | sort -n |
        awk '{v[NR]=$1; s+=$1} END {if (NR) printf "%.0f %.0f %.0f", s/NR, v[int(NR*0.5)+1], v[int(NR*0.99)+1]}')
      answered=$(awk '/Queries completed/ {print $3}' "$work/lat.out")
      c=$(awk -v c="$((c1 - c0))" -v hz="$HZ" -v n="${answered:-0}" 'BEGIN {printf "%.2f", (n > 0 ? c / hz / n * 1e6 : 0)}')
      cpus[$s/$mix]+="$c "
      echo "fixed load round $round: $s $mix $c CPU µs/q" >&2
    done
  done
done
for k in "${!cpus[@]}"; do
  cpu[$k]=$(tr ' ' '\n' <<< "${cpus[$k]}" | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
done

echo
echo "dnsperf: -c $CLIENTS -T 1 -q $OUTSTANDING; median of $RUNS runs of ${SECS}s; latency at $QPS q/s for ${LAT_SECS}s"
printf '%-11s %-9s %10s %7s %6s %6s %11s %7s   %7s %7s %7s %9s %7s\n' server mix "queries/s" "x knot" lost busy "q/s / core" "x knot" "avg µs" "p50 µs" "p99 µs" "CPU µs/q" "x gdnsd"
for mix in "${mixes[@]}"; do
  for s in "${servers[@]}"; do
    read -r la l50 l99 <<< "${lat[$s/$mix]:-- - -}"
    ratio=$(awk -v a="${med[$s/$mix]}" -v b="${med[knot/$mix]}" 'BEGIN {printf "%.2f", a/b}')
    cratio=$(awk -v a="${medcap[$s/$mix]}" -v b="${medcap[knot/$mix]}" 'BEGIN {printf "%.2f", a/b}')
    peer=${cpu[gdnsd/$mix]:-${cpu[knot/$mix]}}
    gratio=$(awk -v a="${cpu[$s/$mix]}" -v b="$peer" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '%-11s %-9s %10s %7s %6s %5s%% %11s %7s   %7s %7s %7s %9s %7s\n' "$s" "$mix" "${med[$s/$mix]}" "$ratio" "${lost[$s/$mix]}" \
      "${medbusy[$s/$mix]}" "${medcap[$s/$mix]}" "$cratio" "$la" "$l50" "$l99" "${cpu[$s/$mix]}" "$gratio"
  done
done
echo "busy: the server's core time during the run; q/s / core: queries/s divided by busy, the"
echo "server's capacity when dnsperf (one core) is what limits queries/s."
echo "CPU µs/q: the server's CPU time during a fixed-load run over the queries answered,"
echo "median of $RUNS rounds that go round the servers in turn;"
echo "x gdnsd: that over gdnsd's (knot's with --no-gdnsd) on the same mix."
echo "mixes: static = 100 queries over the 41-record zone (A, AAAA, MX, TXT, NS, SOA, CNAME,"
echo "NODATA, NXDOMAIN); failover = 10 policy names, 80% A / 20% AAAA; ecs = failover with"
echo "an EDNS Client Subnet option (198.51.100.0/24) on every query; mixed = 40% static"
echo "names, 15% each NXDOMAIN, wildcard, CNAME and one failover name."
