//! Writes the demo image `testdata/demo/app.tar`: an OCI archive (gzip layers, tag `1.0.0`) of a
//! small Next.js app on Alpine 3.20.3, built entirely in memory from `testdata/alpine-3.20.3/`
//! and the fixture contents in `tests/it/support/mod.rs`.
//!
//! Run it from the repository root:
//!
//! ```text
//! cargo run --example make_demo            # writes testdata/demo/app.tar
//! cargo run --example make_demo -- OUT.tar # writes somewhere else
//! ```
//!
//! The output is deterministic (fixed mtimes, sorted JSON, gzip with mtime 0): running it twice
//! gives byte-identical files, and `tests/inventory.rs` checks the committed file against a fresh
//! build.
//!
//! Layers: 0 Alpine base (real apk DB, os-release, passwd, group + placeholders for busybox,
//! musl, ...), 1 `apk add libstdc++` (libgcc, libstdc++) and node with the global npm/corepack,
//! 2 the app (`app/package.json`, lockfiles, `node_modules` with `typescript` as a dev dependency
//! and `semver` 7.3.5 at two paths, user `nextjs` 1001), 3 a cleanup layer whose whiteout deletes
//! `app/node_modules/minimist`. Config: `User: 1001`, a `HEALTHCHECK`, `EXPOSE 3000/tcp`, OCI
//! labels and a buildkit-style history with `empty_layer` entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo_root().join("testdata/demo/app.tar"));
    support::write_demo(&out)?;
    let len = std::fs::metadata(&out)?.len();
    println!(
        "wrote {} ({len} bytes, sha256 {})",
        out.display(),
        support::sha256_hex(&std::fs::read(&out)?)
    );
    Ok(())
}
