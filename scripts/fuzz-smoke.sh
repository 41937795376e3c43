#!/usr/bin/env bash
# Smoke run of every fuzz target (fuzz/README.md): builds them with cargo-fuzz (libFuzzer) and
# runs each for FUZZ_SECONDS (30) from its committed seed corpus; fails if any target crashes,
# panics, overflows, leaks past the rss limit or times out. Targets run FUZZ_JOBS at a time
# (default: the number of CPUs). New corpus entries go to a scratch directory, so the
# committed corpus is never changed; a crashing input is kept in fuzz/artifacts/<target>/.
#
#   scripts/fuzz-smoke.sh              every target
#   scripts/fuzz-smoke.sh osv policy   only these
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when missing) and a C++
# compiler (libFuzzer is built from source). On a stable toolchain, RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz pass the nightly-only flags it needs.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
export RUSTC_BOOTSTRAP=1
# The fuzz crate is its own workspace with its own target directory (instrumented builds share
# nothing with the main crate's).
export CARGO_TARGET_DIR="$PWD/target"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz" >&2
  # --debug: cargo-fuzz only drives cargo and the fuzzer; an unoptimized build of it is enough.
  cargo install cargo-fuzz --locked --quiet --debug
fi

cargo fmt --manifest-path Cargo.toml -- --check
# No sanitizer: the targets are safe Rust (ASan would halve the executions for nothing the
# panics and overflow checks do not already catch); 16 codegen units keep the build short.
build=(--sanitizer none --codegen-units 16)
start=$SECONDS
cargo fuzz build "${build[@]}"
echo "fuzz-smoke: built in $((SECONDS - start)) s" >&2

if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# FUZZ_LOG_DIR keeps each target's libFuzzer log (for longer runs: FUZZ_SECONDS=600 FUZZ_JOBS=1).
logs=${FUZZ_LOG_DIR:-$work}
mkdir -p "$logs"

run() {
  local t=$1 max_len=4096
  case $t in
    layer_*) max_len=65536 ;;  # a tar entry is 1 KiB at least; a few layers need room
    advisory_index) max_len=16384 ;;
  esac
  mkdir -p "$work/$t" "artifacts/$t"
  if cargo fuzz run "${build[@]}" "$t" "$work/$t" "corpus/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len="$max_len" \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    local runs last
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | grep -o '[0-9]*$' || true)
    last=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [^ ]*' "$logs/$t.log" | tail -n 1 || true)
    echo "fuzz-smoke: $t ok: $runs runs, $last"
  else
    echo "fuzz-smoke: $t FAILED; the input is in fuzz/artifacts/$t/. Log tail:"
    tail -n 40 "$logs/$t.log"
    return 1
  fi
}
export -f run
export work seconds logs
export build_flags="${build[*]}"

failed=0
start=$SECONDS
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'build=($build_flags); run "$@"' _ {} || failed=1
echo "fuzz-smoke: ${#targets[@]} targets in $((SECONDS - start)) s, $jobs at a time" >&2
exit $failed
