//! The policy checks, as one table: each [`Check`] has its stable id (`IG001`…), a short name,
//! the title its findings carry, what to do about it, and how reports place it. Everything
//! that needs to know about a check asks here (after cargo-deny's diagnostic `Code`), so a new
//! check is one variant and one row. README.md's rule table is kept in step by a test.
//!
//! A finding's rule is either one of these checks or an advisory id ([`RuleId`]).

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    RunsAsRoot,
    UnknownUser,
    NoHealthcheck,
    ImageTooLarge,
    CompressedImageTooLarge,
    TooManyLayers,
    MissingLabel,
    DeniedPackage,
    DevDependency,
    DeniedFile,
    StaleAdvisoryDb,
    IgnoreExpired,
    IgnoreExpiring,
    IgnoreStale,
    IgnoreUnknownId,
    PackagesNotChecked,
    AdvisoryNotEvaluated,
    SourceNotChecked,
    OsEndOfLife,
    VexStale,
    LowEfficiency,
    TooManyWastedBytes,
    TooManyUserWastedBytes,
    ImageGrewTooMuch,
}

/// Where a check's SARIF result points when the report has the file it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The Dockerfile instruction with this keyword in the final stage (`USER`, …).
    Instruction(&'static str),
    /// The policy file (the entry's line where the finding names one, else line 1).
    Policy,
    /// The layer's step, or the file or package inside the image.
    Image,
}

/// What tells two findings of one check apart in a fingerprint, besides package and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Nothing else: measurements (a size, a count) stay out so a growing image keeps its alert.
    None,
    /// The evidence's value (a label name, an ignored id).
    Value,
    /// The message (an advisory that could not be evaluated).
    Message,
}

/// One row of the table.
pub struct Info {
    pub id: &'static str,
    pub name: &'static str,
    /// The title every finding of the check carries.
    pub title: &'static str,
    /// Markdown: how to fix it.
    pub help: &'static str,
    pub place: Place,
    pub subject: Subject,
    /// Checks about the ignore entries themselves, which no ignore entry can silence.
    pub about_ignores: bool,
}

const fn row(id: &'static str, name: &'static str, title: &'static str, help: &'static str) -> Info {
    Info {
        id,
        name,
        title,
        help,
        place: Place::Image,
        subject: Subject::None,
        about_ignores: false,
    }
}

const fn ignore_row(id: &'static str, name: &'static str, title: &'static str, help: &'static str) -> Info {
    Info {
        place: Place::Policy,
        subject: Subject::Value,
        about_ignores: true,
        ..row(id, name, title, help)
    }
}

impl Check {
    pub const ALL: [Check; 24] = [
        Check::RunsAsRoot,
        Check::UnknownUser,
        Check::NoHealthcheck,
        Check::ImageTooLarge,
        Check::CompressedImageTooLarge,
        Check::TooManyLayers,
        Check::MissingLabel,
        Check::DeniedPackage,
        Check::DevDependency,
        Check::DeniedFile,
        Check::StaleAdvisoryDb,
        Check::IgnoreExpired,
        Check::IgnoreExpiring,
        Check::IgnoreStale,
        Check::IgnoreUnknownId,
        Check::PackagesNotChecked,
        Check::AdvisoryNotEvaluated,
        Check::SourceNotChecked,
        Check::OsEndOfLife,
        Check::VexStale,
        Check::LowEfficiency,
        Check::TooManyWastedBytes,
        Check::TooManyUserWastedBytes,
        Check::ImageGrewTooMuch,
    ];

    pub fn info(self) -> Info {
        match self {
            Check::RunsAsRoot => Info {
                place: Place::Instruction("USER"),
                ..row(
                    "IG001",
                    "runs-as-root",
                    "Image runs as root",
                    "Run as an unprivileged user: add `USER 1001` (or a named user with a non-zero uid) after the last step that needs root.",
                )
            },
            Check::UnknownUser => Info {
                place: Place::Instruction("USER"),
                ..row(
                    "IG002",
                    "unknown-user",
                    "User does not exist in the image",
                    "The configured user is not in the image's `/etc/passwd`, so the container would not start. Create it (`adduser -S -u 1001 app`) or use a numeric uid.",
                )
            },
            Check::NoHealthcheck => Info {
                place: Place::Instruction("HEALTHCHECK"),
                ..row(
                    "IG003",
                    "no-healthcheck",
                    "No health check",
                    "Add a `HEALTHCHECK` instruction (for example `HEALTHCHECK CMD wget -qO- http://localhost:3000/api/health || exit 1`).",
                )
            },
            Check::ImageTooLarge => row(
                "IG004",
                "image-too-large",
                "Image is too large",
                "Shrink the image: use a multi-stage build, copy only the build output (`.next/standalone`), and clean package caches in the step that creates them.",
            ),
            Check::CompressedImageTooLarge => row(
                "IG005",
                "compressed-image-too-large",
                "Image is too large",
                "Shrink the image's compressed size: remove large assets and caches from the layers listed in the evidence.",
            ),
            Check::TooManyLayers => row(
                "IG006",
                "too-many-layers",
                "Too many layers",
                "Merge `RUN` steps, or use a multi-stage build so the final image has fewer layers.",
            ),
            Check::MissingLabel => Info {
                place: Place::Instruction("LABEL"),
                subject: Subject::Value,
                ..row(
                    "IG007",
                    "missing-label",
                    "Required label missing",
                    "Add the label with `LABEL key=value` (or `--label` at build time).",
                )
            },
            Check::DeniedPackage => row(
                "IG008",
                "denied-package",
                "Denied package",
                "Remove the package from the final image: install build tools in a build stage only, or `apk del` them in the same `RUN` step.",
            ),
            Check::DevDependency => row(
                "IG009",
                "dev-dependency",
                "Dev dependency shipped",
                "Install production dependencies only (`npm ci --omit=dev`) in the final stage.",
            ),
            Check::DeniedFile => row(
                "IG010",
                "denied-file",
                "Denied file in the image",
                "Keep secrets and credentials out of the image: add the path to `.dockerignore`, and pass secrets at run time or with `RUN --mount=type=secret`.",
            ),
            Check::StaleAdvisoryDb => Info {
                place: Place::Policy,
                ..row(
                    "IG011",
                    "stale-advisory-db",
                    "Advisory database is too old",
                    "Refresh the advisory database with `imagegate db update` (cache it per day in CI).",
                )
            },
            Check::IgnoreExpired => ignore_row(
                "IG012",
                "ignore-expired",
                "Ignore entry expired",
                "The ignore entry has expired and no longer applies: fix the vulnerability, or renew the entry with a new `expires` date and a reason.",
            ),
            Check::IgnoreExpiring => ignore_row(
                "IG013",
                "ignore-expiring",
                "Ignore entry expires soon",
                "The ignore entry expires within 14 days: plan the fix or renew it.",
            ),
            Check::VexStale => Info {
                place: Place::Image,
                ..ignore_row(
                    "IG020",
                    "vex-stale",
                    "VEX statement matched nothing",
                    "The VEX statement names a vulnerability and product with no finding in this image (or a later statement superseded it): drop it from the VEX document, or check its product ids (image digest, repository, purl).",
                )
            },
            Check::IgnoreStale => ignore_row(
                "IG014",
                "ignore-stale",
                "Ignore entry matched nothing",
                "The ignore entry matched no finding: remove it from the policy.",
            ),
            Check::IgnoreUnknownId => ignore_row(
                "IG015",
                "ignore-unknown-id",
                "Ignore entry names an unknown advisory",
                "The advisory database does not know this id: check it for typos (any alias of the vulnerability works).",
            ),
            Check::PackagesNotChecked => Info {
                subject: Subject::Value,
                ..row(
                    "IG016",
                    "packages-not-checked",
                    "Packages not checked against advisories",
                    "Some packages could not be checked against advisories (the database has no records for their ecosystem, or the image's OS release is unknown): `imagegate db update --ecosystem …` for it, or move to a supported release. `[coverage]` in the policy sets how this gates.",
                )
            },
            Check::SourceNotChecked => Info {
                subject: Subject::Value,
                ..row(
                    "IG018",
                    "source-not-checked",
                    "Package source not checked",
                    "The image holds packages imagegate recognises but does not read (an rpm database, Python, Java, Ruby or PHP packages, a Yarn Plug'n'Play cache, a Node.js runtime outside the OS packages, or an OS it cannot identify): their vulnerabilities are unknown, not absent. Check them with another tool, or set how this gates in the policy's `[coverage]` section.",
                )
            },
            Check::OsEndOfLife => Info {
                place: Place::Instruction("FROM"),
                ..row(
                    "IG019",
                    "os-end-of-life",
                    "OS release past its end of life",
                    "The image's OS release gets no more security fixes, whatever the advisory database says today: rebuild on a supported release (a newer `FROM`).",
                )
            },
            Check::LowEfficiency => row(
                "IG021",
                "low-efficiency",
                "Image stores files more than once",
                "Layers rewrite or delete what lower layers added (`chown -R`, `rm` in a later `RUN`, a cache left behind then removed): do it in the step that creates the files, or `COPY --chown`. The size section lists the layers and their hidden bytes.",
            ),
            Check::TooManyWastedBytes => row(
                "IG022",
                "wasted-bytes",
                "Image wastes bytes on rewritten files",
                "Files written in more than one layer (or written, then deleted) are stored once per layer: clean up in the same `RUN` step that creates them, and set ownership and modes when copying.",
            ),
            Check::TooManyUserWastedBytes => row(
                "IG023",
                "user-wasted-bytes",
                "Layers above the first waste too much",
                "The wasted bytes are too large a share of what the layers above the first add: see the size section's hidden bytes per layer, and merge or clean the steps that rewrite files.",
            ),
            Check::ImageGrewTooMuch => row(
                "IG024",
                "image-grew",
                "Image grew since the baseline",
                "The image grew more than `max_growth` allows since the baseline: the size section lists the growth per layer and the files that grew most.",
            ),
            Check::AdvisoryNotEvaluated => Info {
                subject: Subject::Message,
                ..row(
                    "IG017",
                    "advisory-not-evaluated",
                    "Advisory could not be evaluated",
                    "An advisory could not be evaluated against a package version (an unparsable version): check the package by hand.",
                )
            },
        }
    }

    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The check with this id (`IG001`), in any case.
    pub fn from_id(id: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.id().eq_ignore_ascii_case(id))
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a finding is about: a policy check, or an advisory (by its primary id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuleId {
    Check(Check),
    Advisory(String),
}

impl RuleId {
    pub fn as_str(&self) -> &str {
        match self {
            RuleId::Check(c) => c.id(),
            RuleId::Advisory(id) => id,
        }
    }

    pub fn check(&self) -> Option<Check> {
        match self {
            RuleId::Check(c) => Some(*c),
            RuleId::Advisory(_) => None,
        }
    }

    /// Whether `id` names this rule (case-insensitively, as ignore entries may spell it).
    pub fn is(&self, id: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(id)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `finding.rule == "IG001"`, `finding.rule == "GHSA-…"`.
impl PartialEq<str> for RuleId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialOrd for RuleId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Rules sort by their id, as reports list them.
impl Ord for RuleId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_documents_every_rule() {
        let readme = include_str!("../../README.md");
        for c in Check::ALL {
            let i = c.info();
            assert!(
                readme.contains(&format!("| `{}` | `{}` |", i.id, i.name)),
                "README.md lacks {} ({})",
                i.id,
                i.name
            );
        }
    }

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut ids: Vec<&str> = Check::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Check::ALL.len(), "rule ids are unique");
        for c in Check::ALL {
            assert_eq!(Check::from_id(c.id()), Some(c));
            assert_eq!(Check::from_id(&c.id().to_lowercase()), Some(c));
        }
        assert_eq!(Check::from_id("IG999"), None);
    }
}
