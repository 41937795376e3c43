//! The gate as SARIF 2.1.0, for GitHub code scanning (and any other SARIF reader).
//!
//! One run. Rules: one per advisory (its primary id) and one per `IG…` policy check, each with
//! `security-severity` (the CVSS score, or a score for the gate level), tags and the fix as
//! `help.markdown`. Results: one per finding, worst first, at most [`MAX_RESULTS`] (GitHub's
//! limit; what is cut is said in `run.properties` and in a tool notification), each with the
//! gate's level and a fingerprint that survives a re-tag.
//!
//! Every result has a location, because GitHub drops results without one:
//! - with `--dockerfile`, the instruction that made the finding's layer (matched through the
//!   layer's `created_by`), or the instruction a check is about (`USER`, `HEALTHCHECK`,
//!   `LABEL`); else the final stage's `FROM`, where the base image comes in;
//! - without it, the path inside the image: `…/package.json` for an npm package,
//!   `lib/apk/db/installed` for an apk package, the file itself for a denied file, and
//!   [`IMAGE_CONFIG_URI`] for checks of the image's configuration, which no file holds;
//! - findings about the policy itself (ignore entries, the database's age) point at the policy
//!   file, when the policy came from one.
//!
//! Findings an ignore entry covers are not results but are listed in `run.properties.ignored`:
//! GitHub does not honour SARIF `suppressions` and would show them as open alerts.

use crate::dockerfile::{Dockerfile, short_step};
use crate::gate::{self, DbInfo};
use crate::policy::finding::{self, Finding, Level};
use crate::policy::rule::Place;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// GitHub code scanning takes at most this many results per run.
pub const MAX_RESULTS: usize = 25_000;
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// The `partialFingerprints` key; bump the version if what goes into the hash ever changes.
pub const FINGERPRINT_KEY: &str = "imagegate/v1";
/// The location of findings about the image's configuration (user, health check, size, labels)
/// when no Dockerfile is given: a relative path, as GitHub requires, naming what they are about.
pub const IMAGE_CONFIG_URI: &str = "image-config.json";

/// The project's address, when Cargo.toml has one (`repository`, else `homepage`).
const INFORMATION_URI: Option<&str> = {
    let repository = env!("CARGO_PKG_REPOSITORY");
    let homepage = env!("CARGO_PKG_HOMEPAGE");
    if !repository.is_empty() {
        Some(repository)
    } else if !homepage.is_empty() {
        Some(homepage)
    } else {
        None
    }
};

pub fn sarif(run: &gate::Run) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&log(run))?;
    s.push('\n');
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// The SARIF objects imagegate writes: the subset of the 2.1.0 schema GitHub reads.

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    automation_details: AutomationDetails,
    invocations: Vec<Invocation>,
    results: Vec<SarifResult>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<&'static str>,
    rules: Vec<ReportingDescriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportingDescriptor {
    id: String,
    name: String,
    short_description: Message,
    full_description: Message,
    help: MultiformatMessage,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Message {
    text: String,
}

#[derive(Serialize)]
struct MultiformatMessage {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct RuleProperties {
    /// GitHub ranks alerts by this: a number 0.0–10.0, written as a string.
    #[serde(rename = "security-severity")]
    security_severity: String,
    tags: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Message,
    locations: Vec<Location>,
    partial_fingerprints: BTreeMap<&'static str, String>,
    properties: ResultProperties,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    end_line: usize,
}

/// What the finding is about, for readers that go past the message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties {
    /// `fail`, `warn` or `info`: the gate's decision.
    gate: &'static str,
    /// `base` or `app`, and the rule that decided it.
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<crate::policy::base::Origin>,
    /// With `--baseline`: `new` or `unchanged`.
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<crate::policy::baseline::State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ecosystem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixed_versions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    advisory_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cvss_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cvss_vector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity_source: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    malicious: bool,
    /// Paths inside the image.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_line: Option<usize>,
}

#[derive(Serialize)]
struct AutomationDetails {
    id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation {
    execution_successful: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_execution_notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct Notification {
    level: &'static str,
    message: Message,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    image: ImageProperties<'a>,
    policy: &'a str,
    /// Every package source of the image, and whether it was checked.
    coverage: &'a [crate::inventory::coverage::Coverage],
    verdict: &'a finding::Verdict,
    /// Vulnerabilities below the policy's `report_from`: counted, not listed.
    hidden: usize,
    db: &'a DbInfo,
    elapsed_ms: u64,
    /// Findings an ignore entry of the policy covers: not results (see [`log`]), listed here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignored: Vec<Ignored<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated: Option<Truncation>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ignored<'a> {
    rule_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    reason: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageProperties<'a> {
    reference: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest_digest: Option<String>,
    config_digest: String,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    repo_tags: &'a [String],
    platform: &'a str,
}

/// What the [`MAX_RESULTS`] cut left out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Truncation {
    limit: usize,
    total_results: usize,
    omitted_results: usize,
    omitted_fail: usize,
    omitted_warn: usize,
    omitted_info: usize,
    /// Rules whose every result was cut.
    omitted_rules: Vec<String>,
}

// ---------------------------------------------------------------------------------------------

fn log(run: &gate::Run) -> Log<'_> {
    // Ignored findings are left out of the results: GitHub does not honour SARIF
    // `suppressions`, and would show an ignored critical as an open critical alert. Should
    // the ignore expire, the finding comes back with the same fingerprint.
    let (ignored, findings): (Vec<&Finding>, Vec<&Finding>) =
        run.outcome.findings.iter().partition(|f| f.ignored.is_some());
    // Findings come worst first, so the cut keeps the ones that matter.
    let (kept, cut) = findings.split_at(findings.len().min(MAX_RESULTS));
    let places = Places {
        dockerfile: run.dockerfile.as_ref().map(|d| (relative_uri(&d.path), &d.parsed)),
        policy: run.policy.source.file().map(|p| relative_uri(&p.display().to_string())),
    };

    let mut rules: Vec<RuleDraft> = Vec::new();
    let mut rule_index: HashMap<&str, usize> = HashMap::new();
    let mut seen_fingerprints: HashMap<String, usize> = HashMap::new();
    let mut results = Vec::with_capacity(kept.len());
    for &f in kept {
        let index = *rule_index.entry(f.rule.as_str()).or_insert_with(|| {
            rules.push(RuleDraft::new(f));
            rules.len() - 1
        });
        if let Some(draft) = rules.get_mut(index) {
            draft.add(f);
        }
        results.push(result(f, index, &places, &mut seen_fingerprints));
    }

    let truncated = (!cut.is_empty()).then(|| {
        let count = |l: Level| cut.iter().filter(|f| f.level == l).count();
        let mut omitted_rules: Vec<String> = cut
            .iter()
            .filter(|f| !rule_index.contains_key(f.rule.as_str()))
            .map(|f| f.rule.to_string())
            .collect();
        omitted_rules.sort();
        omitted_rules.dedup();
        Truncation {
            limit: MAX_RESULTS,
            total_results: findings.len(),
            omitted_results: cut.len(),
            omitted_fail: count(Level::Fail),
            omitted_warn: count(Level::Warn),
            omitted_info: count(Level::Info),
            omitted_rules,
        }
    });
    let notifications = truncated
        .iter()
        .map(|t| Notification {
            level: "warning",
            message: Message {
                text: format!(
                    "{} findings, more than GitHub's {} results per run: the {} least severe were left out \
                     ({} fail, {} warn, {} info); the JSON report lists them all",
                    t.total_results, t.limit, t.omitted_results, t.omitted_fail, t.omitted_warn, t.omitted_info
                ),
            },
        })
        .collect();

    let image = &run.inventory.image;
    Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "imagegate",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    information_uri: INFORMATION_URI,
                    rules: rules.into_iter().map(RuleDraft::finish).collect(),
                },
            },
            automation_details: AutomationDetails {
                id: automation_id(&run.repository),
            },
            invocations: vec![Invocation {
                // The tool ran to the end; a failing gate is a result, not a failed run.
                execution_successful: true,
                tool_execution_notifications: notifications,
            }],
            results,
            properties: RunProperties {
                image: ImageProperties {
                    reference: &image.reference,
                    manifest_digest: image.manifest_digest.as_ref().map(ToString::to_string),
                    config_digest: image.config_digest.to_string(),
                    repo_tags: &image.repo_tags,
                    platform: &image.platform,
                },
                policy: &run.policy.description,
                coverage: &run.scan.coverage,
                verdict: &run.outcome.verdict,
                hidden: run.outcome.hidden,
                db: &run.db,
                elapsed_ms: u64::try_from(run.elapsed.as_millis()).unwrap_or(u64::MAX),
                ignored: ignored
                    .iter()
                    .map(|f| Ignored {
                        rule_id: f.rule.as_str(),
                        package: f.evidence.package.as_ref().map(ToString::to_string),
                        path: f.evidence.path.as_deref(),
                        reason: f.ignored.as_deref().unwrap_or(""),
                    })
                    .collect(),
                truncated,
            },
        }],
    }
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Fail => "error",
        Level::Warn => "warning",
        Level::Info => "note",
    }
}

/// A rule as its findings describe it; the severity and level are the worst among them.
struct RuleDraft {
    descriptor: ReportingDescriptor,
    severity: f64,
    level: Level,
    /// For an advisory, the fix for each package it was found in (`libcrypto3` and `libssl3`
    /// share one), in order; the help lists them all.
    fixes: Vec<String>,
}

impl RuleDraft {
    fn new(f: &Finding) -> RuleDraft {
        let descriptor = match &f.vulnerability {
            Some(v) => {
                let ecosystem = v.package.kind.as_str();
                let kind = if v.malicious { "malicious" } else { "vulnerability" };
                let severity = match v.severity.score {
                    Some(score) => format!("{} (CVSS {score:.1}, from {})", v.severity.label(), v.severity.source),
                    None => format!("{} (from {})", v.severity.label(), v.severity.source),
                };
                let short = v
                    .summary
                    .clone()
                    .unwrap_or_else(|| format!("{} in {}", v.id, v.package.name));
                let help = f.help();
                ReportingDescriptor {
                    id: f.rule.to_string(),
                    name: if v.malicious {
                        "malicious-package".into()
                    } else {
                        "vulnerable-package".into()
                    },
                    full_description: Message {
                        text: format!("{short} ({}). Severity: {severity}.", v.ids.join(", ")),
                    },
                    short_description: Message { text: short },
                    help: MultiformatMessage {
                        text: plain(&help),
                        markdown: help,
                    },
                    help_uri: Some(format!("https://osv.dev/vulnerability/{}", uri_path(&v.id))),
                    default_configuration: Configuration { level: "warning" },
                    properties: RuleProperties {
                        security_severity: String::new(),
                        tags: vec!["security".into(), kind.into(), ecosystem.into()],
                    },
                }
            }
            None => {
                let known = f.rule.check().map(|c| c.info());
                let help = known.as_ref().map(|r| r.help.to_string()).unwrap_or_else(|| f.help());
                let help = if help.is_empty() { f.title.clone() } else { help };
                ReportingDescriptor {
                    id: f.rule.to_string(),
                    name: known.map_or_else(|| f.rule.to_string(), |r| r.name.to_string()),
                    short_description: Message { text: f.title.clone() },
                    full_description: Message {
                        text: format!("{}. {}", f.title, plain(&help)),
                    },
                    help: MultiformatMessage {
                        text: plain(&help),
                        markdown: help,
                    },
                    help_uri: None,
                    default_configuration: Configuration { level: "warning" },
                    properties: RuleProperties {
                        security_severity: String::new(),
                        tags: vec!["security".into(), "policy".into()],
                    },
                }
            }
        };
        RuleDraft {
            descriptor,
            severity: f64::NEG_INFINITY,
            level: Level::Info,
            fixes: Vec::new(),
        }
    }

    fn add(&mut self, f: &Finding) {
        self.severity = self.severity.max(score(f));
        self.level = self.level.max(f.level);
        if f.vulnerability.is_some() {
            let help = f.help();
            let fix = help.split_once("\n\n").map_or(help.as_str(), |(fix, _)| fix);
            if !self.fixes.iter().any(|known| known == fix) {
                self.fixes.push(fix.to_string());
            }
        }
    }

    fn finish(mut self) -> ReportingDescriptor {
        self.descriptor.properties.security_severity = format!("{:.1}", self.severity.max(0.0));
        self.descriptor.default_configuration.level = sarif_level(self.level);
        if self.fixes.len() > 1 {
            // The help came from the first package; every package's fix goes in instead.
            let help = &self.descriptor.help.markdown;
            let rest = help.split_once("\n\n").map_or("", |(_, rest)| rest);
            let list: Vec<String> = self.fixes.iter().map(|f| format!("- {f}")).collect();
            let markdown = format!("{}\n\n{rest}", list.join("\n"));
            self.descriptor.help = MultiformatMessage {
                text: plain(&markdown),
                markdown,
            };
        }
        self.descriptor
    }
}

/// `security_severity()` kept inside 0–10, where GitHub reads it.
fn score(f: &Finding) -> f64 {
    let s = f.security_severity();
    if s.is_finite() { s.clamp(0.0, 10.0) } else { 5.0 }
}

/// Markdown help as plain text: code spans lose their backticks.
fn plain(markdown: &str) -> String {
    markdown.replace('`', "")
}

fn result(f: &Finding, rule_index: usize, places: &Places, seen: &mut HashMap<String, usize>) -> SarifResult {
    let e = &f.evidence;
    let mut text = f.message.trim_end_matches('.').to_string();
    if let Some(layer) = e.layer {
        let _ = write!(text, ". Added by layer {layer}");
        let step = short_step(e.created_by.as_deref(), 100);
        if !step.is_empty() {
            let _ = write!(text, " ({step})");
        }
    }
    text.push('.');
    let v = f.vulnerability.as_ref();
    let mut paths: Vec<String> = v.map(|v| v.package.paths.clone()).unwrap_or_default();
    if let Some(p) = &e.path
        && !paths.contains(p)
    {
        paths.insert(0, p.clone());
    }
    SarifResult {
        rule_id: f.rule.to_string(),
        rule_index,
        level: sarif_level(f.level),
        message: Message { text },
        locations: vec![places.location(f)],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(f, seen))]),
        properties: ResultProperties {
            gate: f.level.as_str(),
            origin: f.origin,
            baseline: f.baseline,
            package: e.package.as_ref().map(ToString::to_string),
            ecosystem: v.map(|v| v.package.ecosystem.clone()),
            installed_version: v.map(|v| v.package.version.clone()),
            fixed_versions: v.map(|v| v.fixed.clone()).unwrap_or_default(),
            advisory_ids: v.map(|v| v.ids.clone()).unwrap_or_default(),
            severity: v.map(|v| v.severity.label()),
            cvss_score: v.and_then(|v| v.severity.score),
            cvss_vector: v.and_then(|v| v.severity.vector.clone()),
            severity_source: v.map(|v| v.severity.source.to_string()),
            malicious: v.is_some_and(|v| v.malicious),
            paths,
            layer: e.layer,
            layer_digest: e.layer_digest.clone(),
            created_by: e.created_by.clone(),
            value: e.value.clone(),
            limit: e.limit.clone(),
            details: e.details.clone(),
            policy_line: e.policy_line,
        },
    }
}

/// A hash of what the finding is about, and nothing about which image or tag it was found
/// in: the rule, the package (name and version), the path inside the image, and for the few
/// checks that have neither, the subject that tells two of them apart. Measurements (a size,
/// a layer count) stay out, so a growing image keeps its alert. A repeat within the run gets
/// its ordinal, so no two results share a fingerprint.
fn fingerprint(f: &Finding, seen: &mut HashMap<String, usize>) -> String {
    let identity = f.identity();
    let mut hasher = Sha256::new();
    for part in identity.parts() {
        // Length-prefixed, so no two different tuples hash the same input.
        hasher.update(format!("{}:", part.len()).as_bytes());
        hasher.update(part.as_bytes());
    }
    let base = hex::encode(hasher.finalize());
    let n = seen.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 {
        base
    } else {
        hex::encode(Sha256::digest(format!("{base}#{n}").as_bytes()))
    }
}

/// Where results point.
struct Places<'a> {
    /// The Dockerfile's URI and its instructions.
    dockerfile: Option<(String, &'a Dockerfile)>,
    /// The policy file's URI, when the policy came from a file.
    policy: Option<String>,
}

impl Places<'_> {
    fn location(&self, f: &Finding) -> Location {
        let (uri, (start, end)) = self.place(f);
        Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri },
                region: Region {
                    start_line: start.max(1),
                    end_line: end.max(start).max(1),
                },
            },
        }
    }

    fn place(&self, f: &Finding) -> (String, (usize, usize)) {
        if let Some(policy) = &self.policy {
            if let Some(line) = f.evidence.policy_line {
                return (policy.clone(), (line, line));
            }
            if f.rule.check().is_some_and(|c| c.info().place == Place::Policy) {
                // `max_db_age` is set there; the policy text is not at hand to find its line.
                return (policy.clone(), (1, 1));
            }
        }
        if let Some((uri, dockerfile)) = &self.dockerfile {
            return (uri.clone(), region(dockerfile, f));
        }
        (image_path(f), (1, 1))
    }
}

/// The path inside the image that a finding is about, as a relative URI.
fn image_path(f: &Finding) -> String {
    if let Some(v) = &f.vulnerability {
        if let Some(db) = v.package.kind.database_path() {
            return db.into();
        }
        if let Some(dir) = v.package.paths.first() {
            return uri_path(&format!("{dir}/package.json"));
        }
    }
    let e = &f.evidence;
    if let Some(db) = e.package.as_ref().and_then(|p| p.kind.database_path()) {
        return db.into();
    }
    match (e.package.as_ref(), e.path.as_deref()) {
        // An npm package's evidence path is its directory.
        (Some(_), Some(dir)) => uri_path(&format!("{dir}/package.json")),
        (None, Some(path)) => uri_path(path),
        _ => IMAGE_CONFIG_URI.into(),
    }
}

/// Percent-encodes a path for a relative URI reference. `:` is encoded too, so a first segment
/// like `c:` never reads as a scheme.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A path as the user gave it, relative to the repository root.
fn relative_uri(path: &str) -> String {
    let mut p = path;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    if p.starts_with('/') {
        // Outside any repository-relative form: an absolute file URI is the honest answer.
        format!("file://{}", uri_path_absolute(p))
    } else {
        uri_path(p)
    }
}

fn uri_path_absolute(path: &str) -> String {
    format!("/{}", uri_path(path))
}

/// The lines (start, end) of the Dockerfile a finding points at: the instruction a check is
/// about, else the step that made the finding's layer, else the final stage's `FROM`.
fn region(dockerfile: &Dockerfile, f: &Finding) -> (usize, usize) {
    let about = match f.rule.check().map(|c| c.info().place) {
        Some(Place::Instruction(keyword)) => Some(keyword),
        _ => None,
    };
    let step = f
        .evidence
        .created_by
        .as_deref()
        .or_else(|| f.vulnerability.as_ref().and_then(|v| v.layer.created_by.as_deref()));
    about
        .and_then(|k| dockerfile.last_in_final_stage(k))
        .or_else(|| step.and_then(|s| dockerfile.find_step(s)))
        .or_else(|| dockerfile.last_in_final_stage("FROM"))
        .map_or((1, 1), |i| (i.start_line, i.end_line))
}

// ---------------------------------------------------------------------------------------------
// Per-image categories.

/// `imagegate/<repository>/`: one category per image repository, so several images of one
/// commit upload side by side, and a new tag of the same repository replaces the last.
pub fn automation_id(repository: &str) -> String {
    format!("imagegate/{repository}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            uri_path("app/node_modules/@next/env/package.json"),
            "app/node_modules/@next/env/package.json"
        );
        assert_eq!(uri_path("a b:c/%"), "a%20b%3Ac/%25");
        assert_eq!(relative_uri("./docker/Dockerfile"), "docker/Dockerfile");
        assert_eq!(relative_uri("/src/imagegate.toml"), "file:///src/imagegate.toml");
    }
}
