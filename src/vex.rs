//! VEX in (`scan --vex FILE`, repeatable): OpenVEX 0.2 documents and CycloneDX VEX (a BOM's
//! `vulnerabilities[].analysis`). A statement names a vulnerability (any alias matches), the
//! products it is about, and a status:
//!
//! - `not_affected` (with its justification) and `fixed` suppress the matching finding: it
//!   becomes `info`, marked ignored with the statement's author, timestamp and justification;
//! - `under_investigation` is shown on the finding, which still gates;
//! - `affected` shows its action statement on the finding, which still gates.
//!
//! Products: an image digest (`sha256:…`, or `pkg:oci/NAME@sha256:…`, manifest or config), a
//! repository (`acme/app`, or `pkg:oci/app` with no version), or a package purl
//! (`pkg:npm/lodash@4.17.20`, version optional); an image product's `subcomponents` narrow it
//! to those packages. For one vulnerability and package, the statement with the latest
//! timestamp (OpenVEX `timestamp`, else the document's) decides; earlier ones are superseded.
//! A statement that decides nothing in this image is an IG020 finding, like a stale ignore.

use crate::inventory::purl::{self, Purl};
use crate::inventory::{Inventory, PackageKind};
use crate::policy::finding::{Evidence, Finding, Level, Verdict};
use crate::policy::rule::{Check, RuleId};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub const MAX_VEX_SIZE: u64 = 64 << 20;
pub const MAX_STATEMENTS: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum VexError {
    #[error("VEX {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("VEX {path}: over the {max}-byte cap")]
    TooBig { path: PathBuf, max: u64 },
    #[error("VEX {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A document the policy's `vex` names, with where the policy names it.
    #[error("{origin}:{line}:{column}: vex: {source}")]
    InPolicy {
        origin: String,
        line: usize,
        column: usize,
        source: Box<VexError>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "not_affected" => Status::NotAffected,
            "affected" => Status::Affected,
            "fixed" => Status::Fixed,
            "under_investigation" => Status::UnderInvestigation,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Product {
    /// The product's id: a digest, a repository, or a purl.
    pub id: String,
    pub subcomponents: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    /// The vulnerability's name and aliases.
    pub ids: Vec<String>,
    pub products: Vec<Product>,
    pub status: Status,
    pub justification: Option<String>,
    pub detail: Option<String>,
    pub action: Option<String>,
    pub author: String,
    pub timestamp: Option<jiff::Timestamp>,
    /// The document it came from, and its index there.
    pub source: String,
}

impl Statement {
    /// `VEX not_affected `CVE-…` by Acme, 2026-01-01T00:00:00Z (file statement 0)`.
    pub fn describe(&self) -> String {
        format!(
            "VEX {} `{}` by {}{} ({})",
            self.status.as_str(),
            self.ids.first().map_or("", String::as_str),
            self.author,
            self.timestamp.map(|t| format!(", {t}")).unwrap_or_default(),
            self.source
        )
    }
}

/// Reads and parses VEX documents; any that does not parse is an error (exit 2).
pub fn load(paths: &[PathBuf]) -> Result<Vec<Statement>, VexError> {
    let mut out = Vec::new();
    for path in paths {
        out.extend(read(path)?);
        if out.len() > MAX_STATEMENTS {
            return Err(VexError::Invalid {
                path: path.clone(),
                message: format!("more than {MAX_STATEMENTS} statements"),
            });
        }
    }
    Ok(out)
}

/// Reads the documents a policy's `[vulnerabilities] vex` names; an error points at the entry.
pub fn load_policy(policy: &crate::policy::Policy) -> Result<Vec<Statement>, VexError> {
    let mut out = Vec::new();
    for f in &policy.vulnerabilities.vex {
        let statements = read(&f.path).map_err(|e| VexError::InPolicy {
            origin: policy.source.to_string(),
            line: f.line,
            column: f.column,
            source: Box::new(e),
        })?;
        out.extend(statements);
        if out.len() > MAX_STATEMENTS {
            return Err(VexError::Invalid {
                path: f.path.clone(),
                message: format!("more than {MAX_STATEMENTS} statements"),
            });
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<Statement>, VexError> {
    use std::io::Read;
    let err = |source| VexError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(err)?
        .take(MAX_VEX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(err)?;
    if bytes.len() as u64 > MAX_VEX_SIZE {
        return Err(VexError::TooBig {
            path: path.to_path_buf(),
            max: MAX_VEX_SIZE,
        });
    }
    parse(&bytes, &path.display().to_string()).map_err(|message| VexError::Invalid {
        path: path.to_path_buf(),
        message,
    })
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn time(v: &Value, key: &str) -> Result<Option<jiff::Timestamp>, String> {
    match v.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(t) => t
            .parse::<jiff::Timestamp>()
            .map(Some)
            .map_err(|_| format!("`{key}` is not an RFC 3339 timestamp")),
    }
}

/// Parses one document: OpenVEX (`@context` of openvex) or CycloneDX (`bomFormat`).
pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Statement>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON (line {})", e.line()))?;
    if v.get("@context")
        .and_then(Value::as_str)
        .is_some_and(|c| c.starts_with("https://openvex.dev/ns"))
    {
        return openvex(&v, name);
    }
    if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return cyclonedx(&v, name);
    }
    Err("not an OpenVEX or CycloneDX VEX document".into())
}

fn openvex(v: &Value, name: &str) -> Result<Vec<Statement>, String> {
    let author = str_of(v, "author").ok_or("the document has no `author`")?;
    let doc_time = time(v, "timestamp")?;
    let list = v
        .get("statements")
        .and_then(Value::as_array)
        .ok_or("`statements` is missing or not an array")?;
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let at = |m: &str| format!("statement {i}: {m}");
        let vuln = s.get("vulnerability").ok_or_else(|| at("no `vulnerability`"))?;
        let mut ids: Vec<String> = str_of(vuln, "name").into_iter().collect();
        if let Some(id) = str_of(vuln, "@id") {
            ids.push(id);
        }
        ids.extend(
            vuln.get("aliases")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
        if ids.is_empty() {
            return Err(at("the vulnerability has no `name`"));
        }
        let status = s
            .get("status")
            .and_then(Value::as_str)
            .and_then(Status::parse)
            .ok_or_else(|| at("`status` is not not_affected, affected, fixed or under_investigation"))?;
        let justification = str_of(s, "justification");
        let impact = str_of(s, "impact_statement");
        if status == Status::NotAffected && justification.is_none() && impact.is_none() {
            return Err(at("not_affected needs a `justification` or an `impact_statement`"));
        }
        let action = str_of(s, "action_statement");
        if status == Status::Affected && action.is_none() {
            return Err(at("affected needs an `action_statement`"));
        }
        let products: Vec<Product> = s
            .get("products")
            .and_then(Value::as_array)
            .ok_or_else(|| at("no `products`"))?
            .iter()
            .filter_map(|p| {
                Some(Product {
                    id: str_of(p, "@id")?,
                    subcomponents: p
                        .get("subcomponents")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|c| str_of(c, "@id"))
                        .collect(),
                })
            })
            .collect();
        out.push(Statement {
            ids,
            products,
            status,
            justification,
            detail: impact,
            action,
            author: str_of(s, "author").unwrap_or_else(|| author.clone()),
            timestamp: time(s, "timestamp")?.or(doc_time),
            source: format!("{name} statement {i}"),
        });
    }
    Ok(out)
}

/// CycloneDX VEX: `vulnerabilities[]` with `analysis.state`, `affects[].ref` pointing at
/// components (their purls) or holding a purl.
fn cyclonedx(v: &Value, name: &str) -> Result<Vec<Statement>, String> {
    let refs: std::collections::BTreeMap<String, String> = v
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| Some((str_of(c, "bom-ref")?, str_of(c, "purl")?)))
        .collect();
    let author = v
        .pointer("/metadata/authors/0/name")
        .and_then(Value::as_str)
        .unwrap_or("(no author)")
        .to_string();
    let doc_time = time(v.get("metadata").unwrap_or(&Value::Null), "timestamp")?;
    let mut out = Vec::new();
    for (i, x) in v
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(analysis) = x.get("analysis") else { continue };
        let state = str_of(analysis, "state").unwrap_or_default();
        let status = match state.as_str() {
            "not_affected" | "false_positive" => Status::NotAffected,
            "resolved" | "resolved_with_pedigree" => Status::Fixed,
            "exploitable" => Status::Affected,
            "in_triage" => Status::UnderInvestigation,
            other => {
                return Err(format!(
                    "vulnerability {i}: analysis state `{other}` is not a CycloneDX state"
                ));
            }
        };
        let id = str_of(x, "id").ok_or_else(|| format!("vulnerability {i}: no `id`"))?;
        let products = x
            .get("affects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| str_of(a, "ref"))
            .map(|r| Product {
                id: refs.get(&r).cloned().unwrap_or(r),
                subcomponents: Vec::new(),
            })
            .collect();
        let response: Vec<String> = analysis
            .get("response")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        out.push(Statement {
            ids: vec![id],
            products,
            status,
            justification: str_of(analysis, "justification"),
            detail: str_of(analysis, "detail"),
            action: (!response.is_empty()).then(|| response.join(", ")),
            author: author.clone(),
            timestamp: time(analysis, "lastUpdated")?.or(doc_time),
            source: format!("{name} vulnerability {i}"),
        });
    }
    Ok(out)
}

/// What the image is, for product matching.
struct Subject<'a> {
    inv: &'a Inventory,
    repository: &'a str,
}

impl Subject<'_> {
    fn is_image(&self, id: &str) -> bool {
        let img = &self.inv.image;
        let digest_is = |d: &str| {
            img.manifest_digest.as_ref().is_some_and(|m| m.to_string() == d) || img.config_digest.to_string() == d
        };
        if digest_is(id) {
            return true;
        }
        if let Some(p) = purl::parse(id)
            && p.ty == "oci"
        {
            return match &p.version {
                Some(v) => digest_is(v),
                None => {
                    self.repository.rsplit('/').next() == Some(p.name.as_str())
                        || p.qualifiers
                            .get("repository_url")
                            .is_some_and(|u| u.ends_with(self.repository))
                }
            };
        }
        // A repository, with or without a tag (never only a tag).
        let repo = id.split('@').next().unwrap_or(id);
        let repo = match repo.rsplit_once(':') {
            Some((r, tag)) if !tag.contains('/') => r,
            _ => repo,
        };
        !repo.is_empty() && (repo == self.repository || repo.strip_prefix("docker.io/") == Some(self.repository))
    }
}

/// Whether a purl names the finding's package (any version given must be the installed one).
fn names_package(p: &Purl, f: &Finding, inv: &Inventory) -> bool {
    let Some(v) = &f.vulnerability else { return false };
    let pkg = &v.package;
    if p.kind() != Some(pkg.kind) || p.full_name() != pkg.name {
        return false;
    }
    match &p.version {
        None => true,
        Some(ver) if *ver == pkg.version => true,
        // A Debian finding carries the source version; the purl the binary one.
        Some(ver) => {
            pkg.kind == PackageKind::Deb
                && inv
                    .deb
                    .iter()
                    .any(|d| d.record.name() == pkg.name && d.record.version() == *ver)
        }
    }
}

fn applies(s: &Statement, f: &Finding, subject: &Subject<'_>) -> bool {
    let Some(v) = &f.vulnerability else { return false };
    if !s.ids.iter().any(|id| v.ids.iter().any(|i| i.eq_ignore_ascii_case(id))) {
        return false;
    }
    s.products.iter().any(|p| {
        if subject.is_image(&p.id) {
            p.subcomponents.is_empty()
                || p.subcomponents
                    .iter()
                    .filter_map(|c| purl::parse(c))
                    .any(|c| names_package(&c, f, subject.inv))
        } else {
            purl::parse(&p.id).is_some_and(|pu| pu.kind().is_some() && names_package(&pu, f, subject.inv))
        }
    })
}

/// The statement that decides a finding, with its index: the latest that applies; ties go to
/// the later one in the input.
fn decide<'a>(statements: &'a [Statement], f: &Finding, subject: &Subject<'_>) -> Option<(usize, &'a Statement)> {
    statements
        .iter()
        .enumerate()
        .filter(|(_, s)| applies(s, f, subject))
        .max_by_key(|(i, s)| (s.timestamp, *i))
}

/// The statement that decided a finding of this image, if any (`--openvex` writes it out).
pub fn deciding<'a>(
    statements: &'a [Statement],
    inv: &Inventory,
    repository: &str,
    f: &Finding,
) -> Option<&'a Statement> {
    decide(statements, f, &Subject { inv, repository }).map(|(_, s)| s)
}

/// Applies the statements to a run's findings and recomputes the verdict.
pub fn apply(
    statements: &[Statement],
    inv: &Inventory,
    repository: &str,
    findings: &mut Vec<Finding>,
    verdict: &mut Verdict,
) {
    if statements.is_empty() {
        return;
    }
    let subject = Subject { inv, repository };
    let mut decided = vec![false; statements.len()];
    for f in findings.iter_mut() {
        let Some((i, s)) = decide(statements, f, &subject) else {
            continue;
        };
        decided[i] = true;
        let why = [s.justification.as_deref(), s.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        match s.status {
            Status::NotAffected | Status::Fixed => {
                if f.ignored.is_none() {
                    let text = format!(
                        "{}{}",
                        s.describe(),
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {why}")
                        }
                    );
                    f.level = Level::Info;
                    f.message = format!("{} — suppressed: {text}", f.message);
                    f.ignored = Some(text);
                }
            }
            Status::UnderInvestigation => {
                f.message = format!("{} — {} (still gates)", f.message, s.describe());
            }
            Status::Affected => {
                f.message = format!(
                    "{} — {}: {}",
                    f.message,
                    s.describe(),
                    s.action.as_deref().unwrap_or_default()
                );
            }
        }
    }
    for (s, _) in statements.iter().zip(&decided).filter(|(_, d)| !**d) {
        findings.push(Finding {
            rule: RuleId::Check(Check::VexStale),
            level: Level::Warn,
            title: Check::VexStale.info().title.into(),
            message: format!(
                "{} decides no finding in this image (no match, or superseded by a later statement)",
                s.describe()
            ),
            evidence: Evidence {
                value: s.ids.first().cloned(),
                ..Evidence::default()
            },
            vulnerability: None,
            ignored: None,
            origin: None,
            baseline: None,
        });
    }
    *verdict = Verdict::of(findings);
}
