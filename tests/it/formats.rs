//! The ecosystem's formats, end to end through the binary: CycloneDX 1.6 out (`inventory
//! --cyclonedx`, `scan --cyclonedx`), validated against the official schema (with a check that
//! the validation has teeth), deterministic output, and SBOMs in (`scan sbom:FILE`): imagegate's
//! own CycloneDX and inventory JSON round-trip to the same vulnerability findings as the scan of
//! the image, and so do the SBOMs real Syft 1.18.1 and Trivy 0.76.0 wrote for the same image
//! (`testdata/sbom/`). Image facts an SBOM lacks are reported not checked; hostile SBOMs exit 2.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn demo() -> String {
    repo_root().join("testdata/demo/app.tar").display().to_string()
}

/// The advisory snapshot, imported once.
fn db() -> &'static Path {
    crate::support::osv_db(&["npm", "alpine"])
}

/// Serves the two schemas CycloneDX 1.6 references from `testdata/schemas/`, never the network.
struct LocalSchemas;

impl jsonschema::Retrieve for LocalSchemas {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = match uri.as_str() {
            "http://cyclonedx.org/schema/spdx.schema.json" => "cyclonedx-spdx.schema.json",
            "http://cyclonedx.org/schema/jsf-0.82.schema.json" => "cyclonedx-jsf-0.82.schema.json",
            other => return Err(format!("no local copy of {other}").into()),
        };
        let text = std::fs::read_to_string(repo_root().join("testdata/schemas").join(file))?;
        Ok(serde_json::from_str(&text)?)
    }
}

pub(crate) fn cyclonedx_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(repo_root().join("testdata/schemas/cyclonedx-1.6.schema.json")).unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::draft7::options()
            .with_retriever(LocalSchemas)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap()
    })
}

fn assert_valid(doc: &Value) {
    let errors: Vec<String> = cyclonedx_validator()
        .iter_errors(doc)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid CycloneDX 1.6: {errors:#?}");
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn inventory_cyclonedx(dir: &Path, name: &str) -> (PathBuf, Value) {
    let out = dir.join(name);
    let r = imagegate().args(["inventory", &demo(), "--cyclonedx"]).arg(&out).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = read_json(&out);
    (out, doc)
}

fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn props<'a>(c: &'a Value, name: &str) -> Vec<&'a str> {
    c["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["name"] == name)
        .map(|p| p["value"].as_str().unwrap())
        .collect()
}

#[test]
fn the_cyclonedx_schema_check_has_teeth() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, doc) = inventory_cyclonedx(tmp.path(), "sbom.json");
    assert_valid(&doc);
    let mut broken = doc.clone();
    broken["specVersion"] = Value::from("1.6.0-not-a-version");
    broken["components"][1]["type"] = Value::from("no-such-type");
    assert!(
        !cyclonedx_validator().is_valid(&broken),
        "a broken document must not validate"
    );
    let mut no_format = doc;
    no_format.as_object_mut().unwrap().remove("bomFormat");
    assert!(!cyclonedx_validator().is_valid(&no_format));
}

#[test]
fn inventory_cyclonedx_lists_every_package_with_purl_licence_paths_and_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, doc) = inventory_cyclonedx(tmp.path(), "sbom.json");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    // The image as root component.
    let root = &doc["metadata"]["component"];
    assert_eq!(root["type"], "container");
    assert!(props(root, "imagegate:image:config_digest")[0].starts_with("sha256:"));
    assert_eq!(props(root, "imagegate:image:platform"), ["linux/amd64"]);
    // OS packages: arch, distro, and the source package advisories are written against.
    let libcrypto = component(&doc, "libcrypto3");
    assert_eq!(
        libcrypto["purl"],
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    );
    assert_eq!(props(libcrypto, "imagegate:path"), ["lib/apk/db/installed"]);
    assert!(props(libcrypto, "imagegate:layer:digest")[0].starts_with("sha256:"));
    assert!(!props(libcrypto, "imagegate:layer:created_by").is_empty());
    assert_eq!(component(&doc, "musl")["licenses"][0]["expression"], "MIT");
    // A scoped npm package: `@` percent-encoded, every install path listed.
    let next_env = component(&doc, "@next/env");
    assert_eq!(next_env["purl"], "pkg:npm/%40next/env@13.4.0");
    assert!(
        props(next_env, "imagegate:path")
            .iter()
            .all(|p| p.contains("node_modules/@next/env"))
    );
    let lodash = component(&doc, "lodash");
    assert_eq!(lodash["purl"], "pkg:npm/lodash@4.17.20");
    assert_eq!(lodash["licenses"][0]["expression"], "MIT");
    // Every package is one component and one dependency of the image.
    let purls: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    let deps = doc["dependencies"].as_array().unwrap();
    let image_deps: BTreeSet<&str> = deps[0]["dependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|d| d.starts_with("pkg:"))
        .collect();
    assert_eq!(purls, image_deps);
    assert!(purls.iter().any(|p| p.starts_with("pkg:apk/")) && purls.iter().any(|p| p.starts_with("pkg:npm/")));
}

#[test]
fn cyclonedx_output_is_deterministic_but_for_serial_and_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, mut a) = inventory_cyclonedx(tmp.path(), "a.json");
    let (_, mut b) = inventory_cyclonedx(tmp.path(), "b.json");
    for d in [&mut a, &mut b] {
        d.as_object_mut().unwrap().remove("serialNumber");
        d["metadata"].as_object_mut().unwrap().remove("timestamp");
    }
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
}

#[test]
fn scan_cyclonedx_carries_the_findings_as_vulnerabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("scan.cdx.json");
    let r = imagegate()
        .args(["scan", &demo(), "--db", db().to_str().unwrap(), "--cyclonedx"])
        .arg(&out)
        .run();
    assert_eq!(r.code, 1, "the demo fails the default policy: {}", r.stderr);
    let doc = read_json(&out);
    assert_valid(&doc);
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let lodash = vulns.iter().find(|v| v["id"] == "GHSA-35jh-r3h4-6jhm").unwrap();
    assert_eq!(lodash["affects"][0]["ref"], "pkg:npm/lodash@4.17.20");
    let versions = lodash["affects"][0]["versions"].as_array().unwrap();
    assert!(
        versions
            .iter()
            .any(|v| v["version"] == "4.17.20" && v["status"] == "affected")
    );
    assert!(
        versions
            .iter()
            .any(|v| v["version"] == "4.17.21" && v["status"] == "unaffected")
    );
    assert_eq!(lodash["ratings"][0]["severity"], "high");
    assert!(lodash["ratings"][0]["vector"].as_str().unwrap().starts_with("CVSS:3"));
    // An OS finding points at the binary package's component.
    let openssl = vulns.iter().find(|v| v["id"] == "ALPINE-CVE-2024-9143").unwrap();
    assert!(
        openssl["affects"][0]["ref"]
            .as_str()
            .unwrap()
            .starts_with("pkg:apk/alpine/")
    );
}

/// (rule, package, level) of every vulnerability finding of a scan's JSON report.
fn vulnerability_findings(image: &str) -> (i32, BTreeSet<(String, String, String)>, Value) {
    let r = imagegate()
        .args(["scan", image, "--db", db().to_str().unwrap(), "--format", "json"])
        .run();
    assert!(r.code == 0 || r.code == 1, "{image}: exit {}: {}", r.code, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let set = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("vulnerability").is_some())
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["evidence"]["package"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (r.code, set, v)
}

#[test]
fn sboms_round_trip_to_the_findings_of_the_image_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let (image_code, expected, _) = vulnerability_findings(&demo());
    assert!(expected.len() >= 8, "the demo has OS and npm findings: {expected:?}");
    assert!(
        expected
            .iter()
            .any(|(id, pkg, _)| id == "ALPINE-CVE-2024-9143" && pkg == "apk:libssl3@3.3.2-r0")
    );
    let (cdx, _) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    let (spdx, _) = inventory_spdx(tmp.path(), "own.spdx.json");
    let inv = tmp.path().join("inventory.json");
    let r = imagegate()
        .args(["inventory", &demo(), "--format", "json", "-o"])
        .arg(&inv)
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sboms = [
        cdx,
        inv,
        repo_root().join("testdata/sbom/demo.syft-1.18.1.cdx.json"),
        repo_root().join("testdata/sbom/demo.trivy-0.76.0.cdx.json"),
        spdx,
        repo_root().join("testdata/sbom/demo.syft-1.18.1.spdx.json"),
        repo_root().join("testdata/sbom/demo.trivy-0.76.0.spdx.json"),
    ];
    for sbom in sboms {
        let (code, got, report) = vulnerability_findings(&format!("sbom:{}", sbom.display()));
        assert_eq!(got, expected, "{}", sbom.display());
        assert_eq!(code, image_code, "{}", sbom.display());
        // What an SBOM cannot say is not checked, and says so.
        let coverage = report["coverage"].as_array().unwrap();
        assert!(
            coverage
                .iter()
                .any(|c| c["source"] == "image-facts" && c["status"] == "not_checked"),
            "{}: {coverage:?}",
            sbom.display()
        );
        assert!(
            coverage
                .iter()
                .any(|c| c["source"] == "apk" && c["status"] == "checked")
        );
    }
}

#[test]
fn image_checks_an_sbom_cannot_answer_are_not_checked_never_passed_or_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let (cdx, _) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    let policy = tmp.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[vulnerabilities]\nfail_on = \"none\"\n[image]\nrequire_non_root = true\nrequire_healthcheck = true\nmax_size = \"1MB\"\n[coverage]\nnot_checked = \"fail\"\n",
    )
    .unwrap();
    let r = imagegate()
        .args([
            "scan",
            &format!("sbom:{}", cdx.display()),
            "--db",
            db().to_str().unwrap(),
        ])
        .args(["--format", "json", "--policy", policy.to_str().unwrap()])
        .run();
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    // No made-up root user, health check or size verdict from facts the SBOM lacks ...
    for absent in ["IG001", "IG003", "IG004"] {
        assert!(!rules.contains(&absent), "{absent} in {rules:?}");
    }
    // ... but a not-checked finding, which this policy fails on.
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "IG018" && f["message"].as_str().unwrap().contains("image-facts"))
        .expect("image facts reported not checked");
    assert_eq!(f["level"], "fail");
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn hostile_or_foreign_sboms_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = format!(
        "{{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.6\",\"components\":{}[]{}}}",
        "[{\"type\":\"library\",\"name\":\"x\",\"components\":".repeat(40),
        "}]".repeat(40)
    );
    let cases: [(&str, String); 6] = [
        ("garbage", "\u{0}\u{1}not json at all".into()),
        ("unknown", "{\"hello\": \"world\"}".into()),
        ("bad-purl", "{\"bomFormat\":\"CycloneDX\",\"components\":[{\"type\":\"library\",\"name\":\"x\",\"purl\":\"pkg:npm/x@%zz\"}]}".into()),
        ("components-not-array", "{\"bomFormat\":\"CycloneDX\",\"components\":{}}".into()),
        ("deep", deep),
        ("spdx-packages-not-array", "{\"spdxVersion\":\"SPDX-2.3\",\"packages\":7}".into()),
    ];
    for (name, text) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let r = imagegate()
            .args([
                "scan",
                &format!("sbom:{}", path.display()),
                "--db",
                db().to_str().unwrap(),
            ])
            .run();
        assert_eq!(r.code, 2, "{name}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("SBOM"),
            "{name}: the message names the SBOM: {}",
            r.stderr
        );
    }
    let r = imagegate()
        .args(["scan", "sbom:/nonexistent/sbom.json", "--db", db().to_str().unwrap()])
        .run();
    assert_eq!(r.code, 2, "{}", r.stderr);
}

fn inventory_spdx(dir: &Path, name: &str) -> (PathBuf, Value) {
    let out = dir.join(name);
    let r = imagegate().args(["inventory", &demo(), "--spdx"]).arg(&out).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = read_json(&out);
    (out, doc)
}

pub(crate) fn spdx_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(repo_root().join("testdata/schemas/spdx-2.3.schema.json")).unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::draft7::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap()
    })
}

#[test]
fn spdx_out_validates_and_names_every_package_by_purl() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, doc) = inventory_spdx(tmp.path(), "sbom.spdx.json");
    let errors: Vec<String> = spdx_validator()
        .iter_errors(&doc)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid SPDX 2.3: {errors:#?}");
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    let packages = doc["packages"].as_array().unwrap();
    let root = packages.iter().find(|p| p["SPDXID"] == "SPDXRef-Image").unwrap();
    assert_eq!(root["primaryPackagePurpose"], "CONTAINER");
    let purl = |name: &str| {
        packages.iter().find(|p| p["name"] == name).unwrap()["externalRefs"][0]["referenceLocator"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        purl("libssl3"),
        "pkg:apk/alpine/libssl3@3.3.2-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
    );
    assert_eq!(purl("@next/env"), "pkg:npm/%40next/env@13.4.0");
    // Every package is contained by the image.
    let contains = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    assert_eq!(contains, packages.len() - 1);
    // The check has teeth.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("SPDXID");
    broken["packages"][1]["primaryPackagePurpose"] = Value::from("NOT-A-PURPOSE");
    assert!(!spdx_validator().is_valid(&broken));
}

/// The demo image's manifest digest, as the inventory reads it.
fn demo_manifest_digest() -> String {
    let r = imagegate().args(["inventory", &demo(), "--format", "json"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["image"]["manifest_digest"].as_str().unwrap().to_string()
}

fn scan_with_vex(vex: &[&Path]) -> imagegate_run::Outcome {
    let mut cmd = imagegate();
    cmd.args(["scan", &demo(), "--db", db().to_str().unwrap(), "--format", "json"]);
    for v in vex {
        cmd.arg("--vex").arg(v);
    }
    let r = cmd.run();
    imagegate_run::Outcome {
        code: r.code,
        report: serde_json::from_str(&r.stdout).unwrap_or(Value::Null),
        stderr: r.stderr,
    }
}

mod imagegate_run {
    pub struct Outcome {
        pub code: i32,
        pub report: serde_json::Value,
        pub stderr: String,
    }
}

#[test]
fn openvex_statements_suppress_show_and_go_stale_by_product_and_timestamp() {
    let tmp = tempfile::tempdir().unwrap();
    let digest = demo_manifest_digest();
    let doc = serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/demo-1",
        "author": "Security Team <security@example.com>",
        "timestamp": "2026-11-01T00:00:00Z",
        "version": 1,
        "statements": [
            // By image digest, narrowed to one package.
            {"vulnerability": {"name": "GHSA-35jh-r3h4-6jhm"},
             "products": [{"@id": format!("pkg:oci/app@{digest}"), "subcomponents": [{"@id": "pkg:npm/lodash@4.17.20"}]}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
             "timestamp": "2026-11-02T00:00:00Z"},
            // By package purl: superseded by the later statement below.
            {"vulnerability": {"name": "GHSA-9c47-m6qq-7p4h"},
             "products": [{"@id": "pkg:npm/json5@2.2.1"}],
             "status": "affected", "action_statement": "upgrade json5",
             "timestamp": "2026-11-01T00:00:00Z"},
            {"vulnerability": {"name": "GHSA-9c47-m6qq-7p4h"},
             "products": [{"@id": "pkg:npm/json5"}],
             "status": "fixed", "timestamp": "2026-11-03T00:00:00Z"},
            // Shown, still gates.
            {"vulnerability": {"name": "GHSA-fr5h-rqp8-mj6g"},
             "products": [{"@id": digest}],
             "status": "under_investigation"},
            // Another image: must not apply.
            {"vulnerability": {"name": "GHSA-c2qf-rxjj-qqgw"},
             "products": [{"@id": "sha256:0000000000000000000000000000000000000000000000000000000000000000"}],
             "status": "not_affected", "justification": "component_not_present"}
        ]
    });
    let path = tmp.path().join("demo.openvex.json");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = scan_with_vex(&[&path]);
    assert_eq!(out.code, 1, "next still fails: {}", out.stderr);
    let findings = out.report["findings"].as_array().unwrap();
    let by = |rule: &str, pkg: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule && f["evidence"]["package"] == pkg)
            .unwrap_or_else(|| panic!("{rule} {pkg}"))
    };
    let lodash = by("GHSA-35jh-r3h4-6jhm", "npm:lodash@4.17.20");
    assert_eq!(lodash["level"], "info");
    let why = lodash["ignored"].as_str().unwrap();
    assert!(
        why.contains("not_affected")
            && why.contains("Security Team")
            && why.contains("vulnerable_code_not_in_execute_path")
            && why.contains("2026-11-02"),
        "{why}"
    );
    let json5 = by("GHSA-9c47-m6qq-7p4h", "npm:json5@2.2.1");
    assert_eq!(json5["level"], "info", "the later `fixed` statement decides");
    let next = by("GHSA-fr5h-rqp8-mj6g", "npm:next@13.4.0");
    assert_eq!(next["level"], "fail");
    assert!(next["message"].as_str().unwrap().contains("under_investigation"));
    let semver = by("GHSA-c2qf-rxjj-qqgw", "npm:semver@7.3.5");
    assert_eq!(semver["level"], "warn", "a statement for another image does not apply");
    assert!(semver["ignored"].is_null());
    // The superseded statement and the other image's one decide nothing: IG020.
    let stale: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "IG020")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale.iter().any(|m| m.contains("GHSA-c2qf-rxjj-qqgw")));
    assert!(stale.iter().any(|m| m.contains("affected `GHSA-9c47-m6qq-7p4h`")));
}

#[test]
fn malformed_vex_documents_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("not-json", "{not json".to_string()),
        ("not-vex", "{\"hello\": 1}".to_string()),
        (
            "no-justification",
            serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0", "author": "a", "statements": [
                {"vulnerability": {"name": "GHSA-35jh-r3h4-6jhm"}, "products": [{"@id": "pkg:npm/lodash"}], "status": "not_affected"}]})
            .to_string(),
        ),
        (
            "bad-status",
            serde_json::json!({"@context": "https://openvex.dev/ns/v0.2.0", "author": "a", "statements": [
                {"vulnerability": {"name": "X"}, "products": [], "status": "maybe"}]})
            .to_string(),
        ),
    ];
    for (name, text) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = scan_with_vex(&[&path]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains("VEX"), "{name}: {}", out.stderr);
    }
}

fn gitlab_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(
            repo_root().join("testdata/schemas/gitlab-container-scanning-report-format-15.2.4.json"),
        )
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::draft7::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap()
    })
}

pub(crate) fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The demo scanned with the given policy text (none: the default) and extra arguments.
fn scan_demo(dir: &Path, policy: Option<&str>, extra: &[&str]) -> (i32, String) {
    let mut cmd = imagegate();
    cmd.args(["scan", &demo(), "--db", db().to_str().unwrap(), "--quiet"]);
    if let Some(text) = policy {
        let p = dir.join("policy.toml");
        std::fs::write(&p, text).unwrap();
        cmd.arg("--policy").arg(&p);
    }
    cmd.args(extra);
    cmd.current_dir(dir);
    let r = cmd.run();
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    (r.code, r.stderr)
}

#[test]
fn gitlab_report_validates_against_gitlabs_schema_and_lists_the_open_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = "[vulnerabilities]\nfail_on = \"high\"\nallow_permanent_ignores = true\n[[vulnerabilities.ignore]]\nid = \"GHSA-35jh-r3h4-6jhm\"\nreason = \"lodash template() is never called\"\n";
    let (code, _) = scan_demo(
        tmp.path(),
        Some(policy),
        &[
            "--gitlab",
            "gl-container-scanning-report.json",
            "--format",
            "json",
            "-o",
            "r.json",
        ],
    );
    assert_eq!(code, 1);
    let doc = read_json(&tmp.path().join("gl-container-scanning-report.json"));
    let errors = schema_errors(gitlab_validator(), &doc);
    assert!(errors.is_empty(), "not a valid GitLab 15.2.4 report: {errors:#?}");
    assert_eq!(doc["version"], "15.2.4");
    assert_eq!(doc["scan"]["type"], "container_scanning");
    // Every open vulnerability finding, and no ignored one.
    let report = read_json(&tmp.path().join("r.json"));
    let open: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("vulnerability").is_some() && f["ignored"].is_null())
        .map(|f| {
            let v = &f["vulnerability"];
            (
                v["id"].as_str().unwrap().to_string(),
                v["package"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    let listed: BTreeSet<(String, String)> = vulns
        .iter()
        .map(|v| {
            (
                v["identifiers"][0]["value"].as_str().unwrap().to_string(),
                v["location"]["dependency"]["package"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(listed, open);
    assert!(
        !listed.iter().any(|(id, _)| id == "GHSA-35jh-r3h4-6jhm"),
        "ignored: not listed"
    );
    let next = vulns
        .iter()
        .find(|v| v["location"]["dependency"]["package"]["name"] == "next")
        .unwrap();
    assert_eq!(next["severity"], "High");
    assert_eq!(next["solution"], "Upgrade next to 14.1.1");
    assert_eq!(next["location"]["operating_system"], "alpine 3.20.3");
    assert!(
        next["identifiers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["type"] == "cve" && i["value"] == "CVE-2024-34351")
    );
    // Ids are stable across runs (GitLab tracks a vulnerability by them).
    scan_demo(tmp.path(), Some(policy), &["--gitlab", "again.json"]);
    let again = read_json(&tmp.path().join("again.json"));
    let ids = |d: &Value| -> Vec<String> {
        d["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&doc), ids(&again));
    // What was not checked is said, never a clean partial scan.
    assert!(
        doc["scan"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["level"] == "warn" && m["value"].as_str().unwrap().starts_with("not checked: ")),
        "{}",
        doc["scan"]["messages"]
    );
    // The check has teeth: a report GitLab would reject does not validate.
    let mut broken = doc.clone();
    broken["vulnerabilities"][0]["severity"] = Value::from("Severe");
    assert!(!gitlab_validator().is_valid(&broken));
    let mut broken = doc.clone();
    broken["vulnerabilities"][0]["location"]
        .as_object_mut()
        .unwrap()
        .remove("image");
    assert!(!gitlab_validator().is_valid(&broken));
    let mut broken = doc;
    broken["scan"]["start_time"] = Value::from("2026-12-02T13:00:00Z");
    assert!(!gitlab_validator().is_valid(&broken));
}

/// (name, outcome) of every test case: `failure`, `skipped` or `pass`.
fn junit_cases(doc: &roxmltree::Document) -> Vec<(String, String, String)> {
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let outcome = if n.children().any(|c| c.has_tag_name("failure")) {
                "failure"
            } else if n.children().any(|c| c.has_tag_name("skipped")) {
                "skipped"
            } else {
                "pass"
            };
            let out = n
                .children()
                .find(|c| c.has_tag_name("system-out"))
                .and_then(|c| c.text())
                .unwrap_or("")
                .to_string();
            (n.attribute("name").unwrap().to_string(), outcome.to_string(), out)
        })
        .collect()
}

#[test]
fn junit_report_parses_and_has_a_case_per_failing_or_warning_finding_and_per_passed_check() {
    let tmp = tempfile::tempdir().unwrap();
    // An ignore reason with XML's and a terminal's special characters.
    let policy = "[vulnerabilities]\nfail_on = \"high\"\nallow_permanent_ignores = true\n[[vulnerabilities.ignore]]\nid = \"GHSA-35jh-r3h4-6jhm\"\nreason = \"<b>&amp; ]]> \\u001b]0;pwned\\u0007\"\n[image]\nrequire_non_root = true\nmax_layers = 100\n";
    let (code, _) = scan_demo(
        tmp.path(),
        Some(policy),
        &["--junit", "junit.xml", "--format", "json", "-o", "r.json"],
    );
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(tmp.path().join("junit.xml")).unwrap();
    assert!(!text.contains('\u{1b}'), "no control character reaches the XML");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let report = read_json(&tmp.path().join("r.json"));
    let findings = report["findings"].as_array().unwrap();
    let count = |level: &str| findings.iter().filter(|f| f["level"] == level).count();
    let cases = junit_cases(&doc);
    let of = |o: &str| cases.iter().filter(|c| c.1 == o).count();
    assert_eq!(of("failure"), count("fail"), "{cases:#?}");
    assert_eq!(of("skipped"), count("warn"));
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!(suite.attribute("failures"), Some(count("fail").to_string().as_str()));
    assert_eq!(suite.attribute("tests"), Some(cases.len().to_string().as_str()));
    assert!(
        cases
            .iter()
            .any(|c| c.0 == "GHSA-fr5h-rqp8-mj6g npm:next 13.4.0" && c.1 == "failure"),
        "{cases:#?}"
    );
    // Passed checks: the image has a non-root user and few layers.
    assert!(
        cases.iter().any(|c| c.0 == "IG001 runs-as-root" && c.1 == "pass"),
        "{cases:#?}"
    );
    assert!(cases.iter().any(|c| c.0 == "IG006 too-many-layers" && c.1 == "pass"));
    // A check the policy does not run is not claimed as passed.
    assert!(!cases.iter().any(|c| c.0.starts_with("IG003")), "{cases:#?}");
    // The ignored finding passes with its reason, exact once parsed (controls shown visibly).
    let lodash = cases.iter().find(|c| c.0.starts_with("GHSA-35jh-r3h4-6jhm")).unwrap();
    assert_eq!(lodash.1, "pass");
    assert!(lodash.2.contains("<b>&amp; ]]> \\x1b]0;pwned\\x07"), "{}", lodash.2);
    // The parse check has teeth: a document with an unescaped `<` or cut short is rejected.
    assert!(roxmltree::Document::parse(&text.replacen("&lt;b&gt;", "<b>", 1)).is_err());
    assert!(roxmltree::Document::parse(&text[..text.len() / 2]).is_err());
}

#[test]
fn junit_of_an_sbom_does_not_pass_checks_it_could_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (cdx, _) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, "[image]\nrequire_non_root = true\nmax_layers = 100\n").unwrap();
    let out = tmp.path().join("junit.xml");
    let r = imagegate()
        .args([
            "scan",
            &format!("sbom:{}", cdx.display()),
            "--db",
            db().to_str().unwrap(),
            "-q",
        ])
        .arg("--policy")
        .arg(&policy)
        .arg("--junit")
        .arg(&out)
        .run();
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let cases = junit_cases(&doc);
    assert!(
        !cases
            .iter()
            .any(|c| c.0.starts_with("IG001") || c.0.starts_with("IG006")),
        "{cases:#?}"
    );
}

fn openvex_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(repo_root().join("testdata/schemas/openvex-0.2.schema.json")).unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::draft202012::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap()
    })
}

#[test]
fn openvex_out_carries_the_ignores_and_statements_in_effect_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let vex_in = tmp.path().join("in.openvex.json");
    std::fs::write(
        &vex_in,
        serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.com/vex/demo-2",
            "author": "Security Team <security@example.com>",
            "timestamp": "2026-11-01T00:00:00Z",
            "version": 1,
            "statements": [
                {"vulnerability": {"name": "GHSA-9c47-m6qq-7p4h"},
                 "products": [{"@id": "pkg:npm/json5"}],
                 "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
                {"vulnerability": {"name": "GHSA-fr5h-rqp8-mj6g"},
                 "products": [{"@id": "pkg:npm/next@13.4.0"}],
                 "status": "under_investigation"}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let policy = "[vulnerabilities]\nfail_on = \"high\"\nallow_permanent_ignores = true\n[[vulnerabilities.ignore]]\nid = \"GHSA-35jh-r3h4-6jhm\"\nreason = \"lodash template() is never called\"\n";
    let (code, _) = scan_demo(
        tmp.path(),
        Some(policy),
        &[
            "--vex",
            "in.openvex.json",
            "--openvex",
            "out.openvex.json",
            "--format",
            "json",
            "-o",
            "with.json",
        ],
    );
    assert_eq!(code, 1, "next still fails");
    let doc = read_json(&tmp.path().join("out.openvex.json"));
    let errors = schema_errors(openvex_validator(), &doc);
    assert!(errors.is_empty(), "not valid OpenVEX 0.2: {errors:#?}");
    let statements = doc["statements"].as_array().unwrap();
    let of = |id: &str| {
        statements
            .iter()
            .find(|s| s["vulnerability"]["name"] == id)
            .unwrap_or_else(|| panic!("{id}: {statements:#?}"))
    };
    let lodash = of("GHSA-35jh-r3h4-6jhm");
    assert_eq!(lodash["status"], "not_affected");
    assert!(
        lodash["impact_statement"]
            .as_str()
            .unwrap()
            .contains("template() is never called")
    );
    assert!(lodash["status_notes"].as_str().unwrap().contains("policy"));
    let product = &lodash["products"][0];
    assert!(
        product["@id"].as_str().unwrap().starts_with("pkg:oci/app@sha256%3A"),
        "{product}"
    );
    assert_eq!(product["subcomponents"][0]["@id"], "pkg:npm/lodash@4.17.20");
    let digest = demo_manifest_digest();
    assert_eq!(product["hashes"]["sha-256"], digest.trim_start_matches("sha256:"));
    let json5 = of("GHSA-9c47-m6qq-7p4h");
    assert_eq!(json5["status"], "not_affected");
    assert_eq!(json5["justification"], "vulnerable_code_not_in_execute_path");
    assert!(json5["status_notes"].as_str().unwrap().contains("Security Team"));
    assert_eq!(
        json5["timestamp"], "2026-11-01T00:00:00Z",
        "the statement's time is kept"
    );
    assert_eq!(of("GHSA-fr5h-rqp8-mj6g")["status"], "under_investigation");
    // Only what decided a finding: no statement for a finding nothing excepted.
    assert_eq!(statements.len(), 3, "{statements:#?}");

    // Read back without the policy's ignore: the same findings are excepted.
    let (code, _) = scan_demo(
        tmp.path(),
        Some("[vulnerabilities]\nfail_on = \"high\"\n"),
        &["--vex", "out.openvex.json", "--format", "json", "-o", "back.json"],
    );
    assert_eq!(code, 1);
    let levels = |file: &str| -> BTreeSet<(String, String, bool)> {
        read_json(&tmp.path().join(file))["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.get("vulnerability").is_some())
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_string(),
                    f["level"].as_str().unwrap().to_string(),
                    f["ignored"].is_null(),
                )
            })
            .collect()
    };
    assert_eq!(levels("back.json"), levels("with.json"));

    // Nothing in effect: no document (OpenVEX needs a statement), and a note saying so.
    let r = imagegate()
        .args(["scan", &demo(), "--db", db().to_str().unwrap(), "--openvex"])
        .arg(tmp.path().join("none.json"))
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!tmp.path().join("none.json").exists());
    assert!(r.stderr.contains("not written"), "{}", r.stderr);
    // The validation has teeth.
    let mut broken = doc.clone();
    broken["statements"][0]["status"] = Value::from("maybe");
    assert!(!openvex_validator().is_valid(&broken));
    // not_affected with neither justification nor impact statement (the policy ignore's).
    let ignore_at = doc["statements"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["vulnerability"]["name"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    let mut broken = doc;
    broken["statements"][ignore_at]
        .as_object_mut()
        .unwrap()
        .remove("impact_statement");
    assert!(!openvex_validator().is_valid(&broken));
}

#[test]
fn the_policys_vex_key_applies_its_documents_relative_to_the_policy_file() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf");
    std::fs::create_dir_all(conf.join("vex")).unwrap();
    std::fs::write(
        conf.join("vex/lodash.json"),
        serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.com/vex/demo-3",
            "author": "Security Team",
            "timestamp": "2026-11-01T00:00:00Z",
            "version": 1,
            "statements": [{"vulnerability": {"name": "GHSA-35jh-r3h4-6jhm"},
                "products": [{"@id": "pkg:npm/lodash@4.17.20"}],
                "status": "not_affected", "justification": "vulnerable_code_not_present"}]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        conf.join("vex/broken.json"),
        "{\"@context\": \"https://openvex.dev/ns/v0.2.0\"",
    )
    .unwrap();
    let scan = |policy_text: &str| {
        let policy = conf.join("policy.toml");
        std::fs::write(&policy, policy_text).unwrap();
        // Run from another directory: the paths are the policy's, not the working directory's.
        let r = imagegate()
            .args([
                "scan",
                &demo(),
                "--db",
                db().to_str().unwrap(),
                "--format",
                "json",
                "--policy",
            ])
            .arg(&policy)
            .current_dir(tmp.path())
            .run();
        let check = imagegate().args(["policy", "check"]).arg(&policy).run();
        (r, check)
    };
    let (r, check) = scan("[vulnerabilities]\nvex = [\"vex/lodash.json\"]\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stdout.contains("1 VEX statements"), "{}", check.stdout);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let lodash = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap();
    assert_eq!(lodash["level"], "info");
    assert!(
        lodash["ignored"]
            .as_str()
            .unwrap()
            .contains("vulnerable_code_not_present")
    );
    // A document that does not parse, a missing one, an empty path: exit 2, at the entry.
    for (text, want) in [
        (
            "[vulnerabilities]\nfail_on = \"high\"\nvex = [\"vex/lodash.json\", \"vex/broken.json\"]\n",
            "policy.toml:3:",
        ),
        ("[vulnerabilities]\nvex = [\"vex/missing.json\"]\n", "policy.toml:2:"),
        ("[vulnerabilities]\nvex = [\"\"]\n", "policy.toml:2:"),
        ("[vulnerabilities]\nvex = \"vex/lodash.json\"\n", "policy.toml:2:"),
    ] {
        let (r, check) = scan(text);
        assert_eq!(r.code, 2, "{text}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{text}: {}", r.stderr);
        assert_eq!(check.code, 2, "{text}: {}", check.stderr);
        assert!(check.stderr.contains(want), "{text}: {}", check.stderr);
    }
}

#[test]
fn sboms_carry_npm_dependency_edges_resolved_through_node_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, cdx) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    assert_valid(&cdx);
    let deps = cdx["dependencies"].as_array().unwrap();
    let depends_on = |purl: &str| -> Vec<String> {
        deps.iter()
            .find(|d| d["ref"] == purl)
            .unwrap_or_else(|| panic!("no dependency entry for {purl}"))["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    // next 13.4.0's package.json depends on @next/env, installed beside it.
    let next = depends_on("pkg:npm/next@13.4.0");
    assert!(next.contains(&"pkg:npm/%40next/env@13.4.0".to_string()), "{next:?}");
    // Every edge points at a component of the document (CycloneDX requires it).
    let refs: BTreeSet<&str> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    for d in deps {
        for target in d["dependsOn"].as_array().unwrap() {
            assert!(refs.contains(target.as_str().unwrap()), "{target}");
        }
    }
    // An OS package states no edges here.
    let musl = component(&cdx, "musl")["bom-ref"].as_str().unwrap().to_string();
    assert!(depends_on(&musl).is_empty());

    // SPDX: the same edge as DEPENDS_ON between the two packages.
    let (_, spdx) = inventory_spdx(tmp.path(), "own.spdx.json");
    let id_of = |purl: &str| -> String {
        spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                p["externalRefs"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x["referenceLocator"] == purl))
            })
            .unwrap_or_else(|| panic!("no SPDX package {purl}"))["SPDXID"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (next_id, env_id) = (id_of("pkg:npm/next@13.4.0"), id_of("pkg:npm/%40next/env@13.4.0"));
    assert!(
        spdx["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["spdxElementId"] == next_id.as_str()
                && r["relationshipType"] == "DEPENDS_ON"
                && r["relatedSpdxElement"] == env_id.as_str()),
        "no next DEPENDS_ON @next/env"
    );
}

#[test]
fn sboms_name_the_nodejs_runtime_as_syfts_binary_cataloger_does() {
    let tmp = tempfile::tempdir().unwrap();
    let (cdx_path, cdx) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    assert_valid(&cdx);
    let node = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == "pkg:generic/node@20.17.0")
        .expect("the demo's nodejs.org runtime is a component");
    assert_eq!(node["type"], "application");
    assert_eq!(props(node, "imagegate:path"), ["usr/local/bin/node"]);
    let (_, spdx) = inventory_spdx(tmp.path(), "own.spdx.json");
    assert!(
        spdx["packages"].as_array().unwrap().iter().any(|p| p["name"] == "node"
            && p["versionInfo"] == "20.17.0"
            && p["primaryPackagePurpose"] == "APPLICATION")
    );
    // Read back, it is the runtime again (not an unmatched `other` package); without the
    // Node.js index it is not checked, and says so.
    let r = imagegate()
        .args([
            "scan",
            &format!("sbom:{}", cdx_path.display()),
            "--db",
            db().to_str().unwrap(),
            "--format",
            "json",
        ])
        .run();
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        report["inventory"]["node_runtime"]["version"], "20.17.0",
        "{}",
        report["inventory"]
    );
    let coverage = report["coverage"].as_array().unwrap();
    assert!(!report["coverage"].to_string().contains("pkg:generic"), "{coverage:?}");
    assert!(
        coverage
            .iter()
            .any(|c| c["source"] == "node-runtime" && c["status"] == "not_checked"),
        "{coverage:?}"
    );
}

#[test]
fn the_nodejs_runtime_round_trips_through_both_sboms_to_the_same_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let r = imagegate()
        .args(["db", "import", "--db", db.to_str().unwrap()])
        .arg(repo_root().join("testdata/osv/npm"))
        .arg(repo_root().join("testdata/osv/alpine"))
        .arg(repo_root().join("testdata/nodejs-security-wg/core"))
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runtime_findings = |image: &str| -> (BTreeSet<String>, Value) {
        let r = imagegate()
            .args(["scan", image, "--db", db.to_str().unwrap(), "--format", "json"])
            .run();
        assert!(r.code == 0 || r.code == 1, "{image}: {}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let set = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| {
                f["evidence"]["package"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("node-runtime:"))
            })
            .map(|f| format!("{} {} {}", f["rule"], f["evidence"]["package"], f["level"]))
            .collect();
        let coverage = v["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == "node-runtime")
            .cloned()
            .unwrap_or(Value::Null);
        (set, coverage)
    };
    let (expected, coverage) = runtime_findings(&demo());
    assert!(!expected.is_empty(), "Node.js 20.17.0 has advisories in the WG's index");
    assert_eq!(coverage["status"], "checked");
    let (cdx, _) = inventory_cyclonedx(tmp.path(), "own.cdx.json");
    let (spdx, _) = inventory_spdx(tmp.path(), "own.spdx.json");
    for sbom in [cdx, spdx] {
        let (got, coverage) = runtime_findings(&format!("sbom:{}", sbom.display()));
        assert_eq!(got, expected, "{}", sbom.display());
        assert_eq!(coverage["status"], "checked", "{}", sbom.display());
    }
}
