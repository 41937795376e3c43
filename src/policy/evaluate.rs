//! Turns an inventory, its advisory matches and the database's age into findings, under a
//! policy. Everything the gate says comes from here, so every decision is in one place.

use super::finding::{Evidence, Finding, Level, Verdict};
use super::{FailOn, Ignore, PackageEcosystem, Policy};
use crate::advisory::index::IndexError;
use crate::advisory::scan::{Advisories, NoteKind, ScanResult, Vulnerability};
use crate::inventory::{Inventory, LayerRef};
use crate::report::human_size;

/// What the evaluation needs besides the policy.
pub struct Context<'a> {
    pub inventory: &'a Inventory,
    pub scan: &'a ScanResult,
    /// When the advisory database was built (unix seconds); `None` with `--online`.
    pub db_built_at: Option<i64>,
    pub now: jiff::Timestamp,
    /// Whether the advisory source knows an id (for ignores naming an unknown id).
    pub known_id: &'a dyn Fn(&str) -> bool,
}

/// The findings and the verdict they add up to.
pub struct Outcome {
    pub findings: Vec<Finding>,
    /// Vulnerabilities below `report_from`, counted but not listed.
    pub hidden: usize,
    pub verdict: Verdict,
}

/// The whole decision for one image: match its packages against the advisories, then
/// evaluate the policy. `db_built_at` is `None` for live sources (no age to check).
pub fn gate(
    policy: &Policy,
    inventory: &Inventory,
    advisories: &dyn Advisories,
    db_built_at: Option<i64>,
) -> Result<(ScanResult, Outcome), IndexError> {
    let scan = crate::advisory::scan::scan(inventory, advisories)?;
    let known_id = |id: &str| {
        scan.vulnerabilities
            .iter()
            .any(|v| v.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
            || advisories.by_id(id).is_ok_and(|r| !r.is_empty())
    };
    let outcome = evaluate(
        policy,
        &Context {
            inventory,
            scan: &scan,
            db_built_at,
            now: jiff::Timestamp::now(),
            known_id: &known_id,
        },
    );
    Ok((scan, outcome))
}

pub fn evaluate(policy: &Policy, ctx: &Context<'_>) -> Outcome {
    let mut findings = Vec::new();
    let mut hidden = 0;
    for v in &ctx.scan.vulnerabilities {
        match vulnerability_finding(policy, v) {
            Some(f) => findings.push(f),
            None => hidden += 1,
        }
    }
    for note in &ctx.scan.notes {
        let (rule, title) = match note.kind {
            NoteKind::NotCovered => ("IG016", "Packages not checked against advisories"),
            NoteKind::Unevaluated => ("IG017", "Advisory could not be evaluated"),
        };
        findings.push(check(
            rule,
            Level::Warn,
            title,
            note.message.clone(),
            Evidence::default(),
        ));
    }
    image_checks(policy, ctx, &mut findings);
    package_checks(policy, ctx.inventory, &mut findings);
    file_checks(policy, ctx.inventory, &mut findings);
    if let (Some(max), Some(built)) = (policy.vulnerabilities.max_db_age, ctx.db_built_at) {
        let age = ctx.now.as_second() - built;
        if age > max {
            findings.push(check(
                "IG011",
                Level::Fail,
                "Advisory database is too old",
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

fn check(rule: &str, level: Level, title: &str, message: String, evidence: Evidence) -> Finding {
    Finding {
        rule: rule.into(),
        level,
        title: title.into(),
        message,
        evidence,
        vulnerability: None,
        ignored: None,
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

/// `apk` or `npm`, as policies and evidence name ecosystems.
fn short_ecosystem(ecosystem: &str) -> &str {
    if ecosystem.starts_with("Alpine") {
        "apk"
    } else {
        ecosystem
    }
}

/// A vulnerability's finding, or `None` when it is below `report_from`.
fn vulnerability_finding(policy: &Policy, v: &Vulnerability) -> Option<Finding> {
    let p = &policy.vulnerabilities;
    let severity = v.severity.level.unwrap_or(p.unknown_severity);
    let fails = match p.fail_on {
        FailOn::Never => false,
        // Malware has no fix; it fails whatever `only_fixable` says.
        FailOn::AtLeast(min) => (v.malicious || severity >= min) && (v.malicious || v.is_fixable() || !p.only_fixable),
    };
    if !fails && p.report_from.is_some_and(|min| severity < min) {
        return None;
    }
    let pkg = format!(
        "{}:{}@{}",
        short_ecosystem(&v.package.ecosystem),
        v.package.name,
        v.package.version
    );
    let fix = if v.fixed.is_empty() {
        "no fixed version yet".to_string()
    } else {
        format!("fixed in {}", v.fixed.join(", "))
    };
    let why = match (fails, p.fail_on) {
        (true, _) => "fails the policy".to_string(),
        (false, FailOn::AtLeast(min)) if severity >= min && !v.is_fixable() => {
            "shown, does not fail: no fix yet and the policy fails on fixable ones only".to_string()
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
        rule: v.id.clone(),
        level: if fails { Level::Fail } else { Level::Warn },
        title,
        message: format!("{pkg}: {} {} ({fix}); {why}", v.severity.label(), v.ids.join(" / ")),
        evidence,
        vulnerability: Some(v.clone()),
        ignored: None,
    })
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
                        "IG002",
                        Level::Fail,
                        "User does not exist in the image",
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
                "IG001",
                Level::Fail,
                "Image runs as root",
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
                "IG003",
                Level::Fail,
                "No health check",
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
        ("IG004", rules.max_size, img.uncompressed_size, "uncompressed", false),
        (
            "IG005",
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
                "Image is too large",
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
            "IG006",
            Level::Fail,
            "Too many layers",
            format!("the image has {} layers; the policy allows {max}", img.layer_count),
            Evidence {
                value: Some(img.layer_count.to_string()),
                limit: Some(max.to_string()),
                ..Evidence::default()
            },
        ));
    }
    for label in &rules.required_labels {
        if !img.labels.contains_key(label) {
            findings.push(check(
                "IG007",
                Level::Fail,
                "Required label missing",
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
        if rule.ecosystem != Some(PackageEcosystem::Npm) {
            for p in inv.apk.iter().filter(|p| rule.name.is_match(&p.record.name)) {
                let pkg = format!("apk:{}@{}", p.record.name, p.record.version);
                let mut evidence = layer_evidence(&p.layer);
                evidence.package = Some(pkg.clone());
                evidence.limit = Some(rule.text.clone());
                findings.push(check(
                    "IG008",
                    Level::Fail,
                    "Denied package",
                    format!("{pkg} is denied by `{}`", rule.text),
                    evidence,
                ));
            }
        }
        if rule.ecosystem != Some(PackageEcosystem::Apk) {
            for p in inv.npm.iter().filter(|p| rule.name.is_match(&p.name)) {
                let pkg = format!("npm:{}@{}", p.name, p.version);
                let mut evidence = layer_evidence(&p.layer);
                evidence.package = Some(pkg.clone());
                evidence.path = p.paths.first().cloned();
                evidence.limit = Some(rule.text.clone());
                findings.push(check(
                    "IG008",
                    Level::Fail,
                    "Denied package",
                    format!("{pkg} is denied by `{}`", rule.text),
                    evidence,
                ));
            }
        }
    }
    if policy.deny_dev_dependencies {
        for p in inv.npm.iter().filter(|p| p.dev == Some(true)) {
            let pkg = format!("npm:{}@{}", p.name, p.version);
            let mut evidence = layer_evidence(&p.layer);
            evidence.package = Some(pkg.clone());
            evidence.path = p.paths.first().cloned();
            evidence.details = p.paths.clone();
            findings.push(check(
                "IG009",
                Level::Fail,
                "Dev dependency shipped",
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
        let Some((glob, _)) = policy.deny_files.iter().find(|(_, m)| m.is_match(&f.path)) else {
            continue;
        };
        let layer = inv.image.layers.get(f.layer);
        findings.push(check(
            "IG010",
            Level::Fail,
            "Denied file in the image",
            format!("`/{}` ({}) matches `{glob}`", f.path, human_size(f.size)),
            Evidence {
                path: Some(f.path.clone()),
                layer: Some(f.layer),
                layer_digest: layer.map(|l| l.digest.to_string()),
                created_by: layer.and_then(|l| l.created_by.clone()),
                limit: Some(glob.clone()),
                ..Evidence::default()
            },
        ));
    }
}

/// Whether an ignore entry covers a finding: its id is the rule or any alias, and its scopes
/// (package, path) match.
fn covers(ignore: &Ignore, f: &Finding) -> bool {
    let id_matches = f.rule.eq_ignore_ascii_case(&ignore.id)
        || f.vulnerability
            .as_ref()
            .is_some_and(|v| v.ids.iter().any(|i| i.eq_ignore_ascii_case(&ignore.id)));
    if !id_matches {
        return false;
    }
    if let Some(scope) = &ignore.package {
        let Some(pkg) = &f.evidence.package else { return false };
        // `npm:lodash@4.17.20` matches `npm:lodash` and `lodash`.
        let name_part = pkg.rsplit_once('@').map_or(pkg.as_str(), |(n, _)| n);
        let bare = name_part.split_once(':').map_or(name_part, |(_, n)| n);
        if scope != name_part && scope != bare {
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

/// Ignore-meta rules are about the ignores themselves and are never ignored.
const META_RULES: [&str; 4] = ["IG012", "IG013", "IG014", "IG015"];

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
        let entry = format!("ignore `{}` ({}, line {})", ignore.id, policy.origin, ignore.line);
        let mut matched = 0;
        for f in findings
            .iter_mut()
            .filter(|f| !META_RULES.contains(&f.rule.as_str()) && covers(ignore, f))
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
                    "IG012",
                    Level::Warn,
                    "Ignore entry expired",
                    format!(
                        "{entry} expired on {expires}; it no longer ignores anything ({matched} findings are back)"
                    ),
                    evidence(),
                ));
            } else if expires <= today.saturating_add(jiff::Span::new().days(14)) {
                meta.push(check(
                    "IG013",
                    Level::Warn,
                    "Ignore entry expires soon",
                    format!("{entry} expires on {expires}"),
                    evidence(),
                ));
            }
        }
        let is_rule = ignore.id.starts_with("IG") && super::finding::rule(&ignore.id).is_some();
        if !is_rule && !(ctx.known_id)(&ignore.id) {
            meta.push(check(
                "IG015",
                Level::Warn,
                "Ignore entry names an unknown advisory",
                format!("{entry}: the advisory database does not know `{}`", ignore.id),
                evidence(),
            ));
        } else if matched == 0 {
            meta.push(check(
                "IG014",
                Level::Warn,
                "Ignore entry matched nothing",
                format!("{entry} matched no finding in this image; remove it if it is no longer needed"),
                evidence(),
            ));
        }
    }
    findings.extend(meta);
}
