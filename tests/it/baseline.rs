//! Base image versus app, and new since a baseline (issue 15): images built from one shared
//! base layer (the demo's Alpine layer, with its real Alpine advisories) and different app
//! layers (npm packages with real GHSA records), scanned with `--base`, the base labels, the
//! history alone, and `--baseline FILE|IMAGE`.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

const LODASH: (&str, &str) = ("lodash", "4.17.20"); // GHSA-35jh-r3h4-6jhm, high, fixed 4.17.21
const MINIMIST: (&str, &str) = ("minimist", "1.2.0"); // GHSA-vh95-rmgr-6w4m, moderate, fixed 1.2.3
const JSON5: (&str, &str) = ("json5", "2.2.1"); // GHSA-9c47-m6qq-7p4h, high, fixed 2.2.2

fn app_layer(pkgs: &[(&str, &str)]) -> Layer {
    let mut l = Layer::new().file("app/package.json", package_json("app", "1.0.0", "MIT"));
    for (name, version) in pkgs {
        l = l.file(
            &format!("app/node_modules/{name}/package.json"),
            package_json(name, version, "MIT"),
        );
    }
    l
}

/// The shared base: the demo's Alpine layer, then its `CMD` (as BuildKit records it).
fn on_base(app: Layer) -> ImageSpec {
    ImageSpec::new()
        .layer(
            demo_base_layer(),
            Compression::Gzip,
            "ADD alpine-minirootfs-3.20.3-x86_64.tar.gz / # buildkit",
        )
        .empty("CMD [\"/bin/sh\"]")
        .layer(app, Compression::Gzip, "COPY . /app # buildkit")
        .user("1001")
}

/// The base's layer and the app's, with no stage boundary in the history.
fn without_boundary(app: Layer) -> ImageSpec {
    ImageSpec::new()
        .layer(demo_base_layer(), Compression::Gzip, "ADD rootfs / # buildkit")
        .layer(app, Compression::Gzip, "COPY . /app # buildkit")
        .user("1001")
}

fn write(spec: &ImageSpec, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let mut layout = Layout::new();
    layout.add_image(&spec.build(), None);
    layout.write_dir(&path).unwrap();
    path.display().to_string()
}

fn policy(dir: &Path, text: &str) -> String {
    let p = dir.join("policy.toml");
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn scan(args: &[&str], db: &Path) -> (i32, Value, String) {
    let mut all = vec!["scan", "--db", db.to_str().unwrap(), "--format", "json"];
    all.extend_from_slice(args);
    let r = crate::support::imagegate().args(&all).run();
    let v = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, v, r.stderr)
}

/// `(rule, package name, level, part, decided_by, baseline state)` of every advisory finding.
fn advisories(v: &Value) -> Vec<(String, String, String, String, String, String)> {
    let mut out: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["vulnerability"].is_object())
        .map(|f| {
            let s = |x: &Value| x.as_str().unwrap_or("").to_string();
            (
                s(&f["rule"]),
                s(&f["vulnerability"]["package"]["name"]),
                s(&f["level"]),
                s(&f["origin"]["part"]),
                s(&f["origin"]["decided_by"]),
                s(&f["baseline"]),
            )
        })
        .collect();
    out.sort();
    out
}

fn levels_by_part(v: &Value) -> (Vec<String>, Vec<String>) {
    let a = advisories(v);
    let of = |part: &str| -> Vec<String> {
        let mut l: Vec<String> = a.iter().filter(|f| f.3 == part).map(|f| f.2.clone()).collect();
        l.dedup();
        l
    };
    (of("base"), of("app"))
}

#[test]
fn history_alone_splits_base_from_app_and_fail_in_app_spares_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let image = write(&on_base(app_layer(&[LODASH])), tmp.path(), "app");
    let all = policy(tmp.path(), "[vulnerabilities]\nfail_on = \"medium\"\n");
    let (code, v, err) = scan(&[&image, "--policy", &all], testdata_db());
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["base"]["decided_by"], "history");
    assert_eq!(v["base"]["guess"], true);
    assert_eq!(v["base"]["layers"], 1);
    // The Alpine findings (no severity: unknown → medium) are the base's and fail under "all".
    assert_eq!(levels_by_part(&v), (vec!["fail".to_string()], vec!["fail".to_string()]));
    assert!(advisories(&v).iter().all(|f| f.4 == "history"));

    let app_only = policy(
        tmp.path(),
        "[vulnerabilities]\nfail_on = \"medium\"\nfail_in = \"app\"\n",
    );
    let (code, v, err) = scan(&[&image, "--policy", &app_only], testdata_db());
    assert_eq!(code, 1, "lodash is the app's and still fails: {err}");
    let (base, app) = levels_by_part(&v);
    assert_eq!(base, vec!["warn".to_string()], "{v}");
    assert_eq!(app, vec!["fail".to_string()]);
    let lodash = advisories(&v).into_iter().find(|f| f.1 == "lodash").unwrap();
    assert_eq!((lodash.2.as_str(), lodash.3.as_str()), ("fail", "app"));

    // base_fail_on: base findings fail at their own threshold (none reaches critical here).
    let app_image = write(&on_base(app_layer(&[])), tmp.path(), "clean");
    let base_crit = policy(
        tmp.path(),
        "[vulnerabilities]\nfail_on = \"medium\"\nbase_fail_on = \"critical\"\n",
    );
    let (code, v, err) = scan(&[&app_image, "--policy", &base_crit], testdata_db());
    assert_eq!(code, 0, "{err}");
    assert_eq!(levels_by_part(&v).0, vec!["warn".to_string()]);
    let base_medium = policy(
        tmp.path(),
        "[vulnerabilities]\nfail_on = \"critical\"\nbase_fail_on = \"medium\"\n",
    );
    let (code, _, err) = scan(&[&app_image, "--policy", &base_medium], testdata_db());
    assert_eq!(code, 1, "{err}");
}

#[test]
fn base_flag_and_labels_name_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let app = write(&without_boundary(app_layer(&[LODASH])), tmp.path(), "app");
    let base = write(
        &ImageSpec::new().layer(demo_base_layer(), Compression::Gzip, "ADD rootfs / # buildkit"),
        tmp.path(),
        "base",
    );
    let p = policy(
        tmp.path(),
        "[vulnerabilities]\nfail_on = \"medium\"\nfail_in = \"app\"\n",
    );
    // No boundary in the history and no --base: no base, everything is the app's (fail closed).
    let (code, v, _) = scan(&[&app, "--policy", &p], testdata_db());
    assert_eq!(code, 1);
    assert_eq!(v["base"]["decided_by"], "none");
    assert_eq!(levels_by_part(&v).0, Vec::<String>::new());
    // --base: checked, and it decides.
    let (code, v, err) = scan(&[&app, "--policy", &p, "--base", &base], testdata_db());
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["base"]["decided_by"], "--base");
    assert_eq!(v["base"]["guess"], false);
    assert_eq!(v["base"]["name"], base.as_str());
    assert_eq!(levels_by_part(&v), (vec!["warn".to_string()], vec!["fail".to_string()]));
    assert!(advisories(&v).iter().all(|f| f.4 == "--base"));
    // The digest it was read at is the newest we know (a file: as read from it).
    assert!(
        v["base"]["newest_digest"].as_str().unwrap().starts_with("sha256:"),
        "{}",
        v["base"]
    );
    assert!(
        v["base"]["newest_note"].as_str().unwrap().contains("as read from"),
        "{}",
        v["base"]
    );

    // The base labels name it (the layers from the history's boundary here).
    let labelled = on_base(app_layer(&[LODASH]))
        .label("org.opencontainers.image.base.name", "docker.io/library/alpine:3.20")
        .label(
            "org.opencontainers.image.base.digest",
            "sha256:beefdbd8a1da6d2915566fde36db9db0b524eb737fc57cd1367effd16dc0d06d",
        );
    let labelled = write(&labelled, tmp.path(), "labelled");
    let (code, v, err) = scan(&[&labelled, "--policy", &p], testdata_db());
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["base"]["decided_by"], "label");
    assert_eq!(v["base"]["name"], "docker.io/library/alpine:3.20");
    assert_eq!(levels_by_part(&v), (vec!["warn".to_string()], vec!["fail".to_string()]));
    // Annotations only: the label's digest, said to be perhaps not the newest.
    assert_eq!(
        v["base"]["newest_digest"],
        "sha256:beefdbd8a1da6d2915566fde36db9db0b524eb737fc57cd1367effd16dc0d06d"
    );
    assert!(
        v["base"]["newest_note"]
            .as_str()
            .unwrap()
            .contains("may not be the newest")
    );
    // SARIF carries the same, per result.
    let r = crate::support::imagegate()
        .args([
            "scan",
            &labelled,
            "--db",
            testdata_db().to_str().unwrap(),
            "--policy",
            &p,
            "--format",
            "sarif",
        ])
        .run();
    let sarif: Value = serde_json::from_str(&r.stdout).unwrap();
    let parts: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["properties"]["origin"]["part"].as_str())
        .collect();
    assert!(parts.contains(&"base") && parts.contains(&"app"), "{parts:?}");
    // The table marks them.
    let r = crate::support::imagegate()
        .args([
            "scan",
            &labelled,
            "--db",
            testdata_db().to_str().unwrap(),
            "--policy",
            &p,
        ])
        .run();
    // The table marks the base's findings (the app's, the usual case, go unmarked there;
    // JSON and SARIF say `app` for each).
    assert!(r.stdout.contains("[base]"), "{}", r.stdout);
    assert!(r.stdout.contains("docker.io/library/alpine:3.20"), "{}", r.stdout);
    assert!(r.stdout.contains("may not be the newest"), "{}", r.stdout);
}

/// `--base` a registry reference: the base's findings are grouped under its name with the
/// digest the registry serves for it now (the one manifest request the layer check makes).
#[test]
fn a_registry_base_is_shown_with_the_digest_the_registry_serves_now() {
    let registry = crate::support::registry::Registry::start();
    let base = ImageSpec::new()
        .layer(demo_base_layer(), Compression::Gzip, "ADD rootfs / # buildkit")
        .build();
    registry.push("library/alpine", Some("3.20"), &base);
    let tmp = tempfile::tempdir().unwrap();
    let app = write(&without_boundary(app_layer(&[LODASH])), tmp.path(), "app");
    let p = policy(
        tmp.path(),
        "[vulnerabilities]\nfail_on = \"medium\"\nfail_in = \"app\"\n",
    );
    let reference = format!("{}/library/alpine:3.20", registry.addr());
    let (code, v, err) = scan(&[&app, "--policy", &p, "--base", &reference], testdata_db());
    assert_eq!(code, 1, "{err}");
    assert_eq!(v["base"]["newest_digest"], base.manifest_digest.as_str());
    assert!(
        v["base"]["newest_note"]
            .as_str()
            .unwrap()
            .contains("what the registry serves"),
        "{}",
        v["base"]
    );
    let r = crate::support::imagegate()
        .args(["scan", &app, "--db", testdata_db().to_str().unwrap(), "--policy", &p])
        .args(["--base", &reference, "--wide"])
        .run();
    assert!(
        r.stdout
            .contains(&format!("newest digest we know for it: {}", base.manifest_digest)),
        "{}",
        r.stdout
    );
}

#[test]
fn a_base_that_is_not_a_prefix_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let app = write(&without_boundary(app_layer(&[LODASH])), tmp.path(), "app");
    // Another image's layer (the app layer of a different app) as the "base".
    let other = write(
        &ImageSpec::new().layer(app_layer(&[JSON5]), Compression::Gzip, "COPY . /app"),
        tmp.path(),
        "other",
    );
    let (code, _, err) = scan(&[&app, "--base", &other], testdata_db());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not the first layers"), "{err}");
    // The whole image as its own base is a prefix; a base longer than the image is not.
    let longer = write(&on_base(app_layer(&[LODASH, JSON5])), tmp.path(), "longer");
    let (code, _, err) = scan(&[&app, "--base", &longer], testdata_db());
    assert_eq!(code, 2, "{err}");
}

#[test]
fn baseline_fails_only_on_what_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), "[vulnerabilities]\nfail_on = \"medium\"\n");
    // main's image: lodash and minimist; the branch's: lodash (unchanged), json5 (new),
    // minimist gone (fixed).
    let main = write(&on_base(app_layer(&[LODASH, MINIMIST])), tmp.path(), "main");
    let branch = write(&on_base(app_layer(&[LODASH, JSON5])), tmp.path(), "branch");
    let report = tmp.path().join("main.json");
    let (code, v, err) = scan(&[&main, "--policy", &p], testdata_db());
    assert_eq!(code, 1, "{err}");
    std::fs::write(&report, serde_json::to_string(&v).unwrap()).unwrap();

    for baseline in [report.display().to_string(), main.clone()] {
        let (code, v, err) = scan(&[&branch, "--policy", &p, "--baseline", &baseline], testdata_db());
        assert_eq!(code, 1, "json5 is new and fails: {err}");
        let a = advisories(&v);
        let find = |name: &str| a.iter().find(|f| f.1 == name).unwrap().clone();
        assert_eq!((find("json5").2, find("json5").5), ("fail".into(), "new".into()));
        assert_eq!(
            (find("lodash").2, find("lodash").5),
            ("warn".into(), "unchanged".into())
        );
        assert!(
            a.iter()
                .filter(|f| f.3 == "base")
                .all(|f| f.5 == "unchanged" && f.2 == "warn")
        );
        let c = &v["baseline"];
        assert_eq!(c["new"], 1, "{c}");
        assert_eq!(c["fixed"], 1, "{c}");
        let fixed = c["fixed_findings"].as_array().unwrap();
        assert_eq!(fixed[0], "GHSA-vh95-rmgr-6w4m npm:minimist@1.2.0");
        assert_eq!(v["verdict"]["fail"], 1);
        assert!(c["notes"][0].as_str().unwrap().contains("another image"), "{c}");
    }
    // The same image against its own report: nothing new, the gate passes.
    let (code, v, err) = scan(
        &[&main, "--policy", &p, "--baseline", report.to_str().unwrap()],
        testdata_db(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["baseline"]["new"], 0);
    assert!(v["baseline"]["notes"][0].as_str().unwrap().contains("same image"));
}

#[test]
fn a_baseline_from_an_older_database_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let p = policy(tmp.path(), "[vulnerabilities]\nfail_on = \"medium\"\n");
    let image = write(&on_base(app_layer(&[LODASH, JSON5])), tmp.path(), "app");
    // Yesterday's database knew lodash's advisory, not json5's.
    let old_db = tmp.path().join("old-db");
    let records = tmp.path().join("records");
    std::fs::create_dir_all(&records).unwrap();
    std::fs::copy(
        repo_root().join("testdata/osv/npm/GHSA-35jh-r3h4-6jhm.json"),
        records.join("GHSA-35jh-r3h4-6jhm.json"),
    )
    .unwrap();
    let r = crate::support::imagegate()
        .args([
            "db",
            "import",
            "--db",
            old_db.to_str().unwrap(),
            records.to_str().unwrap(),
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (_, mut v, err) = scan(&[&image, "--policy", &p], &old_db);
    assert!(v.is_object(), "{err}");
    let built = v["db"]["built_at"].as_i64().unwrap();
    v["db"]["built_at"] = (built - 86_400).into();
    let report = tmp.path().join("yesterday.json");
    std::fs::write(&report, serde_json::to_string(&v).unwrap()).unwrap();

    let (code, v, err) = scan(
        &[&image, "--policy", &p, "--baseline", report.to_str().unwrap()],
        testdata_db(),
    );
    assert_eq!(code, 1, "{err}");
    let a = advisories(&v);
    let json5 = a.iter().find(|f| f.1 == "json5").unwrap();
    assert_eq!((json5.2.as_str(), json5.5.as_str()), ("fail", "new"));
    let notes: Vec<&str> = v["baseline"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("another advisory database")),
        "{notes:?}"
    );
}

#[test]
fn a_baseline_that_does_not_parse_is_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let image = write(&on_base(app_layer(&[LODASH])), tmp.path(), "app");
    for (name, text) in [
        ("broken.json", "{\"schema\": 1, \"findings\": ["),
        ("other.json", "{\"token\": \"s3cr3t-value\"}"),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (code, _, err) = scan(&[&image, "--baseline", path.to_str().unwrap()], testdata_db());
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("not an imagegate JSON report"), "{name}: {err}");
        assert!(!err.contains("s3cr3t"), "{name}: {err}");
    }
    let (code, _, err) = scan(&[&image, "--baseline", "missing.json"], testdata_db());
    assert_eq!(code, 2, "{err}");
}

#[test]
fn upgrade_advice_takes_the_smallest_fix_on_the_installed_major() {
    let tmp = tempfile::tempdir().unwrap();
    // semver 6.0.0: GHSA-c2qf-rxjj-qqgw is fixed in 5.7.2, 6.3.1 and 7.5.2 → 6.3.1.
    // lodash 4.17.4: GHSA-4xc9-xhrj-v574 (fixed 4.17.11) and GHSA-35jh-r3h4-6jhm (4.17.21) → 4.17.21.
    // json5 1.0.1 under @babel/core: GHSA-9c47-m6qq-7p4h is fixed in 1.0.2 and 2.2.2 → 1.0.2.
    let app = app_layer(&[("semver", "6.0.0"), ("lodash", "4.17.4"), ("@babel/core", "7.20.0")]).file(
        "app/node_modules/@babel/core/node_modules/json5/package.json",
        package_json("json5", "1.0.1", "MIT"),
    );
    let image = write(&on_base(app), tmp.path(), "app");
    let p = policy(tmp.path(), "[vulnerabilities]\nfail_on = \"medium\"\n");
    let (code, v, err) = scan(&[&image, "--policy", &p], testdata_db());
    assert_eq!(code, 1, "{err}");
    let upgrades = v["upgrades"].as_array().unwrap();
    let of = |name: &str| {
        upgrades
            .iter()
            .find(|u| u["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"))
    };
    assert_eq!(of("semver")["to"], "6.3.1");
    assert_eq!(of("json5")["to"], "1.0.2");
    assert_eq!(of("json5")["dependency"][0], "transitive, via @babel/core");
    let lodash = of("lodash");
    assert_eq!(lodash["to"], "4.17.21");
    let mut fixes: Vec<&str> = lodash["fixes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    fixes.sort();
    assert_eq!(fixes, ["GHSA-35jh-r3h4-6jhm", "GHSA-4xc9-xhrj-v574"]);
    assert!(
        lodash["line"]
            .as_str()
            .unwrap()
            .starts_with("upgrade lodash 4.17.4 → 4.17.21 (fixes 2 findings: "),
        "{lodash}"
    );
    // The base's failing findings (busybox, openssl): one line, rebuild on a newer base.
    let base: Vec<&Value> = upgrades.iter().filter(|u| u["part"] == "base").collect();
    assert_eq!(base.len(), 1, "{v}");
    let line = base[0]["line"].as_str().unwrap();
    assert!(line.starts_with("rebuild on a newer base"), "{line}");
    assert!(
        line.contains("ALPINE-CVE-2024-9143") && line.contains("libcrypto3"),
        "{line}"
    );
    // The table says it in one line per package.
    let r = crate::support::imagegate()
        .args(["scan", &image, "--db", testdata_db().to_str().unwrap(), "--policy", &p])
        .run();
    assert!(
        r.stdout
            .contains("upgrade semver 6.0.0 → 6.3.1 (fixes 1 finding: GHSA-c2qf-rxjj-qqgw)"),
        "{}",
        r.stdout
    );
}

#[test]
fn upgrade_advice_says_whether_the_app_names_the_package_or_npm_hoisted_it() {
    let tmp = tempfile::tempdir().unwrap();
    // The app names lodash (production) and minimist (dev); json5 sits at the top of
    // node_modules only because @babel/core depends on it (npm hoisted it there).
    let app = Layer::new()
        .file(
            "app/package.json",
            r#"{"name":"app","version":"1.0.0","dependencies":{"lodash":"4.17.20","@babel/core":"7.20.0"},"devDependencies":{"minimist":"1.2.0"}}"#,
        )
        .file("app/node_modules/lodash/package.json", package_json("lodash", "4.17.20", "MIT"))
        .file("app/node_modules/minimist/package.json", package_json("minimist", "1.2.0", "MIT"))
        .file("app/node_modules/json5/package.json", package_json("json5", "2.2.1", "MIT"))
        .file(
            "app/node_modules/@babel/core/package.json",
            r#"{"name":"@babel/core","version":"7.20.0","dependencies":{"json5":"^2.2.1"}}"#,
        );
    let image = write(&on_base(app), tmp.path(), "app");
    let p = policy(tmp.path(), "[vulnerabilities]\nfail_on = \"medium\"\n");
    let (code, v, err) = scan(&[&image, "--policy", &p], testdata_db());
    assert_eq!(code, 1, "{err}");
    let dependency = |name: &str| -> String {
        let u = v["upgrades"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {v}"));
        u["dependency"][0].as_str().unwrap().to_string()
    };
    assert_eq!(dependency("lodash"), "a direct dependency of app/package.json");
    assert_eq!(dependency("minimist"), "a direct dev dependency of app/package.json");
    assert_eq!(dependency("json5"), "transitive (hoisted), via @babel/core");
}
