//! Where a scan's advisories came from, as reports show it.

use serde::Serialize;

/// Where the advisories came from, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct DbInfo {
    /// The database directory, or `osv.dev API` with `--online`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_at: Option<i64>,
    pub records: usize,
}
