#!/usr/bin/env bash
# Prints the module import graph of src/ (layers, cycles, upward imports).
# --strict exits non-zero when there is a cycle or an upward import; -v lists each layer.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/imports.py src "$@"
