//! The SARIF and Markdown reports of the gate, driven through the library: the demo image
//! scanned against the advisory snapshot under `policies/production.toml`, rendered, and the
//! SARIF checked against the OASIS schema and against what GitHub code scanning relies on
//! (rule references, security-severity, levels, fingerprints that survive a re-tag, one
//! category per image, the 25,000-result limit, Dockerfile lines).

use imagegate::gate::{AdvisorySource, DockerfileRef, Gate, Run, read_inventory, repository_of};
use imagegate::image::LoadOptions;
use imagegate::inventory::{Inventory, PackageKind, PackageRef};
use imagegate::policy::evaluate::Outcome;
use imagegate::policy::finding::{Check, Evidence, Finding, Level, RuleId, Verdict};
use imagegate::policy::{Policy, PolicySource};
use imagegate::report::markdown::markdown;
use imagegate::report::sarif::{MAX_RESULTS, sarif};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_path() -> String {
    root().join("testdata/demo/app.tar").display().to_string()
}

/// One advisory database for every test, from the shipped snapshot.
fn db_dir() -> &'static Path {
    crate::support::osv_db(&["npm", "alpine"])
}

fn load(reference: &str) -> Inventory {
    read_inventory(reference, &LoadOptions::default()).unwrap()
}

/// The gate over an inventory, through the library's one entry point: (outcome, the run).
fn gate(inv: &Inventory, policy_text: &str, origin: &str) -> (Outcome, Run) {
    let policy = Policy::parse(policy_text, PolicySource::File(origin.into())).unwrap();
    let gate = Gate::new(policy, AdvisorySource::Local(db_dir().to_path_buf())).unwrap();
    let run = gate.judge(inv.clone()).unwrap();
    (run.outcome.clone(), run)
}

fn production() -> String {
    std::fs::read_to_string(root().join("policies/production.toml")).unwrap()
}

const PRODUCTION_ORIGIN: &str = "policies/production.toml";

/// A run of `base` with this inventory, outcome and Dockerfile.
fn run_of(inv: &Inventory, outcome: &Outcome, base: &Run, dockerfile: Option<(&str, &str)>, elapsed: Duration) -> Run {
    Run {
        inventory: inv.clone(),
        outcome: outcome.clone(),
        repository: repository_of(inv),
        dockerfile: dockerfile.map(|(path, text)| DockerfileRef::new(path, text)),
        elapsed,
        ..base.clone()
    }
}

fn render(inv: &Inventory, outcome: &Outcome, db: &Run, dockerfile: Option<(&str, &str)>) -> Value {
    let run = run_of(inv, outcome, db, dockerfile, Duration::from_millis(420));
    let text = sarif(&run).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The language-tag pattern of the SARIF 2.1.0 schema as first published, which Rust's `regex`
/// engine rejects (a stray `]`), and the one OASIS Errata 01 replaced it with.
const ERRATUM_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
const ERRATUM_FIX: &str = "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$";

/// The OASIS schema, compiled once, with Rust's `regex` engine (linear time, no look-around).
/// The copy in `testdata/schemas/` is the Errata 01 schema, which already carries the fixed
/// `language` pattern; should the pre-errata file ever be dropped in, its broken pattern
/// (`ERRATUM_PATTERN`) is patched here in memory rather than failing every test.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("testdata/schemas/sarif-schema-2.1.0.json")).unwrap();
        let text = text.replace(ERRATUM_PATTERN, ERRATUM_FIX);
        let schema: Value = serde_json::from_str(&text).unwrap();
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&schema)
            .unwrap()
    })
}

#[test]
fn the_schema_check_has_teeth() {
    let inv = load(&demo_path());
    let (outcome, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    let good = render(&inv, &outcome, &db, None);
    assert!(validator().is_valid(&good));
    // A level SARIF does not have, a result without a message, a rule without an id.
    let mut bad = good.clone();
    bad["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator().is_valid(&bad));
    let mut bad = good.clone();
    bad["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
    assert!(!validator().is_valid(&bad));
    let mut bad = good;
    bad["runs"][0]["tool"]["driver"]["rules"][0]
        .as_object_mut()
        .unwrap()
        .remove("id");
    assert!(!validator().is_valid(&bad));
    // The erratum the patch in `validator()` is for: this engine refuses the original pattern.
    let original = serde_json::json!({"properties": {"language": {"type": "string", "pattern": ERRATUM_PATTERN}}});
    let engine = || jsonschema::draft4::options().with_pattern_options(jsonschema::PatternOptions::regex());
    assert!(engine().build(&original).is_err());
    let fixed = serde_json::json!({"properties": {"language": {"type": "string", "pattern": ERRATUM_FIX}}});
    assert!(engine().build(&fixed).is_ok());
}

fn assert_valid(doc: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF does not validate:\n{}", errors.join("\n"));
}

fn run(doc: &Value) -> &Value {
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    &runs[0]
}

fn results(doc: &Value) -> &Vec<Value> {
    run(doc)["results"].as_array().unwrap()
}

/// The result whose package starts with `prefix` and whose rule is `rule`.
fn result_for<'a>(doc: &'a Value, rule: &str, package_prefix: &str) -> &'a Value {
    results(doc)
        .iter()
        .find(|r| {
            r["ruleId"] == rule
                && r["properties"]["package"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(package_prefix))
        })
        .unwrap_or_else(|| panic!("no {rule} result for {package_prefix}"))
}

fn location(r: &Value) -> (&str, u64, u64) {
    let p = &r["locations"][0]["physicalLocation"];
    (
        p["artifactLocation"]["uri"].as_str().unwrap(),
        p["region"]["startLine"].as_u64().unwrap(),
        p["region"]["endLine"].as_u64().unwrap(),
    )
}

fn fingerprints(doc: &Value) -> BTreeMap<(String, String), String> {
    results(doc)
        .iter()
        .map(|r| {
            let key = (
                r["ruleId"].as_str().unwrap().to_string(),
                r["properties"]["package"].as_str().unwrap_or("").to_string(),
            );
            let fp = r["partialFingerprints"]["imagegate/v1"].as_str().unwrap().to_string();
            (key, fp)
        })
        .collect()
}

/// Lodash's command injection: high, fixed in 4.17.21; fails the production policy.
const LODASH: &str = "GHSA-35jh-r3h4-6jhm";

#[test]
fn demo_sarif_validates_and_follows_the_gate() {
    let inv = load(&demo_path());
    let (outcome, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    assert!(!outcome.verdict.pass);
    let doc = render(&inv, &outcome, &db, None);
    assert_valid(&doc);

    assert_eq!(doc["version"], "2.1.0");
    assert!(doc["$schema"].as_str().unwrap().ends_with("sarif-schema-2.1.0.json"));
    let run = run(&doc);
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "imagegate");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(run["automationDetails"]["id"], "imagegate/app/");
    assert!(run["properties"].get("truncated").is_none());

    // Every rule is used, once; every result names its rule by id and by index.
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len(), "{ids:?}");
    let results = results(&doc);
    assert_eq!(results.len(), outcome.findings.len());
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "{r}");
    }
    for id in &ids {
        assert!(results.iter().any(|r| r["ruleId"] == *id), "unused rule {id}");
    }

    for rule in rules {
        let s = rule["properties"]["security-severity"].as_str().unwrap();
        let score: f64 = s.parse().unwrap();
        assert!((0.0..=10.0).contains(&score), "{s}");
        let tags: Vec<&str> = rule["properties"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tags[0], "security");
        assert!(!rule["help"]["markdown"].as_str().unwrap().is_empty());
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        assert!(!rule["shortDescription"]["text"].as_str().unwrap().is_empty());
    }

    // Levels follow the gate, finding by finding (results keep the findings' order).
    for (f, r) in outcome.findings.iter().zip(results) {
        let want = match f.level {
            Level::Fail => "error",
            Level::Warn => "warning",
            Level::Info => "note",
        };
        assert_eq!(r["level"], want, "{}", f.rule);
        assert_eq!(r["ruleId"], f.rule.as_str());
        assert_eq!(r["properties"]["gate"], f.level.as_str());
    }

    // Lodash: an advisory rule with the CVSS score, the fix in help, and its package.json.
    let lodash_rule = rules.iter().find(|r| r["id"] == LODASH).unwrap();
    assert_eq!(
        lodash_rule["properties"]["tags"],
        serde_json::json!(["security", "vulnerability", "npm"])
    );
    assert_eq!(lodash_rule["defaultConfiguration"]["level"], "error");
    assert!(
        lodash_rule["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("Upgrade `lodash` to `4.17.21`")
    );
    let f = outcome.findings.iter().find(|f| f.rule == LODASH).unwrap();
    assert_eq!(
        lodash_rule["properties"]["security-severity"],
        format!("{:.1}", f.security_severity())
    );
    // One advisory in two packages (libcrypto3 and libssl3, both from openssl): one rule, whose
    // help names the fix for each.
    let openssl = rules.iter().find(|r| r["id"] == "ALPINE-CVE-2024-9143").unwrap();
    let help = openssl["help"]["markdown"].as_str().unwrap();
    assert!(help.contains("`libcrypto3`") && help.contains("`libssl3`"), "{help}");
    assert_eq!(
        location(result_for(&doc, "ALPINE-CVE-2024-9143", "apk:libssl3@")).0,
        "lib/apk/db/installed"
    );
    let r = result_for(&doc, LODASH, "npm:lodash@");
    assert_eq!(r["level"], "error");
    assert_eq!(location(r), ("app/node_modules/lodash/package.json", 1, 1));
    assert_eq!(r["properties"]["installedVersion"], "4.17.20");
    assert_eq!(r["properties"]["fixedVersions"], serde_json::json!(["4.17.21"]));
    assert_eq!(r["properties"]["layer"], 2);
    assert!(r["message"]["text"].as_str().unwrap().contains("lodash"));

    // The dev dependency that shipped: a policy rule, named from RULES.
    let dev_rule = rules.iter().find(|r| r["id"] == "IG009").unwrap();
    assert_eq!(dev_rule["name"], "dev-dependency");
    assert_eq!(
        dev_rule["properties"]["tags"],
        serde_json::json!(["security", "policy"])
    );
    assert_eq!(dev_rule["properties"]["security-severity"], "7.0");
    let r = result_for(&doc, "IG009", "npm:typescript@");
    assert_eq!(location(r).0, "app/node_modules/typescript/package.json");

    // Every location is a relative path (GitHub rejects other schemes) on line 1 or later.
    for r in results {
        let (uri, start, _) = location(r);
        assert!(!uri.contains("://") && !uri.starts_with('/'), "{uri}");
        assert!(start >= 1);
    }
    // Fingerprints are unique within the run.
    let fps: HashSet<&str> = results
        .iter()
        .map(|r| r["partialFingerprints"]["imagegate/v1"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), results.len());
}

#[test]
fn fingerprints_survive_a_retag_and_categories_follow_the_repository() {
    let inv = load(&demo_path());
    let (outcome, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    let plain = render(&inv, &outcome, &db, None);

    // The same archive under other names: another transport prefix with a tag selector, and a
    // copy under another file name.
    let prefixed = load(&format!("oci-archive:{}:1.0.0", demo_path()));
    assert_ne!(prefixed.image.reference, inv.image.reference);
    let (o2, _) = gate(&prefixed, &production(), PRODUCTION_ORIGIN);
    let prefixed = render(&prefixed, &o2, &db, None);

    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("web.tar");
    std::fs::copy(demo_path(), &copy).unwrap();
    let copied = load(&copy.display().to_string());
    let (o3, _) = gate(&copied, &production(), PRODUCTION_ORIGIN);
    let copied = render(&copied, &o3, &db, None);

    // Re-tagged in a registry: the same content, other repo tags.
    let mut retagged = inv.clone();
    retagged.image.repo_tags = vec!["ghcr.io/acme/web:2.0.0".into()];
    retagged.image.reference = "ghcr.io/acme/web:2.0.0".into();
    let retagged_doc = render(&retagged, &outcome, &db, None);
    let mut other_tag = retagged.clone();
    other_tag.image.repo_tags = vec!["ghcr.io/acme/web:latest".into()];
    other_tag.image.reference = "ghcr.io/acme/web@sha256:0123".into();
    let other_tag_doc = render(&other_tag, &outcome, &db, None);
    let mut other_repo = retagged.clone();
    other_repo.image.repo_tags = vec!["ghcr.io/acme/api:2.0.0".into()];
    let other_repo_doc = render(&other_repo, &outcome, &db, None);

    let base = fingerprints(&plain);
    assert!(base.len() > 3);
    for doc in [&prefixed, &copied, &retagged_doc, &other_tag_doc, &other_repo_doc] {
        assert_eq!(fingerprints(doc), base);
    }

    let category = |doc: &Value| run(doc)["automationDetails"]["id"].as_str().unwrap().to_string();
    assert_eq!(category(&plain), "imagegate/app/");
    assert_eq!(category(&prefixed), "imagegate/app/");
    assert_eq!(category(&copied), "imagegate/web/");
    assert_eq!(category(&retagged_doc), "imagegate/acme/web/");
    // A new tag of the same repository replaces the last upload; another repository does not.
    assert_eq!(category(&other_tag_doc), category(&retagged_doc));
    assert_eq!(category(&other_repo_doc), "imagegate/acme/api/");
    assert_ne!(category(&other_repo_doc), category(&retagged_doc));
}

/// The Dockerfile the demo image's history describes.
const DEMO_DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
FROM scratch
ADD alpine-minirootfs-3.20.3-x86_64.tar.gz /
CMD ["/bin/sh"]
ENV NODE_VERSION=20.17.0
RUN apk add --no-cache libstdc++ \
 && tar -xJf node-v20.17.0-linux-x64-musl.tar.xz -C /usr/local --strip-components=1 --no-same-owner \
 && rm node-v20.17.0-linux-x64-musl.tar.xz
WORKDIR /app
ENV NODE_ENV=production
RUN addgroup -S -g 1001 nodejs \
 && adduser -S -D -H -u 1001 -G nodejs -h /home/nextjs -s /sbin/nologin nextjs \
 && npm ci
RUN rm -rf node_modules/minimist
USER 1001
EXPOSE 3000
HEALTHCHECK CMD wget -qO- http://localhost:3000/api/health || exit 1
CMD ["node", "server.js"]
"#;

#[test]
fn with_a_dockerfile_results_point_at_the_step_that_added_the_package() {
    let inv = load(&demo_path());
    let (outcome, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    let doc = render(&inv, &outcome, &db, Some(("docker/Dockerfile", DEMO_DOCKERFILE)));
    assert_valid(&doc);
    // `RUN /bin/sh -c addgroup … && npm ci # buildkit` ↔ the RUN on lines 11–13.
    assert_eq!(
        location(result_for(&doc, LODASH, "npm:lodash@")),
        ("docker/Dockerfile", 11, 13)
    );
    assert_eq!(
        location(result_for(&doc, "IG009", "npm:typescript@")),
        ("docker/Dockerfile", 11, 13)
    );
    // Every result is in the Dockerfile; fingerprints do not depend on the location.
    for r in results(&doc) {
        assert_eq!(location(r).0, "docker/Dockerfile");
    }
    assert_eq!(fingerprints(&doc), fingerprints(&render(&inv, &outcome, &db, None)));

    // A layer of the base image (apk packages from the minirootfs) points at its ADD, when
    // the Dockerfile has it, and a step nobody wrote here at the final FROM.
    let mut f = outcome.findings[0].clone();
    f.rule = RuleId::Check(Check::DeniedPackage);
    f.vulnerability = None;
    f.evidence = Evidence {
        package: Some(PackageRef::new(PackageKind::Apk, "busybox", "1.36.1-r29")),
        layer: Some(0),
        created_by: Some("ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit".into()),
        ..Evidence::default()
    };
    let mut g = f.clone();
    g.evidence.package = Some(PackageRef::new(PackageKind::Apk, "gcc", "13.2.1_git20240309-r0"));
    g.evidence.created_by = Some("RUN /bin/sh -c apk add --no-cache build-base # buildkit".into());
    // Checks of the image's configuration point at the instruction they are about: USER,
    // HEALTHCHECK, and (this Dockerfile has no LABEL) the final stage's FROM.
    let check = |rule: Check| {
        let mut c = g.clone();
        c.rule = RuleId::Check(rule);
        c.evidence = Evidence::default();
        c
    };
    let synthetic = outcome_of(vec![
        f.clone(),
        g.clone(),
        check(Check::RunsAsRoot),
        check(Check::NoHealthcheck),
        check(Check::MissingLabel),
    ]);
    let doc = render(&inv, &synthetic, &db, Some(("docker/Dockerfile", DEMO_DOCKERFILE)));
    assert_valid(&doc);
    let lines: Vec<(u64, u64)> = results(&doc)
        .iter()
        .map(|r| {
            let (_, start, end) = location(r);
            (start, end)
        })
        .collect();
    assert_eq!(lines, vec![(3, 3), (2, 2), (15, 15), (17, 17), (2, 2)]);
    // Without the Dockerfile: the apk database, and the image's configuration.
    let doc = render(&inv, &synthetic, &db, None);
    let uris: Vec<&str> = results(&doc).iter().map(|r| location(r).0).collect();
    assert_eq!(
        uris,
        vec![
            "lib/apk/db/installed",
            "lib/apk/db/installed",
            "image-config.json",
            "image-config.json",
            "image-config.json"
        ]
    );
}

#[test]
fn ignored_findings_are_listed_not_alerted_and_ignore_entries_point_at_the_policy() {
    let inv = load(&demo_path());
    let policy = format!(
        "{}\n[[vulnerabilities.ignore]]\nid = \"CVE-2021-23337\"\npackage = \"npm:lodash\"\nreason = \"template() is never called\"\nexpires = \"2999-01-01\"\n\n[[vulnerabilities.ignore]]\nid = \"GHSA-xxxx-xxxx-xxxx\"\nreason = \"typo on purpose\"\nexpires = \"2999-01-01\"\n",
        production()
    );
    let (outcome, db) = gate(&inv, &policy, PRODUCTION_ORIGIN);
    let doc = render(&inv, &outcome, &db, None);
    assert_valid(&doc);
    // The ignored finding is no result (GitHub would show it as an open alert: it does not
    // honour `suppressions`); the run lists it with its reason.
    assert!(outcome.findings.iter().any(|f| f.rule == LODASH && f.ignored.is_some()));
    assert!(!results(&doc).iter().any(|r| r["ruleId"] == LODASH));
    assert!(
        !run(&doc)["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == LODASH)
    );
    let ignored = &run(&doc)["properties"]["ignored"];
    assert_eq!(ignored.as_array().unwrap().len(), 1, "{ignored}");
    assert_eq!(ignored[0]["ruleId"], LODASH);
    assert_eq!(ignored[0]["package"], "npm:lodash@4.17.20");
    assert_eq!(ignored[0]["reason"], "template() is never called");
    let unknown = outcome.findings.iter().find(|f| f.rule == "IG015").unwrap();
    let line = unknown.evidence.policy_line.unwrap() as u64;
    let r = results(&doc).iter().find(|r| r["ruleId"] == "IG015").unwrap();
    assert_eq!(location(r), (PRODUCTION_ORIGIN, line, line));
    assert_eq!(r["level"], "warning");
}

fn outcome_of(findings: Vec<Finding>) -> Outcome {
    let verdict = Verdict::of(&findings);
    Outcome {
        findings,
        hidden: 0,
        verdict,
    }
}

#[test]
fn more_than_25000_results_keep_the_worst_and_say_what_was_cut() {
    let inv = load(&demo_path());
    let (_, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    let file = |i: usize, level: Level, rule: Check| Finding {
        rule: RuleId::Check(rule),
        level,
        title: "Denied file in the image".into(),
        message: format!("`/app/secrets/{i}.env` matches `**/.env`"),
        evidence: Evidence {
            path: Some(format!("app/secrets/{i}.env")),
            layer: Some(2),
            limit: Some("**/.env".into()),
            ..Evidence::default()
        },
        vulnerability: None,
        ignored: None,
        origin: None,
        baseline: None,
    };
    // Worst first, as the evaluation sorts them: 24,990 failing, then 20 notes of another rule.
    let mut findings: Vec<Finding> = (0..24_990).map(|i| file(i, Level::Fail, Check::DeniedFile)).collect();
    findings.extend((0..20).map(|i| file(100_000 + i, Level::Info, Check::IgnoreStale)));
    assert_eq!(findings.len(), 25_010);
    let outcome = outcome_of(findings);
    let doc = render(&inv, &outcome, &db, None);
    assert_valid(&doc);

    let results = results(&doc);
    assert_eq!(results.len(), MAX_RESULTS);
    assert!(results[..24_990].iter().all(|r| r["level"] == "error"));
    assert!(results[24_990..].iter().all(|r| r["level"] == "note"));
    let t = &run(&doc)["properties"]["truncated"];
    assert_eq!(t["limit"], 25_000);
    assert_eq!(t["totalResults"], 25_010);
    assert_eq!(t["omittedResults"], 10);
    assert_eq!(t["omittedFail"], 0);
    assert_eq!(t["omittedInfo"], 10);
    // IG014 still has 10 results in the run, so no rule vanished.
    assert_eq!(t["omittedRules"], serde_json::json!([]));
    let notes = run(&doc)["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    let text = notes[0]["message"]["text"].as_str().unwrap();
    assert!(
        text.contains("25010 findings") && text.contains("the 10 least severe"),
        "{text}"
    );
    assert_eq!(run(&doc)["invocations"][0]["executionSuccessful"], true);
    let fps: HashSet<&str> = results
        .iter()
        .map(|r| r["partialFingerprints"]["imagegate/v1"].as_str().unwrap())
        .collect();
    assert_eq!(fps.len(), MAX_RESULTS);
}

#[test]
fn markdown_summary() {
    let inv = load(&demo_path());
    let (mut outcome, db) = gate(&inv, &production(), PRODUCTION_ORIGIN);
    // A finding whose texts carry table and HTML syntax.
    outcome.findings.push(Finding {
        rule: RuleId::Check(Check::DeniedFile),
        level: Level::Fail,
        title: "Denied | file".into(),
        message: "`/app/a|b.env` matches `**/.env`".into(),
        evidence: Evidence {
            path: Some("app/a|b.env".into()),
            layer: Some(2),
            created_by: Some("RUN /bin/sh -c echo x | tee a|b.env </details> # buildkit".into()),
            ..Evidence::default()
        },
        vulnerability: None,
        ignored: None,
        origin: None,
        baseline: None,
    });
    outcome.verdict = Verdict::of(&outcome.findings);
    let md = markdown(&run_of(&inv, &outcome, &db, None, Duration::from_millis(1234)));
    let first = md.lines().next().unwrap();
    assert!(first.starts_with("### ❌ FAIL"), "{first}");
    assert!(first.contains(&format!("{} failing", outcome.verdict.fail)), "{first}");
    assert!(first.contains("app.tar"), "{first}");

    let lodash = md
        .lines()
        .find(|l| l.contains(LODASH))
        .unwrap_or_else(|| panic!("no lodash row:\n{md}"));
    assert!(lodash.contains("4.17.20 → 4.17.21"), "{lodash}");
    assert!(lodash.contains("`lodash`"), "{lodash}");
    // It is in the failing table, before any <details>.
    let details = md.find("<details>").unwrap_or(md.len());
    assert!(md.find(LODASH).unwrap() < details);

    // Every table row has exactly its five cell borders: the `|` in texts are escaped.
    let odd = md.lines().find(|l| l.contains("Denied")).unwrap();
    assert!(odd.contains("Denied \\| file") && odd.contains("a\\|b.env"), "{odd}");
    for row in md.lines().filter(|l| l.starts_with('|')) {
        let borders = row
            .char_indices()
            .filter(|&(i, c)| c == '|' && !row[..i].ends_with('\\'))
            .count();
        assert_eq!(borders, 5, "{row}");
    }
    // A `</details>` in a code span is text; the folds open and close on lines of their own.
    let opened = md.lines().filter(|l| l.starts_with("<details>")).count();
    assert_eq!(opened, md.lines().filter(|l| *l == "</details>").count(), "{md}");

    let last = md.lines().last().unwrap();
    assert!(last.starts_with("Policy `policies/production.toml`"), "{last}");
    assert!(last.contains("advisory DB") && last.contains("1.23 s"), "{last}");
    // Compact: the failing table, folded warnings, one closing line.
    assert!(md.lines().count() < 40, "{md}");
}

/// `scan --fail-on LEVEL --sarif F --policy P` (what the GitHub Action runs when its `fail-on`
/// input is set): the results about the policy itself — the database's age and every kind of
/// ignore entry — point at P, not at the image configuration. (`--fail-on` once changed the
/// policy's name in the report, and the SARIF writer lost the file.)
#[test]
fn with_fail_on_the_policy_rules_point_at_the_policy_file() {
    let tmp = tempfile::tempdir().unwrap();
    let today = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let soon = today.saturating_add(jiff::Span::new().days(7));
    let policy = tmp.path().join("gate.toml");
    std::fs::write(
        &policy,
        format!(
            "[vulnerabilities]\nmax_db_age = \"1s\"\n\n\
             [[vulnerabilities.ignore]]\nid = \"CVE-2021-23337\"\nreason = \"expired on purpose\"\nexpires = \"2020-01-01\"\n\n\
             [[vulnerabilities.ignore]]\nid = \"GHSA-fr5h-rqp8-mj6g\"\nreason = \"expires soon\"\nexpires = \"{soon}\"\n\n\
             [[vulnerabilities.ignore]]\nid = \"IG010\"\nreason = \"matches nothing\"\nexpires = \"2999-01-01\"\n\n\
             [[vulnerabilities.ignore]]\nid = \"GHSA-xxxx-xxxx-xxxx\"\nreason = \"typo on purpose\"\nexpires = \"2999-01-01\"\n"
        ),
    )
    .unwrap();
    // The database must be older than the policy's 1 s.
    std::thread::sleep(Duration::from_millis(1100));
    let sarif_path = tmp.path().join("out.sarif");
    let out = assert_cmd::Command::cargo_bin("imagegate")
        .unwrap()
        .args(["scan", &demo_path(), "--db"])
        .arg(db_dir())
        .args(["--fail-on", "high", "--sarif"])
        .arg(&sarif_path)
        .arg("--policy")
        .arg(&policy)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_valid(&doc);
    let policy_uri = format!("file://{}", policy.display());
    for rule in ["IG011", "IG012", "IG013", "IG014", "IG015"] {
        let r = results(&doc)
            .iter()
            .find(|r| r["ruleId"] == rule)
            .unwrap_or_else(|| panic!("no {rule} result"));
        assert_eq!(location(r).0, policy_uri, "{rule}: {r}");
    }
    // The report still says what the command line changed.
    let described = run(&doc)["properties"]["policy"].as_str().unwrap();
    assert!(described.contains("fail_on from --fail-on"), "{described}");
}
