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

use super::scan::DbInfo;
use super::short_step;
use crate::inventory::{ImageFacts, Inventory};
use crate::policy::evaluate::Outcome;
use crate::policy::finding::{self, Finding, Level};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

/// Everything a gate report shows.
pub struct GateReport<'a> {
    pub inventory: &'a Inventory,
    pub outcome: &'a Outcome,
    pub policy_origin: &'a str,
    pub db: &'a DbInfo,
    /// `--dockerfile`: the path as given (relative to the repository root, for SARIF) and its text.
    pub dockerfile: Option<(&'a str, &'a str)>,
    pub elapsed: Duration,
}

/// GitHub code scanning takes at most this many results per run.
pub const MAX_RESULTS: usize = 25_000;
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
/// The `partialFingerprints` key; bump the version if what goes into the hash ever changes.
pub const FINGERPRINT_KEY: &str = "imagegate/v1";
/// The location of findings about the image's configuration (user, health check, size, labels)
/// when no Dockerfile is given: a relative path, as GitHub requires, naming what they are about.
pub const IMAGE_CONFIG_URI: &str = "image-config.json";
const APK_DB_URI: &str = "lib/apk/db/installed";

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

pub fn sarif(report: &GateReport<'_>) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(&log(report))?;
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
    package: Option<&'a str>,
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

fn log<'a>(report: &'a GateReport<'a>) -> Log<'a> {
    // Ignored findings are left out of the results: GitHub does not honour SARIF
    // `suppressions`, and would show an ignored critical as an open critical alert. Should
    // the ignore expire, the finding comes back with the same fingerprint.
    let (ignored, findings): (Vec<&Finding>, Vec<&Finding>) =
        report.outcome.findings.iter().partition(|f| f.ignored.is_some());
    // Findings come worst first, so the cut keeps the ones that matter.
    let (kept, cut) = findings.split_at(findings.len().min(MAX_RESULTS));
    let places = Places {
        dockerfile: report
            .dockerfile
            .map(|(path, text)| (relative_uri(path), Dockerfile::parse(text))),
        policy: policy_uri(report.policy_origin),
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
            .map(|f| f.rule.clone())
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

    let image = &report.inventory.image;
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
                id: automation_id(image),
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
                policy: report.policy_origin,
                verdict: &report.outcome.verdict,
                hidden: report.outcome.hidden,
                db: report.db,
                elapsed_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
                ignored: ignored
                    .iter()
                    .map(|f| Ignored {
                        rule_id: &f.rule,
                        package: f.evidence.package.as_deref(),
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
                let ecosystem = if v.package.ecosystem.starts_with("Alpine") {
                    "apk"
                } else {
                    v.package.ecosystem.as_str()
                };
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
                    id: f.rule.clone(),
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
                let known = finding::rule(&f.rule);
                let help = known.map(|r| r.help.to_string()).unwrap_or_else(|| f.help());
                let help = if help.is_empty() { f.title.clone() } else { help };
                ReportingDescriptor {
                    id: f.rule.clone(),
                    name: known.map_or_else(|| f.rule.clone(), |r| r.name.to_string()),
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

/// [`short_step`] for every instruction: it drops buildkit's `# buildkit` marker only after a
/// `RUN`, and `ADD …` / `COPY …` carry it too.
pub(crate) fn step(created_by: Option<&str>, max: usize) -> String {
    let s = created_by.map(|s| {
        let s = s.trim_end();
        s.strip_suffix("# buildkit").unwrap_or(s).trim_end()
    });
    short_step(s, max)
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
        let step = step(e.created_by.as_deref(), 100);
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
        rule_id: f.rule.clone(),
        rule_index,
        level: sarif_level(f.level),
        message: Message { text },
        locations: vec![places.location(f)],
        partial_fingerprints: BTreeMap::from([(FINGERPRINT_KEY, fingerprint(f, seen))]),
        properties: ResultProperties {
            gate: f.level.as_str(),
            package: e.package.clone(),
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
    let e = &f.evidence;
    let subject = match f.rule.as_str() {
        "IG007" | "IG012" | "IG013" | "IG014" | "IG015" => e.value.as_deref(),
        "IG017" => Some(f.message.as_str()),
        _ => None,
    };
    let mut hasher = Sha256::new();
    for part in [Some(f.rule.as_str()), e.package.as_deref(), e.path.as_deref(), subject] {
        // Length-prefixed, so no two different tuples hash the same input.
        let part = part.unwrap_or("");
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
struct Places {
    /// The Dockerfile's URI and its instructions.
    dockerfile: Option<(String, Dockerfile)>,
    /// The policy file's URI, when the policy came from a file.
    policy: Option<String>,
}

impl Places {
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
            if f.rule == "IG011" {
                // `max_db_age` is set there; the policy text is not at hand to find its line.
                return (policy.clone(), (1, 1));
            }
        }
        if let Some((uri, dockerfile)) = &self.dockerfile {
            return (uri.clone(), dockerfile.region_for(f));
        }
        (image_path(f), (1, 1))
    }
}

/// The path inside the image that a finding is about, as a relative URI.
fn image_path(f: &Finding) -> String {
    if let Some(v) = &f.vulnerability {
        if v.package.ecosystem.starts_with("Alpine") {
            return APK_DB_URI.into();
        }
        if let Some(dir) = v.package.paths.first() {
            return uri_path(&format!("{dir}/package.json"));
        }
    }
    let e = &f.evidence;
    match (e.package.as_deref(), e.path.as_deref()) {
        (Some(p), _) if p.starts_with("apk:") => APK_DB_URI.into(),
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

/// The policy's URI when it came from a file (its origin is a path, not `built-in default policy`).
fn policy_uri(origin: &str) -> Option<String> {
    origin.ends_with(".toml").then(|| relative_uri(origin))
}

// ---------------------------------------------------------------------------------------------
// Per-image categories.

/// `imagegate/<repository>/`: one category per image repository, so several images of one
/// commit upload side by side, and a new tag of the same repository replaces the last.
pub fn automation_id(image: &ImageFacts) -> String {
    format!("imagegate/{}/", repository_name(image))
}

/// The image's repository name, without registry host, tag or digest: from its first repo tag,
/// else from the reference (for a file or directory, its name without archive extensions).
pub fn repository_name(image: &ImageFacts) -> String {
    let name = match image.repo_tags.first() {
        Some(tag) => registry_repository(tag),
        None => reference_repository(&image.reference),
    };
    sanitize(&name)
}

fn reference_repository(reference: &str) -> String {
    if reference == "-" {
        return "stdin".into();
    }
    for transport in ["docker-archive:", "oci-archive:", "oci:"] {
        if let Some(rest) = reference.strip_prefix(transport) {
            return file_stem(rest);
        }
    }
    const ARCHIVES: [&str; 6] = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".oci"];
    let looks_like_path = reference.starts_with(['/', '.', '~'])
        || reference.contains('\\')
        || ARCHIVES.iter().any(|ext| reference.ends_with(ext))
        || std::path::Path::new(reference).exists();
    if looks_like_path {
        file_stem(reference)
    } else {
        registry_repository(reference)
    }
}

/// `dir/app.tar` → `app`; `layout:1.0` → `layout` (a `:tag` or `@digest` selector goes).
fn file_stem(path: &str) -> String {
    let last = path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    let last = last.split([':', '@']).next().unwrap_or("");
    let mut stem = last;
    for ext in [".tar.gz", ".tar.zstd", ".tar.zst", ".tgz", ".tar", ".oci"] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    stem.to_string()
}

/// `ghcr.io/acme/app:1.2@sha256:…` → `acme/app`; `docker.io/library/node:20` → `node`.
fn registry_repository(reference: &str) -> String {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let without_tag = match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => &without_digest[..i],
        _ => without_digest,
    };
    let mut parts: Vec<&str> = without_tag.split('/').filter(|p| !p.is_empty()).collect();
    let mut docker_hub = true;
    if parts.len() > 1
        && let Some(host) = parts.first()
        && (host.contains('.') || host.contains(':') || *host == "localhost")
    {
        docker_hub = matches!(*host, "docker.io" | "index.docker.io" | "registry-1.docker.io");
        parts.remove(0);
    }
    if docker_hub && parts.len() > 1 && parts.first() == Some(&"library") {
        parts.remove(0);
    }
    parts.join("/")
}

/// Lower case, `[a-z0-9._/-]` only, so the category is the same however the name was spelled.
fn sanitize(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('/');
    if s.is_empty() { "image".into() } else { s.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Dockerfiles, as far as finding a step's line needs.

/// A Dockerfile's instructions with their lines.
#[derive(Clone, Debug, Default)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Upper case: `RUN`, `COPY`, …
    pub keyword: String,
    /// The arguments, continuation lines joined (and heredoc bodies appended).
    pub args: String,
    /// 1-based.
    pub start_line: usize,
    pub end_line: usize,
}

/// How close a layer's step must be to an instruction to point at it: the token sets overlap
/// at least this much (Jaccard). Below it, the layer most likely came from the base image.
const MATCH_THRESHOLD: f64 = 0.5;

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut escape = '\\';
        let mut directives = true;
        let mut instructions = Vec::new();
        let all: Vec<&str> = text.lines().collect();
        let mut lines = all.iter().copied().enumerate().map(|(i, l)| (i + 1, l));
        while let Some((start, line)) = lines.next() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                directives = false;
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                // Parser directives (`# escape=`` `) come only before anything else.
                if directives && let Some((key, value)) = comment.split_once('=') {
                    let key = key.trim();
                    if key.eq_ignore_ascii_case("escape")
                        && let Some(c) = value.trim().chars().next()
                    {
                        escape = c;
                    }
                    if !key.is_empty() && !key.contains(char::is_whitespace) {
                        continue;
                    }
                }
                directives = false;
                continue;
            }
            directives = false;
            let (keyword, rest) = split_word(trimmed);
            let mut args = String::new();
            let mut end = start;
            let mut current = rest.trim_end().to_string();
            loop {
                let Some(body) = current.strip_suffix(escape) else {
                    args.push_str(&current);
                    break;
                };
                // The escape joins the next line on; comment and blank lines in between go.
                args.push_str(body);
                let next = lines
                    .by_ref()
                    .inspect(|(n, _)| end = *n)
                    .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
                match next {
                    Some((_, l)) => current = l.trim_end().to_string(),
                    None => break,
                }
            }
            let keyword = keyword.to_ascii_uppercase();
            if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
                for (word, strip) in heredocs(&args) {
                    // `end` is the instruction's last line (1-based), so its index is the next
                    // line's. A heredoc without its terminator line is not one: nothing is taken.
                    let body = all.get(end..).unwrap_or_default();
                    let Some(close) = body.iter().position(|l| {
                        let l = if strip { l.trim_start_matches('\t') } else { l };
                        l.trim_end() == word
                    }) else {
                        continue;
                    };
                    args.push('\n');
                    args.push_str(&body[..close].join("\n"));
                    // Skip the body and the terminator.
                    for _ in lines.by_ref().take(close + 1) {}
                    end += close + 1;
                }
            }
            instructions.push(Instruction {
                keyword,
                args,
                start_line: start,
                end_line: end,
            });
        }
        Dockerfile { instructions }
    }

    /// The instruction that made a layer, from the layer's `created_by`: the one of the same
    /// kind whose arguments match best (a later one wins a tie, as the final stage comes last).
    pub fn find_step(&self, created_by: &str) -> Option<&Instruction> {
        let (keyword, args) = history_step(created_by)?;
        let want = normalize(&keyword, &args);
        let mut best: Option<(f64, &Instruction)> = None;
        for ins in self
            .instructions
            .iter()
            .filter(|i| family(&i.keyword) == family(&keyword))
        {
            let have = normalize(&ins.keyword, &ins.args);
            let score = similarity(&keyword, &want, &have);
            if score >= MATCH_THRESHOLD && best.is_none_or(|(b, _)| score >= b) {
                best = Some((score, ins));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The last instruction with this keyword in the final stage.
    pub fn last_in_final_stage(&self, keyword: &str) -> Option<&Instruction> {
        let from = self.instructions.iter().rposition(|i| i.keyword == "FROM").unwrap_or(0);
        self.instructions
            .get(from..)?
            .iter()
            .rev()
            .find(|i| i.keyword == keyword)
    }

    /// The lines (start, end) a finding points at.
    pub fn region_for(&self, f: &Finding) -> (usize, usize) {
        let about = match f.rule.as_str() {
            "IG001" | "IG002" => Some("USER"),
            "IG003" => Some("HEALTHCHECK"),
            "IG007" => Some("LABEL"),
            _ => None,
        };
        let step = f
            .evidence
            .created_by
            .as_deref()
            .or_else(|| f.vulnerability.as_ref().and_then(|v| v.layer.created_by.as_deref()));
        about
            .and_then(|k| self.last_in_final_stage(k))
            .or_else(|| step.and_then(|s| self.find_step(s)))
            .or_else(|| self.last_in_final_stage("FROM"))
            .map_or((1, 1), |i| (i.start_line, i.end_line))
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// The heredoc words of an instruction (`<<EOF`, `<<-"EOF"`), in order, and whether leading
/// tabs are stripped before comparing the terminator. Only words that begin with `<<` count,
/// as in BuildKit: `$((1<<2))` is arithmetic and `<<<` a here-string.
fn heredocs(args: &str) -> Vec<(String, bool)> {
    args.split_whitespace()
        .filter_map(|w| {
            let w = w.strip_prefix("<<").filter(|w| !w.starts_with('<'))?;
            let (w, strip) = match w.strip_prefix('-') {
                Some(w) => (w, true),
                None => (w, false),
            };
            let w = w.trim_matches(['"', '\'']);
            let word: String = w
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!word.is_empty() && word.len() == w.len()).then_some((word, strip))
        })
        .collect()
}

/// A history entry's step as (keyword, arguments). Docker writes them in several forms:
/// `RUN /bin/sh -c npm ci # buildkit`, `RUN |1 A=b /bin/sh -c …`, `COPY . . # buildkit`,
/// `/bin/sh -c #(nop)  USER 1001` and `/bin/sh -c npm ci` (the classic builder).
fn history_step(created_by: &str) -> Option<(String, String)> {
    let s = created_by.trim();
    let s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    if let Some(rest) = s.strip_prefix("/bin/sh -c #(nop)") {
        let (keyword, args) = split_word(rest);
        return Some((keyword.to_ascii_uppercase(), args.to_string()));
    }
    let s = strip_build_args(s);
    if let Some(command) = strip_shell(s) {
        return Some(("RUN".into(), command.to_string()));
    }
    let (keyword, args) = split_word(s);
    if keyword.is_empty() || !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((keyword.to_ascii_uppercase(), args.to_string()))
}

/// `|2 A=1 B=2 rest` → `rest`: the build arguments Docker records before a RUN command.
fn strip_build_args(s: &str) -> &str {
    let Some(count) = s.strip_prefix('|') else { return s };
    let (n, _) = split_word(count);
    let Ok(n) = n.parse::<usize>() else { return s };
    let mut rest = s;
    for _ in 0..=n {
        rest = split_word(rest).1;
    }
    rest
}

/// `/bin/sh -c cmd` (or `bash -c`, a `SHELL` of the image) → `cmd`.
fn strip_shell(s: &str) -> Option<&str> {
    let (shell, rest) = split_word(s);
    let (flag, command) = split_word(rest);
    (shell.ends_with("sh") && flag == "-c").then_some(command)
}

/// `RUN`s match `RUN`s; `COPY` and `ADD` match each other (the classic builder's history and
/// some tools blur them).
fn family(keyword: &str) -> &str {
    match keyword {
        "ADD" | "COPY" => "COPY",
        k => k,
    }
}

/// The words an instruction's arguments come down to: flags (`--mount=…`, `--chown=…`,
/// `--from=…`) dropped, a shell wrapper dropped, the JSON form unpacked.
fn normalize(keyword: &str, args: &str) -> Vec<String> {
    let mut a = args.trim();
    while a.starts_with("--") {
        a = split_word(a).1;
    }
    if keyword == "RUN" {
        a = strip_build_args(a);
        a = strip_shell(a).unwrap_or(a);
    }
    if a.starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(a)
    {
        return words
            .iter()
            .flat_map(|w| w.split_whitespace())
            .map(str::to_string)
            .collect();
    }
    a.split_whitespace().map(str::to_string).collect()
}

fn similarity(keyword: &str, want: &[String], have: &[String]) -> f64 {
    if want == have {
        return 1.0;
    }
    let a: std::collections::HashSet<&String> = want.iter().collect();
    let b: std::collections::HashSet<&String> = have.iter().collect();
    let union = a.union(&b).count();
    let jaccard = if union == 0 {
        0.0
    } else {
        a.intersection(&b).count() as f64 / union as f64
    };
    // The classic builder records `COPY dir:<hash> in /app`: only the destination is left to match.
    let same_destination = family(keyword) == "COPY" && want.last().is_some() && want.last() == have.last();
    if same_destination {
        jaccard.max(MATCH_THRESHOLD)
    } else {
        jaccard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKERFILE: &str = "# syntax=docker/dockerfile:1\n\
        FROM node:20-alpine AS build\n\
        WORKDIR /app\n\
        COPY package.json package-lock.json ./\n\
        RUN npm ci\n\
        \n\
        FROM node:20-alpine\n\
        WORKDIR /app\n\
        # dependencies\n\
        COPY --from=build --chown=1001:1001 /app/node_modules ./node_modules\n\
        RUN --mount=type=cache,target=/root/.npm addgroup -S app \\\n\
        \x20   # a comment inside\n\
        \x20   && npm ci --omit=dev\n\
        RUN <<EOF\n\
        echo hi\n\
        EOF\n\
        USER 1001\n";

    #[test]
    fn parses_lines_continuations_and_heredocs() {
        let d = Dockerfile::parse(DOCKERFILE);
        let kinds: Vec<(&str, usize, usize)> = d
            .instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.start_line, i.end_line))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("FROM", 2, 2),
                ("WORKDIR", 3, 3),
                ("COPY", 4, 4),
                ("RUN", 5, 5),
                ("FROM", 7, 7),
                ("WORKDIR", 8, 8),
                ("COPY", 10, 10),
                ("RUN", 11, 13),
                ("RUN", 14, 16),
                ("USER", 17, 17),
            ]
        );
    }

    #[test]
    fn heredoc_look_alikes_take_no_lines() {
        let d = Dockerfile::parse("FROM a\nRUN echo $((1<<2)) && cat <<<x\nRUN cat <<EOF > f\nUSER 1\n");
        let lines: Vec<(usize, usize)> = d.instructions.iter().map(|i| (i.start_line, i.end_line)).collect();
        // The unterminated `<<EOF` takes nothing: USER keeps its line.
        assert_eq!(lines, vec![(1, 1), (2, 2), (3, 3), (4, 4)]);
        let d = Dockerfile::parse("FROM a\nCOPY <<-\"EOF\" /x\n\tline\n\tEOF\nUSER 1\n");
        assert_eq!(d.instructions[1].end_line, 4);
        assert_eq!(d.instructions[2].start_line, 5);
    }

    #[test]
    fn finds_the_step_of_a_layer() {
        let d = Dockerfile::parse(DOCKERFILE);
        let line = |s: &str| d.find_step(s).map(|i| i.start_line);
        assert_eq!(line("RUN /bin/sh -c npm ci # buildkit"), Some(5));
        assert_eq!(
            line(
                "RUN --mount=type=cache,target=/root/.npm /bin/sh -c addgroup -S app     && npm ci --omit=dev # buildkit"
            ),
            Some(11)
        );
        assert_eq!(
            line("|1 NODE_ENV=production /bin/sh -c addgroup -S app && npm ci --omit=dev"),
            Some(11)
        );
        assert_eq!(line("COPY /app/node_modules ./node_modules # buildkit"), Some(10));
        assert_eq!(line("/bin/sh -c #(nop) COPY dir:0123abcd in ./node_modules "), Some(10));
        // A base image's layer matches nothing.
        assert_eq!(line("ADD file:9a8b in / "), None);
        assert_eq!(
            line("RUN /bin/sh -c apk add --no-cache python3 make g++ # buildkit"),
            None
        );
    }

    #[test]
    fn repository_names() {
        assert_eq!(registry_repository("ghcr.io/acme/app:1.2@sha256:abcd"), "acme/app");
        assert_eq!(registry_repository("docker.io/library/node:20"), "node");
        assert_eq!(registry_repository("node:20-alpine"), "node");
        assert_eq!(registry_repository("localhost:5000/app"), "app");
        assert_eq!(registry_repository("localhost:5000/library/app"), "library/app");
        assert_eq!(reference_repository("docker-archive:/tmp/x/web.tar.gz:web:dev"), "web");
        assert_eq!(reference_repository("oci:./layout:1.0.0"), "layout");
        assert_eq!(reference_repository("build/app.tar"), "app");
        assert_eq!(reference_repository("-"), "stdin");
        assert_eq!(sanitize("Acme/My App"), "acme/my-app");
    }

    #[test]
    fn uris() {
        assert_eq!(
            uri_path("app/node_modules/@next/env/package.json"),
            "app/node_modules/@next/env/package.json"
        );
        assert_eq!(uri_path("a b:c/%"), "a%20b%3Ac/%25");
        assert_eq!(relative_uri("./docker/Dockerfile"), "docker/Dockerfile");
        assert_eq!(relative_uri("/src/imagegate.toml"), "file:///src/imagegate.toml");
        assert_eq!(policy_uri("built-in default policy"), None);
    }
}
