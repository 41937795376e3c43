#!/usr/bin/env bash
# Issue 17: what the Node image readers cost. The same `inventory` with them and without them
# (the `bench-readers-off` feature: no Node.js runtime header or binary scan, no Yarn, pnpm or
# vendored-copy reader, no ELF sniffed for Go or Rust build data), on
#   * a Node image made here from real parts: the `node` binary this machine runs (the official
#     build is one ~100 MB ELF, streamed through the runtime scanner), the real Next.js 13.4.0
#     `node_modules` of testdata/node-layouts/next13.tar.gz, and the real esbuild Go binary when
#     scripts/test.sh has downloaded it;
#   * the inventory bench's generated 200 MB image, when `cargo bench --bench inventory -- 200`
#     has made it (target/bench-images/).
# Both builds run round by round, interleaved; it prints the median wall time of each, the
# ratio on ÷ off (target ≤ 1.05) and each child's peak RSS. Nothing is asserted.
#
#   bash benches/readers.sh            # IMAGEGATE_BENCH_REPS=N rounds (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/readers-bench
mkdir -p "$out"

# Two release builds sharing one target directory (only this crate is rebuilt between them).
cargo build --release --locked --features bench-readers-off --bin imagegate
cp target/release/imagegate "$out/imagegate-off"
cargo build --release --locked --bin imagegate
cp target/release/imagegate "$out/imagegate-on"

python3 - "$out" <<'EOF'
import hashlib, io, json, os, shutil, statistics, subprocess, sys, tarfile, time

out = sys.argv[1]
reps = int(os.environ.get("IMAGEGATE_BENCH_REPS", "7"))

def layer(path, members):
    """An uncompressed layer tar from (name, bytes | file path, mode) members."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for name, data, mode in members:
            parts = name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                    t.addfile(info)
            info = tarfile.TarInfo(name)
            info.mode, info.mtime = mode, 1700000000
            if isinstance(data, bytes):
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.size = os.path.getsize(data)
                with open(data, "rb") as f:
                    t.addfile(info, f)
    return path

def docker_save(path, layers, steps):
    """A `docker save` archive of the given layer tars."""
    diff_ids = []
    for l in layers:
        h = hashlib.sha256()
        with open(l, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        diff_ids.append("sha256:" + h.hexdigest())
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "1001", "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": s} for s in steps],
    }).encode()
    with tarfile.open(path, "w") as t:
        def add(name, data=None, file=None):
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if file:
                info.size = os.path.getsize(file)
                with open(file, "rb") as f:
                    t.addfile(info, f)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        add("config.json", config)
        names = []
        for i, l in enumerate(layers):
            names.append(f"{i}/layer.tar")
            add(names[-1], file=l)
        add("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["bench:node"], "Layers": names}]).encode())
    return path

images = []
node = shutil.which("node")
if node:
    node = os.path.realpath(node)
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip().lstrip("v")
    major, minor, patch = (version.split(".") + ["0", "0"])[:3]
    header = (f"#define NODE_MAJOR_VERSION {major}\n#define NODE_MINOR_VERSION {minor}\n"
              f"#define NODE_PATCH_VERSION {patch}\n").encode()
    runtime = layer(f"{out}/runtime.tar", [
        ("usr/local/bin/node", node, 0o755),
        ("usr/local/include/node/node_version.h", header, 0o644),
    ])
    app = []
    with tarfile.open("testdata/node-layouts/next13.tar.gz") as t:
        for m in t.getmembers():
            if m.isfile():
                app.append((m.name, t.extractfile(m).read(), m.mode))
    esbuild = f"target/test-downloads/esbuild-linux-x64-0.24.0/package/bin/esbuild"
    if os.path.exists(esbuild):
        app.append(("usr/src/app/node_modules/@esbuild/linux-x64/bin/esbuild", esbuild, 0o755))
    app_layer = layer(f"{out}/app.tar", app)
    images.append((f"node {version} + next 13.4.0 ({len(app)} files{', esbuild' if os.path.exists(esbuild) else ''})",
                   docker_save(f"{out}/node.tar", [runtime, app_layer],
                               ["COPY /usr/local /usr/local", "COPY --chown=1001 /usr/src/app /usr/src/app"])))
else:
    print("readers: no `node` on PATH; the Node image is skipped")
for d in sorted(os.listdir("target/bench-images")) if os.path.isdir("target/bench-images") else []:
    if d.startswith("200"):
        images.append((f"generated {d}", "oci:" + os.path.abspath(f"target/bench-images/{d}")))
        break
else:
    print("readers: no 200 MB bench image (run `cargo bench --bench inventory -- 200`); skipped")

def run(binary, image):
    report = f"{out}/report.json"
    start = time.perf_counter()
    p = subprocess.Popen([binary, "inventory", image, "--format", "json", "--output", report],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"readers: {binary} inventory {image} exited {code}")
    with open(report) as f:
        v = json.load(f)
    found = sum(len(v.get(k) or []) for k in ("apk", "deb", "npm", "go", "rust")) + (1 if v.get("node_runtime") else 0)
    return wall, usage.ru_maxrss / 1024, found

for label, image in images:
    times = {"on": [], "off": []}
    rss = {"on": 0.0, "off": 0.0}
    found = {}
    for v in ("on", "off"):  # warm the page cache
        run(f"{out}/imagegate-{v}", image)
    for _ in range(reps):
        for v in ("on", "off"):
            wall, peak, n = run(f"{out}/imagegate-{v}", image)
            times[v].append(wall)
            rss[v] = max(rss[v], peak)
            found[v] = n
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    ratio = on / off
    print(f"{label}:")
    print(f"  readers off {off * 1000:8.1f} ms  peak RSS {rss['off']:6.1f} MiB  {found['off']} packages")
    print(f"  readers on  {on * 1000:8.1f} ms  peak RSS {rss['on']:6.1f} MiB  {found['on']} packages")
    print(f"  on / off    {ratio:8.3f}  (target <= 1.05) {'PASS' if ratio <= 1.05 else 'OVER'}"
          f"   median of {reps}, load {open('/proc/loadavg').read().split()[0]}")
EOF
