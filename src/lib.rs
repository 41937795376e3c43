//! imagegate: a container image security gate.
//!
//! The data path, one module per step:
//! [`image`] resolves a reference and reads manifest, config and layer blobs;
//! [`layer`] streams each layer once, capturing only the files that matter and applying
//! whiteouts; [`inventory`] turns the merged view into OS, apk and npm packages, users and
//! files; [`report`] prints it; [`cli`] wires the subcommands to exit codes.

pub mod advisory;
pub mod audit;
pub mod cli;
pub mod http;
pub mod image;
pub mod inventory;
pub mod layer;
pub mod policy;
pub mod report;
