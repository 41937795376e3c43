//! What the gate says: findings, each with a stable rule id, a level, a message and its
//! evidence, and the verdict they add up to.

use crate::advisory::scan::Vulnerability;
use crate::advisory::severity;
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

/// A policy check: its stable id, a short name, and what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    /// Markdown: how to fix it.
    pub help: &'static str,
}

/// Every policy check, documented in README.md's rule table (a test keeps the two in step).
pub const RULES: &[Rule] = &[
    Rule {
        id: "IG001",
        name: "runs-as-root",
        help: "Run as an unprivileged user: add `USER 1001` (or a named user with a non-zero uid) after the last step that needs root.",
    },
    Rule {
        id: "IG002",
        name: "unknown-user",
        help: "The configured user is not in the image's `/etc/passwd`, so the container would not start. Create it (`adduser -S -u 1001 app`) or use a numeric uid.",
    },
    Rule {
        id: "IG003",
        name: "no-healthcheck",
        help: "Add a `HEALTHCHECK` instruction (for example `HEALTHCHECK CMD wget -qO- http://localhost:3000/api/health || exit 1`).",
    },
    Rule {
        id: "IG004",
        name: "image-too-large",
        help: "Shrink the image: use a multi-stage build, copy only the build output (`.next/standalone`), and clean package caches in the step that creates them.",
    },
    Rule {
        id: "IG005",
        name: "compressed-image-too-large",
        help: "Shrink the image's compressed size: remove large assets and caches from the layers listed in the evidence.",
    },
    Rule {
        id: "IG006",
        name: "too-many-layers",
        help: "Merge `RUN` steps, or use a multi-stage build so the final image has fewer layers.",
    },
    Rule {
        id: "IG007",
        name: "missing-label",
        help: "Add the label with `LABEL key=value` (or `--label` at build time).",
    },
    Rule {
        id: "IG008",
        name: "denied-package",
        help: "Remove the package from the final image: install build tools in a build stage only, or `apk del` them in the same `RUN` step.",
    },
    Rule {
        id: "IG009",
        name: "dev-dependency",
        help: "Install production dependencies only (`npm ci --omit=dev`) in the final stage.",
    },
    Rule {
        id: "IG010",
        name: "denied-file",
        help: "Keep secrets and credentials out of the image: add the path to `.dockerignore`, and pass secrets at run time or with `RUN --mount=type=secret`.",
    },
    Rule {
        id: "IG011",
        name: "stale-advisory-db",
        help: "Refresh the advisory database with `imagegate db update` (cache it per day in CI).",
    },
    Rule {
        id: "IG012",
        name: "ignore-expired",
        help: "The ignore entry has expired and no longer applies: fix the vulnerability, or renew the entry with a new `expires` date and a reason.",
    },
    Rule {
        id: "IG013",
        name: "ignore-expiring",
        help: "The ignore entry expires within 14 days: plan the fix or renew it.",
    },
    Rule {
        id: "IG014",
        name: "ignore-stale",
        help: "The ignore entry matched no finding: remove it from the policy.",
    },
    Rule {
        id: "IG015",
        name: "ignore-unknown-id",
        help: "The advisory database does not know this id: check it for typos (any alias of the vulnerability works).",
    },
    Rule {
        id: "IG016",
        name: "packages-not-checked",
        help: "Some packages could not be checked against advisories (the database lacks the image's OS release): update the database, or move to a supported release.",
    },
    Rule {
        id: "IG017",
        name: "advisory-not-evaluated",
        help: "An advisory could not be evaluated against a package version (an unparsable version): check the package by hand.",
    },
];

pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// What a finding points at.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Evidence {
    /// `npm:lodash@4.17.20` or `apk:busybox@1.36.1-r29`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
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
    pub rule: String,
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
}

impl Finding {
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
            let ids = v.ids.join(", ");
            return format!("{fix}\n\nAdvisories: {ids}. See https://osv.dev/vulnerability/{}", v.id);
        }
        rule(&self.rule).map(|r| r.help.to_string()).unwrap_or_default()
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
        let summary = if fail == 0 {
            format!("PASS: no finding fails the policy ({warn} warnings, {info} notes)")
        } else {
            format!("FAIL: {fail} findings fail the policy ({warn} warnings, {info} notes)")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_documents_every_rule() {
        let readme = include_str!("../../README.md");
        for r in RULES {
            assert!(
                readme.contains(&format!("| `{}` | `{}` |", r.id, r.name)),
                "README.md lacks {} ({})",
                r.id,
                r.name
            );
        }
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "rule ids are unique");
    }
}
