//! The integration tests: one binary (as ripgrep does), one module per area. Each module runs
//! the built `imagegate` binary against images the tests build and servers the tests start;
//! `support` builds the images and starts the servers.

mod support;

mod action;
mod db_update;
mod engine;
mod gate;
mod hook;
mod hostile;
mod inventory;
mod online;
mod registry;
mod registry_support;
mod sarif;
mod scan;
