//! OSV advisories: version orders, and (to come) the local index and matching.

pub mod apk_version;
pub mod db;
pub mod index;
pub mod matcher;
pub mod npm_version;
pub mod osv;
pub mod scan;
pub mod severity;
