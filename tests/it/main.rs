//! The integration tests: one binary (as ripgrep does), one module per area. Each module runs
//! the built `imagegate` binary against images the tests build and servers the tests start;
//! `support` builds the images and starts the servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod support;

mod action;
mod baseline;
mod coverage;
mod db_update;
mod debian;
mod deploy;
mod engine;
mod engine_real;
mod formats;
mod gate;
mod gobin;
mod harness;
mod hook;
mod hostile;
mod inventory;
mod node;
mod nodejs;
mod online;
mod pnpm;
mod registry;
mod registry_support;
mod sarif;
mod scan;
mod selfimage;
mod size;
mod terminal;
mod yarn;
