//! `--baseline`: fail only on what is new since an earlier report (of main's image, say).
//!
//! A finding is the same finding when its [`Identity`] is — the one SARIF fingerprints hash:
//! rule (advisory or check), package and version, path; never the image's name, so a baseline
//! from another tag or another image of the same base works. A finding of this run that the
//! baseline also has is `unchanged`: it is shown and does not fail. The comparison lists new,
//! fixed (in the baseline, gone now) and unchanged counts.

use super::evaluate::Outcome;
use super::finding::{Finding, Identity, Level, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A JSON report bigger than this is not one of ours.
pub const MAX_BASELINE_SIZE: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("--baseline {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("--baseline {path}: larger than {max} bytes; not an imagegate JSON report")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("--baseline {path}: not an imagegate JSON report (`scan --format json`): {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Whether a finding of this run was in the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    New,
    Unchanged,
}

/// The findings of an earlier run, by identity.
#[derive(Clone, Debug)]
pub struct Baseline {
    /// The file, or the image reference, it came from.
    pub source: String,
    /// The baseline's image reference and config digest, as its report gave them.
    pub image: Option<String>,
    pub config_digest: Option<String>,
    /// When the baseline's advisory database was built.
    pub db_built_at: Option<i64>,
    pub findings: BTreeSet<Identity>,
    /// The baseline image's size, layers and files, for the size comparison (`None` for a
    /// report without an inventory).
    pub size: Option<crate::image::size::SizeSide>,
}

/// What `--baseline` found.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub new: usize,
    pub fixed: usize,
    pub unchanged: usize,
    /// The fixed findings: `rule package` each.
    pub fixed_findings: Vec<String>,
    /// Cautions: a baseline from another image or another database version.
    pub notes: Vec<String>,
}

// The parts of a JSON report (`report::gate::json`, schema 1) the comparison reads.
#[derive(Deserialize)]
struct RawReport {
    schema: u32,
    findings: Vec<RawFinding>,
    #[serde(default)]
    db: Option<RawDb>,
    #[serde(default)]
    inventory: Option<RawInventory>,
}

#[derive(Deserialize)]
struct RawFinding {
    rule: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    evidence: RawEvidence,
}

#[derive(Deserialize, Default)]
struct RawEvidence {
    package: Option<String>,
    path: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct RawDb {
    built_at: Option<i64>,
}

#[derive(Deserialize)]
struct RawInventory {
    image: RawImage,
    #[serde(default)]
    files: Vec<RawFile>,
}

#[derive(Deserialize)]
struct RawImage {
    reference: Option<String>,
    config_digest: Option<String>,
    #[serde(default)]
    uncompressed_size: u64,
    #[serde(default)]
    layers: Vec<RawLayer>,
}

#[derive(Deserialize)]
struct RawLayer {
    #[serde(default)]
    diff_id: String,
    #[serde(default)]
    uncompressed_size: u64,
}

#[derive(Deserialize)]
struct RawFile {
    path: String,
    #[serde(default)]
    size: u64,
}

impl Baseline {
    /// Reads an earlier `scan --format json` report.
    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let io = |source| BaselineError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.take(MAX_BASELINE_SIZE + 1).read_to_end(&mut bytes).map_err(io)?;
        if bytes.len() as u64 > MAX_BASELINE_SIZE {
            return Err(BaselineError::TooLarge {
                path: path.to_path_buf(),
                max: MAX_BASELINE_SIZE,
            });
        }
        Baseline::parse(&bytes, &path.display().to_string()).map_err(|message| BaselineError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    fn parse(bytes: &[u8], source: &str) -> Result<Baseline, String> {
        let raw: RawReport = serde_json::from_slice(bytes).map_err(|e| {
            // serde's messages can quote the file's values: say what kind of error, and where.
            let kind = match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Eof => "truncated JSON",
                serde_json::error::Category::Data => "JSON without a report's `schema` and `findings`",
            };
            format!("{kind} (line {} column {})", e.line(), e.column())
        })?;
        if raw.schema != 1 {
            return Err(format!("schema {} (this imagegate reads schema 1)", raw.schema));
        }
        let findings = raw
            .findings
            .iter()
            .map(|f| {
                Identity::of(
                    &f.rule,
                    f.evidence.package.as_deref(),
                    f.evidence.path.as_deref(),
                    f.evidence.value.as_deref(),
                    &f.message,
                )
            })
            .collect();
        let (image, config_digest, size) = match raw.inventory {
            Some(i) => {
                let size = crate::image::size::SizeSide {
                    uncompressed_bytes: i.image.uncompressed_size,
                    layers: i
                        .image
                        .layers
                        .into_iter()
                        .map(|l| (l.diff_id, l.uncompressed_size))
                        .collect(),
                    files: i.files.into_iter().map(|f| (f.path, f.size)).collect(),
                };
                (i.image.reference, i.image.config_digest, Some(size))
            }
            None => (None, None, None),
        };
        Ok(Baseline {
            source: source.to_string(),
            image,
            config_digest,
            db_built_at: raw.db.and_then(|d| d.built_at),
            findings,
            size,
        })
    }

    /// The baseline of a run just made (`--baseline IMAGE`).
    pub fn of_findings(
        source: &str,
        findings: &[Finding],
        image: &str,
        config_digest: &str,
        db_built_at: Option<i64>,
    ) -> Baseline {
        Baseline {
            source: source.to_string(),
            image: Some(image.to_string()),
            config_digest: Some(config_digest.to_string()),
            db_built_at,
            findings: findings.iter().map(Finding::identity).collect(),
            size: None,
        }
    }

    /// Marks each finding new or unchanged; an unchanged finding that failed is shown as a
    /// warning and no longer fails. The verdict is recomputed.
    pub fn apply(&self, outcome: &mut Outcome, config_digest: &str, db_built_at: Option<i64>) -> Comparison {
        let mut current = BTreeSet::new();
        let (mut new, mut unchanged) = (0, 0);
        for f in &mut outcome.findings {
            let id = f.identity();
            if self.findings.contains(&id) {
                unchanged += 1;
                f.baseline = Some(State::Unchanged);
                if f.level == Level::Fail {
                    f.level = Level::Warn;
                    f.message.push_str("; unchanged since the baseline, does not fail");
                }
            } else {
                new += 1;
                f.baseline = Some(State::New);
            }
            current.insert(id);
        }
        outcome.findings.sort_by_key(|f| std::cmp::Reverse(f.level));
        outcome.verdict = Verdict::of(&outcome.findings);
        let fixed_findings: Vec<String> = self
            .findings
            .difference(&current)
            .map(|i| match &i.package {
                Some(p) => format!("{} {p}", i.rule),
                None => i.rule.clone(),
            })
            .collect();
        let mut notes = Vec::new();
        if self.config_digest.as_deref().is_some_and(|d| d == config_digest) {
            notes.push("the baseline is of this same image (same config digest)".to_string());
        } else if let Some(image) = &self.image {
            notes.push(format!(
                "the baseline is of another image ({image}); findings are compared by advisory, package, version and path"
            ));
        }
        match (self.db_built_at, db_built_at) {
            (Some(a), Some(b)) if a != b => notes.push(format!(
                "the baseline was made with another advisory database (built at {a}, this run's at {b}): a finding can be new because the database learnt of it"
            )),
            (None, Some(_)) => notes.push("the baseline does not say which advisory database made it".to_string()),
            _ => {}
        }
        Comparison {
            source: self.source.clone(),
            image: self.image.clone(),
            new,
            fixed: fixed_findings.len(),
            unchanged,
            fixed_findings,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_that_is_not_ours_is_refused_without_quoting_it() {
        let err = Baseline::parse(b"{\"secret\": \"hunter2\"}", "b.json").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(Baseline::parse(b"not json", "b.json").is_err());
        assert!(Baseline::parse(b"{\"schema\": 2, \"findings\": []}", "b.json").is_err());
        let ok = Baseline::parse(
            br#"{"schema": 1, "findings": [{"rule": "GHSA-35jh-r3h4-6jhm", "message": "m",
                "evidence": {"package": "npm:lodash@4.17.20", "path": "app/node_modules/lodash"}}]}"#,
            "b.json",
        )
        .unwrap();
        assert_eq!(ok.findings.len(), 1);
    }
}
