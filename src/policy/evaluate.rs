//! Turns an inventory, its advisory matches and the database's age into findings, under a
//! policy. Everything the gate concludes comes from here, so every decision is in one place;
//! [`crate::gate`] runs the steps before it.

use super::finding::{Evidence, Finding, Level, Verdict};
use super::rule::{Check, RuleId};
use super::{FailOn, Ignore, Policy};
use crate::advisory::scan::{NoteKind, ScanResult, Vulnerability};
use crate::inventory::coverage::Status;
use crate::inventory::eol::Phase;
use crate::inventory::{Inventory, LayerRef, PackageKind, PackageRef};
use crate::units::human_size;

/// What the evaluation needs besides the policy.
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub scan: &'a ScanResult,
    /// When the advisory database was built (unix seconds); `None` with `--online`.
    pub db_built_at: Option<i64>,
    pub now: jiff::Timestamp,
    /// Whether the advisory source knows an id (for ignores naming an unknown id).
    pub known_id: &'a dyn Fn(&str) -> bool,
    /// Which layers are the base image's ([`super::base::detect`]); `None`: all the app's.
    pub base: Option<&'a super::base::BaseImage>,
}

/// The findings and the verdict they add up to.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Vulnerabilities below `report_from`, counted but not listed.
    pub hidden: usize,
    pub verdict: Verdict,
}

pub fn evaluate(policy: &Policy, ctx: &Context<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut hidden = 0;
    for v in &ctx.scan.vulnerabilities {
        match vulnerability_finding(policy, v, ctx.base) {
            Some(f) => findings.push(f),
            None => hidden += 1,
        }
    }
    for note in &ctx.scan.notes {
        let rule = match note.kind {
            NoteKind::Unevaluated => Check::AdvisoryNotEvaluated,
        };
        findings.push(check(rule, Level::Warn, note.message.clone(), Evidence::default()));
    }
    coverage_checks(policy, ctx.scan, &mut findings);
    // An inventory read from an SBOM has no image facts: their checks are not run, and the
    // coverage finding above says so (never a silent pass, never a made-up root user).
    let no_image_facts = ctx
        .inventory
        .coverage
        .iter()
        .any(|c| c.source == crate::inventory::coverage::Source::ImageFacts && c.status == Status::NotChecked);
    if !no_image_facts {
        image_checks(policy, ctx, &mut findings);
    }
    package_checks(policy, ctx.inventory, &mut findings);
    if !no_image_facts {
        file_checks(policy, ctx.inventory, &mut findings);
    }
    if let (Some(max), Some(built)) = (policy.vulnerabilities.max_db_age, ctx.db_built_at) {
        let age = ctx.now.as_second() - built;
        if age > max {
            findings.push(check(
                Check::StaleAdvisoryDb,
                Level::Fail,
                format!(
                    "the advisory database is {} old; the policy allows {}",
                    days(age),
                    days(max)
                ),
                Evidence {
                    value: Some(days(age)),
                    limit: Some(days(max)),
                    ..Evidence::default()
                },
            ));
        }
    }
    apply_ignores(policy, ctx, &mut findings);
    // Worst first: by gate level, then by the vulnerability's severity, then by rule id.
    findings.sort_by(|a, b| {
        b.level.cmp(&a.level).then_with(|| {
            fn severity(f: &Finding) -> Option<&crate::advisory::severity::Severity> {
                f.vulnerability.as_ref().map(|v| &v.severity)
            }
            match (severity(a), severity(b)) {
                (Some(sa), Some(sb)) => sb.cmp_worse(sa),
                (sa, sb) => sb.is_some().cmp(&sa.is_some()),
            }
            .then_with(|| a.rule.cmp(&b.rule))
        })
    });
    let verdict = Verdict::of(&findings);
    Outcome {
        findings,
        hidden,
        verdict,
    }
}

fn days(secs: i64) -> String {
    let d = secs as f64 / 86_400.0;
    if d >= 1.0 {
        format!("{d:.1} days")
    } else {
        format!("{:.1} hours", secs as f64 / 3600.0)
    }
}

fn check(rule: Check, level: Level, message: String, evidence: Evidence) -> Finding {
    Finding {
        rule: RuleId::Check(rule),
        level,
        title: rule.info().title.into(),
        message,
        evidence,
        vulnerability: None,
        ignored: None,
        origin: None,
        baseline: None,
    }
}

fn layer_evidence(layer: &LayerRef) -> Evidence {
    Evidence {
        layer: Some(layer.index),
        layer_digest: Some(layer.digest.to_string()),
        created_by: layer.created_by.clone(),
        ..Evidence::default()
    }
}

/// A vulnerability's finding, or `None` when it is below `report_from`.
fn vulnerability_finding(policy: &Policy, v: &Vulnerability, base: Option<&super::base::BaseImage>) -> Option<Finding> {
    let p = &policy.vulnerabilities;
    let severity = v.severity.level.unwrap_or(p.unknown_severity);
    let origin = base.map(|b| b.origin(v.layer.index));
    let in_base = origin.is_some_and(|o| o.part == super::base::Part::Base);
    let threshold = p.threshold(in_base);
    let fails = match threshold {
        FailOn::Never => false,
        // Malware has no fix; it fails whatever `only_fixable` says.
        FailOn::AtLeast(min) => (v.malicious || severity >= min) && (v.malicious || v.is_fixable() || !p.only_fixable),
    };
    if !fails && p.report_from.is_some_and(|min| severity < min) {
        return None;
    }
    let pkg = v.package.package_ref();
    let fix = if v.fixed.is_empty() {
        "no fixed version yet".to_string()
    } else {
        format!("fixed in {}", v.fixed.join(", "))
    };
    // A copy vendored inside another package is fixed by that package's upgrade: say so.
    let fix = match &v.remediation {
        Some(r) if v.package.kind == crate::inventory::PackageKind::Npm => format!("{fix}; {r}"),
        _ => fix,
    };
    let why = match (fails, threshold) {
        (true, _) if in_base => "fails the policy (in the base image)".to_string(),
        (true, _) => "fails the policy".to_string(),
        (false, FailOn::Never) if in_base => {
            "shown, does not fail: in the base image, and the policy fails on the app's findings only".to_string()
        }
        (false, FailOn::AtLeast(min)) if severity >= min && !v.is_fixable() => {
            "shown, does not fail: no fix yet and the policy fails on fixable ones only".to_string()
        }
        (false, FailOn::AtLeast(min)) if in_base => {
            format!("shown, does not fail: in the base image, below base_fail_on {min}")
        }
        (false, FailOn::AtLeast(min)) => format!("shown, does not fail: below {min}"),
        (false, FailOn::Never) => "shown, does not fail: vulnerabilities never fail this policy".to_string(),
    };
    let title = v
        .summary
        .clone()
        .unwrap_or_else(|| format!("{} in {}", v.id, v.package.name));
    let mut evidence = layer_evidence(&v.layer);
    evidence.package = Some(pkg.clone());
    evidence.path = v.package.paths.first().cloned();
    Some(Finding {
        rule: RuleId::Advisory(v.id.clone()),
        level: if fails { Level::Fail } else { Level::Warn },
        title,
        message: format!("{pkg}: {} {} ({fix}); {why}", v.severity.label(), v.ids.join(" / ")),
        evidence,
        vulnerability: Some(v.clone()),
        ignored: None,
        origin,
        baseline: None,
    })
}

/// A source whose packages were not matched: read but without advisory data (IG016), or
/// recognised but not read (IG018). The policy's `[coverage]` says how each gates.
fn coverage_checks(policy: &Policy, scan: &ScanResult, findings: &mut Vec<Finding>) {
    for c in scan.coverage.iter().filter(|c| c.status == Status::NotChecked) {
        let level = policy.coverage.level(c.source);
        let (rule, message) = if c.packages > 0 {
            (
                Check::PackagesNotChecked,
                c.reason
                    .clone()
                    .unwrap_or_else(|| format!("{} packages were NOT checked", c.source)),
            )
        } else {
            let mut paths = c.paths.join(", ");
            if c.more_paths > 0 {
                paths.push_str(&format!(" and {} more", c.more_paths));
            }
            (
                Check::SourceNotChecked,
                format!(
                    "{}: {}; NOT checked: {paths}",
                    c.source,
                    c.reason.as_deref().unwrap_or("not read")
                ),
            )
        };
        findings.push(check(
            rule,
            level,
            message,
            Evidence {
                value: Some(c.source.to_string()),
                path: c.paths.first().cloned(),
                details: c.paths.clone(),
                ..Evidence::default()
            },
        ));
    }
}

fn image_checks(policy: &Policy, ctx: &Context<'_>, findings: &mut Vec<Finding>) {
    let inv = ctx.inventory;
    let img = &inv.image;
    let rules = &policy.image;
    if rules.require_non_root {
        let user = img.user.trim();
        let (name, _group) = user.split_once(':').unwrap_or((user, ""));
        let root_reason = if name.is_empty() {
            Some("no USER is set, so it runs as root".to_string())
        } else if name == "root" || name.parse::<u32>() == Ok(0) {
            Some(format!("USER is `{user}`, which is root"))
        } else if name.parse::<u32>().is_ok() {
            None
        } else {
            match inv.users.iter().find(|u| u.name == name) {
                Some(u) if u.uid == 0 => Some(format!("USER `{name}` has uid 0 in etc/passwd, so it is root")),
                Some(_) => None,
                None => {
                    findings.push(check(
                        Check::UnknownUser,
                        Level::Fail,
                        format!("USER `{name}` is not in etc/passwd: the container would not start"),
                        Evidence {
                            value: Some(user.to_string()),
                            path: Some("etc/passwd".into()),
                            ..Evidence::default()
                        },
                    ));
                    None
                }
            }
        };
        if let Some(reason) = root_reason {
            findings.push(check(
                Check::RunsAsRoot,
                Level::Fail,
                reason,
                Evidence {
                    value: Some(if user.is_empty() {
                        "(empty)".into()
                    } else {
                        user.to_string()
                    }),
                    ..Evidence::default()
                },
            ));
        }
    }
    if rules.require_healthcheck {
        let missing = match &img.healthcheck {
            None => Some("the image has no HEALTHCHECK"),
            Some(h) if h.test.is_empty() => Some("the image's HEALTHCHECK has no test"),
            Some(h) if h.test.first().is_some_and(|t| t == "NONE") => {
                Some("the image's HEALTHCHECK is disabled (NONE)")
            }
            Some(_) => None,
        };
        if let Some(m) = missing {
            findings.push(check(
                Check::NoHealthcheck,
                Level::Fail,
                m.to_string(),
                Evidence::default(),
            ));
        }
    }
    let largest = |compressed: bool| -> Vec<String> {
        let mut layers: Vec<_> = img.layers.iter().collect();
        layers.sort_by_key(|l| {
            std::cmp::Reverse(if compressed {
                l.compressed_size
            } else {
                l.uncompressed_size
            })
        });
        layers
            .iter()
            .take(3)
            .map(|l| {
                let size = if compressed {
                    l.compressed_size
                } else {
                    l.uncompressed_size
                };
                format!(
                    "layer {} {}: {}",
                    l.index,
                    human_size(size),
                    l.created_by.as_deref().unwrap_or("(no history)")
                )
            })
            .collect()
    };
    for (rule, limit, actual, what, compressed) in [
        (
            Check::ImageTooLarge,
            rules.max_size,
            img.uncompressed_size,
            "uncompressed",
            false,
        ),
        (
            Check::CompressedImageTooLarge,
            rules.max_compressed_size,
            img.compressed_size,
            "compressed",
            true,
        ),
    ] {
        if let Some(limit) = limit
            && actual > limit
        {
            findings.push(check(
                rule,
                Level::Fail,
                format!(
                    "the image is {} {what}; the policy allows {}",
                    human_size(actual),
                    human_size(limit)
                ),
                Evidence {
                    value: Some(human_size(actual)),
                    limit: Some(human_size(limit)),
                    details: largest(compressed),
                    ..Evidence::default()
                },
            ));
        }
    }
    if let Some(max) = rules.max_layers
        && img.layer_count > max
    {
        findings.push(check(
            Check::TooManyLayers,
            Level::Fail,
            format!("the image has {} layers; the policy allows {max}", img.layer_count),
            Evidence {
                value: Some(img.layer_count.to_string()),
                limit: Some(max.to_string()),
                ..Evidence::default()
            },
        ));
    }
    if let Some(size) = &inv.size {
        size_checks(rules, size, findings);
    }
    if rules.deny_eol_os
        && let Some(os) = &inv.os
    {
        let today = ctx.now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        if let Some(status) = crate::inventory::eol::eol(os, today) {
            let level = match status.phase {
                Phase::EndOfLife => Some(Level::Fail),
                // Regular support is over; an extended one (Debian LTS) still ships fixes.
                Phase::Extended => Some(Level::Warn),
                Phase::Supported => None,
            };
            if let Some(level) = level {
                let until = |d: Option<jiff::civil::Date>| d.map(|d| d.to_string());
                let message = match (status.phase, status.end_of_support) {
                    (Phase::Extended, _) => format!(
                        "{}: regular security support ended on {}; extended support ends on {}",
                        status.release,
                        until(status.end_of_support).unwrap_or_else(|| "?".into()),
                        until(status.end_of_extended).unwrap_or_else(|| "?".into())
                    ),
                    (_, Some(end)) => format!("{}: security support ended on {end}", status.release),
                    (_, None) => format!("{}: security support has ended", status.release),
                };
                findings.push(check(
                    Check::OsEndOfLife,
                    level,
                    format!("{message} (dates: {})", status.source),
                    Evidence {
                        value: Some(status.release.clone()),
                        limit: until(status.end_of_extended.or(status.end_of_support)),
                        ..Evidence::default()
                    },
                ));
            }
        }
    }
    for label in &rules.required_labels {
        if !img.labels.contains_key(label) {
            findings.push(check(
                Check::MissingLabel,
                Level::Fail,
                format!("the image has no `{label}` label"),
                Evidence {
                    value: Some(label.clone()),
                    ..Evidence::default()
                },
            ));
        }
    }
}

fn package_checks(policy: &Policy, inv: &Inventory, findings: &mut Vec<Finding>) {
    for rule in &policy.deny_packages {
        if rule.kind.is_none_or(|k| k == PackageKind::Apk) {
            for p in inv.apk.iter().filter(|p| rule.name.is_match(p.record.name())) {
                let pkg = PackageRef::new(PackageKind::Apk, p.record.name(), p.record.version());
                let mut evidence = layer_evidence(&p.layer);
                evidence.package = Some(pkg.clone());
                evidence.limit = Some(rule.text.clone());
                findings.push(check(
                    Check::DeniedPackage,
                    Level::Fail,
                    format!("{pkg} is denied by `{}`", rule.text),
                    evidence,
                ));
            }
        }
        if rule.kind.is_none_or(|k| k == PackageKind::Npm) {
            for p in inv.npm.iter().filter(|p| rule.name.is_match(&p.name)) {
                let pkg = PackageRef::new(PackageKind::Npm, &p.name, &p.version);
                let mut evidence = layer_evidence(&p.layer);
                evidence.package = Some(pkg.clone());
                evidence.path = p.paths.first().cloned();
                evidence.limit = Some(rule.text.clone());
                findings.push(check(
                    Check::DeniedPackage,
                    Level::Fail,
                    format!("{pkg} is denied by `{}`", rule.text),
                    evidence,
                ));
            }
        }
    }
    if policy.deny_dev_dependencies {
        for p in inv.npm.iter().filter(|p| p.dev == Some(true)) {
            let pkg = PackageRef::new(PackageKind::Npm, &p.name, &p.version);
            let mut evidence = layer_evidence(&p.layer);
            evidence.package = Some(pkg.clone());
            evidence.path = p.paths.first().cloned();
            evidence.details = p.paths.clone();
            findings.push(check(
                Check::DevDependency,
                Level::Fail,
                format!("{pkg} is a dev dependency (per the lockfile) but is installed in the image"),
                evidence,
            ));
        }
    }
}

fn file_checks(policy: &Policy, inv: &Inventory, findings: &mut Vec<Finding>) {
    if policy.deny_files.is_empty() {
        return;
    }
    for f in &inv.files {
        let Some(glob) = policy.deny_files.first_match(&f.path) else {
            continue;
        };
        let layer = inv.image.layers.get(f.layer);
        findings.push(check(
            Check::DeniedFile,
            Level::Fail,
            format!("`/{}` ({}) matches `{glob}`", f.path, human_size(f.size)),
            Evidence {
                path: Some(f.path.clone()),
                layer: Some(f.layer),
                layer_digest: layer.map(|l| l.digest.to_string()),
                created_by: layer.and_then(|l| l.created_by.clone()),
                limit: Some(glob.to_string()),
                ..Evidence::default()
            },
        ));
    }
}

/// Whether an ignore entry covers a finding: its id is the rule or any alias, and its scopes
/// (package, path) match.
fn covers(ignore: &Ignore, f: &Finding) -> bool {
    let id_matches = f.rule.is(&ignore.id)
        || f.vulnerability
            .as_ref()
            .is_some_and(|v| v.ids.iter().any(|i| i.eq_ignore_ascii_case(&ignore.id)));
    if !id_matches {
        return false;
    }
    if let Some(scope) = &ignore.package {
        // `npm:lodash@4.17.20` matches `npm:lodash` and `lodash`.
        if !f.evidence.package.as_ref().is_some_and(|p| scope.covers(p)) {
            return false;
        }
    }
    if let Some((_, glob)) = &ignore.path {
        let mut paths: Vec<&str> = f.evidence.path.iter().map(String::as_str).collect();
        if let Some(v) = &f.vulnerability {
            paths.extend(v.package.paths.iter().map(String::as_str));
        }
        if !paths.iter().any(|p| glob.is_match(p)) {
            return false;
        }
    }
    true
}

fn apply_ignores(policy: &Policy, ctx: &Context<'_>, findings: &mut Vec<Finding>) {
    let today = ctx.now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let mut meta = Vec::new();
    for ignore in &policy.vulnerabilities.ignores {
        let expired = ignore.expires.is_some_and(|e| e < today);
        let evidence = || Evidence {
            value: Some(ignore.id.clone()),
            policy_line: Some(ignore.line),
            ..Evidence::default()
        };
        let entry = format!("ignore `{}` ({}, line {})", ignore.id, policy.source, ignore.line);
        let mut matched = 0;
        for f in findings
            .iter_mut()
            // Checks about the ignores themselves are never ignored.
            .filter(|f| !f.rule.check().is_some_and(|c| c.info().about_ignores) && covers(ignore, f))
        {
            matched += 1;
            if !expired && f.ignored.is_none() {
                f.level = Level::Info;
                f.ignored = Some(ignore.reason.clone());
                f.message = format!("{} — ignored: {}", f.message, ignore.reason);
            }
        }
        if let Some(expires) = ignore.expires {
            if expired {
                meta.push(check(
                    Check::IgnoreExpired,
                    Level::Warn,
                    format!(
                        "{entry} expired on {expires}; it no longer ignores anything ({} back)",
                        match matched {
                            1 => "1 finding is".to_string(),
                            n => format!("{n} findings are"),
                        }
                    ),
                    evidence(),
                ));
            } else if expires <= today.saturating_add(jiff::Span::new().days(14)) {
                meta.push(check(
                    Check::IgnoreExpiring,
                    Level::Warn,
                    format!("{entry} expires on {expires}"),
                    evidence(),
                ));
            }
        }
        let is_rule = Check::from_id(&ignore.id).is_some();
        if !is_rule && !(ctx.known_id)(&ignore.id) {
            meta.push(check(
                Check::IgnoreUnknownId,
                Level::Warn,
                format!("{entry}: the advisory database does not know `{}`", ignore.id),
                evidence(),
            ));
        } else if matched == 0 {
            meta.push(check(
                Check::IgnoreStale,
                Level::Warn,
                format!("{entry} matched no finding in this image; remove it if it is no longer needed"),
                evidence(),
            ));
        }
    }
    findings.extend(meta);
}

/// The layers that hide the most bytes, for a size finding's evidence.
fn hiding_layers(size: &crate::image::size::ImageSize) -> Vec<String> {
    let mut layers: Vec<_> = size.layers.iter().filter(|l| l.hidden_bytes > 0).collect();
    layers.sort_by_key(|l| std::cmp::Reverse(l.hidden_bytes));
    layers
        .iter()
        .take(3)
        .map(|l| {
            format!(
                "layer {}: {} of its {} hidden by later layers",
                l.index,
                human_size(l.hidden_bytes),
                human_size(l.added_bytes)
            )
        })
        .collect()
}

/// Dive's CI rules, on the figures the merge counted.
fn size_checks(rules: &super::ImagePolicy, size: &crate::image::size::ImageSize, findings: &mut Vec<Finding>) {
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    if let Some(min) = rules.lowest_efficiency
        && size.efficiency < min
    {
        findings.push(check(
            Check::LowEfficiency,
            Level::Fail,
            format!(
                "the image's efficiency is {} (as dive computes it); the policy wants at least {}",
                pct(size.efficiency),
                pct(min)
            ),
            Evidence {
                value: Some(pct(size.efficiency)),
                limit: Some(pct(min)),
                details: hiding_layers(size),
                ..Evidence::default()
            },
        ));
    }
    if let Some(max) = rules.highest_wasted_bytes
        && size.wasted_bytes > max
    {
        findings.push(check(
            Check::TooManyWastedBytes,
            Level::Fail,
            format!(
                "{} wasted on {} files written in more than one layer (as dive counts); the policy allows {}",
                human_size(size.wasted_bytes),
                size.rewritten_paths,
                human_size(max)
            ),
            Evidence {
                value: Some(human_size(size.wasted_bytes)),
                limit: Some(human_size(max)),
                details: hiding_layers(size),
                ..Evidence::default()
            },
        ));
    }
    if let Some(max) = rules.highest_user_wasted_ratio
        && size.user_wasted_ratio > max
    {
        findings.push(check(
            Check::TooManyUserWastedBytes,
            Level::Fail,
            format!(
                "the wasted bytes are {} of what the layers above the first add; the policy allows {}",
                pct(size.user_wasted_ratio),
                pct(max)
            ),
            Evidence {
                value: Some(pct(size.user_wasted_ratio)),
                limit: Some(pct(max)),
                details: hiding_layers(size),
                ..Evidence::default()
            },
        ));
    }
}

/// `max_growth` against the baseline's size (`--baseline`).
pub fn growth_check(policy: &Policy, delta: &crate::image::size::SizeDelta) -> Option<Finding> {
    let max = policy.image.max_growth?;
    let grew = delta.growth_bytes();
    let (over, limit) = match max {
        super::Growth::Bytes(b) => (grew > 0 && grew as u64 > b, human_size(b)),
        super::Growth::Ratio(r) => (
            delta.growth_ratio().is_some_and(|g| g > r),
            format!("{:.1}%", r * 100.0),
        ),
    };
    if !over {
        return None;
    }
    let ratio = delta
        .growth_ratio()
        .map(|g| format!(" ({:+.1}%)", g * 100.0))
        .unwrap_or_default();
    let details = delta
        .layers
        .iter()
        .filter(|l| l.delta_bytes > 0)
        .map(|l| format!("layer {}: +{}", l.index, human_size(l.delta_bytes as u64)))
        .chain(
            delta
                .grown_files
                .iter()
                .take(3)
                .map(|g| format!("/{}: {} → {}", g.path, human_size(g.before), human_size(g.after))),
        )
        .collect();
    Some(check(
        Check::ImageGrewTooMuch,
        Level::Fail,
        format!(
            "the image grew from {} to {}{ratio} since the baseline; the policy allows {limit}",
            human_size(delta.before_bytes),
            human_size(delta.after_bytes),
        ),
        Evidence {
            value: Some(format!("+{}", human_size(grew.max(0) as u64))),
            limit: Some(limit),
            details,
            ..Evidence::default()
        },
    ))
}
