#!/usr/bin/env bash
# Run the fuzz targets (fuzz/, cargo-fuzz) for MINUTES each, one after another, and turn
# every crash into a regression fixture under tests/fixtures/fuzz/<target>/, which
# tests/fuzz_regressions.rs replays on every `cargo test`.
#
# Usage: scripts/fuzz.sh [--minutes 10] [target...]
#   targets: request fast_parse fast_answer differential zone_policy (default: all)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a nightly compiler: the
# `nightly` rustup toolchain when installed, else the stable one with RUSTC_BOOTSTRAP=1
# (which lets stable accept the -Z sanitizer flags cargo-fuzz passes).
# Each target's corpus lives in fuzz/corpus/<target> (not committed) and starts from the
# committed seeds: fuzz/seeds/request and fuzz/seeds/wire (hostile packets and queries
# captured from dig, kdig and unbound) for the packet targets; fuzz/seeds/zone_policy
# and the files under zones/ themselves for zone_policy. Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=10
targets=()
while (($#)); do
  case $1 in
    --minutes) MINUTES=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
((${#targets[@]})) || targets=(request fast_parse fast_answer differential zone_policy)

command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz missing: cargo install cargo-fuzz --locked" >&2; exit 1; }
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
  echo "toolchain: nightly ($(rustup run nightly rustc --version))"
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
  echo "toolchain: stable with RUSTC_BOOTSTRAP=1 ($(rustc --version))"
fi

failed=()
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  fixtures=tests/fixtures/fuzz/$t
  [[ -d $fixtures ]] || { echo "no fixture folder $fixtures for target $t" >&2; exit 1; }
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  if [[ $t == zone_policy ]]; then
    cp fuzz/seeds/zone_policy/* zones/*.toml "$corpus"/
  else
    cp fuzz/seeds/request/* fuzz/seeds/wire/* "$corpus"/
  fi
  find "$fixtures" -type f ! -name .keep -exec cp {} "$corpus"/ \;
  echo "== $t: $MINUTES minute(s)"
  log=fuzz/artifacts/$t/run.log
  status=0
  (cd fuzz && "${fuzz[@]}" run "$t" "corpus/$t" -- \
      -max_total_time=$((MINUTES * 60)) -print_final_stats=1 -timeout=10) >"$log" 2>&1 || status=$?
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -2 || true
  # Every crash, leak, timeout or slow unit is kept as a fixture.
  found=0
  for a in fuzz/artifacts/"$t"/{crash,leak,timeout,oom,slow-unit}-*; do
    [[ -e $a ]] || continue
    cp "$a" "$fixtures/"
    echo "   finding: $a -> $fixtures/$(basename "$a")"
    found=1
  done
  if ((status != 0 || found)); then
    failed+=("$t")
    echo "   $t FAILED (exit $status); log: $log" >&2
    tail -30 "$log" >&2
  fi
done
if ((${#failed[@]})); then
  echo "targets with findings: ${failed[*]} (fixtures added; fix, then cargo test --test fuzz_regressions)" >&2
  exit 1
fi
echo "no findings"
