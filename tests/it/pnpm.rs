//! Node layouts made by the real tools (issue 17): pnpm's virtual store (pnpm 8, 9 and 11),
//! `next build` with `output: "standalone"`, copies vendored inside packages, and test
//! fixtures that are not packages. The layouts are `testdata/node-layouts/*.tar.gz`, written by
//! its `generate.py` (the package files, lockfiles, symlinks and hard links the tools made),
//! each laid into an image as one layer on the real Alpine base; what the package manager
//! itself listed is committed beside it, and the inventory is compared with that.

use crate::support::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

const APP: &str = "usr/src/app";

fn layouts() -> PathBuf {
    repo_root().join("testdata/node-layouts")
}

/// The layout's tar, as the package manager's `RUN` step would have written the layer.
fn layout_layer(name: &str) -> PrebuiltLayer {
    let gz = std::fs::read(layouts().join(format!("{name}.tar.gz"))).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut tar).unwrap();
    PrebuiltLayer {
        blob: gzip(&tar),
        compression: Compression::Gzip,
        diff_id: digest_of(&tar),
        tar_len: tar.len() as u64,
    }
}

fn image_with(dir: &Path, layer: PrebuiltLayer, step: &str, extra: Option<Layer>) -> String {
    let mut spec = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .prebuilt(layer, step);
    if let Some(extra) = extra {
        spec = spec.layer(extra, Compression::Gzip, "COPY . . # buildkit");
    }
    let img = spec.build();
    let out = dir.join("image");
    oci_layout(&img, None).write_dir(&out).unwrap();
    out.display().to_string()
}

fn inventory(image: &str) -> Value {
    let r = imagegate().args(["inventory", image, "--format", "json"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

/// `name@version` → the inventory's npm entry.
fn npm(v: &Value) -> BTreeMap<String, Value> {
    v["npm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!("{}@{}", p["name"].as_str().unwrap(), p["version"].as_str().unwrap()),
                p.clone(),
            )
        })
        .collect()
}

fn paths(p: &Value) -> BTreeSet<String> {
    p["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Every `name@version` in a `pnpm list --json` / `npm ls --json` tree, with whether it was
/// reached through `devDependencies` only.
fn listed(path: &Path) -> BTreeMap<String, bool> {
    fn walk(deps: &Value, dev: bool, out: &mut BTreeMap<String, bool>) {
        let Some(deps) = deps.as_object() else { return };
        for (name, d) in deps {
            let Some(version) = d["version"].as_str() else { continue };
            let key = format!("{}@{version}", d["from"].as_str().unwrap_or(name));
            let slot = out.entry(key).or_insert(dev);
            *slot = *slot && dev;
            walk(&d["dependencies"], dev, out);
        }
    }
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for project in v.as_array().cloned().unwrap_or_else(|| vec![v.clone()]) {
        walk(&project["dependencies"], false, &mut out);
        walk(&project["optionalDependencies"], false, &mut out);
        walk(&project["devDependencies"], true, &mut out);
    }
    out
}

#[test]
fn pnpm_stores_list_each_package_once_with_every_path_and_the_lockfiles_dev_flags() {
    for (layout, lockfile) in [("pnpm8", "6.0"), ("pnpm9", "9.0"), ("pnpm11", "9.0 (two documents)")] {
        let dir = tempfile::tempdir().unwrap();
        let image = image_with(
            dir.path(),
            layout_layer(layout),
            "RUN /bin/sh -c pnpm install --frozen-lockfile # buildkit",
            None,
        );
        let v = inventory(&image);
        let found = npm(&v);
        let expected = listed(&layouts().join(format!("{layout}.pnpm-list.json")));
        let got: BTreeSet<&String> = found.keys().collect();
        let want: BTreeSet<&String> = expected.keys().collect();
        assert_eq!(
            got, want,
            "{layout} (lockfile {lockfile}): the inventory against `pnpm list`"
        );
        for (key, dev) in &expected {
            let p = &found[key];
            assert_eq!(p["dev"], *dev, "{layout}: {key} dev flag from lock.yaml");
            let store: Vec<String> = paths(p)
                .into_iter()
                .filter(|x| x.contains("/node_modules/.pnpm/"))
                .collect();
            assert_eq!(store.len(), 1, "{layout}: {key} is installed once in the store: {p}");
            assert_eq!(p["layer"]["index"], 1, "{layout}: {key}");
        }
        // Direct dependencies are reachable through their link too: the same package, one entry.
        let debug = &found["debug@4.3.4"];
        assert_eq!(
            paths(debug),
            BTreeSet::from([
                format!("{APP}/node_modules/.pnpm/debug@4.3.4/node_modules/debug"),
                format!("{APP}/node_modules/debug"),
            ])
        );
        assert_eq!(
            paths(&found["react-dom@18.2.0"]),
            BTreeSet::from([
                format!("{APP}/node_modules/.pnpm/react-dom@18.2.0_react@18.2.0/node_modules/react-dom"),
                format!("{APP}/node_modules/react-dom"),
            ])
        );
        assert!(paths(&found["@babel/runtime@7.15.4"]).contains(&format!("{APP}/node_modules/@babel/runtime")));
        // Two versions of one name stay two packages; the dev-only one says so.
        assert_eq!(found["ms@2.1.2"]["dev"], false);
        assert_eq!(found["ms@2.1.3"]["dev"], true);
        // resolve 1.22.8 ships test fixtures with names and versions: not packages.
        assert!(
            !found
                .keys()
                .any(|k| k.starts_with("@my-scope/") || k.starts_with("mylib@")),
            "{layout}: {:?}",
            found.keys()
        );
        assert_eq!(
            v["warnings"].as_array().unwrap().len(),
            0,
            "{layout}: {}",
            v["warnings"]
        );
    }
}

#[test]
fn next_standalone_output_and_the_copies_next_vendors() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with(
        dir.path(),
        layout_layer("next13"),
        "RUN /bin/sh -c npm ci && npm run build # buildkit",
        None,
    );
    let v = inventory(&image);
    let found = npm(&v);
    let expected = listed(&layouts().join("next13.npm-ls.json"));

    // Every package npm lists is there; the extra ones are the copies inside next's own
    // `dist/compiled`, which npm does not list (it did not install them; next ships them).
    for key in expected.keys() {
        assert!(found.contains_key(key), "{key} (from npm ls) missing");
    }
    let extra: Vec<&String> = found.keys().filter(|k| !expected.contains_key(*k)).collect();
    for key in &extra {
        let p = &found[*key];
        assert_eq!(
            p["sources"],
            serde_json::json!(["vendored"]),
            "{key} is not in npm ls: {p}"
        );
        for v in p["vendored_in"].as_array().unwrap() {
            assert_eq!(v["parent"], "next@13.4.0", "{key}");
        }
    }
    // The `package.json` files under next's `dist/compiled` that state a name and a version
    // (the other 140-odd there name no version: not packages).
    assert_eq!(
        extra,
        [
            "@babel/runtime@7.15.4",
            "@edge-runtime/cookies@3.0.6",
            "@edge-runtime/primitives@2.1.2",
            "react-is@18.2.0",
            "react-refresh@0.12.0",
            "regenerator-runtime@0.13.4",
            "server-only@0.0.1",
        ]
    );

    // The standalone output's traced tree is reported with its paths, like any other.
    let next = &found["next@13.4.0"];
    assert!(
        paths(next).contains(&format!("{APP}/.next/standalone/node_modules/next")),
        "{next}"
    );
    assert!(paths(next).contains(&format!("{APP}/node_modules/next")), "{next}");
    let react = &found["react@18.2.0"];
    assert!(
        paths(react).contains(&format!("{APP}/.next/standalone/node_modules/react")),
        "{react}"
    );

    // The traced tree holds 16 of the 20 packages npm installed: not the build-time compiler
    // (@next/swc-linux-x64-gnu), nor js-tokens, loose-envify and tslib, which nothing at run
    // time requires.
    let standalone = format!("{APP}/.next/standalone/node_modules/");
    let traced: BTreeSet<&str> = found
        .iter()
        .filter(|(_, p)| {
            paths(p)
                .iter()
                .any(|x| x.strip_prefix(&standalone).is_some_and(|rest| !rest.contains("/dist/")))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(traced.len(), 16, "{traced:?}");
    for gone in [
        "@next/swc-linux-x64-gnu@13.4.0",
        "js-tokens@4.0.0",
        "loose-envify@1.4.0",
        "tslib@2.9.1",
    ] {
        assert!(!traced.contains(gone), "{gone}");
        assert!(expected.contains_key(gone), "{gone}");
    }

    // The copy of @babel/runtime next 13.4.0 compiled in.
    let babel = &found["@babel/runtime@7.15.4"];
    assert_eq!(
        paths(babel),
        BTreeSet::from([format!("{APP}/node_modules/next/dist/compiled/@babel/runtime")])
    );
    assert_eq!(
        babel["vendored_in"],
        serde_json::json!([{"path": format!("{APP}/node_modules/next/dist/compiled/@babel/runtime"), "parent": "next@13.4.0"}])
    );
    assert_eq!(
        babel["dev"], false,
        "next is a production dependency, and so is what it ships"
    );
}

fn osv_db() -> &'static Path {
    crate::support::osv_db(&["npm", "npm-vendored"])
}

#[test]
fn a_vendored_copy_with_an_advisory_fails_and_names_the_parents_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_with(
        dir.path(),
        layout_layer("next13"),
        "RUN /bin/sh -c npm ci && npm run build # buildkit",
        None,
    );
    let db = osv_db();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[vulnerabilities]\nfail_on = \"medium\"\n").unwrap();
    let r = imagegate()
        .args([
            "scan",
            &image,
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--policy",
        ])
        .arg(&policy)
        .run();
    assert_eq!(r.code, 1, "a medium advisory fails this policy: {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vulnerability"]["id"] == "GHSA-968p-4wvh-cqc8")
        .unwrap_or_else(|| panic!("no GHSA-968p-4wvh-cqc8 finding: {}", v["findings"]));
    let vuln = &f["vulnerability"];
    assert_eq!(vuln["package"]["name"], "@babel/runtime");
    assert_eq!(vuln["package"]["version"], "7.15.4");
    assert!(vuln["ids"].as_array().unwrap().contains(&Value::from("CVE-2025-27789")));
    assert_eq!(vuln["fixed"], serde_json::json!(["7.26.10"]));
    let remediation = vuln["remediation"].as_str().unwrap();
    assert!(
        remediation.contains("next@13.4.0 ships a copy at usr/src/app/node_modules/next/dist/compiled/@babel/runtime")
            && remediation.contains("upgrade of next"),
        "{remediation}"
    );
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("upgrade of next"),
        "the finding says the fix is next's: {message}"
    );

    // Code scanning shows the rule's help: it says so too.
    let r = imagegate()
        .args([
            "scan",
            &image,
            "--db",
            db.to_str().unwrap(),
            "--format",
            "sarif",
            "--policy",
        ])
        .arg(&policy)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    let sarif: Value = serde_json::from_str(&r.stdout).unwrap();
    let rules = &sarif["runs"][0]["tool"]["driver"]["rules"];
    let rule = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"].as_str().is_some_and(|id| id.contains("GHSA-968p-4wvh-cqc8")))
        .unwrap_or_else(|| panic!("no rule for the advisory: {rules}"));
    let help = rule["help"]["markdown"]
        .as_str()
        .or(rule["help"]["text"].as_str())
        .unwrap_or_default();
    assert!(
        help.contains("vendored copy") && help.contains("upgrade of next"),
        "{rule}"
    );
}

#[test]
fn fixtures_inside_packages_are_not_packages_and_dist_copies_are() {
    // The rule by where the file sits, on hand-made files (the real ones are in the layouts).
    let dir = tempfile::tempdir().unwrap();
    let m = |n: &str, v: &str| package_json(n, v, "MIT");
    let layer = Layer::new()
        .file("app/node_modules/pkg/package.json", m("pkg", "2.0.0"))
        .file(
            "app/node_modules/pkg/dist/vendor/left-pad/package.json",
            m("left-pad", "1.1.0"),
        )
        .file(
            "app/node_modules/pkg/vendor/@s/copy/package.json",
            m("@s/copy", "3.0.0"),
        )
        .file("app/node_modules/pkg/dist/esm/package.json", br#"{"type":"module"}"#)
        .file(
            "app/node_modules/pkg/test/fixtures/package.json",
            m("beep-boop", "1.2.3"),
        )
        .file("app/node_modules/pkg/__tests__/x/package.json", m("in-tests", "1.0.0"))
        .file("app/node_modules/pkg/examples/demo/package.json", m("demo", "0.0.1"))
        .file("app/node_modules/pkg/dist/test/package.json", m("dist-test", "1.0.0"))
        .file(
            "app/node_modules/pkg/test/node_modules/nested/package.json",
            m("nested-fixture", "1.0.0"),
        )
        .file("app/node_modules/pkg/lib/other/package.json", m("lib-copy", "1.0.0"));
    let img = ImageSpec::new()
        .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
        .layer(layer, Compression::Gzip, "RUN /bin/sh -c npm ci # buildkit")
        .build();
    let out = dir.path().join("image");
    oci_layout(&img, None).write_dir(&out).unwrap();
    let v = inventory(out.to_str().unwrap());
    let found = npm(&v);
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["pkg@2.0.0".to_string(), "left-pad@1.1.0".into(), "@s/copy@3.0.0".into()])
    );
    assert_eq!(
        found["left-pad@1.1.0"]["vendored_in"],
        serde_json::json!([{"path": "app/node_modules/pkg/dist/vendor/left-pad", "parent": "pkg@2.0.0"}])
    );
    assert_eq!(found["left-pad@1.1.0"]["sources"], serde_json::json!(["vendored"]));
    assert_eq!(found["pkg@2.0.0"]["sources"], serde_json::json!(["node-modules"]));
    assert!(
        v["warnings"].as_array().unwrap().is_empty(),
        "a dist/ package.json without a version is not worth a warning: {}",
        v["warnings"]
    );
}

#[test]
fn a_pnpm_lockfile_that_is_not_yaml_or_not_a_known_version_stops_the_scan() {
    for (content, why) in [
        (
            &b"lockfileVersion: '9.0'\nimporters:\n  .: {dependencies: [\n"[..],
            "not valid YAML",
        ),
        (
            b"{\"lockfileVersion\": \"9.0\", \"packages\": {\"a@1.0.0\": {",
            "not valid YAML",
        ),
        (
            b"lockfileVersion: '12.0'\npackages: {}\n",
            "version 12.0 is not one imagegate reads",
        ),
        (b"\x00\x01binary", "not a pnpm lockfile"),
        (b"- just\n- a list\n", "not a pnpm lockfile"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let lock = "usr/src/app/node_modules/.pnpm/lock.yaml";
        let layer = Layer::new()
            .file(
                "usr/src/app/node_modules/.pnpm/ms@2.1.3/node_modules/ms/package.json",
                package_json("ms", "2.1.3", "MIT"),
            )
            .symlink("usr/src/app/node_modules/ms", ".pnpm/ms@2.1.3/node_modules/ms")
            .file(lock, content);
        let img = ImageSpec::new()
            .layer(alpine_base(), Compression::Gzip, ALPINE_ADD)
            .layer(layer, Compression::Gzip, "RUN /bin/sh -c pnpm install # buildkit")
            .build();
        let out = dir.path().join("image");
        oci_layout(&img, None).write_dir(&out).unwrap();
        let db = osv_db();
        for command in ["inventory", "scan"] {
            let mut cmd = imagegate();
            cmd.args([command, out.to_str().unwrap()]);
            if command == "scan" {
                cmd.args(["--db", db.to_str().unwrap()]);
            }
            let r = cmd.run();
            assert_eq!(
                r.code, 2,
                "{command}: an unreadable lockfile is an error: {}{}",
                r.stdout, r.stderr
            );
            assert!(
                r.stderr.contains(lock) && r.stderr.contains("pnpm lockfile is unreadable") && r.stderr.contains(why),
                "{command}: the error names the file and why: {}",
                r.stderr
            );
            assert!(!r.stdout.contains("PASS"), "{}", r.stdout);
        }
    }
}
