//! The policy file: one TOML file that says what fails the gate and what is only shown.
//! Parsing keeps every value's position, so a bad size, date or glob is reported with its line
//! and column; evaluation (in [`evaluate`]) turns an inventory and its advisory matches into
//! findings.

pub mod base;
pub mod baseline;
pub mod evaluate;
pub mod finding;
pub mod rule;
pub mod upgrade;

use crate::advisory::severity::Level as Severity;
use crate::inventory::PackageKind;
use crate::inventory::coverage::Source;
use finding::Level;
use globset::{Glob, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The built-in policies, also shipped as files in `policies/`.
pub const DEFAULT: &str = include_str!("../../policies/default.toml");
pub const PRODUCTION: &str = include_str!("../../policies/production.toml");
pub const AUDIT: &str = include_str!("../../policies/audit.toml");

/// The file a project keeps its policy in, found in the current directory.
pub const PROJECT_FILE: &str = "imagegate.toml";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{origin}:{line}:{column}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Which vulnerabilities fail the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Vulnerabilities never fail the gate.
    Never,
    AtLeast(Severity),
}

impl FailOn {
    /// `none`, or a severity: `critical`, `high`, `medium` (`moderate`), `low`.
    pub fn parse(text: &str) -> Option<FailOn> {
        if text.trim().eq_ignore_ascii_case("none") {
            return Some(FailOn::Never);
        }
        Severity::from_label(text)
            .filter(|l| *l != Severity::None)
            .map(FailOn::AtLeast)
    }
}

#[derive(Clone, Debug)]
pub struct Ignore {
    /// Any id of the vulnerability (an alias works), or an `IG…` rule.
    pub id: String,
    /// `npm:lodash`, `apk:busybox`, or a name in any ecosystem.
    pub package: Option<PackageScope>,
    pub path: Option<(String, GlobMatcher)>,
    pub reason: String,
    pub expires: Option<jiff::civil::Date>,
    /// Where the entry starts in the policy file.
    pub line: usize,
}

#[derive(Clone, Debug)]
pub struct VulnerabilityPolicy {
    pub fail_on: FailOn,
    /// The lowest severity shown; `None` shows everything, severity "none" included.
    pub report_from: Option<Severity>,
    /// Advisories without a fixed version are shown but do not fail.
    pub only_fixable: bool,
    /// How a finding with no known severity is weighed.
    pub unknown_severity: Severity,
    /// Seconds; an older database is a finding (IG011).
    pub max_db_age: Option<i64>,
    pub ignores: Vec<Ignore>,
    /// `fail_in = "app"`: only the app's findings fail at `fail_on`; `"all"` (the default):
    /// base findings too.
    pub fail_in: FailIn,
    /// The threshold for findings in the base image's layers; `None`: `fail_on` with
    /// `fail_in = "all"`, never with `fail_in = "app"`.
    pub base_fail_on: Option<FailOn>,
    /// `vex = ["path", …]`: VEX documents applied to every run (relative paths from the
    /// policy file's directory), read when the gate opens.
    pub vex: Vec<VexFile>,
}

/// A `[vulnerabilities] vex` entry: the resolved path, and where the entry is in the policy
/// (a document that does not parse is reported there).
#[derive(Clone, Debug)]
pub struct VexFile {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
}

/// `[vulnerabilities] fail_in`: whose findings `fail_on` fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FailIn {
    App,
    #[default]
    All,
}

impl VulnerabilityPolicy {
    /// The threshold that applies to a finding in the base (`true`) or the app.
    pub fn threshold(&self, in_base: bool) -> FailOn {
        if !in_base {
            return self.fail_on;
        }
        match (self.base_fail_on, self.fail_in) {
            (Some(t), _) => t,
            (None, FailIn::All) => self.fail_on,
            (None, FailIn::App) => FailOn::Never,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ImagePolicy {
    pub max_size: Option<u64>,
    pub max_compressed_size: Option<u64>,
    pub require_non_root: bool,
    pub require_healthcheck: bool,
    pub max_layers: Option<usize>,
    pub required_labels: Vec<String>,
    /// An OS release past its end of support (no more security fixes) fails.
    pub deny_eol_os: bool,
    /// Dive's CI rules: the least efficiency (a ratio, as dive computes it), the most wasted
    /// bytes, the most wasted bytes over what the layers above the first add (a ratio).
    pub lowest_efficiency: Option<f64>,
    pub highest_wasted_bytes: Option<u64>,
    pub highest_user_wasted_ratio: Option<f64>,
    /// The most the image may grow since `--baseline`.
    pub max_growth: Option<Growth>,
}

/// `max_growth`: a share of the baseline's size (`"10%"`) or bytes (`"20MB"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Growth {
    Ratio(f64),
    Bytes(u64),
}

/// A `[packages] deny` entry: `apk:gcc`, `npm:left-*`, or a bare name glob for every kind.
#[derive(Clone, Debug)]
pub struct PackageRule {
    pub text: String,
    pub kind: Option<PackageKind>,
    pub name: GlobMatcher,
}

/// An ignore entry's `package`: `npm:lodash` (that kind only) or `lodash` (any kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageScope {
    pub kind: Option<PackageKind>,
    pub name: String,
}

impl PackageScope {
    pub fn parse(text: &str) -> PackageScope {
        match text
            .split_once(':')
            .and_then(|(k, n)| Some((PackageKind::parse(k)?, n)))
        {
            Some((kind, name)) => PackageScope {
                kind: Some(kind),
                name: name.to_string(),
            },
            None => PackageScope {
                kind: None,
                name: text.to_string(),
            },
        }
    }

    pub fn covers(&self, package: &crate::inventory::PackageRef) -> bool {
        self.kind.is_none_or(|k| k == package.kind) && self.name == package.name
    }
}

/// Where a policy came from: reports point at the file, or name the built-in preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySource {
    File(PathBuf),
    /// A built-in preset, by name (`default`).
    BuiltIn(&'static str),
}

impl PolicySource {
    pub fn file(&self) -> Option<&Path> {
        match self {
            PolicySource::File(p) => Some(p),
            PolicySource::BuiltIn(_) => None,
        }
    }
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::File(p) => write!(f, "{}", p.display()),
            PolicySource::BuiltIn(name) => write!(f, "built-in {name} policy"),
        }
    }
}

/// `[files] deny`: the globs as written, matched all at once (one `GlobSet`: a basename or
/// extension glob such as `**/.env` is a hash lookup, not a regex run per file per glob; an
/// image holds tens of thousands of files).
#[derive(Clone, Debug, Default)]
pub struct FileRules {
    globs: Vec<String>,
    set: GlobSet,
}

impl FileRules {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.globs.len()
    }

    /// The first glob (in the policy's order) that `path` matches.
    #[must_use]
    pub fn first_match(&self, path: &str) -> Option<&str> {
        if self.globs.is_empty() {
            return None;
        }
        let first = self.set.matches(path).into_iter().min()?;
        self.globs.get(first).map(String::as_str)
    }
}

#[derive(Clone, Debug)]
pub struct Policy {
    pub source: PolicySource,
    /// Settings the command line changed for this run (`fail_on from --fail-on`).
    pub overrides: Vec<&'static str>,
    pub vulnerabilities: VulnerabilityPolicy,
    pub image: ImagePolicy,
    pub deny_packages: Vec<PackageRule>,
    pub deny_dev_dependencies: bool,
    pub deny_files: FileRules,
    /// Images the pre-push hook scans (`[hook] images`).
    pub hook_images: Vec<String>,
    pub coverage: CoveragePolicy,
}

/// `[coverage]`: how a package source that was not checked gates (`not_checked`), with
/// per-source overrides (`[coverage.sources] rpm = "info"`).
#[derive(Clone, Debug)]
pub struct CoveragePolicy {
    pub not_checked: Level,
    pub sources: BTreeMap<Source, Level>,
}

impl Default for CoveragePolicy {
    fn default() -> Self {
        CoveragePolicy {
            not_checked: Level::Warn,
            sources: BTreeMap::new(),
        }
    }
}

impl CoveragePolicy {
    pub fn level(&self, source: Source) -> Level {
        self.sources.get(&source).copied().unwrap_or(self.not_checked)
    }
}

// The file as written, with positions.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    vulnerabilities: RawVulnerabilities,
    #[serde(default)]
    image: RawImage,
    #[serde(default)]
    packages: RawPackages,
    #[serde(default)]
    files: RawFiles,
    #[serde(default)]
    hook: RawHook,
    #[serde(default)]
    coverage: RawCoverage,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVulnerabilities {
    fail_on: Option<Spanned<String>>,
    report_from: Option<Spanned<String>>,
    only_fixable: Option<bool>,
    unknown_severity: Option<Spanned<String>>,
    max_db_age: Option<Spanned<String>>,
    fail_in: Option<Spanned<String>>,
    base_fail_on: Option<Spanned<String>>,
    #[serde(default)]
    allow_permanent_ignores: bool,
    #[serde(default)]
    ignore: Vec<Spanned<RawIgnore>>,
    #[serde(default)]
    vex: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIgnore {
    id: Spanned<String>,
    package: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawImage {
    max_size: Option<Spanned<toml::Value>>,
    max_compressed_size: Option<Spanned<toml::Value>>,
    require_non_root: Option<bool>,
    require_healthcheck: Option<bool>,
    max_layers: Option<Spanned<i64>>,
    #[serde(default)]
    required_labels: Vec<String>,
    deny_eol_os: Option<bool>,
    lowest_efficiency: Option<Spanned<toml::Value>>,
    highest_wasted_bytes: Option<Spanned<toml::Value>>,
    highest_user_wasted_percent: Option<Spanned<toml::Value>>,
    max_growth: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPackages {
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    #[serde(default)]
    deny_dev_dependencies: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFiles {
    #[serde(default)]
    deny: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCoverage {
    not_checked: Option<Spanned<String>>,
    #[serde(default)]
    sources: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHook {
    #[serde(default)]
    images: Vec<String>,
}

/// 1-based line and column of a byte offset.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Parser<'a> {
    source: &'a PolicySource,
    text: &'a str,
}

impl Parser<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> PolicyError {
        let (line, column) = position(self.text, offset);
        PolicyError::Invalid {
            origin: self.source.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> PolicyError {
        self.error(s.span().start, message)
    }

    fn level(&self, s: &Spanned<String>, key: &str) -> Result<Level, PolicyError> {
        match s.get_ref().to_ascii_lowercase().as_str() {
            "fail" => Ok(Level::Fail),
            "warn" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            other => Err(self.at(s, format!("{key}: `{other}`: expected fail, warn or info"))),
        }
    }

    fn coverage(&self, raw: &RawCoverage) -> Result<CoveragePolicy, PolicyError> {
        let mut policy = CoveragePolicy::default();
        if let Some(l) = &raw.not_checked {
            policy.not_checked = self.level(l, "coverage.not_checked")?;
        }
        for (name, level) in &raw.sources {
            let Some(source) = Source::parse(name.get_ref()) else {
                let known: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
                return Err(self.at(
                    name,
                    format!(
                        "coverage.sources: unknown source `{}`; expected one of {}",
                        name.get_ref(),
                        known.join(", ")
                    ),
                ));
            };
            policy.sources.insert(source, self.level(level, "coverage.sources")?);
        }
        Ok(policy)
    }

    fn severity(&self, s: &Spanned<String>, key: &str, extra: &[&str]) -> Result<Option<Severity>, PolicyError> {
        match s.get_ref().to_ascii_lowercase().as_str() {
            "critical" => Ok(Some(Severity::Critical)),
            "high" => Ok(Some(Severity::High)),
            "medium" => Ok(Some(Severity::Medium)),
            "low" => Ok(Some(Severity::Low)),
            other if extra.contains(&other) => Ok(None),
            other => {
                let mut allowed = vec!["critical", "high", "medium", "low"];
                allowed.extend_from_slice(extra);
                Err(self.at(
                    s,
                    format!("{key} = \"{other}\": expected one of {}", allowed.join(", ")),
                ))
            }
        }
    }

    fn size(&self, s: &Spanned<toml::Value>, key: &str) -> Result<u64, PolicyError> {
        let parsed = match s.get_ref() {
            toml::Value::Integer(n) if *n >= 0 => Some(*n as u64),
            toml::Value::String(text) => parse_size(text),
            _ => None,
        };
        let shown = match s.get_ref() {
            toml::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        parsed.ok_or_else(|| {
            self.at(
                s,
                format!("{key}: `{shown}` is not a size; write e.g. \"500MB\", \"1.5GB\" or \"200MiB\""),
            )
        })
    }

    /// A ratio in 0..=1, written `0.95` (as dive's rules) or `"95%"`.
    fn ratio(&self, s: &Spanned<toml::Value>, key: &str) -> Result<f64, PolicyError> {
        let parsed = match s.get_ref() {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(n) => Some(*n as f64),
            toml::Value::String(t) => parse_percent(t),
            _ => None,
        };
        match parsed {
            Some(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(self.at(
                s,
                format!("{key}: expected a ratio from 0 to 1 (`0.95`) or a percentage (`\"95%\"`)"),
            )),
        }
    }

    fn growth(&self, s: &Spanned<toml::Value>) -> Result<Growth, PolicyError> {
        if let toml::Value::String(t) = s.get_ref()
            && t.trim_end().ends_with('%')
        {
            return match parse_percent(t) {
                Some(r) if r >= 0.0 => Ok(Growth::Ratio(r)),
                _ => Err(self.at(
                    s,
                    "max_growth: expected a percentage (`\"10%\"`) or a size (`\"20MB\"`)",
                )),
            };
        }
        self.size(s, "max_growth").map(Growth::Bytes)
    }

    fn glob(&self, s: &Spanned<String>, key: &str) -> Result<GlobMatcher, PolicyError> {
        self.glob_of(s, key).map(|g| g.compile_matcher())
    }

    fn glob_of(&self, s: &Spanned<String>, key: &str) -> Result<Glob, PolicyError> {
        Glob::new(s.get_ref()).map_err(|e| self.at(s, format!("{key}: bad glob `{}`: {}", s.get_ref(), e.kind())))
    }

    fn date(&self, s: &Spanned<toml::Value>) -> Result<jiff::civil::Date, PolicyError> {
        let text = match s.get_ref() {
            toml::Value::String(t) => t.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        text.parse::<jiff::civil::Date>().map_err(|_| {
            self.at(
                s,
                format!("expires: `{text}` is not a date; write YYYY-MM-DD, e.g. \"2027-01-31\""),
            )
        })
    }

    fn parse(&self) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.error(offset, e.message().trim().to_string())
        })?;
        let v = raw.vulnerabilities;
        let fail_on = match &v.fail_on {
            Some(s) => match self.severity(s, "fail_on", &["none"])? {
                Some(level) => FailOn::AtLeast(level),
                None => FailOn::Never,
            },
            None => FailOn::AtLeast(Severity::High),
        };
        let report_from = match &v.report_from {
            Some(s) => self.severity(s, "report_from", &["all"])?,
            None => Some(Severity::Low),
        };
        let unknown_severity = match &v.unknown_severity {
            Some(s) => self.severity(s, "unknown_severity", &[])?.unwrap_or(Severity::Medium),
            None => Severity::Medium,
        };
        let max_db_age = match &v.max_db_age {
            Some(s) => Some(parse_duration(s.get_ref()).ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "max_db_age: `{}` is not a duration; write e.g. \"3d\", \"12h\" or \"1w\"",
                        s.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let fail_in = match &v.fail_in {
            Some(s) => match s.get_ref().to_ascii_lowercase().as_str() {
                "app" => FailIn::App,
                "all" => FailIn::All,
                other => return Err(self.at(s, format!("fail_in = \"{other}\": expected app or all"))),
            },
            None => FailIn::All,
        };
        let base_fail_on = match &v.base_fail_on {
            Some(s) => Some(match self.severity(s, "base_fail_on", &["none"])? {
                Some(level) => FailOn::AtLeast(level),
                None => FailOn::Never,
            }),
            None => None,
        };
        let mut ignores = Vec::new();
        for entry in &v.ignore {
            let start = entry.span().start;
            let e = entry.get_ref();
            let reason = match &e.reason {
                Some(r) if !r.get_ref().trim().is_empty() => r.get_ref().clone(),
                _ => return Err(self.error(start, format!("ignore `{}`: `reason` is required", e.id.get_ref()))),
            };
            let expires = match &e.expires {
                Some(d) => Some(self.date(d)?),
                None if v.allow_permanent_ignores => None,
                None => {
                    return Err(self.error(
                        start,
                        format!(
                            "ignore `{}`: `expires` is required (a date); set `allow_permanent_ignores = true` in [vulnerabilities] to allow ignores that never expire",
                            e.id.get_ref()
                        ),
                    ));
                }
            };
            if e.id.get_ref().trim().is_empty() {
                return Err(self.at(&e.id, "ignore: `id` is empty"));
            }
            let path = match &e.path {
                Some(p) => Some((p.get_ref().clone(), self.glob(p, "ignore path")?)),
                None => None,
            };
            ignores.push(Ignore {
                id: e.id.get_ref().trim().to_string(),
                package: e.package.as_ref().map(|p| PackageScope::parse(p.get_ref())),
                path,
                reason,
                expires,
                line: position(self.text, start).0,
            });
        }
        let mut vex = Vec::new();
        for entry in &v.vex {
            let text = entry.get_ref().trim();
            if text.is_empty() {
                return Err(self.at(entry, "vex: a path is empty"));
            }
            let path = Path::new(text);
            // Relative to the policy file, so a policy and its VEX documents move together.
            let path = match self.source.file().and_then(Path::parent) {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.to_path_buf(),
            };
            let (line, column) = position(self.text, entry.span().start);
            vex.push(VexFile { path, line, column });
        }
        let i = raw.image;
        let max_layers = match &i.max_layers {
            Some(n) if *n.get_ref() < 1 => return Err(self.at(n, "max_layers must be at least 1")),
            Some(n) => Some(*n.get_ref() as usize),
            None => None,
        };
        let mut deny_packages = Vec::new();
        for d in &raw.packages.deny {
            let (kind, name) = match d.get_ref().split_once(':') {
                Some((k, n)) if PackageKind::parse(k).is_some() => (PackageKind::parse(k), n),
                Some((other, _)) => {
                    return Err(self.at(
                        d,
                        format!("packages.deny: unknown ecosystem `{other}`; use apk:NAME or npm:NAME"),
                    ));
                }
                None => (None, d.get_ref().as_str()),
            };
            let name = Glob::new(name)
                .map(|g| g.compile_matcher())
                .map_err(|e| self.at(d, format!("packages.deny: bad glob `{name}`: {}", e.kind())))?;
            deny_packages.push(PackageRule {
                text: d.get_ref().clone(),
                kind,
                name,
            });
        }
        let mut globs = Vec::new();
        let mut set = GlobSetBuilder::new();
        for f in &raw.files.deny {
            set.add(self.glob_of(f, "files.deny")?);
            globs.push(f.get_ref().clone());
        }
        // Each glob compiled alone above; together they can only be too big a program.
        let set = set
            .build()
            .map_err(|e| self.error(0, format!("files.deny: {}", e.kind())))?;
        let deny_files = FileRules { globs, set };
        Ok(Policy {
            source: self.source.clone(),
            overrides: Vec::new(),
            vulnerabilities: VulnerabilityPolicy {
                fail_on,
                report_from,
                only_fixable: v.only_fixable.unwrap_or(true),
                unknown_severity,
                max_db_age,
                ignores,
                fail_in,
                base_fail_on,
                vex,
            },
            image: ImagePolicy {
                max_size: i.max_size.as_ref().map(|s| self.size(s, "max_size")).transpose()?,
                max_compressed_size: i
                    .max_compressed_size
                    .as_ref()
                    .map(|s| self.size(s, "max_compressed_size"))
                    .transpose()?,
                require_non_root: i.require_non_root.unwrap_or(false),
                require_healthcheck: i.require_healthcheck.unwrap_or(false),
                max_layers,
                required_labels: i.required_labels,
                deny_eol_os: i.deny_eol_os.unwrap_or(false),
                lowest_efficiency: i
                    .lowest_efficiency
                    .as_ref()
                    .map(|s| self.ratio(s, "lowest_efficiency"))
                    .transpose()?,
                highest_wasted_bytes: i
                    .highest_wasted_bytes
                    .as_ref()
                    .map(|s| self.size(s, "highest_wasted_bytes"))
                    .transpose()?,
                highest_user_wasted_ratio: i
                    .highest_user_wasted_percent
                    .as_ref()
                    .map(|s| self.ratio(s, "highest_user_wasted_percent"))
                    .transpose()?,
                max_growth: i.max_growth.as_ref().map(|s| self.growth(s)).transpose()?,
            },
            deny_packages,
            deny_dev_dependencies: raw.packages.deny_dev_dependencies,
            deny_files,
            hook_images: raw.hook.images,
            coverage: self.coverage(&raw.coverage)?,
        })
    }
}

impl Policy {
    /// Parses policy text; `source` names it in errors and reports.
    pub fn parse(text: &str, source: PolicySource) -> Result<Policy, PolicyError> {
        Parser { source: &source, text }.parse()
    }

    /// Where the policy came from and what the command line changed, as reports say it:
    /// `policies/production.toml (fail_on from --fail-on)`.
    pub fn describe(&self) -> String {
        if self.overrides.is_empty() {
            self.source.to_string()
        } else {
            format!("{} ({})", self.source, self.overrides.join(", "))
        }
    }

    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Policy::parse(&text, PolicySource::File(path.to_path_buf()))
    }

    /// `--policy`, else `imagegate.toml` in `dir`, else the built-in default.
    pub fn discover(flag: Option<&Path>, dir: &Path) -> Result<Policy, PolicyError> {
        if let Some(p) = flag {
            return Policy::load(p);
        }
        let project = dir.join(PROJECT_FILE);
        if project.is_file() {
            return Policy::load(&project);
        }
        Policy::parse(DEFAULT, PolicySource::BuiltIn("default"))
    }

    pub fn preset(name: &str) -> Option<&'static str> {
        match name {
            "default" => Some(DEFAULT),
            "production" => Some(PRODUCTION),
            "audit" => Some(AUDIT),
            _ => None,
        }
    }
}

/// `500MB` (decimal), `200MiB` (binary), `1.5GB`, `123` bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = number * factor;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes.round() as u64)
}

/// `"10%"` → 0.10.
fn parse_percent(text: &str) -> Option<f64> {
    let n: f64 = text.trim().strip_suffix('%')?.trim().parse().ok()?;
    n.is_finite().then_some(n / 100.0)
}

/// `3d`, `12h`, `30m`, `1w` → seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let unit_secs = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(unit_secs)
}

impl Policy {
    /// The checks this policy runs on an image (on an SBOM, those about image facts are not
    /// run), for reports that list passed checks (JUnit). A check the policy leaves off (no
    /// size limit, no denied files) is not listed.
    pub fn checks(&self) -> Vec<rule::Check> {
        use rule::Check;
        let img = &self.image;
        let ignores = !self.vulnerabilities.ignores.is_empty();
        [
            (Check::RunsAsRoot, img.require_non_root),
            (Check::UnknownUser, img.require_non_root),
            (Check::NoHealthcheck, img.require_healthcheck),
            (Check::ImageTooLarge, img.max_size.is_some()),
            (Check::CompressedImageTooLarge, img.max_compressed_size.is_some()),
            (Check::TooManyLayers, img.max_layers.is_some()),
            (Check::MissingLabel, !img.required_labels.is_empty()),
            (Check::OsEndOfLife, img.deny_eol_os),
            (Check::DeniedPackage, !self.deny_packages.is_empty()),
            (Check::DevDependency, self.deny_dev_dependencies),
            (Check::DeniedFile, !self.deny_files.is_empty()),
            (Check::StaleAdvisoryDb, self.vulnerabilities.max_db_age.is_some()),
            (Check::IgnoreExpired, ignores),
            (Check::IgnoreStale, ignores),
            (Check::IgnoreUnknownId, ignores),
            (Check::PackagesNotChecked, true),
            (Check::SourceNotChecked, true),
        ]
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(c, _)| c)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_parse() {
        for (name, text) in [("default", DEFAULT), ("production", PRODUCTION), ("audit", AUDIT)] {
            Policy::parse(text, PolicySource::BuiltIn(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let p = Policy::parse(PRODUCTION, PolicySource::BuiltIn("production")).unwrap();
        assert_eq!(p.image.max_size, Some(500_000_000));
        assert!(p.image.require_non_root && p.image.require_healthcheck && p.deny_dev_dependencies);
        assert_eq!(p.vulnerabilities.max_db_age, Some(3 * 86_400));
        assert_eq!(p.vulnerabilities.fail_on, FailOn::AtLeast(Severity::High));
    }

    #[test]
    fn a_denied_file_is_named_by_the_first_glob_in_the_policys_order() {
        let p = parsed("[files]\ndeny = [\"**/*.pem\", \"app/**\", \"**/.env\", \"**/id_rsa\"]\n");
        assert_eq!(p.deny_files.len(), 4);
        assert_eq!(p.deny_files.first_match("srv/.env"), Some("**/.env"));
        assert_eq!(p.deny_files.first_match(".env"), Some("**/.env"));
        assert_eq!(
            p.deny_files.first_match("app/.env"),
            Some("app/**"),
            "app/** comes first"
        );
        assert_eq!(p.deny_files.first_match("app/key.pem"), Some("**/*.pem"));
        assert_eq!(p.deny_files.first_match("home/u/.ssh/id_rsa"), Some("**/id_rsa"));
        assert_eq!(p.deny_files.first_match("home/u/.ssh/id_rsa.pub"), None);
        assert_eq!(p.deny_files.first_match("srv/.envrc"), None);
        let none = parsed("");
        assert!(none.deny_files.is_empty() && none.deny_files.first_match("a/.env").is_none());
    }

    /// `text` as a policy file, which must be valid.
    fn parsed(text: &str) -> Policy {
        Policy::parse(text, PolicySource::File("p.toml".into())).unwrap()
    }

    fn error_of(text: &str) -> (usize, usize, String) {
        match Policy::parse(text, PolicySource::File("p.toml".into())) {
            Err(PolicyError::Invalid {
                line, column, message, ..
            }) => (line, column, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn errors_carry_line_and_column() {
        let (line, col, msg) = error_of("[image]\nmax_size = \"500XB\"\n");
        assert_eq!((line, col), (2, 12));
        assert!(msg.contains("not a size"), "{msg}");
        let (line, _, msg) = error_of("[image]\nrequire_non_rot = true\n");
        assert_eq!(line, 2);
        assert!(msg.contains("require_non_rot"), "{msg}");
        let (line, col, msg) = error_of("[files]\ndeny = [\"ok\", \"a/[b\"]\n");
        assert_eq!((line, col), (2, 15));
        assert!(msg.contains("bad glob"), "{msg}");
        let (line, _, msg) = error_of(
            "[vulnerabilities]\n\n[[vulnerabilities.ignore]]\nid = \"CVE-1\"\nreason = \"x\"\nexpires = \"2027-02-30\"\n",
        );
        assert_eq!(line, 6);
        assert!(msg.contains("not a date"), "{msg}");
        let (line, _, msg) =
            error_of("[vulnerabilities]\n[[vulnerabilities.ignore]]\nid = \"CVE-1\"\nexpires = 2027-01-01\n");
        assert!(msg.contains("reason"), "{msg}");
        assert!(line >= 2, "{line}");
        let (_, _, msg) = error_of("[[vulnerabilities.ignore]]\nid = \"CVE-1\"\nreason = \"r\"\n");
        assert!(msg.contains("expires"), "{msg}");
        let (_, _, msg) = error_of("[vulnerabilities]\nfail_on = \"severe\"\n");
        assert!(msg.contains("expected one of"), "{msg}");
        let (line, _, _) = error_of("[image\n");
        assert_eq!(line, 1);
    }

    #[test]
    fn ignores_accept_toml_dates_and_permanent_when_allowed() {
        let p = Policy::parse(
            "[vulnerabilities]\nallow_permanent_ignores = true\n[[vulnerabilities.ignore]]\nid = \"A\"\nreason = \"r\"\n\n[[vulnerabilities.ignore]]\nid = \"B\"\nreason = \"r\"\nexpires = 2027-01-31\n",
            PolicySource::File("p".into()),
        )
        .unwrap();
        let ig = &p.vulnerabilities.ignores;
        assert_eq!((ig[0].expires, ig[0].line), (None, 3));
        assert_eq!(ig[1].expires, Some(jiff::civil::date(2027, 1, 31)));
        assert_eq!(ig[1].line, 7);
    }

    #[test]
    fn dive_style_size_rules_parse_and_bad_values_point_at_their_line() {
        let p = parsed(
            "[image]\nlowest_efficiency = 0.95\nhighest_wasted_bytes = \"20MB\"\nhighest_user_wasted_percent = \"10%\"\nmax_growth = \"10%\"\n",
        );
        assert_eq!(p.image.lowest_efficiency, Some(0.95));
        assert_eq!(p.image.highest_wasted_bytes, Some(20_000_000));
        assert_eq!(p.image.highest_user_wasted_ratio, Some(0.10));
        assert_eq!(p.image.max_growth, Some(Growth::Ratio(0.10)));
        let p = parsed("[image]\nmax_growth = \"25MB\"\n");
        assert_eq!(p.image.max_growth, Some(Growth::Bytes(25_000_000)));
        let (line, _, msg) = error_of("[image]\nrequire_non_root = true\nlowest_efficiency = 95\n");
        assert_eq!(line, 3);
        assert!(msg.contains("ratio from 0 to 1"), "{msg}");
        let (line, _, msg) = error_of("[image]\nmax_growth = \"ten%\"\n");
        assert_eq!(line, 2);
        assert!(msg.contains("max_growth"), "{msg}");
        let (_, _, msg) = error_of("[image]\nhighest_wasted_bytes = \"lots\"\n");
        assert!(msg.contains("not a size"), "{msg}");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("500MB"), Some(500_000_000));
        assert_eq!(parse_size("1.5 GB"), Some(1_500_000_000));
        assert_eq!(parse_size("200MiB"), Some(200 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("5XB"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_duration("3d"), Some(259_200));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("3y"), None);
    }
}
