//! Base or app, and new since a baseline, as the table and Markdown show them: a short marker
//! per finding, and a few summary lines (the base image and how it was found, its findings
//! grouped under its name, the baseline's new / fixed / unchanged counts), and one upgrade
//! line per package with failing findings.

use crate::gate::Run;
use crate::policy::base::{Part, Rule};
use crate::policy::baseline::State;
use crate::policy::finding::{Finding, Level};

/// ` [base]`, ` [app]`, ` [app, new]`: appended to a finding's layer cell.
pub fn marker(f: &Finding) -> String {
    marker_of(f, true)
}

/// [`marker`] without `app`, the usual case, for the compact table where every column counts.
pub fn base_marker(f: &Finding) -> String {
    marker_of(f, false)
}

fn marker_of(f: &Finding, with_app: bool) -> String {
    let mut parts = Vec::new();
    if let Some(o) = f.origin {
        match (o.part, o.decided_by) {
            (Part::Base, Rule::History) => parts.push("base?"),
            (Part::Base, _) => parts.push("base"),
            (Part::App, _) if with_app => parts.push("app"),
            (Part::App, _) => {}
        }
    }
    match f.baseline {
        Some(State::New) => parts.push("new"),
        Some(State::Unchanged) => parts.push("unchanged"),
        None => {}
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

/// The short form, for Markdown: the upgrade lines and the baseline's counts.
pub fn short(run: &Run) -> Vec<String> {
    let mut out: Vec<String> = run.upgrades.iter().map(|u| u.line.clone()).collect();
    if let Some(c) = &run.baseline {
        out.push(format!(
            "since the baseline: {} new, {} fixed, {} unchanged",
            c.new, c.fixed, c.unchanged
        ));
    }
    out
}

/// The summary lines: base image, its findings that do not fail, the baseline comparison.
pub fn summary(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for u in &run.upgrades {
        out.push(format!("Fix     {}", u.line));
    }
    let base = &run.base;
    if base.decided_by == Rule::None && run.baseline.is_none() {
        return out;
    }
    out.push(format!(
        "Base    {}, decided by {}: {}",
        base.display_name(),
        base.decided_by.as_str(),
        base.note
    ));
    let in_base: Vec<&Finding> = run
        .outcome
        .findings
        .iter()
        .filter(|f| f.origin.is_some_and(|o| o.part == Part::Base))
        .collect();
    if !in_base.is_empty() {
        let failing = in_base.iter().filter(|f| f.level == Level::Fail).count();
        let mut ids: Vec<String> = in_base
            .iter()
            .filter(|f| f.level != Level::Fail)
            .map(|f| match &f.evidence.package {
                Some(p) => format!("{} {p}", f.rule),
                None => f.rule.to_string(),
            })
            .collect();
        ids.dedup();
        out.push(format!(
            "        {} came with {}, {failing} failing; shown, not failing: {}",
            crate::units::plural(in_base.len(), "finding"),
            base.display_name(),
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            }
        ));
    }
    if let Some(d) = &base.newest_digest {
        out.push(format!(
            "        newest digest we know for it: {d} ({})",
            base.newest_note.as_deref().unwrap_or("")
        ));
    }
    if let Some(c) = &run.baseline {
        out.push(format!(
            "Baseline {}: {} new, {} fixed, {} unchanged (unchanged findings do not fail)",
            c.source, c.new, c.fixed, c.unchanged
        ));
        for n in &c.notes {
            out.push(format!("        {n}"));
        }
    }
    out
}
