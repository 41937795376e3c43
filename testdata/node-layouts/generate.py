#!/usr/bin/env python3
"""Regenerates the real Node.js layouts in this directory with the real tools.

    python3 testdata/node-layouts/generate.py WORKDIR

Needs node, npm and the npm registry (pnpm 8, 9 and @pnpm/exe 11 are installed into WORKDIR
from it). For each layout it runs the package manager, then keeps only the files imagegate reads
(every `package.json`, the lockfiles, pnpm's `.modules.yaml`), every symlink, and, for pnpm, the
store files those `package.json` files are hard links of, in a `.tar.gz` whose entries keep
their links (later names of one inode are tar hard links). Next to each it writes what the
package manager itself lists (`pnpm list --depth Infinity --json`, `npm ls --all --json`), for
the tests to compare with.

Layouts (the project sits at `usr/src/app`, pnpm's store at `pnpm/store`, sorted before it, so
every `package.json` under `node_modules` is a hard link whose target the walk has not read yet):

- `pnpm8.tar.gz`:  pnpm 8 (lockfile v6)
- `pnpm9.tar.gz`:  pnpm 9 (lockfile v9)
- `pnpm11.tar.gz`: pnpm 11 with `devEngines.packageManager` (a two-document `pnpm-lock.yaml`)
- `next13.tar.gz`: `npm install` of next 13.4.0 and `next build` with `output: "standalone"`
"""

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
APP = "usr/src/app"
STORE = "pnpm/store"

PNPM_PROJECT = {
    "name": "pnpm-layout",
    "version": "1.0.0",
    "private": True,
    "dependencies": {
        "@babel/runtime": "7.15.4",
        "debug": "4.3.4",
        "react": "18.2.0",
        "react-dom": "18.2.0",
        "resolve": "1.22.8",
    },
    "devDependencies": {"is-odd": "3.0.1", "ms": "2.1.3"},
}

NEXT_PROJECT = {
    "name": "next-standalone",
    "version": "1.0.0",
    "private": True,
    "scripts": {"build": "next build"},
    "dependencies": {"next": "13.4.0", "react": "18.2.0", "react-dom": "18.2.0"},
}

KEEP = {"package.json", "package-lock.json", ".package-lock.json", "pnpm-lock.yaml", "lock.yaml", ".modules.yaml"}


def run(cmd, cwd, **kw):
    print("+", " ".join(cmd), f"(in {cwd})", flush=True)
    return subprocess.run(cmd, cwd=cwd, check=True, **kw)


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def normalize(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    return info


def pack(out, project_dir, store_dir=None):
    """Writes the kept files and links of project_dir (and their store twins) to out."""
    kept = []
    for root, dirs, files in os.walk(project_dir, followlinks=False):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, project_dir)
            if os.path.islink(full):
                kept.append(rel)
            elif os.path.isfile(full) and name in KEEP and "/.next/cache/" not in "/" + rel:
                kept.append(rel)
    twins = {}
    if store_dir:
        inodes = {}
        for root, _, files in os.walk(store_dir):
            for name in files:
                full = os.path.join(root, name)
                inodes.setdefault(os.stat(full).st_ino, full)
        for rel in kept:
            full = os.path.join(project_dir, rel)
            if not os.path.islink(full):
                ino = os.stat(full).st_ino
                if ino in inodes:
                    twins[rel] = inodes[ino]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        added_dirs = set()

        def add_dirs(path):
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in added_dirs:
                    added_dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(normalize(info))

        first_name = {}
        for rel in sorted(twins, key=lambda r: twins[r]):
            src = twins[rel]
            name = f"{STORE}/{os.path.relpath(src, store_dir)}"
            if src in first_name:
                continue
            first_name[src] = name
            add_dirs(name)
            info = tar.gettarinfo(src, arcname=name)
            with open(src, "rb") as f:
                tar.addfile(normalize(info), f)
        for rel in kept:
            full = os.path.join(project_dir, rel)
            name = f"{APP}/{rel}"
            add_dirs(name)
            if os.path.islink(full):
                info = tarfile.TarInfo(name)
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(full)
                tar.addfile(normalize(info))
            elif rel in twins:
                info = tarfile.TarInfo(name)
                info.type = tarfile.LNKTYPE
                info.linkname = first_name[twins[rel]]
                info.mode = 0o644
                tar.addfile(normalize(info))
            else:
                info = tar.gettarinfo(full, arcname=name)
                with open(full, "rb") as f:
                    tar.addfile(normalize(info), f)
    with open(out, "wb") as f:
        f.write(gzip.compress(buf.getvalue(), mtime=0))
    print(f"wrote {out}: {len(kept)} files and links, {len(twins)} hard links", flush=True)


def pnpm_layout(work, label, pnpm, project):
    proj = os.path.join(work, label)
    store = os.path.join(work, f"{label}-store")
    shutil.rmtree(proj, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)
    os.makedirs(proj)
    write_json(os.path.join(proj, "package.json"), project)
    run([pnpm, "install", "--store-dir", store, "--config.package-import-method=hardlink"], proj)
    listed = run([pnpm, "list", "--depth", "Infinity", "--json"], proj, capture_output=True).stdout
    with open(os.path.join(HERE, f"{label}.pnpm-list.json"), "wb") as f:
        f.write(listed)
    pack(os.path.join(HERE, f"{label}.tar.gz"), proj, store)


def next_layout(work):
    proj = os.path.join(work, "next13")
    shutil.rmtree(proj, ignore_errors=True)
    os.makedirs(os.path.join(proj, "pages"))
    write_json(os.path.join(proj, "package.json"), NEXT_PROJECT)
    with open(os.path.join(proj, "pages", "index.js"), "w") as f:
        f.write("export default function Home() {\n  return <p>hello</p>\n}\n")
    with open(os.path.join(proj, "next.config.js"), "w") as f:
        f.write("module.exports = { output: 'standalone' }\n")
    run(["npm", "install", "--no-audit", "--no-fund"], proj)
    env = dict(os.environ, NEXT_TELEMETRY_DISABLED="1")
    run(["npx", "next", "build"], proj, env=env)
    listed = run(["npm", "ls", "--all", "--json"], proj, capture_output=True).stdout
    with open(os.path.join(HERE, "next13.npm-ls.json"), "wb") as f:
        f.write(listed)
    pack(os.path.join(HERE, "next13.tar.gz"), proj)


def tool(work, spec, binary):
    prefix = os.path.join(work, "tools", spec.replace("/", "_"))
    if not os.path.exists(os.path.join(prefix, binary)):
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", prefix, spec], work)
    return os.path.join(prefix, binary)


def main():
    work = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/tmp/node-layouts")
    os.makedirs(work, exist_ok=True)
    pnpm8 = tool(work, "pnpm@8.15.9", "node_modules/.bin/pnpm")
    pnpm9 = tool(work, "pnpm@9.15.9", "node_modules/.bin/pnpm")
    # pnpm 11 needs Node.js 22; @pnpm/exe bundles its own.
    pnpm11 = tool(work, "@pnpm/exe@11.28.6", "node_modules/@pnpm/exe/pnpm")
    pnpm_layout(work, "pnpm8", pnpm8, PNPM_PROJECT)
    pnpm_layout(work, "pnpm9", pnpm9, PNPM_PROJECT)
    pnpm_layout(
        work,
        "pnpm11",
        pnpm11,
        dict(PNPM_PROJECT, devEngines={"packageManager": {"name": "pnpm", "version": "11.28.6"}}),
    )
    next_layout(work)


if __name__ == "__main__":
    main()
