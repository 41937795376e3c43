//! `scan --online`: the same verdict from the OSV API as from the local database. The API is
//! `support::http` with a handler in this file answering `POST /v1/querybatch` and `GET /v1/vulns/{id}` from the
//! real OSV records in `testdata/osv/`, with a second page for one query.

use crate::support::http::{HttpServer, Request, Response};
use crate::support::{repo_root, testdata_db};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

/// How the API answers.
#[derive(Clone, Copy)]
enum Mode {
    Normal,
    Fail500,
    Garbage,
}

/// What the API was asked, from its request log.
struct Seen {
    page_tokens: usize,
    gets: usize,
}

fn seen(api: &HttpServer) -> Seen {
    let log = api.requests();
    let batches: Vec<&Request> = log.iter().filter(|r| r.path == "/v1/querybatch").collect();
    let page_tokens = batches
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .map(|q| {
            q["queries"]
                .as_array()
                .map_or(0, |qs| qs.iter().filter(|q| q["page_token"].is_string()).count())
        })
        .sum();
    Seen {
        page_tokens,
        gets: log.len() - batches.len(),
    }
}

fn records() -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for dir in ["testdata/osv/npm", "testdata/osv/alpine"] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            let v: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
            out.insert(v["id"].as_str().unwrap().to_string(), v);
        }
    }
    out
}

/// Ids of records naming the package (the scan's matcher decides on versions).
fn ids_for(records: &BTreeMap<String, Value>, ecosystem: &str, name: &str) -> Vec<Value> {
    records
        .values()
        .filter(|r| {
            r["affected"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x["package"]["ecosystem"] == ecosystem && x["package"]["name"] == name)
            })
        })
        .map(|r| json!({"id": r["id"], "modified": r["modified"]}))
        .collect()
}

/// The OSV API on 127.0.0.1, answering from the testdata records.
fn serve(mode: Mode) -> HttpServer {
    let records = records();
    HttpServer::with_handler(move |request| match mode {
        Mode::Fail500 => Response::json(500, "oops"),
        Mode::Garbage => Response::json(200, "{\"results\": 42"),
        Mode::Normal if request.path == "/v1/querybatch" => {
            let q: Value = serde_json::from_slice(&request.body).unwrap();
            let results: Vec<Value> = q["queries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| {
                    let ids = ids_for(
                        &records,
                        q["package"]["ecosystem"].as_str().unwrap(),
                        q["package"]["name"].as_str().unwrap(),
                    );
                    // Pages of one id each, as the API pages long answers.
                    let page = q["page_token"].as_str().map_or(0, |t| t.parse::<usize>().unwrap());
                    match ids.get(page) {
                        None => json!({}),
                        Some(id) if page + 1 < ids.len() => {
                            json!({"vulns": [id], "next_page_token": (page + 1).to_string()})
                        }
                        Some(id) => json!({"vulns": [id]}),
                    }
                })
                .collect();
            Response::json(200, serde_json::to_vec(&json!({"results": results})).unwrap())
        }
        Mode::Normal => match request.path.strip_prefix("/v1/vulns/").and_then(|id| records.get(id)) {
            Some(r) => Response::json(200, serde_json::to_vec(r).unwrap()),
            None => Response::json(404, "{}"),
        },
    })
}

fn imagegate(args: &[&str], cache: &Path) -> (i32, String, String) {
    let r = crate::support::imagegate()
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .run();
    (r.code, r.stdout, r.stderr)
}

fn rules(report: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(report).unwrap_or_else(|e| panic!("{e}: {report}"));
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["rule"].as_str().unwrap(), f["level"].as_str().unwrap()))
        .collect();
    r.sort();
    r
}

#[test]
fn online_finds_what_the_local_database_finds_and_caches_records() {
    let tmp = tempfile::tempdir().unwrap();
    let root = repo_root();
    let demo = root.join("testdata/demo/app.tar");
    let demo = demo.to_str().unwrap();
    let db = testdata_db();
    let policy = root.join("policies/audit.toml");
    let policy = policy.to_str().unwrap();
    let (local_code, local, err) = imagegate(
        &[
            "scan",
            demo,
            "--db",
            db.to_str().unwrap(),
            "--policy",
            policy,
            "--format",
            "json",
        ],
        tmp.path(),
    );
    assert!(local_code <= 1, "{err}");

    let server = serve(Mode::Normal);
    let api = server.url().to_string();
    let cache = tmp.path().join("cache");
    let online = [
        "scan",
        demo,
        "--online",
        "--osv-api",
        &api,
        "--policy",
        policy,
        "--format",
        "json",
    ];
    let (code, report, err) = imagegate(&online, &cache);
    assert_eq!(code, local_code, "{err}");
    assert_eq!(rules(&report), rules(&local));
    assert!(rules(&report).iter().any(|r| r.starts_with("GHSA-")), "{report}");
    let v: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["db"]["source"], format!("OSV API {api}"));
    {
        let s = seen(&server);
        assert!(s.page_tokens > 0, "next_page_token followed");
        assert!(s.gets > 0);
    }
    // Second run: the batch again, every record from the cache.
    let gets = seen(&server).gets;
    let (code, report, err) = imagegate(&online, &cache);
    assert_eq!(code, local_code, "{err}");
    assert_eq!(rules(&report), rules(&local));
    assert_eq!(seen(&server).gets, gets, "no record fetched again: {err}");
    assert!(err.contains("from the cache"), "{err}");
}

#[test]
fn a_failing_or_garbled_api_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo_root().join("testdata/demo/app.tar");
    for (mode, expect) in [(Mode::Fail500, "HTTP 500"), (Mode::Garbage, "not what the API sends")] {
        let server = serve(mode);
        let api = server.url();
        let (code, out, err) = imagegate(
            &["scan", demo.to_str().unwrap(), "--online", "--osv-api", api],
            tmp.path(),
        );
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert!(err.contains(expect) && err.contains(api), "{err}");
    }
}
