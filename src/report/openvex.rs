//! VEX out (`scan --openvex FILE`): the exceptions in effect for this image as an OpenVEX 0.2
//! document, so they travel with the image digest. One statement per vulnerability and package
//! an exception decided:
//!
//! - a VEX statement read with `--vex` (or the policy's `vex`) keeps its status, justification,
//!   impact and action statements and its timestamp; `status_notes` names the document it came
//!   from and its author (OpenVEX statements carry no author of their own);
//! - a policy ignore entry is `not_affected` with the entry's reason as `impact_statement`
//!   (OpenVEX has no "accepted risk" status, and an ignore is what makes the gate treat the
//!   finding as not affecting the image; no `justification` is claimed, since the policy gives
//!   none), and `status_notes` says it is an ignore of which policy.
//!
//! The product is the image (`pkg:oci/NAME@sha256:…?repository_url=…`, with its manifest
//! digest, else its config digest, as hash), narrowed by `subcomponents` to the package's purl
//! — the shape `scan --vex` reads back, so the document applies to this image and no other.
//! OpenVEX needs at least one statement: with no exception in effect there is no document
//! ([`openvex`] gives `None`).

use super::cyclonedx::Components;
use crate::gate::Run;
use crate::inventory::purl::Purl;
use crate::vex::Status;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// The document, or `None` when no ignore or VEX statement decides a finding of this image.
pub fn openvex(run: &Run) -> Result<Option<String>, serde_json::Error> {
    render(run, jiff::Timestamp::now())
}

/// `pkg:oci/app@sha256%3A…?repository_url=acme%2Fapp`.
fn image_purl(run: &Run) -> (String, String) {
    let img = &run.inventory.image;
    let digest = img.manifest_digest.as_ref().unwrap_or(&img.config_digest);
    let name = run
        .repository
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("image")
        .to_ascii_lowercase();
    let mut qualifiers = BTreeMap::new();
    if !run.repository.is_empty() {
        qualifiers.insert("repository_url".to_string(), run.repository.clone());
    }
    let purl = Purl {
        ty: "oci".into(),
        namespace: None,
        name,
        version: Some(digest.to_string()),
        qualifiers,
    };
    (purl.to_string(), digest.hex().to_string())
}

fn time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn render(run: &Run, now: jiff::Timestamp) -> Result<Option<String>, serde_json::Error> {
    let purls = Components::of(&run.inventory).purls_of(&super::cyclonedx::finding_keys(run));
    let (image, hex) = image_purl(run);
    let policy = &run.policy.description;
    let mut seen = BTreeSet::new();
    let mut statements: Vec<Value> = Vec::new();
    for f in &run.outcome.findings {
        let Some(v) = &f.vulnerability else { continue };
        let p = &v.package;
        let Some(package) = purls.get(&(p.kind, p.name.as_str(), p.version.as_str())) else {
            continue;
        };
        let statement = crate::vex::deciding(&run.vex, &run.inventory, &run.repository, f);
        // A policy ignore came first when the finding is ignored with a text that is not the
        // deciding statement's.
        let by_policy = match (&f.ignored, statement) {
            (Some(text), Some(s)) => !text.starts_with(&s.describe()),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let mut entry = json!({
            "vulnerability": vulnerability(v),
            "products": [{
                "@id": image,
                "identifiers": {"purl": image},
                "hashes": {"sha-256": hex},
                "subcomponents": [{"@id": package, "identifiers": {"purl": package}}],
            }],
        });
        if by_policy {
            let reason = f.ignored.as_deref().unwrap_or_default();
            entry["status"] = json!("not_affected");
            entry["impact_statement"] = json!(reason);
            entry["status_notes"] = json!(format!("ignored by the policy ({policy})"));
            entry["timestamp"] = json!(time(now));
        } else if let Some(s) = statement {
            entry["status"] = json!(s.status.as_str());
            if let Some(j) = s.justification.as_deref().filter(|j| is_justification(j)) {
                entry["justification"] = json!(j);
            }
            // Free text in the justification field (CycloneDX's, or a hand-written one) stays
            // readable as part of the impact statement.
            let mut impact: Vec<&str> = Vec::new();
            if let Some(j) = s.justification.as_deref().filter(|j| !is_justification(j)) {
                impact.push(j);
            }
            if let Some(d) = s.detail.as_deref() {
                impact.push(d);
            }
            if !impact.is_empty() {
                entry["impact_statement"] = json!(impact.join(": "));
            } else if s.status == Status::NotAffected && entry.get("justification").is_none() {
                entry["impact_statement"] = json!("not affected");
            }
            if let Some(a) = &s.action {
                entry["action_statement"] = json!(a);
            } else if s.status == Status::Affected {
                entry["action_statement"] = json!("see the source statement");
            }
            entry["status_notes"] = json!(format!("from {}, by {}", s.source, s.author));
            entry["timestamp"] = json!(time(s.timestamp.unwrap_or(now)));
        } else {
            continue;
        }
        // One statement per vulnerability and package (a package at two paths is one).
        if seen.insert((v.id.clone(), package.to_string())) {
            statements.push(entry);
        }
    }
    if statements.is_empty() {
        return Ok(None);
    }
    let digest = crate::digest::Digest::sha256_of(serde_json::to_string(&statements)?.as_bytes());
    let doc = json!({
        "@context": CONTEXT,
        "@id": format!("https://openvex.dev/docs/imagegate/{}", &digest.hex()[..32]),
        "author": format!("imagegate {}", env!("CARGO_PKG_VERSION")),
        "role": "Document Creator",
        "timestamp": time(now),
        "version": 1,
        "tooling": format!("imagegate {}", env!("CARGO_PKG_VERSION")),
        "statements": statements,
    });
    let mut s = serde_json::to_string_pretty(&doc)?;
    s.push('\n');
    Ok(Some(s))
}

fn vulnerability(v: &crate::advisory::scan::Vulnerability) -> Value {
    let aliases: BTreeSet<&str> = v.ids.iter().filter(|i| **i != v.id).map(String::as_str).collect();
    let mut out = json!({"name": v.id});
    if !aliases.is_empty() {
        out["aliases"] = json!(aliases);
    }
    if let Some(s) = &v.summary {
        out["description"] = json!(s);
    }
    out
}

/// OpenVEX's justification labels.
fn is_justification(j: &str) -> bool {
    matches!(
        j,
        "component_not_present"
            | "vulnerable_code_not_present"
            | "vulnerable_code_not_in_execute_path"
            | "vulnerable_code_cannot_be_controlled_by_adversary"
            | "inline_mitigations_already_exist"
    )
}
