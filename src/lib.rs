//! imagegate: a container image security gate.
//!
//! [`gate`] is the entry point: a policy and an advisory source in, one [`gate::Run`] per image
//! out. The data path, one module per step, each importing only the ones below it:
//! [`image`] resolves a reference and reads manifest, config and layer blobs;
//! [`layer`] streams each layer once, capturing only the files that matter and applying
//! whiteouts; [`inventory`] turns the merged view into OS, apk and npm packages, users and
//! files; [`advisory`] matches them against OSV records; [`policy`] turns it all into findings
//! and a verdict; [`report`] renders a run; [`cli`] parses arguments, calls the gate and maps
//! the outcome to an exit code. [`digest`], [`units`], [`progress`], [`node_version`], [`dockerfile`] and [`http`] (the one HTTP client) are shared below them.

pub mod advisory;
pub mod audit;
pub mod cli;
pub mod digest;
pub mod dockerfile;
pub mod gate;
pub mod http;
pub mod image;
pub mod inventory;
pub mod layer;
pub mod node_version;
pub mod policy;
pub mod progress;
pub mod report;
pub mod sbom;
pub mod units;
pub mod vex;
