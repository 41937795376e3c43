//! What the gate says: findings, each with a stable rule id, a level, a message and its
//! evidence, and the verdict they add up to.

pub use super::rule::{Check, RuleId};
use crate::advisory::scan::Vulnerability;
use crate::advisory::severity;
use crate::inventory::PackageRef;
use serde::Serialize;

/// How much a finding weighs. `Fail` fails the gate (exit 1); `Warn` and `Info` are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// What a finding points at.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Evidence {
    /// `npm:lodash@4.17.20` or `apk:busybox@1.36.1-r29`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageRef>,
    /// A path inside the image (no leading `/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// The value that broke the limit, and the limit (`612.3 MB`, `500 MB`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// Further lines (the largest layers of an image over its size limit, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The policy file line that the finding is about (an ignore entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_line: Option<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// An advisory id for a vulnerability, an `IG…` code for a policy check.
    pub rule: RuleId,
    pub level: Level,
    /// One line.
    pub title: String,
    pub message: String,
    pub evidence: Evidence,
    /// The vulnerability, for advisory findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vulnerability: Option<Vulnerability>,
    /// Set when an ignore entry covers the finding (it is then `info`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// Base image or app, and the rule that decided it (advisory findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<super::base::Origin>,
    /// With `--baseline`: `new`, or `unchanged` (then it does not fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::baseline::State>,
}

/// What makes a finding the same finding in another run or another image: the rule (an
/// advisory or a check), the package with its version, the path, and for some checks the
/// value or message ([`super::rule::Subject`]) — never the image's name. SARIF's
/// `partialFingerprints` hash it; `--baseline` compares it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub rule: String,
    pub package: Option<String>,
    pub path: Option<String>,
    pub subject: Option<String>,
}

impl Identity {
    /// From a finding's parts (also as read back from a JSON report).
    pub fn of(rule: &str, package: Option<&str>, path: Option<&str>, value: Option<&str>, message: &str) -> Identity {
        use super::rule::Subject;
        let subject = match Check::from_id(rule).map(|c| c.info().subject) {
            Some(Subject::Value) => value.map(str::to_string),
            Some(Subject::Message) => Some(message.to_string()),
            Some(Subject::None) | None => None,
        };
        Identity {
            rule: rule.to_string(),
            package: package.map(str::to_string),
            path: path.map(str::to_string),
            subject,
        }
    }

    /// The parts in order, empty where absent.
    pub fn parts(&self) -> [&str; 4] {
        [
            &self.rule,
            self.package.as_deref().unwrap_or(""),
            self.path.as_deref().unwrap_or(""),
            self.subject.as_deref().unwrap_or(""),
        ]
    }
}

impl Finding {
    pub fn identity(&self) -> Identity {
        let e = &self.evidence;
        let package = e.package.as_ref().map(ToString::to_string);
        Identity::of(
            self.rule.as_str(),
            package.as_deref(),
            e.path.as_deref(),
            e.value.as_deref(),
            &self.message,
        )
    }

    /// The severity that drives SARIF's `security-severity`: the CVSS score of a
    /// vulnerability, else a score for its level; for policy checks, one by gate level.
    pub fn security_severity(&self) -> f64 {
        if let Some(v) = &self.vulnerability {
            if let Some(s) = v.severity.score {
                return s;
            }
            return match v.severity.level {
                Some(severity::Level::Critical) => 9.5,
                Some(severity::Level::High) => 8.0,
                Some(severity::Level::Medium) => 5.5,
                Some(severity::Level::Low) => 2.0,
                Some(severity::Level::None) => 0.0,
                None => 5.0,
            };
        }
        match self.level {
            Level::Fail => 7.0,
            Level::Warn => 4.0,
            Level::Info => 1.0,
        }
    }

    /// Markdown help: the fix.
    pub fn help(&self) -> String {
        if let Some(v) = &self.vulnerability {
            let fix = if v.fixed.is_empty() {
                "No fixed version is published yet: remove the package, or ignore it with a reason and an expiry date."
                    .to_string()
            } else {
                format!(
                    "Upgrade `{}` to {}.",
                    v.package.name,
                    v.fixed
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            };
            // A copy vendored inside another package: upgrading the package itself does not replace it.
            let fix = match &v.remediation {
                Some(r) if v.package.kind == crate::inventory::PackageKind::Npm => {
                    format!("{fix} This is a vendored copy ({r}).")
                }
                _ => fix,
            };
            let ids = v.ids.join(", ");
            return format!("{fix}\n\nAdvisories: {ids}. See https://osv.dev/vulnerability/{}", v.id);
        }
        self.rule.check().map(|c| c.info().help.to_string()).unwrap_or_default()
    }
}

/// The gate's decision.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Verdict {
    pub pass: bool,
    pub fail: usize,
    pub warn: usize,
    pub info: usize,
    /// One sentence.
    pub summary: String,
}

impl Verdict {
    pub fn of(findings: &[Finding]) -> Verdict {
        let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
        let (fail, warn, info) = (count(Level::Fail), count(Level::Warn), count(Level::Info));
        use crate::units::plural;
        // "info", the level's own name, in every format: not "notes" in one and "INFO" in another.
        let others = format!("{}, {info} info", plural(warn, "warning"));
        let summary = match fail {
            0 => format!("PASS: no finding fails the policy ({others})"),
            1 => format!("FAIL: 1 finding fails the policy ({others})"),
            n => format!("FAIL: {n} findings fail the policy ({others})"),
        };
        Verdict {
            pass: fail == 0,
            fail,
            warn,
            info,
            summary,
        }
    }

    pub fn exit_code(&self) -> u8 {
        if self.pass { 0 } else { 1 }
    }
}
