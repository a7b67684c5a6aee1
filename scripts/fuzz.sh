#!/usr/bin/env bash
# A short fuzz run of every target (cargo-fuzz, libFuzzer), seeded from fuzz/seeds.
# Usage: scripts/fuzz.sh [seconds per target]   (default 60)
# A crash leaves its input in fuzz/artifacts/<target>/: copy it to
# tests/fixtures/fuzz/<target>/ so `cargo test --test fuzz_regressions` replays it forever.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || { echo "cargo fuzz needs a nightly toolchain (rustup toolchain install nightly)"; exit 1; }
for target in request zone_policy; do
  mkdir -p "corpus/$target"
  echo "== $target: ${SECS}s"
  cargo +nightly fuzz run "$target" -O "corpus/$target" "seeds/$target" -- -max_total_time="$SECS" 2>&1 |
    grep -E "^(Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  if compgen -G "artifacts/$target/crash-*" >/dev/null; then
    echo "CRASH in $target: see fuzz/artifacts/$target/"; exit 1
  fi
done
echo "no crashes"
