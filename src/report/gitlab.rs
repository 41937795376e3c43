//! GitLab's container-scanning report (`scan --gitlab FILE`, the `gl-container-scanning-report.json`
//! a job hands to `artifacts:reports:container_scanning`), schema version 15.2.4: one
//! vulnerability per finding that carries an advisory, with its identifiers, severity, CVSS
//! vector, solution and the image, OS and package it is in. Findings an ignore entry or a VEX
//! statement suppressed are left out (GitLab would list them as new vulnerabilities; the
//! exception is recorded in the other reports and in `--openvex`). Package sources that were not
//! checked are `scan.messages` at level `warn`, so a partial scan never reads as a clean one.
//!
//! Ids are stable (a hash of image repository, advisory and package), so GitLab tracks a
//! vulnerability across pipelines. Strings keep their bytes (the JSON encoder escapes them) but
//! are cut to the schema's length limits.

use crate::gate::Run;
use crate::inventory::coverage::Status;
use crate::policy::finding::Finding;
use serde_json::{Value, json};

/// The schema version written, and where GitLab publishes it.
pub const SCHEMA_VERSION: &str = "15.2.4";
pub const SCHEMA_URL: &str = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.4/dist/container-scanning-report-format.json";

/// The report of a run; `now` is the scan's end (its start is `now` minus the run's time).
pub fn gitlab(run: &Run) -> Result<String, serde_json::Error> {
    render(run, jiff::Timestamp::now())
}

fn render(run: &Run, now: jiff::Timestamp) -> Result<String, serde_json::Error> {
    let end = now;
    let elapsed = jiff::SignedDuration::try_from(run.elapsed).unwrap_or(jiff::SignedDuration::ZERO);
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let time = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S").to_string();
    let tool = json!({
        "id": "imagegate",
        "name": "imagegate",
        "version": env!("CARGO_PKG_VERSION"),
        "vendor": {"name": "imagegate"},
    });
    let mut messages: Vec<Value> = run
        .scan
        .coverage
        .iter()
        .filter(|c| c.status == Status::NotChecked)
        .map(|c| json!({"level": "warn", "value": cut(&format!("not checked: {}", c.short()), 4096)}))
        .collect();
    messages.push(json!({"level": "info", "value": cut(&run.outcome.verdict.summary, 4096)}));
    let os = operating_system(run);
    let image = if run.inventory.image.reference.is_empty() {
        run.repository.clone()
    } else {
        run.inventory.image.reference.clone()
    };
    let vulnerabilities: Vec<Value> = run
        .outcome
        .findings
        .iter()
        .filter(|f| f.ignored.is_none())
        .filter_map(|f| vulnerability(f, run, &os, &image))
        .collect();
    let doc = json!({
        "version": SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "container_scanning",
            "start_time": time(start),
            "end_time": time(end),
            "status": "success",
            "messages": messages,
        },
        "vulnerabilities": vulnerabilities,
        "remediations": [],
    });
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(s)
}

/// `alpine 3.20.3`; `unknown` when no release was identified (the field may not be empty).
fn operating_system(run: &Run) -> String {
    let text = match &run.inventory.os {
        Some(os) => match &os.version {
            Some(v) => format!("{} {v}", os.id),
            None => os.id.clone(),
        },
        None => String::new(),
    };
    nonempty(cut(text.trim(), 255))
}

fn nonempty(s: String) -> String {
    if s.trim().is_empty() { "unknown".into() } else { s }
}

/// At most `max` characters (the schema's `maxLength` counts characters).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// GitLab's severity names.
fn severity(f: &Finding) -> &'static str {
    let Some(v) = &f.vulnerability else { return "Unknown" };
    if v.malicious {
        return "Critical";
    }
    match v.severity.label() {
        "critical" => "Critical",
        "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        "none" => "Info",
        _ => "Unknown",
    }
}

/// The identifier type GitLab knows an id by (`cve`, `ghsa`, …), from its prefix.
fn id_type(id: &str) -> String {
    let prefix = id.split('-').next().unwrap_or(id);
    let t: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect::<String>()
        .to_ascii_lowercase();
    if t.is_empty() { "osv".into() } else { t }
}

/// A CVSS v3 vector GitLab's schema accepts: `CVSS:3.0/` or `CVSS:3.1/` then `KEY:V` metrics
/// from the specification's set, 32 to 128 characters. Anything else (a v2 or v4 vector, a
/// malformed one) is left out rather than make GitLab reject the whole report.
fn gitlab_cvss3(vector: &str) -> bool {
    const METRICS: [&str; 22] = [
        "AV", "AC", "PR", "UI", "S", "C", "I", "A", "E", "RL", "RC", "CR", "IR", "AR", "MAV", "MAC", "MPR", "MUI",
        "MS", "MC", "MI", "MA",
    ];
    let Some(rest) = vector
        .strip_prefix("CVSS:3.1/")
        .or_else(|| vector.strip_prefix("CVSS:3.0/"))
    else {
        return false;
    };
    (32..=128).contains(&vector.len())
        && rest.split('/').all(|m| {
            m.split_once(':')
                .is_some_and(|(k, v)| METRICS.contains(&k) && v.len() == 1 && v.bytes().all(|b| b.is_ascii_uppercase()))
        })
}

fn osv_url(id: &str) -> Option<String> {
    // An id that would not make a URL the schema accepts (spaces, controls) gets none.
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        .then(|| format!("https://osv.dev/vulnerability/{id}"))
}

fn vulnerability(f: &Finding, run: &Run, os: &str, image: &str) -> Option<Value> {
    let v = f.vulnerability.as_ref()?;
    let p = &v.package;
    // Every id of the advisory, the shown one first.
    let mut ids: Vec<&String> = vec![&v.id];
    ids.extend(v.ids.iter().filter(|i| **i != v.id));
    let identifiers: Vec<Value> = ids
        .iter()
        .filter(|i| !i.is_empty())
        .map(|i| {
            let mut ident = json!({"type": id_type(i), "name": cut(i, 255), "value": cut(i, 255)});
            if let Some(u) = osv_url(i) {
                ident["url"] = json!(u);
            }
            ident
        })
        .collect();
    if identifiers.is_empty() {
        return None;
    }
    let key = format!(
        "{}\0{}\0{}\0{}\0{}",
        run.repository,
        v.id,
        p.kind.as_str(),
        p.name,
        p.version
    );
    let digest = crate::digest::Digest::sha256_of(key.as_bytes());
    let h = digest.hex();
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    let mut out = json!({
        "id": id,
        "name": cut(&f.title, 255),
        "description": cut(&f.message, 1_048_576),
        "severity": severity(f),
        "identifiers": identifiers,
        "location": {
            "dependency": {
                "package": {"name": p.name},
                "version": p.version,
            },
            "operating_system": os,
            "image": nonempty(cut(image, 4096)),
        },
    });
    let solution = match (&v.remediation, v.fixed.is_empty()) {
        (Some(r), _) => Some(r.clone()),
        (None, false) => Some(format!("Upgrade {} to {}", p.name, v.fixed.join(" or "))),
        (None, true) => None,
    };
    if let Some(s) = solution {
        out["solution"] = json!(cut(&s, 7000));
    }
    if let Some(vector) = v.severity.vector.as_deref().filter(|x| gitlab_cvss3(x)) {
        out["cvss_vectors"] = json!([{"vendor": "OSV", "vector": vector}]);
    }
    let links: Vec<Value> = ids
        .iter()
        .filter_map(|i| osv_url(i).map(|u| json!({"name": cut(i, 255), "url": u})))
        .collect();
    if !links.is_empty() {
        out["links"] = json!(links);
    }
    let layer = &v.layer;
    let step = layer.created_by.as_deref().unwrap_or("");
    out["details"] = json!({
        "layer": {
            "name": "Layer",
            "type": "text",
            "value": cut(format!("{} {} {step}", layer.index, layer.digest).trim_end(), 4096),
        },
        "gate": {
            "name": "Gate",
            "type": "text",
            "value": f.level.as_str(),
        },
    });
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cvss3_vectors_gitlab_accepts_are_written() {
        assert!(gitlab_cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
        assert!(gitlab_cvss3("CVSS:3.0/AV:L/AC:H/PR:L/UI:R/S:C/C:L/I:N/A:N"));
        assert!(!gitlab_cvss3("AV:N/AC:L/Au:N/C:P/I:P/A:P"));
        assert!(!gitlab_cvss3(
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
        ));
        assert!(!gitlab_cvss3("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/X:\u{1b}"));
        assert!(!gitlab_cvss3("CVSS:3.1/AV:N"));
    }

    #[test]
    fn identifier_types_come_from_the_prefix() {
        assert_eq!(id_type("CVE-2024-1234"), "cve");
        assert_eq!(id_type("GHSA-p6mc-m468-83gw"), "ghsa");
        assert_eq!(id_type("ALPINE-CVE-2023-42364"), "alpine");
        assert_eq!(id_type("-x"), "osv");
    }

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut("äöü", 3), "äöü");
        assert_eq!(cut("äöüß", 3), "äö…");
    }
}
