#!/usr/bin/env bash
# The nightly audit as N shard processes (what deploy/ runs as N pods), measured: wall time and
# bytes the registry served, for N = 1, 2, 4, against a local docker-registry holding 8 images
# on 2 shared bases (the Alpine minirootfs; 40 MB of random bytes), each with its own top layer.
# The shards share one layer cache, as the pods share the volume. As root (buildah, registry):
#   scripts/bench-audit-shards.sh [IMAGEGATE_BINARY]
# Prints one line per N. Needs docker-registry and buildah (scripts/test.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ig=${1:-target/debug/imagegate}
ig=$(realpath "$ig")
work=$(mktemp -d)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
  for i in $(buildah images -q --filter reference='localhost/igbench*' 2>/dev/null); do
    buildah rmi -f "$i" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<EOF
version: 0.1
log: { accesslog: { disabled: false }, level: error }
storage: { filesystem: { rootdirectory: $work/storage }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
EOF
docker-registry serve "$work/registry.yml" > "$work/access.log" 2>&1 &
registry_pid=$!
reg=127.0.0.1:$port
for _ in $(seq 50); do curl -fs "http://$reg/v2/" >/dev/null && break; sleep 0.1; done

# Two bases, four images on each.
mkdir -p "$work/alpine" "$work/bin"
tar -xzf /work/shared/fixtures/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz -C "$work/alpine" 2>/dev/null \
  || tar -xzf "$root/../shared/fixtures/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz" -C "$work/alpine"
head -c 40000000 /dev/urandom > "$work/bin/tool"  # incompressible: 40 MB per fetch
printf 'root:x:0:0::/root:/sbin/nologin\napp:x:1001:1001::/app:/sbin/nologin\n' > "$work/bin/passwd"
build() { # NAME DIR DOCKERFILE
  printf '%s\n' "$3" > "$2/Dockerfile"
  buildah bud --isolation chroot --format docker -q -t "$1" "$2" >/dev/null
}
build localhost/igbench-base-alpine "$work/alpine" $'FROM scratch\nCOPY . /'
build localhost/igbench-base-tool "$work/bin" $'FROM scratch\nCOPY passwd /etc/passwd\nCOPY tool /usr/local/bin/tool'
for base in alpine tool; do
  for i in 1 2 3 4; do
    d="$work/app-$base-$i"
    mkdir -p "$d"
    head -c 200000 /dev/urandom > "$d/data.bin"
    build "localhost/igbench-$base-$i" "$d" "FROM localhost/igbench-base-$base
COPY data.bin /app/data.bin
USER 1001"
    buildah push -q --tls-verify=false "localhost/igbench-$base-$i" "docker://$reg/bench/$base-$i:1.0" >/dev/null
  done
done

db="$work/db"
"$ig" db import --db "$db" "$root/testdata/osv/npm" "$root/testdata/osv/alpine" >/dev/null
served() { # bytes of blob GETs the registry answered so far
  awk '/"GET \/v2\/[^ ]*\/blobs\// { for (i = 1; i < NF; i++) if ($i ~ /^[0-9][0-9][0-9]$/ && $(i+1) ~ /^[0-9]+$/) { s += $(i+1); break } } END { print s + 0 }' "$work/access.log"
}
echo "imagegate $("$ig" --version | cut -d' ' -f2) ($ig); registry: 8 images, 2 bases"
for n in 1 2 4; do
  run="$work/run-$n"
  mkdir -p "$run"
  before=$(served)
  start=$(date +%s.%N)
  pids=()
  for k in $(seq "$n"); do
    IMAGEGATE_CACHE_DIR="$run/cache" HOME="$run" \
      "$ig" audit "$reg" --shard "$k/$n" --db "$db" --policy "$root/policies/audit.toml" \
      --out "$run/shard-$k" > "$run/log-$k" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  "$ig" audit merge "$run"/shard-* --out "$run/merged" > "$run/merged.log" 2>&1 || true
  end=$(date +%s.%N)
  after=$(served)
  images=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['images']))" "$run/merged/summary.json")
  printf 'N = %d: %.2f s wall, %d blob bytes served, %d images in the merged summary\n' \
    "$n" "$(python3 -c "print($end - $start)")" "$((after - before))" "$images"
done
