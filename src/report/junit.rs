//! JUnit XML (`scan --junit FILE`), the test report GitLab (`artifacts:reports:junit`),
//! Jenkins (`junit` step) and Azure DevOps (`PublishTestResults`, format JUnit) render natively.
//! One `<testsuite>` per image:
//!
//! - a finding that fails the gate is a test case with `<failure>`;
//! - a finding that warns is a test case with `<skipped>` (all three show it apart from both
//!   passes and failures, and none of them fails the pipeline on it, which is what a warning is);
//! - a finding that is only information (below `fail_on`, ignored, suppressed by VEX) is a
//!   passed test case with the reason in `<system-out>`;
//! - every check the policy runs that found nothing is a passed test case, and so is the
//!   vulnerability threshold when no advisory fails it.
//!
//! Strings from the image are XML-escaped; characters XML 1.0 cannot carry at all (controls
//! other than tab and newline) are written visibly as `\x1b`, as the text reports do.

use crate::gate::Run;
use crate::inventory::coverage::{Source, Status};
use crate::policy::finding::{Finding, Level};
use crate::policy::rule::{Check, RuleId};
use std::fmt::Write;

/// One test case.
struct Case {
    classname: String,
    name: String,
    /// `failure`, `skipped`, or a pass.
    outcome: Outcome,
    /// `<system-out>`: the whole story of the finding.
    out: String,
}

enum Outcome {
    Pass,
    Failure { kind: String, message: String },
    Skipped { message: String },
}

/// Text for XML content and attribute values: `&<>"'` as entities, newline and tab as
/// character references in attributes, and what XML cannot hold shown as `\xNN`.
fn xml(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' | '\t' => out.push(c),
            // Not in XML 1.0's Char production (or a C1/bidi control a viewer would obey).
            c if super::escape::is_unsafe(c) => out.push_str(&super::escape::esc(&c.to_string())),
            '\u{fffe}' | '\u{ffff}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// What a finding is about, for its test case name: `GHSA-… npm:lodash 4.17.20`, `IG001`.
fn case_name(f: &Finding) -> String {
    match &f.vulnerability {
        Some(v) => format!(
            "{} {}:{} {}",
            v.id,
            v.package.kind.as_str(),
            v.package.name,
            v.package.version
        ),
        None => {
            let e = &f.evidence;
            let about = e
                .package
                .as_ref()
                .map(|p| p.to_string())
                .or_else(|| e.path.clone())
                .or_else(|| e.value.clone());
            match about {
                Some(a) => format!("{} {}: {a}", f.rule.as_str(), check_name(&f.rule)),
                None => format!("{} {}", f.rule.as_str(), check_name(&f.rule)),
            }
        }
    }
}

fn check_name(rule: &RuleId) -> &'static str {
    match rule {
        RuleId::Check(c) => c.info().name,
        RuleId::Advisory(_) => "vulnerability",
    }
}

fn details(f: &Finding) -> String {
    let mut s = format!("{}\n{}", f.title, f.message);
    if let Some(v) = &f.vulnerability {
        let _ = write!(
            s,
            "\nseverity: {}{}",
            if v.malicious { "malicious" } else { v.severity.label() },
            v.severity.score.map(|x| format!(" {x:.1}")).unwrap_or_default()
        );
        if v.ids.len() > 1 {
            let _ = write!(s, "\nids: {}", v.ids.join(", "));
        }
        let fixed = if v.fixed.is_empty() {
            "no fix".to_string()
        } else {
            v.fixed.join(", ")
        };
        let _ = write!(s, "\ninstalled: {} → fixed: {fixed}", v.package.version);
        if let Some(r) = &v.remediation {
            let _ = write!(s, "\nremediation: {r}");
        }
    }
    for d in &f.evidence.details {
        let _ = write!(s, "\n  {d}");
    }
    if let Some(i) = f.evidence.layer {
        let _ = write!(s, "\nlayer {i}: {}", f.evidence.created_by.as_deref().unwrap_or(""));
    }
    if let Some(reason) = &f.ignored {
        let _ = write!(s, "\nignored: {reason}");
    }
    s
}

fn classname(repository: &str, f: &Finding) -> String {
    match f.vulnerability {
        Some(_) => format!("imagegate.{repository}.vulnerabilities"),
        None => format!("imagegate.{repository}.policy"),
    }
}

/// The checks about image facts, which a run from an SBOM does not make.
fn needs_image_facts(c: Check) -> bool {
    matches!(
        c,
        Check::RunsAsRoot
            | Check::UnknownUser
            | Check::NoHealthcheck
            | Check::ImageTooLarge
            | Check::CompressedImageTooLarge
            | Check::TooManyLayers
            | Check::MissingLabel
            | Check::OsEndOfLife
            | Check::DeniedFile
    )
}

fn cases(run: &Run) -> Vec<Case> {
    let repo = &run.repository;
    let mut out: Vec<Case> = run
        .outcome
        .findings
        .iter()
        .map(|f| {
            let outcome = match f.level {
                Level::Fail => Outcome::Failure {
                    kind: f.rule.as_str().to_string(),
                    message: f.title.clone(),
                },
                Level::Warn => Outcome::Skipped {
                    message: format!("warning: {}", f.title),
                },
                Level::Info => Outcome::Pass,
            };
            Case {
                classname: classname(repo, f),
                name: case_name(f),
                outcome,
                out: details(f),
            }
        })
        .collect();
    let no_facts = run
        .scan
        .coverage
        .iter()
        .chain(&run.inventory.coverage)
        .any(|c| c.source == Source::ImageFacts && c.status == Status::NotChecked);
    for c in &run.policy.checks {
        if no_facts && needs_image_facts(*c) {
            continue;
        }
        if run.outcome.findings.iter().any(|f| f.rule == RuleId::Check(*c)) {
            continue;
        }
        let info = c.info();
        out.push(Case {
            classname: format!("imagegate.{repo}.policy"),
            name: format!("{} {}", info.id, info.name),
            outcome: Outcome::Pass,
            out: format!("passed: no finding of {} ({})", info.id, info.title),
        });
    }
    let vulnerability_fails = run
        .outcome
        .findings
        .iter()
        .any(|f| f.vulnerability.is_some() && f.level == Level::Fail);
    if !vulnerability_fails {
        out.push(Case {
            classname: format!("imagegate.{repo}.vulnerabilities"),
            name: "vulnerability threshold (fail_on)".into(),
            outcome: Outcome::Pass,
            out: format!("passed: no advisory fails the gate ({})", run.policy.description),
        });
    }
    out
}

/// The report of one run.
pub fn junit(run: &Run) -> String {
    junit_at(run, jiff::Timestamp::now())
}

fn junit_at(run: &Run, now: jiff::Timestamp) -> String {
    let cases = cases(run);
    let failures = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Failure { .. }))
        .count();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
        .count();
    let secs = format!("{:.3}", run.elapsed.as_secs_f64());
    let a = |s: &str| xml(s, true);
    let suite = format!("imagegate {}", run.inventory.image.reference);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"imagegate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{secs}\">",
        cases.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{secs}\" timestamp=\"{}\" hostname=\"imagegate\">",
        a(&suite),
        cases.len(),
        now.strftime("%Y-%m-%dT%H:%M:%S")
    );
    let img = &run.inventory.image;
    let mut props: Vec<(&str, String)> = vec![
        ("image", img.reference.clone()),
        ("repository", run.repository.clone()),
        ("config_digest", img.config_digest.to_string()),
        ("platform", img.platform.to_string()),
        ("policy", run.policy.description.clone()),
        ("db", run.db.source.clone()),
        ("verdict", run.outcome.verdict.summary.clone()),
        ("coverage", super::coverage_line(&run.scan.coverage)),
    ];
    if let Some(m) = &img.manifest_digest {
        props.insert(2, ("manifest_digest", m.to_string()));
    }
    x.push_str("    <properties>\n");
    for (k, v) in props {
        let _ = writeln!(x, "      <property name=\"{k}\" value=\"{}\"/>", a(&v));
    }
    x.push_str("    </properties>\n");
    for c in &cases {
        let _ = write!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            a(&c.classname),
            a(&c.name)
        );
        match &c.outcome {
            Outcome::Pass => {}
            Outcome::Failure { kind, message } => {
                let _ = write!(
                    x,
                    "\n      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    a(kind),
                    a(message),
                    xml(&c.out, false)
                );
            }
            Outcome::Skipped { message } => {
                let _ = write!(x, "\n      <skipped message=\"{}\"/>", a(message));
            }
        }
        let _ = write!(
            x,
            "\n      <system-out>{}</system-out>\n    </testcase>\n",
            xml(&c.out, false)
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_what_xml_cannot_hold_is_shown() {
        assert_eq!(
            xml("a<b & \"c\" 'd'>", false),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
        assert_eq!(xml("line\nnext\tx", true), "line&#10;next&#9;x");
        assert_eq!(xml("line\nnext", false), "line\nnext");
        assert_eq!(xml("\u{1b}]0;pwned\u{7}", false), "\\x1b]0;pwned\\x07");
        assert_eq!(xml("]]>", false), "]]&gt;");
    }
}
