#!/usr/bin/env bash
# The GitHub Action's shell parts (action.yml), kept here so tests can run them.
#   scripts/action.sh install   download the release binary for this runner, check its sha256,
#                               put it on GITHUB_PATH
#   scripts/action.sh scan      refresh the advisory database when the cache had none, run the
#                               gate with SARIF and the step summary, record the exit code
# Inputs come as INPUT_* variables. IMAGEGATE_RELEASE_BASE overrides where releases are fetched
# from (a mirror, or file:// in tests).
set -euo pipefail

die() { echo "imagegate action: $*" >&2; exit 2; }

install() {
  local version="${INPUT_VERSION:-latest}"
  local repo="${IMAGEGATE_REPOSITORY:-imagegate/imagegate}"
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) die "no release binary for $(uname -m)" ;;
  esac
  local target="$arch-unknown-linux-musl"
  local base="${IMAGEGATE_RELEASE_BASE:-https://github.com/$repo/releases}"
  local url
  if [ "$version" = latest ]; then
    url="$base/latest/download"
  else
    url="$base/download/$version"
  fi
  local dir="${RUNNER_TEMP:-/tmp}/imagegate-bin"
  mkdir -p "$dir"
  local asset="imagegate-$target.tar.gz"
  command -v curl >/dev/null || die "curl is needed to download imagegate"
  curl -fsSL --retry 3 -o "$dir/$asset" "$url/$asset" || die "downloading $url/$asset failed"
  curl -fsSL --retry 3 -o "$dir/$asset.sha256" "$url/$asset.sha256" || die "downloading $url/$asset.sha256 failed"
  (cd "$dir" && sha256sum -c --status "$asset.sha256") || die "$asset does not match its sha256 checksum"
  tar -xzf "$dir/$asset" -C "$dir" imagegate
  "$dir/imagegate" --version
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$dir" >> "$GITHUB_PATH"
  fi
}

scan() {
  [ -n "${INPUT_IMAGE:-}" ] || die "the image input is required"
  local bin="imagegate"
  if ! command -v imagegate >/dev/null && [ -x "${RUNNER_TEMP:-/tmp}/imagegate-bin/imagegate" ]; then
    bin="${RUNNER_TEMP:-/tmp}/imagegate-bin/imagegate"
  fi
  # The database comes from the Actions cache (keyed by day); only a miss downloads it.
  if ! "$bin" db status >/dev/null 2>&1; then
    "$bin" db update
  fi
  local args=(scan "$INPUT_IMAGE" --sarif "${INPUT_SARIF:-imagegate.sarif}")
  [ -z "${INPUT_POLICY:-}" ] || args+=(--policy "$INPUT_POLICY")
  [ -z "${INPUT_FAIL_ON:-}" ] || args+=(--fail-on "$INPUT_FAIL_ON")
  local code=0
  "$bin" "${args[@]}" || code=$?
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "exit-code=$code" >> "$GITHUB_OUTPUT"
  fi
  # The verdict is acted on by a later step, after the SARIF upload.
  [ "$code" -le 1 ] || exit "$code"
}

case "${1:-}" in
  install) install ;;
  scan) scan ;;
  *) die "usage: scripts/action.sh install|scan" ;;
esac
