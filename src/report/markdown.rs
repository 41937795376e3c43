//! The gate as a Markdown summary, for `$GITHUB_STEP_SUMMARY` or a pull-request comment: the
//! verdict in the first line, the failing findings in a short table, warnings and info findings folded
//! away, and one closing line with the policy, the database's age and the time taken.

use crate::gate::Run;
use crate::policy::finding::{Finding, Level};
use crate::units::plural;
use std::fmt::Write;

/// Rows per table: the summary is read in seconds; the JSON and SARIF reports list everything.
const MAX_ROWS: usize = 50;

pub fn markdown(run: &Run) -> String {
    let outcome = &run.outcome;
    let verdict = &outcome.verdict;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} {}: {} failing, {}, {} info",
        if verdict.pass { "✅ PASS" } else { "❌ FAIL" },
        code(&run.inventory.image.reference),
        verdict.fail,
        plural(verdict.warn, "warning"),
        verdict.info,
    );
    let _ = writeln!(
        out,
        "\nPackage sources: {}",
        cell(&super::coverage_line(&run.scan.coverage))
    );
    let of = |level: Level| -> Vec<&Finding> { outcome.findings.iter().filter(|f| f.level == level).collect() };

    let failing = of(Level::Fail);
    if !failing.is_empty() {
        out.push('\n');
        table(&mut out, &failing);
    }
    for (level, icon) in [(Level::Warn, "⚠️"), (Level::Info, "ℹ️")] {
        let group = of(level);
        if group.is_empty() {
            continue;
        }
        let title = match level {
            Level::Warn => plural(group.len(), "warning"),
            _ => format!("{} info", group.len()),
        };
        let _ = writeln!(out, "\n<details><summary>{icon} {title}</summary>\n");
        table(&mut out, &group);
        out.push_str("\n</details>\n");
    }

    let summary = super::origin::short(run);
    if !summary.is_empty() {
        out.push('\n');
        for line in summary {
            let _ = writeln!(out, "- {}", cell(&line));
        }
    }
    if super::size::wanted(run) {
        out.push_str(&super::size::markdown(&run.inventory, run.size_delta.as_ref(), &cell));
    }
    let db = match run.db.built_at {
        Some(built) => format!("advisory DB {} old ({} records)", super::db::age(built), run.db.records),
        None => format!("advisories from {}", cell(&run.db.source)),
    };
    let hidden = if outcome.hidden > 0 {
        format!(" · {} below `report_from` not shown", outcome.hidden)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\nPolicy {} · {db}{hidden} · {:.2} s",
        code(&run.policy.description),
        run.elapsed.as_secs_f64()
    );
    out
}

fn table(out: &mut String, findings: &[&Finding]) {
    out.push_str("| severity / rule | package or subject | installed → fixed | layer step |\n");
    out.push_str("|---|---|---|---|\n");
    for f in findings.iter().take(MAX_ROWS) {
        let _ = writeln!(out, "| {} | {} | {} | {} |", rule(f), subject(f), versions(f), layer(f));
    }
    if findings.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more: see the JSON or SARIF report.",
            findings.len() - MAX_ROWS
        );
    }
}

fn rule(f: &Finding) -> String {
    let Some(v) = &f.vulnerability else {
        let name = f.rule.check().map_or("", |c| c.info().name);
        return format!("{} {}", code(f.rule.as_str()), cell(name))
            .trim_end()
            .to_string();
    };
    let severity = match (v.malicious, v.severity.score) {
        (true, _) => "**malicious**".to_string(),
        (false, Some(score)) => format!("**{}** {score:.1}", v.severity.label()),
        (false, None) => format!("**{}**", v.severity.label()),
    };
    format!(
        "{severity} [{}](https://osv.dev/vulnerability/{})",
        cell(&v.id),
        link_path(&v.id)
    )
}

fn subject(f: &Finding) -> String {
    let mut s = match &f.vulnerability {
        Some(v) => {
            let ecosystem = v.package.kind.as_str();
            match &v.package.origin {
                Some(o) if *o != v.package.name => {
                    format!("{} ({ecosystem}, via {})", code(&v.package.name), code(o))
                }
                _ => format!("{} ({ecosystem})", code(&v.package.name)),
            }
        }
        None => {
            let e = &f.evidence;
            match e.package.as_ref().map(ToString::to_string).or_else(|| e.path.clone()) {
                Some(what) => format!("{}: {}", cell(&f.title), code(&what)),
                None => cell(&f.title),
            }
        }
    };
    if let Some(reason) = &f.ignored {
        let _ = write!(s, " — ignored: {}", cell(reason));
    }
    s
}

fn versions(f: &Finding) -> String {
    if let Some(v) = &f.vulnerability {
        let fixed = if v.fixed.is_empty() {
            "no fix".to_string()
        } else {
            v.fixed.join(", ")
        };
        return cell(&format!("{} → {fixed}", v.package.version));
    }
    match (&f.evidence.value, &f.evidence.limit) {
        (Some(value), Some(limit)) => cell(&format!("{value} (limit {limit})")),
        _ => String::new(),
    }
}

fn layer(f: &Finding) -> String {
    let Some(index) = f.evidence.layer else {
        return String::new();
    };
    let step = super::text::step(f.evidence.created_by.as_deref(), 50);
    let marker = super::origin::marker(f);
    if step.is_empty() {
        format!("{index}{marker}")
    } else {
        format!("{index}: {}{marker}", code(&step))
    }
}

/// Text for a table cell: `|` would end the cell, a newline the row, and `<` could open HTML
/// (a stray `</details>` would break the layout).
fn cell(s: &str) -> String {
    super::escape::escape(s)
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\r', '\n'], " ")
}

/// A code span for a table cell; GitHub unescapes `\|` inside code spans in tables too.
fn code(s: &str) -> String {
    let s = super::escape::escape(s).replace('|', "\\|");
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

/// An advisory id as a URL path segment.
fn link_path(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._:".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
