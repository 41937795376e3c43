#!/usr/bin/env bash
# Builds testdata/rustbin/smallvec-demo: a real Rust binary made by `cargo auditable build`
# (cargo-auditable from crates.io: `cargo install --locked cargo-auditable`), so its
# `.dep-v0` section is the tool's own. It depends on smallvec 1.6.0, which RUSTSEC-2021-0003
# affects (fixed in 1.6.1). Built small (opt-level z, stripped, panic=abort). Needs crates.io.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cat >"$work/Cargo.toml" <<'TOML'
[package]
name = "smallvec-demo"
version = "0.1.0"
edition = "2021"

[dependencies]
smallvec = "=1.6.0"

[profile.release]
opt-level = "z"
strip = true
panic = "abort"
lto = true
codegen-units = 1
TOML
cat >"$work/src/main.rs" <<'RS'
fn main() {
    let mut v: smallvec::SmallVec<[u8; 4]> = smallvec::SmallVec::new();
    v.extend(std::env::args().map(|a| a.len() as u8));
    println!("{}", v.len());
}
RS
(cd "$work" && cargo auditable build --release --quiet)
cp "$work/target/release/smallvec-demo" "$here/smallvec-demo"
ls -l "$here/smallvec-demo"
