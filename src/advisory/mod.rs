//! OSV advisories: version orders.

pub mod apk_version;
pub mod db;
pub mod dpkg_version;
pub mod index;
pub mod matcher;
pub mod node_semver;
pub mod nodejs;
pub mod npm_version;
pub mod online;
pub mod osv;
pub mod scan;
pub mod severity;
pub mod update;
