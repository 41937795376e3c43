//! What `scan` prints: every match with its ids, severity and where that came from, the
//! installed and fixed versions, and the layer that added the package.

use super::short_step;
use crate::advisory::scan::{NoteKind, ScanResult};
use crate::inventory::Inventory;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::fmt::Write;

/// Where the advisories came from, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct DbInfo {
    /// The database directory, or `osv.dev API` with `--online`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_at: Option<i64>,
    pub records: usize,
}

#[derive(Serialize)]
struct ScanJson<'a> {
    schema: u32,
    db: &'a DbInfo,
    summary: Summary,
    #[serde(flatten)]
    result: &'a ScanResult,
    inventory: &'a Inventory,
}

#[derive(Serialize)]
struct Summary {
    vulnerabilities: usize,
    packages_affected: usize,
    packages_checked: usize,
    by_severity: std::collections::BTreeMap<&'static str, usize>,
}

fn summary(result: &ScanResult) -> Summary {
    let mut affected: Vec<(&str, &str, &str)> = result
        .vulnerabilities
        .iter()
        .map(|v| {
            (
                v.package.ecosystem.as_str(),
                v.package.name.as_str(),
                v.package.version.as_str(),
            )
        })
        .collect();
    affected.sort();
    affected.dedup();
    Summary {
        vulnerabilities: result.vulnerabilities.len(),
        packages_affected: affected.len(),
        packages_checked: result.packages_checked,
        by_severity: result.counts(),
    }
}

pub fn json(inv: &Inventory, db: &DbInfo, result: &ScanResult) -> Result<String, serde_json::Error> {
    let doc = ScanJson {
        schema: 1,
        db,
        summary: summary(result),
        result,
        inventory: inv,
    };
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}

/// The one-line verdict of a scan.
pub fn summary_line(result: &ScanResult) -> String {
    let s = summary(result);
    let order = ["critical", "high", "medium", "low", "none", "unknown"];
    let counts: Vec<String> = order
        .iter()
        .filter_map(|l| s.by_severity.get(l).map(|n| format!("{n} {l}")))
        .collect();
    let not_checked = result.notes.iter().any(|n| n.kind == NoteKind::NotCovered);
    format!(
        "{} vulnerabilities in {} of {} packages{}{}",
        s.vulnerabilities,
        s.packages_affected,
        s.packages_checked,
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
        if not_checked {
            " (some packages could not be checked, see above)"
        } else {
            ""
        }
    )
}

pub fn text(inv: &Inventory, db: &DbInfo, result: &ScanResult) -> String {
    let mut out = String::new();
    let os = inv
        .os
        .as_ref()
        .map(|o| format!("{} {}", o.id, o.version.as_deref().unwrap_or("?")))
        .unwrap_or("unknown OS".into());
    let _ = writeln!(out, "Image  {}  ({}, {})", inv.image.reference, inv.image.platform, os);
    let built = db
        .built_at
        .map(|b| format!(", built {} ({} old)", super::db::timestamp(b), super::db::age(b)))
        .unwrap_or_default();
    let _ = writeln!(out, "DB     {} ({} records{built})", db.source, db.records);
    if !result.vulnerabilities.is_empty() {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(vec![
                "severity",
                "id",
                "package",
                "installed → fixed",
                "layer",
                "created by",
            ]);
        for v in &result.vulnerabilities {
            let sev = match (v.severity.score, v.malicious) {
                (_, true) => "critical (malicious)".to_string(),
                (Some(s), _) => format!("{} {s:.1}", v.severity.label()),
                (None, _) => v.severity.label().to_string(),
            };
            let others: Vec<&str> = v.ids.iter().filter(|i| **i != v.id).map(String::as_str).collect();
            let ids = if others.is_empty() {
                v.id.clone()
            } else {
                format!("{}\n{}", v.id, others.join("\n"))
            };
            let fixed = if v.fixed.is_empty() {
                "no fix".to_string()
            } else {
                v.fixed.join(", ")
            };
            let name = match &v.package.origin {
                Some(o) if o != &v.package.name => format!("{} ({})\nvia {o}", v.package.name, v.package.ecosystem),
                _ => format!("{} ({})", v.package.name, v.package.ecosystem),
            };
            t.add_row(vec![
                sev,
                ids,
                name,
                format!("{} → {fixed}", v.package.version),
                v.layer.index.to_string(),
                short_step(v.layer.created_by.as_deref(), 40),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    for n in &result.notes {
        let _ = writeln!(out, "note: {}", n.message);
    }
    let _ = writeln!(out, "{}", summary_line(result));
    out
}
