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

cd "$(dirname "$0")/.."
exec cargo test --locked "$@"
