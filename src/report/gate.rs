//! The gate's table (for people) and JSON (schema 1, for tools): the findings, worst first,
//! and the verdict in one closing line.

use super::escape::esc;
pub use super::text::Style;
use super::text::{self, MIN_WIDTH, fit, pad, paint, wrap};
use crate::gate::{DbInfo, Run};
use crate::inventory::Inventory;
use crate::policy::finding::{Finding, Level};
use crate::units::{human_size, plural};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

#[derive(Serialize)]
struct GateJson<'a> {
    schema: u32,
    verdict: &'a crate::policy::finding::Verdict,
    policy: &'a str,
    db: &'a DbInfo,
    /// Every package source, and whether it was checked.
    coverage: &'a [crate::inventory::coverage::Coverage],
    /// Vulnerabilities below `report_from`: counted, not listed.
    hidden: usize,
    elapsed_ms: u128,
    findings: &'a [Finding],
    inventory: &'a Inventory,
    /// Which layers are the base image's, and which rule decided it.
    base: &'a crate::policy::base::BaseImage,
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'a crate::policy::baseline::Comparison>,
    /// The upgrade that clears the failing findings, per package.
    upgrades: &'a [crate::policy::upgrade::Upgrade],
    /// With `--baseline`: the size against the baseline's (the size itself is the
    /// inventory's `size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    size_delta: Option<&'a crate::image::size::SizeDelta>,
}

pub fn json(run: &Run) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&document(run))?;
    s.push('\n');
    Ok(s)
}

/// [`json`], written as it is rendered (it carries the whole inventory).
pub fn write_json(run: &Run, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    super::write_pretty_json(&document(run), w)
}

fn document(run: &Run) -> GateJson<'_> {
    GateJson {
        schema: 1,
        verdict: &run.outcome.verdict,
        policy: &run.policy.description,
        db: &run.db,
        coverage: &run.scan.coverage,
        hidden: run.outcome.hidden,
        elapsed_ms: run.elapsed.as_millis(),
        findings: &run.outcome.findings,
        inventory: &run.inventory,
        base: &run.base,
        baseline: run.baseline.as_ref(),
        upgrades: &run.upgrades,
        size_delta: run.size_delta.as_ref(),
    }
}

/// What a finding is about, in a few words (the wide layout).
fn subject(f: &Finding) -> String {
    if let Some(v) = &f.vulnerability {
        let fixed = if v.fixed.is_empty() {
            "no fix".to_string()
        } else {
            v.fixed.join(", ")
        };
        return format!(
            "{} ({})\n{} → {}",
            esc(&v.package.name),
            esc(&v.package.ecosystem),
            esc(&v.package.version),
            esc(&fixed)
        );
    }
    let e = &f.evidence;
    let mut s = esc(&f.title);
    if let Some(p) = &e.package {
        let _ = write!(s, "\n{}", esc(&p.to_string()));
    } else if let Some(p) = &e.path {
        let _ = write!(s, "\n{}", esc(p));
    } else if let (Some(v), Some(l)) = (&e.value, &e.limit) {
        let _ = write!(s, "\n{} (limit {})", esc(v), esc(l));
    }
    s
}

fn id(f: &Finding) -> String {
    match &f.vulnerability {
        Some(v) => {
            let sev = severity(f);
            let others: Vec<String> = v.ids.iter().filter(|i| **i != v.id).map(|i| esc(i)).collect();
            if others.is_empty() {
                format!("{}\n{sev}", esc(&v.id))
            } else {
                format!("{}\n{}\n{sev}", esc(&v.id), others.join("\n"))
            }
        }
        None => f.rule.to_string(),
    }
}

/// `high 7.5`, `unknown`, `malicious`; empty for a policy check.
fn severity(f: &Finding) -> String {
    match &f.vulnerability {
        Some(v) if v.malicious => "malicious".into(),
        Some(v) => match v.severity.score {
            Some(s) => format!("{} {s:.1}", v.severity.label()),
            None => v.severity.label().to_string(),
        },
        None => String::new(),
    }
}

const LEVELS: [Level; 3] = [Level::Fail, Level::Warn, Level::Info];

fn level_colour(level: Level) -> &'static str {
    match level {
        Level::Fail => "1;31",
        Level::Warn => "1;33",
        Level::Info => "2",
    }
}

/// The gate for people: a header (image, policy, database, package sources), the findings
/// grouped by level, totals, and the verdict as the last line. `style` says how wide and
/// whether in colour; every string from the image is escaped.
pub fn text(run: &Run, style: &Style) -> String {
    // The header wraps at the width (a long path or source list), continuation lines under
    // the values.
    let mut out = String::new();
    let header_width = if style.wide {
        usize::MAX
    } else {
        style.width.max(MIN_WIDTH)
    };
    for line in header(run).lines() {
        for l in wrap_escaped(line, header_width, 8) {
            let _ = writeln!(out, "{l}");
        }
    }
    if style.wide {
        wide_findings(&mut out, run, style.colour);
    } else {
        compact_findings(&mut out, run, style);
    }
    if super::size::wanted(run) {
        let width = if style.wide {
            usize::MAX
        } else {
            style.width.max(MIN_WIDTH)
        };
        out.push_str(&super::size::text(&run.inventory, run.size_delta.as_ref(), width));
    }
    let outcome = &run.outcome;
    if !outcome.findings.is_empty() {
        let width = if style.wide {
            usize::MAX
        } else {
            style.width.max(MIN_WIDTH)
        };
        out.push('\n');
        for line in wrap(&totals(&outcome.findings), width, 2) {
            let _ = writeln!(out, "{line}");
        }
    }
    let hidden = if outcome.hidden > 0 {
        format!("; {} below report_from not shown", outcome.hidden)
    } else {
        String::new()
    };
    let verdict = paint(
        &outcome.verdict.summary,
        if outcome.verdict.pass { "1;32" } else { "1;31" },
        style.colour,
    );
    let _ = writeln!(out, "\n{verdict}{hidden} — scanned in {}", elapsed_text(run.elapsed));
    out
}

fn header(run: &Run) -> String {
    let inv: &Inventory = &run.inventory;
    let db: &DbInfo = &run.db;
    let mut out = String::new();
    let os = inv
        .os
        .as_ref()
        .map(|o| format!("{} {}", o.id, o.version.as_deref().unwrap_or("?")))
        .unwrap_or("unknown OS".into());
    let user = if inv.image.user.is_empty() {
        "root"
    } else {
        &inv.image.user
    };
    let _ = writeln!(
        out,
        "Image   {} · {} · {} · {} · user {}",
        esc(&inv.image.reference),
        esc(&inv.image.platform.to_string()),
        esc(&os),
        human_size(inv.image.uncompressed_size),
        esc(user)
    );
    let _ = writeln!(out, "Policy  {}", esc(&run.policy.description));
    let built = db
        .built_at
        .map(|b| format!(" · built {}, {} old", super::db::timestamp(b), super::db::age(b)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "DB      {} · {}{built}",
        esc(&db.source),
        plural(db.records, "record")
    );
    let _ = writeln!(out, "Sources {}", super::coverage_line(&run.scan.coverage));
    if let Some(line) = super::size::summary(inv, run.size_delta.as_ref()) {
        let _ = writeln!(out, "Size    {line}");
    }
    // Base image, baseline and upgrade lines (a base name comes from the image: escaped).
    for line in super::origin::summary(run) {
        let _ = writeln!(out, "{}", esc(&line));
    }
    out
}

/// [`wrap`] for a line already escaped (escaping again changes nothing).
fn wrap_escaped(line: &str, width: usize, indent: usize) -> Vec<String> {
    if text::width(line) <= width {
        vec![line.to_string()]
    } else {
        wrap(line, width, indent)
    }
}

/// `Vulnerabilities: 9 (high 3, medium 1, unknown 5) · policy checks: 2 · 10 fail, 1 warn, 0 info`.
fn totals(findings: &[Finding]) -> String {
    let vulns: Vec<&Finding> = findings.iter().filter(|f| f.vulnerability.is_some()).collect();
    let mut by_severity = Vec::new();
    for label in ["malicious", "critical", "high", "medium", "low", "none", "unknown"] {
        let n = vulns
            .iter()
            .filter(|f| {
                f.vulnerability.as_ref().is_some_and(|v| {
                    if v.malicious {
                        label == "malicious"
                    } else {
                        v.severity.label() == label
                    }
                })
            })
            .count();
        if n > 0 {
            by_severity.push(format!("{label} {n}"));
        }
    }
    let mut s = format!("Vulnerabilities: {}", vulns.len());
    if !by_severity.is_empty() {
        let _ = write!(s, " ({})", by_severity.join(", "));
    }
    let checks = findings.len() - vulns.len();
    let per_level: Vec<String> = LEVELS
        .iter()
        .map(|l| format!("{} {}", findings.iter().filter(|f| f.level == *l).count(), l.as_str()))
        .collect();
    let _ = write!(s, " · policy checks: {checks} · {}", per_level.join(", "));
    s
}

/// One finding's columns in the compact layout.
struct Row<'a> {
    finding: &'a Finding,
    id: String,
    severity: String,
    /// `npm:next`, or what a policy check is about.
    package: String,
    /// `13.4.0 → 14.1.1`.
    versions: String,
    /// The advisory's title (its aliases first), or the check's.
    title: String,
}

fn row(f: &Finding) -> Row<'_> {
    match &f.vulnerability {
        Some(v) => {
            let fixed = if v.fixed.is_empty() {
                "no fix".to_string()
            } else {
                v.fixed.join(", ")
            };
            // Aliases the title does not already name (`ALPINE-CVE-2023-42364 in busybox`).
            let aliases: Vec<&str> = v
                .ids
                .iter()
                .filter(|i| **i != v.id && !f.title.contains(i.as_str()))
                .map(String::as_str)
                .collect();
            let title = if aliases.is_empty() {
                f.title.clone()
            } else {
                format!("{}: {}", aliases.join(", "), f.title)
            };
            Row {
                finding: f,
                id: esc(&v.id),
                severity: severity(f),
                package: format!("{}:{}", v.package.kind.as_str(), v.package.name),
                versions: format!("{} → {fixed}", v.package.version),
                title,
            }
        }
        None => {
            let e = &f.evidence;
            let package = match (&e.package, &e.path, &e.value, &e.limit) {
                (Some(p), _, _, _) => p.to_string(),
                (None, Some(p), _, _) => p.clone(),
                (None, None, Some(v), Some(l)) => format!("{v} (limit {l})"),
                _ => String::new(),
            };
            Row {
                finding: f,
                id: esc(f.rule.as_str()),
                severity: String::new(),
                package,
                versions: String::new(),
                title: f.title.clone(),
            }
        }
    }
}

/// One line per finding where the width allows (ids whole, the title cut), else the title on
/// a second line; a policy check's message and details follow, wrapped.
fn compact_findings(out: &mut String, run: &Run, style: &Style) {
    let findings = &run.outcome.findings;
    if findings.is_empty() {
        return;
    }
    let width = style.width.max(MIN_WIDTH);
    let rows: Vec<Row> = findings.iter().map(row).collect();
    // A policy check's subject spans the package and version columns: only vulnerabilities
    // size them.
    let col = |get: fn(&Row) -> String, head: &str, cap: usize| -> usize {
        rows.iter()
            .filter(|r| r.finding.vulnerability.is_some())
            .map(|r| text::width(&super::escape::escape(&get(r))))
            .chain([text::width(head)])
            .max()
            .unwrap_or(0)
            .min(cap)
    };
    const INDENT: usize = 2;
    let id_w = rows.iter().map(|r| text::width(&r.id)).chain([2]).max().unwrap_or(2);
    let sev_w = col(|r| r.severity.clone(), "SEVERITY", 12);
    let pkg_w = col(|r| r.package.clone(), "PACKAGE", 28);
    let ver_w = col(|r| r.versions.clone(), "INSTALLED → FIXED", 30);
    let layer_full = rows
        .iter()
        .map(|r| layer_width(r.finding))
        .chain([5])
        .max()
        .unwrap_or(5);
    let base = INDENT + id_w + 2 + sev_w + 2 + pkg_w + 2 + ver_w;
    let room = width.saturating_sub(base + 2);
    // How the layer and the title fit: beside the rest, the layer beside and the title below,
    // or both below.
    let (layer_w, title_inline, layer_inline) = if room >= 12 + 2 + 24 {
        let layer_w = layer_full.min(room.saturating_sub(26).max(12)).min(32);
        (layer_w, true, true)
    } else if room >= 12 {
        (layer_full.min(room), false, true)
    } else {
        (layer_full.min(32), false, false)
    };
    let title_w = width.saturating_sub(base + 2 + layer_w + 2);
    let sub = " ".repeat(INDENT + 2);
    for level in LEVELS {
        let group: Vec<&Row> = rows.iter().filter(|r| r.finding.level == level).collect();
        if group.is_empty() {
            continue;
        }
        let head = format!("{} ({})", level.as_str().to_uppercase(), plural(group.len(), "finding"));
        let _ = writeln!(out, "\n{}", paint(&head, level_colour(level), style.colour));
        let mut cols = format!(
            "{}{}  {}  {}  {}",
            " ".repeat(INDENT),
            pad("ID", id_w),
            pad("SEVERITY", sev_w),
            pad("PACKAGE", pkg_w),
            pad("INSTALLED → FIXED", ver_w)
        );
        if layer_inline {
            let _ = write!(cols, "  {}", pad("LAYER", layer_w));
        }
        if title_inline {
            cols.push_str("  TITLE");
        }
        let _ = writeln!(out, "{}", paint(cols.trim_end(), "2", style.colour));
        for r in group {
            let f = r.finding;
            let layer = layer_text(f, layer_w);
            let what = if f.vulnerability.is_some() {
                format!(
                    "{}  {}",
                    pad(&fit(&r.package, pkg_w), pkg_w),
                    pad(&fit(&r.versions, ver_w), ver_w)
                )
            } else {
                pad(&fit(&r.package, pkg_w + 2 + ver_w), pkg_w + 2 + ver_w)
            };
            let mut line = format!(
                "{}{}  {}  {what}",
                " ".repeat(INDENT),
                paint(&pad(&r.id, id_w), level_colour(level), style.colour),
                pad(&fit(&r.severity, sev_w), sev_w),
            );
            if layer_inline {
                let _ = write!(line, "  {}", pad(&layer, layer_w));
            }
            if title_inline {
                let _ = write!(line, "  {}", fit(&r.title, title_w));
            }
            let _ = writeln!(out, "{}", line.trim_end());
            let below_w = width.saturating_sub(sub.len());
            match (title_inline, layer_inline) {
                (true, _) => {}
                (false, true) => {
                    let _ = writeln!(out, "{sub}{}", fit(&r.title, below_w));
                }
                (false, false) => {
                    let lead = if layer.is_empty() {
                        String::new()
                    } else {
                        format!("{layer} · ")
                    };
                    let _ = writeln!(out, "{sub}{}", fit(&format!("{lead}{}", r.title), below_w));
                }
            }
            if f.vulnerability.is_none() {
                for l in wrap(&f.message, below_w, 2) {
                    let _ = writeln!(out, "{sub}{l}");
                }
                for d in &f.evidence.details {
                    let _ = writeln!(out, "{sub}  {}", fit(d, below_w.saturating_sub(2)));
                }
            }
            if let Some(reason) = &f.ignored {
                let _ = writeln!(out, "{sub}{}", fit(&format!("ignored: {reason}"), below_w));
            }
        }
    }
}

/// Width of `N step` for a finding, uncut.
fn layer_width(f: &Finding) -> usize {
    match f.evidence.layer {
        Some(i) => {
            let s = text::step(f.evidence.created_by.as_deref(), usize::MAX);
            text::width(&i.to_string()) + if s.is_empty() { 0 } else { 1 + text::width(&s) }
        }
        None => 0,
    }
}

/// `2 RUN …npm ci`: the layer index, then as much of the step's end as fits.
fn layer_text(f: &Finding, max: usize) -> String {
    let Some(i) = f.evidence.layer else {
        return String::new();
    };
    let index = format!("{i}{}", super::origin::base_marker(f));
    let room = max.saturating_sub(index.len() + 1);
    let step = text::step(f.evidence.created_by.as_deref(), room);
    if step.is_empty() || room < 4 {
        index
    } else {
        format!("{index} {step}")
    }
}

/// The boxed layout (`--wide`): four columns, nothing cut but the step.
fn wide_findings(out: &mut String, run: &Run, colour: bool) {
    let outcome = &run.outcome;
    for level in LEVELS {
        let group: Vec<&Finding> = outcome.findings.iter().filter(|f| f.level == level).collect();
        if group.is_empty() {
            continue;
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(vec!["rule / id", "what", "why", "layer"]);
        if !colour {
            t.force_no_tty();
        }
        for f in &group {
            let colour_of = match level {
                Level::Fail => Color::Red,
                Level::Warn => Color::Yellow,
                Level::Info => Color::Grey,
            };
            let mut rule = Cell::new(id(f));
            if colour {
                rule = rule.fg(colour_of);
            }
            let layer = match f.evidence.layer {
                Some(i) => format!("{i}: {}", text::step(f.evidence.created_by.as_deref(), 60)),
                None => String::new(),
            };
            let mut why = esc(&f.message);
            for d in &f.evidence.details {
                let _ = write!(why, "\n  {}", esc(d));
            }
            if let Some(reason) = &f.ignored {
                let _ = write!(why, "\n  ignored: {}", esc(reason));
            }
            t.add_row(vec![rule, Cell::new(subject(f)), Cell::new(why), Cell::new(layer)]);
        }
        let _ = writeln!(
            out,
            "\n{} ({})\n{t}",
            level.as_str().to_uppercase(),
            plural(group.len(), "finding")
        );
    }
}

/// `8 ms`, `2.41 s`.
fn elapsed_text(d: Duration) -> String {
    if d.as_secs() < 1 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
