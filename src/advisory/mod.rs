//! OSV advisories: version orders, and (to come) the local index and matching.

pub mod apk_version;
