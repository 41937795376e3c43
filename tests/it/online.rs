//! `scan --online`: the same verdict from the OSV API as from the local database. The API is a
//! small server in this file answering `POST /v1/querybatch` and `GET /v1/vulns/{id}` from the
//! real OSV records in `testdata/osv/`, with a second page for one query.

use crate::support::{import_testdata_db, repo_root};
use assert_cmd::Command;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Seen {
    batches: usize,
    page_tokens: usize,
    gets: usize,
}

#[derive(Clone, Copy)]
enum Mode {
    Normal,
    Fail500,
    Garbage,
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

fn serve(mode: Mode) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    let records = Arc::new(records());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (seen, records) = (seen2.clone(), records.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, answer) = match mode {
                    Mode::Fail500 => ("500 Internal Server Error", b"oops".to_vec()),
                    Mode::Garbage => ("200 OK", b"{\"results\": 42".to_vec()),
                    Mode::Normal if path == "/v1/querybatch" => {
                        let q: Value = serde_json::from_slice(&body).unwrap();
                        let mut s = seen.lock().unwrap();
                        s.batches += 1;
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
                                if page > 0 {
                                    s.page_tokens += 1;
                                }
                                match ids.get(page) {
                                    None => json!({}),
                                    Some(id) if page + 1 < ids.len() => {
                                        json!({"vulns": [id], "next_page_token": (page + 1).to_string()})
                                    }
                                    Some(id) => json!({"vulns": [id]}),
                                }
                            })
                            .collect();
                        ("200 OK", serde_json::to_vec(&json!({"results": results})).unwrap())
                    }
                    Mode::Normal => {
                        seen.lock().unwrap().gets += 1;
                        match path.strip_prefix("/v1/vulns/").and_then(|id| records.get(id)) {
                            Some(r) => ("200 OK", serde_json::to_vec(r).unwrap()),
                            None => ("404 Not Found", b"{}".to_vec()),
                        }
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(&answer);
            });
        }
    });
    (addr, seen)
}

fn imagegate(args: &[&str], cache: &Path) -> (i32, String, String) {
    let out = Command::cargo_bin("imagegate")
        .unwrap()
        .args(args)
        .env("XDG_CACHE_HOME", cache)
        .env_remove("IMAGEGATE_OSV_API")
        .env_remove("IMAGEGATE_DB")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let db = tmp.path().join("db");
    import_testdata_db(&db);
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

    let (api, seen) = serve(Mode::Normal);
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
        let s = seen.lock().unwrap();
        assert!(s.page_tokens > 0, "next_page_token followed");
        assert!(s.gets > 0);
    }
    // Second run: the batch again, every record from the cache.
    let gets = seen.lock().unwrap().gets;
    let (code, report, err) = imagegate(&online, &cache);
    assert_eq!(code, local_code, "{err}");
    assert_eq!(rules(&report), rules(&local));
    assert_eq!(seen.lock().unwrap().gets, gets, "no record fetched again: {err}");
    assert!(err.contains("from the cache"), "{err}");
}

#[test]
fn a_failing_or_garbled_api_exits_2_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo_root().join("testdata/demo/app.tar");
    for (mode, expect) in [(Mode::Fail500, "HTTP 500"), (Mode::Garbage, "not what the API sends")] {
        let (api, _) = serve(mode);
        let (code, out, err) = imagegate(
            &["scan", demo.to_str().unwrap(), "--online", "--osv-api", &api],
            tmp.path(),
        );
        assert_eq!(code, 2, "{err}");
        assert!(out.is_empty());
        assert!(err.contains(expect) && err.contains(&api), "{err}");
    }
}
