#!/usr/bin/env bash
# Builds and runs every fuzz target for SECONDS each (default 20), one after another, with
# cargo-fuzz (libFuzzer) on the stable toolchain; installs cargo-fuzz when it is missing.
# Prints one line per target and exits non-zero when any target crashed (the input that did
# is left in fuzz/artifacts/<target>/). See docs/FUZZING.md.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# New inputs a run finds go to fuzz/work/<target>/ (not committed); the seeds in
# fuzz/corpus/<target>/ are only read.
set -euo pipefail

secs="${1:-20}"
shift || true
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# cargo-fuzz passes flags that stable rustc takes only with RUSTC_BOOTSTRAP; the targets are
# built optimised, without a sanitizer (no nightly here, and the crates forbid unsafe code),
# with debug assertions and overflow checks on (-a). FUZZ_TARGET_DIR moves the build out of
# fuzz/target (CI keeps it across runs on the same machine).
export RUSTC_BOOTSTRAP=1
flags=(--sanitizer none -a)
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  flags+=(--target-dir "$FUZZ_TARGET_DIR")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (cargo install --locked cargo-fuzz, about 1.5 minutes)"
  cargo install --locked cargo-fuzz
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || { echo "fuzz: no targets found" >&2; exit 1; }

echo "fuzz: building ${#targets[@]} targets"
cargo fuzz build "${flags[@]}"

failed=0
for t in "${targets[@]}"; do
  [ -d "fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus fuzz/corpus/$t" >&2; exit 1; }
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  log="fuzz/work/$t.log"
  before=$(find "fuzz/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l)
  touch "$log.start"
  start=$(date +%s)
  rc=0
  cargo fuzz run "${flags[@]}" "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  # crash-, leak-, timeout- and oom- inputs fail the run; a slow- unit (over 10 s, e.g. one
  # that met a loaded machine) is only reported.
  crashes=$(($(find "fuzz/artifacts/$t" -type f ! -name 'slow-unit-*' | wc -l) - before))
  slow=$(find "fuzz/artifacts/$t" -type f -name 'slow-unit-*' -newer "$log.start" | wc -l)
  [ "$slow" -eq 0 ] || echo "fuzz: $t: $slow slow unit(s) in fuzz/artifacts/$t (not a failure)" >&2
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1 # it died without leaving an input (e.g. it did not start)
  fi
  echo "fuzz: target=$t executions=${execs:-0} seconds=$took crashes=$crashes"
  if [ "$crashes" -ne 0 ]; then
    failed=1
    echo "fuzz: $t FAILED (exit $rc); the end of $log:" >&2
    tail -n 40 "$log" >&2
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: at least one target crashed; reproduce with" \
    "RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/FILE" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${secs}s each, no crashes"
