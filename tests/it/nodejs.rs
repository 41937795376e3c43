//! `imagegate db import` of the Node.js security working group's core advisories
//! (`testdata/nodejs-security-wg/`, real records): the directory, its `core/`, or `index.json`,
//! next to OSV sources, and what `db status` then says.

use crate::support::repo_root;
use serde_json::Value;
use std::path::Path;

/// `imagegate ARGS` in the tests' isolated environment: (exit code, stdout, stderr).
fn imagegate(args: &[&str]) -> (i32, String, String) {
    let r = crate::support::imagegate().args(args).run();
    (r.code, r.stdout, r.stderr)
}

fn status(db: &Path) -> Value {
    let (code, out, err) = imagegate(&["db", "status", "--db", db.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn db_import_stores_the_node_js_core_advisories_beside_osv_records() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    let wg = root.join("testdata/nodejs-security-wg");
    for (n, source) in [(1, wg.clone()), (2, wg.join("core")), (3, wg.join("core/index.json"))] {
        let db = tmp.path().join(format!("db{n}"));
        let npm = root.join("testdata/osv/npm");
        let (code, out, err) = imagegate(&[
            "db",
            "import",
            "--db",
            db.to_str().unwrap(),
            npm.to_str().unwrap(),
            source.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("Node.js") && out.contains("171"), "{out}");
        let v = status(&db);
        assert_eq!(v["records"], 181, "{v}");
        assert_eq!(v["ecosystems"]["Node.js"], 171);
        assert_eq!(v["ecosystems"]["npm"], 10);
    }
}

#[test]
fn a_broken_wg_index_is_an_error_and_keeps_the_old_database() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let wg = repo_root().join("testdata/nodejs-security-wg");
    let (code, out, err) = imagegate(&["db", "import", "--db", db.to_str().unwrap(), wg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let cut = tmp.path().join("core");
    std::fs::create_dir(&cut).unwrap();
    let whole = std::fs::read(wg.join("core/index.json")).unwrap();
    std::fs::write(cut.join("index.json"), &whole[..whole.len() / 2]).unwrap();
    let (code, _, err) = imagegate(&["db", "import", "--db", db.to_str().unwrap(), cut.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("index.json") && err.contains("not JSON"), "{err}");
    assert_eq!(status(&db)["ecosystems"]["Node.js"], 171);
}
