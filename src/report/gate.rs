//! The gate's table (for people) and JSON (schema 1, for tools): the findings, worst first,
//! and the verdict in one closing line.

use crate::dockerfile::short_step;
use crate::gate::{DbInfo, Run};
use crate::inventory::Inventory;
use crate::policy::finding::{Finding, Level};
use crate::units::human_size;
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
}

pub fn json(run: &Run) -> Result<String, serde_json::Error> {
    let doc = GateJson {
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
    };
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}

/// What a finding is about, in a few words.
fn subject(f: &Finding) -> String {
    if let Some(v) = &f.vulnerability {
        let fixed = if v.fixed.is_empty() {
            "no fix".to_string()
        } else {
            v.fixed.join(", ")
        };
        return format!(
            "{} ({})\n{} → {fixed}",
            v.package.name, v.package.ecosystem, v.package.version
        );
    }
    let e = &f.evidence;
    let mut s = f.title.clone();
    if let Some(p) = &e.package {
        let _ = write!(s, "\n{p}");
    } else if let Some(p) = &e.path {
        let _ = write!(s, "\n{p}");
    } else if let (Some(v), Some(l)) = (&e.value, &e.limit) {
        let _ = write!(s, "\n{v} (limit {l})");
    }
    s
}

fn id(f: &Finding) -> String {
    match &f.vulnerability {
        Some(v) => {
            let sev = match v.severity.score {
                Some(s) => format!("{} {s:.1}", v.severity.label()),
                None => v.severity.label().to_string(),
            };
            let others: Vec<&str> = v.ids.iter().filter(|i| **i != v.id).map(String::as_str).collect();
            if others.is_empty() {
                format!("{}\n{sev}", v.id)
            } else {
                format!("{}\n{}\n{sev}", v.id, others.join("\n"))
            }
        }
        None => f.rule.to_string(),
    }
}

pub fn text(run: &Run, colour: bool) -> String {
    let (inv, outcome, db, elapsed): (&Inventory, _, &DbInfo, Duration) =
        (&run.inventory, &run.outcome, &run.db, run.elapsed);
    let policy = &run.policy.description;
    let mut out = String::new();
    let os = inv
        .os
        .as_ref()
        .map(|o| format!("{} {}", o.id, o.version.as_deref().unwrap_or("?")))
        .unwrap_or("unknown OS".into());
    let _ = writeln!(
        out,
        "Image   {}  ({}, {}, {}, user {})",
        inv.image.reference,
        inv.image.platform,
        os,
        human_size(inv.image.uncompressed_size),
        if inv.image.user.is_empty() {
            "root"
        } else {
            &inv.image.user
        }
    );
    let _ = writeln!(out, "Policy  {policy}");
    let built = db
        .built_at
        .map(|b| format!(", built {} ({} old)", super::db::timestamp(b), super::db::age(b)))
        .unwrap_or_default();
    let _ = writeln!(out, "DB      {} ({} records{built})", db.source, db.records);
    let _ = writeln!(out, "Sources {}", super::coverage_line(&run.scan.coverage));
    for line in super::origin::summary(run) {
        let _ = writeln!(out, "{line}");
    }
    for level in [Level::Fail, Level::Warn, Level::Info] {
        let group: Vec<&Finding> = outcome.findings.iter().filter(|f| f.level == level).collect();
        if group.is_empty() {
            continue;
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(vec!["rule / id", "what", "why", "layer"]);
        if !colour {
            t.force_no_tty();
        }
        for f in group {
            let colour_of = match level {
                Level::Fail => Color::Red,
                Level::Warn => Color::Yellow,
                Level::Info => Color::Grey,
            };
            let mut rule = Cell::new(id(f));
            if colour {
                rule = rule.fg(colour_of);
            }
            let layer = match (f.evidence.layer, &f.evidence.created_by) {
                (Some(i), step) => format!("{i}: {}{}", short_step(step.as_deref(), 40), super::origin::marker(f)),
                (None, _) => String::new(),
            };
            let mut why = f.message.clone();
            for d in &f.evidence.details {
                let _ = write!(why, "\n  {d}");
            }
            t.add_row(vec![rule, Cell::new(subject(f)), Cell::new(why), Cell::new(layer)]);
        }
        let _ = writeln!(
            out,
            "\n{} ({})\n{t}",
            level.as_str().to_uppercase(),
            outcome.findings.iter().filter(|f| f.level == level).count()
        );
    }
    let hidden = if outcome.hidden > 0 {
        format!("; {} below report_from not shown", outcome.hidden)
    } else {
        String::new()
    };
    let verdict = &outcome.verdict.summary;
    let verdict = if colour {
        let code = if outcome.verdict.pass { "32" } else { "31" };
        format!("\x1b[1;{code}m{verdict}\x1b[0m")
    } else {
        verdict.clone()
    };
    let _ = writeln!(out, "\n{verdict}{hidden} — scanned in {}", elapsed_text(elapsed));
    out
}

/// `8 ms`, `2.41 s`.
fn elapsed_text(d: Duration) -> String {
    if d.as_secs() < 1 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
