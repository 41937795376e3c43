#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the repository's real test data.

Run from anywhere: python3 fuzz/make_corpus.py. Deterministic (fixed tar mtimes, gzip mtime 0),
so re-running it changes nothing. Each seed is small (a few KB at most): libFuzzer mutates them,
it does not need big ones. zstd seeds need the `zstd` command.
"""
import gzip, io, json, os, shutil, struct, subprocess, tarfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
SEPARATOR = b"\xffIGLAYER"  # fuzz_targets/layer_merge.rs
# Pad tars to one block, not tarfile's 10 KiB record: seeds stay small.
tarfile.RECORDSIZE = tarfile.BLOCKSIZE


def read(*p):
    with open(os.path.join(ROOT, *p), "rb") as f:
        return f.read()


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def demo_blobs():
    """The blobs of testdata/demo/app.tar, by digest."""
    blobs = {}
    with tarfile.open(os.path.join(ROOT, "testdata/demo/app.tar")) as t:
        for m in t.getmembers():
            if m.isfile():
                blobs[m.name] = t.extractfile(m).read()
    return blobs


def demo_layer_file(blobs, path):
    for name, data in blobs.items():
        if data[:2] != b"\x1f\x8b":
            continue
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as t:
            for m in t.getmembers():
                if m.name.lstrip("./") == path:
                    return t.extractfile(m).read()
    raise KeyError(path)


def apk_db_trimmed():
    """The real Alpine 3.20.3 database, each stanza cut to the fields the parser reads."""
    keep = ("C:", "P:", "V:", "A:", "L:", "o:")
    lines = read("testdata/alpine-3.20.3/lib/apk/db/installed").decode().split("\n")
    return "\n".join(l for l in lines if l == "" or l.startswith(keep)).encode()


def tar(entries):
    """entries: (name, kind, payload) with kind file/dir/symlink/hardlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1725661200
            info.uname = info.gname = "root"
            if kind == "file":
                info.size = len(payload)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(payload))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, payload
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, payload
            t.addfile(info)
    return buf.getvalue()


def gz(data):
    return gzip.compress(data, mtime=0)


def gz_member(data, name=None, comment=None, extra=None, hcrc=False):
    """One gzip member with the optional header fields set (RFC 1952 2.3), mtime 0."""
    flg, fields = 0, b""
    if extra is not None:
        flg |= 4
        fields += struct.pack("<H", len(extra)) + extra
    if name is not None:
        flg |= 8
        fields += name + b"\0"
    if comment is not None:
        flg |= 16
        fields += comment + b"\0"
    head = bytes([0x1F, 0x8B, 8, flg | (2 if hcrc else 0), 0, 0, 0, 0, 0, 3]) + fields
    if hcrc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush()
    return head + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def zst(data):
    return subprocess.run(["zstd", "-q", "-c", "-19"], input=data, stdout=subprocess.PIPE, check=True).stdout


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    blobs = demo_blobs()
    apk = apk_db_trimmed()
    write("apk_installed", "alpine-3.20.3-installed", apk)

    lock = demo_layer_file(blobs, "app/package-lock.json")
    hidden = demo_layer_file(blobs, "app/node_modules/.package-lock.json")
    write("npm", "package-lock.json", lock)
    write("npm", "hidden-package-lock.json", hidden)
    write("npm", "package.json", demo_layer_file(blobs, "app/package.json"))
    write("npm", "npm-package.json", demo_layer_file(blobs, "usr/local/lib/node_modules/npm/package.json"))
    # Lockfile v1 (nested `dependencies`), from the same packages.
    v1 = {"lockfileVersion": 1, "dependencies": {"next": {"version": "13.4.0", "dependencies": {
        "semver": {"version": "7.3.5"}}}, "typescript": {"version": "5.0.4", "dev": True},
        "alias": {"version": "npm:lodash@4.17.20"}}}
    write("npm", "lockfile-v1.json", json.dumps(v1).encode())

    passwd = read("testdata/alpine-3.20.3/etc/passwd")
    base = tar([
        ("etc", "dir", None),
        ("etc/alpine-release", "file", read("testdata/alpine-3.20.3/etc/alpine-release")),
        ("etc/passwd", "file", passwd[:200]),
        ("lib/apk/db/installed", "file", apk[:400]),
        ("bin/sh", "symlink", "/bin/busybox"),
        ("app/node_modules/lodash/package.json", "file", b'{"name":"lodash","version":"4.17.20","license":"MIT"}'),
        ("app/node_modules/.pnpm/store/abc", "file", b'{"name":"semver","version":"7.3.5"}'),
        ("app/node_modules/semver/package.json", "hardlink", "app/node_modules/.pnpm/store/abc"),
    ])
    upper = tar([
        ("app/node_modules/.wh.lodash", "file", b""),
        ("etc/.wh..wh..opq", "file", b""),
        ("etc/passwd", "file", passwd[:200] + b"nextjs:x:1001:1001::/home/nextjs:/sbin/nologin\n"),
        ("bin/sh", "dir", None),
        ("app/package-lock.json", "file", json.dumps(v1).encode()),
    ])
    whiteout_layer = blobs["blobs/sha256/03c417732208db93870fb3648e254fb710c166c6fae4abc4ca5fe1f5055fe03e"]
    write("layer_walk", "demo-layer-3.tar.gz", whiteout_layer)
    write("layer_walk", "base.tar", base)
    write("layer_walk", "base.tar.gz", gz(base))
    write("layer_walk", "upper.tar.zst", zst(upper))
    write("layer_merge", "base-upper", base + SEPARATOR + upper)
    write("layer_merge", "gz-zst-demo", gz(base) + SEPARATOR + zst(upper) + SEPARATOR + whiteout_layer)

    for f in ["npm/GHSA-78xj-cgh5-2h22.json", "npm/GHSA-42xw-2xvc-qx8m.json", "npm/GHSA-35jh-r3h4-6jhm.json",
              "alpine/ALPINE-CVE-2024-9143.json"]:
        write("osv", os.path.basename(f), read("testdata/osv", f))

    pairs = [l.split("#")[0].split() for l in read("testdata/apk-tools/version.data").decode().splitlines()]
    pairs = [p for p in pairs if len(p) == 3]
    for i in range(0, 40, 4):
        write("version_order", f"apk-{i}", "\n".join([pairs[i][0], pairs[i][2], pairs[i + 1][2]]).encode())
    write("version_order", "semver", b"1.0.0-alpha.1\n1.0.0-alpha.beta\n1.0.0+build.5")
    write("version_order", "semver-2", b"4.17.20\n4.17.21\n0.21.1")

    for f in ["default.toml", "production.toml", "audit.toml"]:
        write("policy", f, read("policies", f))

    for name, data in blobs.items():
        if name.startswith("blobs/") and data[:1] == b"{":
            write("image_model", os.path.basename(name)[:12] + ".json", data)
    write("image_model", "index.json", blobs["index.json"])
    config = "blobs/sha256/aaf347a54c9fe7930581dd18165a1cb88ffef1636c61476f445170351ed4ec3f"
    # The manifest.json `docker save` writes, for the same image.

    manifest = json.loads(blobs["blobs/sha256/2350f01da32e6bafbdcb145137dc08e3a79585a6458f225c2c6ceda6d9f2df87"])
    entry = [{"Config": config, "RepoTags": ["demo-app:1.0.0"],
              "Layers": ["blobs/sha256/" + l["digest"].split(":")[1] for l in manifest["layers"]]}]
    write("image_model", "docker-manifest.json", json.dumps(entry).encode())

    write("gunzip", "small", gz_member(b"a small member\n"))
    write("gunzip", "members", gz_member(b"first\n") + gz_member(b"") + gz_member(b"third member\n" * 20))
    write("gunzip", "fields", gz_member(b"usr/bin/node\n" * 50, name=b"layer.tar", comment=b"c", extra=b"xyz", hcrc=True))

    # dpkg: the head of a real status file, and a distroless-style status.d file made from
    # one of its stanzas (those files hold one package each, fewer fields).
    status = read("testdata/debian-12/var/lib/dpkg/status")
    write("dpkg_status", "status", status[:6000])
    for stanza in status.decode().split("\n\n"):
        if stanza.startswith("Package: libssl3\n"):
            fields = dict(l.split(": ", 1) for l in stanza.splitlines() if ": " in l and not l.startswith(" "))
            text = "".join(f"{k}: {fields[k]}\n" for k in ["Package", "Version", "Architecture", "Source"])
            write("dpkg_status", "status.d-libssl3", text.encode())

    # Yarn: two real cache zips and the lockfile of testdata/yarn-pnp (a real Yarn 4 install).
    cache = "testdata/yarn-pnp/app/.yarn/cache"
    write("yarn", "is-odd.zip", read(cache, "is-odd-npm-3.0.1-93c3c3f41b-c9d35c336c.zip"))
    write("yarn", "ms.zip", read(cache, "ms-npm-2.1.3-81ff3cfac1-aa92de6080.zip"))
    write("yarn", "yarn.lock", read("testdata/yarn-pnp/app/yarn.lock"))

    write("json_pretty", "package.json", demo_layer_file(blobs, "app/package.json"))
    write("json_pretty", "shapes.json", json.dumps({"a": [], "b": {}, "c": [[1, -2.5e300, None, True], {"k\u0001\"\\": "\t\u00e9\u2028"}], "d": 0.1}).encode())
    write("chunked", "two-chunks", b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n")
    write("chunked", "layer", b"%x\r\n" % len(whiteout_layer) + whiteout_layer + b"\r\n0\r\n\r\n")

    # An index built by `imagegate db import` from two real records.
    tmp = os.path.join(ROOT, "fuzz", "target", "seed-db")
    shutil.rmtree(tmp, ignore_errors=True)
    records = os.path.join(tmp, "records")
    os.makedirs(records)
    for f in ["GHSA-78xj-cgh5-2h22.json", "GHSA-42xw-2xvc-qx8m.json"]:
        shutil.copy(os.path.join(ROOT, "testdata/osv/npm", f), records)
    exe = os.environ.get("IMAGEGATE", os.path.join(ROOT, "target/debug/imagegate"))
    subprocess.run([exe, "db", "import", records, "--replace", "--db", os.path.join(tmp, "db")], check=True,
                   stdout=subprocess.DEVNULL)
    write("advisory_index", "two-npm-records.igdb", open(os.path.join(tmp, "db", "advisories.igdb"), "rb").read())


if __name__ == "__main__":
    main()
