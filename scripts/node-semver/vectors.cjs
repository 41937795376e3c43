// Writes testdata/node-semver/vectors.json: what the real `semver` package (node-semver, the
// range semantics npm and the Node.js security WG use) answers for
//   - every `vulnerable` and `patched` range of the WG's core advisories
//     (testdata/nodejs-security-wg/core/index.json),
//   - a list of ranges that exercises the rest of the syntax (x-ranges, tilde, caret with the
//     ^0.x rules, hyphen ranges with partial ends, prereleases, operators with spaces),
//   - strings that are not ranges,
// against every Node.js version in the list below. `src/advisory/node_semver.rs` reads the file
// in its tests and must agree on every pair.
//
// It also writes testdata/node-semver/random.json: 3,000 random range strings drawn from the
// whole grammar (operators with and without spaces, `v`/`=` noise, wildcards in every position,
// prereleases, build metadata, hyphens, `||`, and malformed numbers and identifiers), with a
// fixed seed, against a small version list: most of them node-semver rejects, and where it
// accepts one its quirks (an operator joined to `=1.2.3`, `>=0.0.0` read as `*`, `~*.1.1`)
// are what the Rust side must reproduce. `node vectors.cjs SEED` draws another sample.
// Regenerate with
//   cd scripts/node-semver && npm ci && node vectors.cjs
const { readFileSync, writeFileSync, mkdirSync } = require("node:fs");
const { join } = require("node:path");
const semver = require("semver");
const envs = require("node-releases/data/processed/envs.json");

const root = join(__dirname, "..", "..");
const core = JSON.parse(
  readFileSync(join(root, "testdata", "nodejs-security-wg", "core", "index.json"), "utf8"),
);

// Versions. Every Node.js release node-releases lists (it lists each x.y.0, with a few
// prereleases), the patch releases the advisories name as fixes, and their neighbours (one
// patch below and above: the boundary cases), plus prereleases for the exclusion rules.
const versions = new Set();
for (const e of envs) versions.add(e.version);
const advisoryRanges = new Set();
for (const record of Object.values(core)) {
  for (const r of [record.vulnerable, record.patched]) advisoryRanges.add(r);
}
for (const r of advisoryRanges) {
  for (const m of r.matchAll(/(\d+)\.(\d+)\.(\d+)/g)) {
    const [M, mi, p] = [+m[1], +m[2], +m[3]];
    for (const patch of [p - 1, p, p + 1]) if (patch >= 0) versions.add(`${M}.${mi}.${patch}`);
    versions.add(`${M}.${mi + 1}.0`);
  }
}
for (const v of [
  "0.0.0", "0.0.1", "0.0.2", "0.1.0", "0.1.5", "0.2.0", "1.0.0", "1.2.3", "1.2.4", "1.3.0",
  "2.0.0", "20.0.0-rc.1", "20.20.2-rc.0", "20.20.2-0", "21.0.0-pre", "22.0.0-nightly20240424",
  "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-beta.2", "1.2.4-alpha", "2.0.0-0", "0.0.1-alpha",
  "0.1.0-rc.1", "1.2.3+build.5", "20.17.0+local", "4294967296.0.0", "9007199254740991.0.0",
]) versions.add(v);
const sorted = [...versions].filter((v) => semver.valid(v) !== null).sort(semver.compareBuild);

// Ranges beyond the advisories: each line of node-semver's README's range grammar.
const syntax = [
  "*", "", "x", "X", "1", "1.x", "1.X", "1.*", "1.2", "1.2.x", "1.2.*", "1.x.x", "20", "20.x",
  "20.*", "0.10.x", "=1.2.3", "1.2.3", "v1.2.3", "=v1.2.3", ">1.2.3", ">=1.2.3", "<1.2.3",
  "<=1.2.3", "> 1.2.3", ">= 1.2.3", "<  2", ">1", ">1.2", "<1", "<1.2", "<=1", "<=1.2", ">=1",
  ">=1.2", ">*", "<*", ">=*", "<=*", "=1", "=1.2", ">=v1.2.3", ">=1.2.3 <2.0.0", ">=1.2.3  <2",
  ">1.2.3 <=1.3.0 >=1.2.4", "<1.0.0 >2.0.0", ">=0.0.0", ">=0.0.0-0", "<0.0.0-0",
  "~1", "~1.x", "~1.2", "~1.2.x", "~1.2.3", "~0.0.1", "~0.1.0", "~0.2", "~ 1.2.3", "~>1.2.3",
  "~> 1.2", "~1.2.3-beta.2", "~*", "~", "~20.17.0",
  "^1", "^1.x", "^1.2", "^1.2.x", "^1.2.3", "^0", "^0.x", "^0.0", "^0.0.x", "^0.1", "^0.1.x",
  "^0.0.1", "^0.0.2", "^0.1.2", "^0.2.3", "^0.0.1-alpha", "^1.2.3-beta.2", "^1.2.3-alpha",
  "^ 1.2.3", "^*", "^", "^20.20.2", "^0.10.48",
  "1.2.3 - 2.3.4", "1.2 - 2.3.4", "1.2.3 - 2.3", "1.2.3 - 2", "1 - 2", "1.x - 2.x", "* - 2",
  "1.2.3 - *", "1.2.3-alpha - 1.2.4", "1.2.3 - 1.2.4-alpha", "20.0.0 - 20.17.0",
  "1.2.3-alpha", ">1.2.3-alpha", ">=1.2.3-alpha.1 <1.2.4", "1.2.3+build", ">=1.2.3+build.1",
  "1.2.x || 2.x", "1.x || >=2.5.0 || 5.0.0 - 7.2.3", "|| 1.2.3", "1.2.3 ||", "1.2.3 || || 2.0.0",
  "<1.0.0 || >=2.0.0 <3.0.0", "  20.x  ||  22.x  ", "20.x||22.x", "*||1.2.3", "<0.0.0-0 || 1.x",
];
// Meant not to be ranges (the generator says which node-semver accepts after all).
const garbage = [
  "blerg", "1.2.3 foo", ">=1.2.3 blerg", "1.2.3.4", "01.2.3", "1.02.3", ">=01.2", "1.x.3",
  "x.1", "*.1.2", "1.2.3-", "1.2.3-01", "1.2.3+", ">>1.2.3", "<>1.2.3", "=>1.2.3", "~~1.2.3",
  "^^1", "1.2.3 -", "- 1.2.3", "1.2.3 - 2.3.4 - 3", "1..2", ".1.2", "1.2.", "a || b", "||",
  ">=", "<", "v", "vv1.2.3", "1.2.3-a..b", "9007199254740992.0.0", "1.2.3-ä",
];

const allRanges = [...new Set([...advisoryRanges, ...syntax, ...garbage])];
const ranges = [];
for (const range of allRanges) {
  const valid = semver.validRange(range) !== null;
  if (garbage.includes(range) && valid) console.log(`note: node-semver accepts ${JSON.stringify(range)}`);
  if (syntax.includes(range) && !valid) console.log(`note: node-semver rejects ${JSON.stringify(range)}`);
  const entry = { range, valid };
  if (valid) {
    entry.satisfied_by = sorted.filter((v) => semver.satisfies(v, range));
    const min = semver.minVersion(range);
    entry.min_version = min === null ? null : min.version;
  }
  ranges.push(entry);
}

const out = {
  generator: "scripts/node-semver/vectors.cjs",
  semver: require("semver/package.json").version,
  node_releases: require("node-releases/package.json").version,
  versions: sorted,
  ranges,
};
mkdirSync(join(root, "testdata", "node-semver"), { recursive: true });
writeFileSync(join(root, "testdata", "node-semver", "vectors.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`${sorted.length} versions, ${ranges.length} ranges (${advisoryRanges.size} from the advisories)`);

// Random ranges (see the top of the file).
let seed = Number(process.argv[2] || 1);
const rnd = (n) => {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};
const pick = (a) => a[rnd(a.length)];
const num = () => (rnd(40) === 0 ? "01" : pick(["0", "1", "2", "3", "10", "20", "0", "1", "2", "x", "X", "*"]));
const ver = () => {
  const parts = [num()];
  if (rnd(5)) parts.push(num());
  if (rnd(4)) parts.push(num());
  let v = parts.join(".");
  if (rnd(6) === 0) v += "-" + pick(["alpha", "0", "rc.1", "beta.2", "alpha", "rc.1", "01", "a..b"]);
  if (rnd(10) === 0) v += "+" + pick(["b", "build.5", ""]);
  return (rnd(15) === 0 ? pick(["v", "=", "v=", "=v", "vv"]) : "") + v;
};
const comp = () => pick(["", "", "<", "<=", ">", ">=", "=", "~", "~>", "^"]) + (rnd(6) === 0 ? " " : "") + ver();
const set = () => {
  if (rnd(5) === 0) return ver() + pick([" - ", " - ", "  -  ", " -"]) + ver();
  return Array.from({ length: 1 + rnd(3) }, comp).join(pick([" ", " ", "  "]));
};
const randomRanges = new Set();
while (randomRanges.size < 3000) {
  randomRanges.add(Array.from({ length: 1 + rnd(3) }, set).join(pick(["||", " || ", " || ", " ||  "])));
}
const fewVersions = [
  "0.0.0", "0.0.1", "0.0.2", "0.1.0", "0.2.0", "1.0.0", "1.2.3", "1.2.4", "2.0.0", "2.1.0", "3.0.0",
  "3.0.1", "10.0.0", "10.2.3", "20.0.0", "20.1.0", "20.20.2", "21.0.0", "0.0.0-alpha", "1.0.0-alpha",
  "1.2.3-rc.1", "2.0.0-0", "0.0.1-alpha", "3.0.0-alpha", "2.0.0-rc.1", "10.0.0-beta.2", "0.1.0-0",
  "1.0.0-rc.1", "20.0.0-alpha",
];
const random = [...randomRanges].map((range) => {
  const valid = semver.validRange(range) !== null;
  if (!valid) return { range, valid };
  const min = semver.minVersion(range);
  return {
    range,
    valid,
    satisfied_by: fewVersions.filter((v) => semver.satisfies(v, range)),
    min_version: min === null ? null : min.version,
  };
});
writeFileSync(
  join(root, "testdata", "node-semver", "random.json"),
  JSON.stringify({ ...out, seed: Number(process.argv[2] || 1), versions: fewVersions, ranges: random }) + "\n",
);
console.log(`random: ${random.length} ranges, ${random.filter((r) => r.valid).length} valid`);
