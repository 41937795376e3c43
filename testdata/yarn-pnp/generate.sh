#!/usr/bin/env bash
# Regenerates testdata/yarn-pnp/app: a real Yarn Berry (Plug'n'Play) install made by the real
# tool, Yarn from the npm package `@yarnpkg/cli-dist`, run with node against the npm registry.
# Needs node and npm (network: the npm registry only). Then `yarn info --all --json`, saved
# next to it as yarn-info.json, is what the tests compare the inventory against.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="4.5.3"
registry="${NPM_REGISTRY:-$(npm config get registry)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@yarnpkg/cli-dist@$version" >/dev/null && tar xzf "yarnpkg-cli-dist-$version.tgz")
yarn=("node" "$work/package/bin/yarn.js")

app="$work/app"
mkdir -p "$app"
cat >"$app/package.json" <<'JSON'
{
  "name": "pnp-app",
  "version": "1.0.0",
  "private": true,
  "packageManager": "yarn@4.5.3",
  "dependencies": {
    "is-odd": "3.0.1",
    "lodash": "4.17.20",
    "ms": "2.1.3"
  },
  "devDependencies": {
    "minimist": "1.2.0"
  },
  "dependenciesMeta": {
    "ms": { "unplugged": true }
  }
}
JSON
# `mixed` (deflate where it helps, stored where it does not) so the cache holds both kinds
# of entry; no global cache, so the zips land in the project's .yarn/cache as in an image.
cat >"$app/.yarnrc.yml" <<YML
nodeLinker: pnp
enableGlobalCache: false
compressionLevel: mixed
enableTelemetry: false
npmRegistryServer: "${registry%/}"
YML
(cd "$app" && YARN_IGNORE_PATH=1 "${yarn[@]}" install --mode=skip-build >/dev/null)
(cd "$app" && YARN_IGNORE_PATH=1 "${yarn[@]}" info --all --recursive --json) >"$here/yarn-info.json"
# The registry's host is not part of the layout the tests need.
sed -i '/npmRegistryServer/d' "$app/.yarnrc.yml"
rm -rf "$app/.yarn/install-state.gz" "$here/app"
cp -a "$app" "$here/app"
echo "generated $here/app with yarn $version"
