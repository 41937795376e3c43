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
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DB.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("db");
        let r = imagegate()
            .args(["db", "import", "--db", dir.to_str().unwrap()])
            .arg(repo_root().join("testdata/osv/npm"))
            .arg(repo_root().join("testdata/osv/alpine"))
            .run();
        assert_eq!(r.code, 0, "{}", r.stderr);
        (tmp, dir)
    })
    .1
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

fn cyclonedx_validator() -> &'static jsonschema::Validator {
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

fn spdx_validator() -> &'static jsonschema::Validator {
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
