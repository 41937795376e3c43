//! What `db import` and `db status` print.

use crate::advisory::db::ImportReport;
use crate::advisory::index::Meta;
use std::fmt::Write;
use std::path::Path;

/// `2026-11-28 13:05 UTC`.
pub fn timestamp(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// RFC 3339 (`2026-11-28T13:05:00Z`), as JSON reports write times.
pub fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// A span of seconds as `1d`, `12h`, `1d 6h`.
pub fn duration(secs: i64) -> String {
    let (days, hours) = (secs / 86_400, (secs % 86_400) / 3600);
    match (days, hours) {
        (0, h) => format!("{h}h"),
        (d, 0) => format!("{d}d"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// Age in whole days and hours, from now.
pub fn age(unix: i64) -> String {
    let secs = (jiff::Timestamp::now().as_second() - unix).max(0);
    let (days, hours) = (secs / 86_400, (secs % 86_400) / 3600);
    if days > 0 {
        format!("{days}d {hours}h")
    } else {
        format!("{hours}h {}m", (secs % 3600) / 60)
    }
}

pub fn import(dir: &Path, r: &ImportReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Imported {} into {} ({} read, {} invalid skipped, {} outside npm/Alpine skipped, {} kept from before).",
        crate::units::plural(r.meta.records, "record"),
        dir.display(),
        r.read,
        r.invalid,
        r.unknown_ecosystem,
        r.kept_from_previous
    );
    for (eco, n) in &r.meta.ecosystems {
        let _ = writeln!(out, "  {eco:<16} {n}");
    }
    if r.oversized > 0 {
        let _ = writeln!(
            out,
            "Skipped {} with a field longer than any real record has (id, alias, summary or version).",
            crate::units::plural(r.oversized, "record")
        );
    }
    out
}

pub fn status_text(dir: &Path, meta: &Meta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Database   {}", dir.display());
    let _ = writeln!(
        out,
        "Built      {}, {} old",
        timestamp(meta.built_at),
        age(meta.built_at)
    );
    let _ = writeln!(out, "Records    {}", meta.records);
    for s in &meta.sources {
        let _ = writeln!(out, "Source     {s}");
    }
    for (eco, n) in &meta.ecosystems {
        let _ = writeln!(out, "  {eco:<16} {n}");
    }
    out
}

pub fn status_json(dir: &Path, meta: &Meta) -> Result<String, serde_json::Error> {
    let age = (jiff::Timestamp::now().as_second() - meta.built_at).max(0);
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "schema": 1,
        "path": dir,
        "built_at": rfc3339(meta.built_at),
        "built_at_unix": meta.built_at,
        "age_seconds": age,
        "records": meta.records,
        "ecosystems": meta.ecosystems,
        "sources": meta.sources,
    }))?;
    s.push('\n');
    Ok(s)
}
