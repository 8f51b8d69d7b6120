#!/usr/bin/env bash
# The benchmark's smoke test: bench/run.py --quick (both backends, ~2 s per scenario; see
# `python3 bench/run.py --help`). Extra arguments go to run.py, e.g. --backend sqlite.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/run.py --quick "$@"
