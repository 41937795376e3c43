//! Tests of the test harness itself: the runner (`support/cmd.rs`) really starts children from
//! an empty environment, and the HTTP server (`support/http.rs`) serves files the way the
//! `db update` tests rely on and injects each fault exactly once. If these fail, the end-to-end
//! tests built on them prove nothing.

use crate::support::http::{Fault, HttpServer, Response};
use crate::support::*;
use std::collections::BTreeMap;
use std::time::Duration;

/// The child's environment, as `env` prints it.
fn child_env(cmd: &mut Cmd) -> BTreeMap<String, String> {
    let r = cmd.run();
    assert_eq!(r.code, 0, "env: {}", r.stderr);
    r.stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_runner_starts_from_an_empty_environment_with_its_own_home() {
    let mut cmd = isolated("env");
    let home = cmd.home().display().to_string();
    let env = child_env(&mut cmd);
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(names, ["HOME", "PATH", "XDG_CACHE_HOME"], "{env:?}");
    assert_eq!(env["HOME"], home);
    assert_eq!(env["XDG_CACHE_HOME"], format!("{home}/.cache"));
    assert_ne!(home, std::env::var("HOME").unwrap_or_default());

    // What a test sets, it gets; what it takes away is gone.
    let env = child_env(
        isolated("env")
            .env("IMAGEGATE_DB", "/somewhere")
            .env("HOME", "/elsewhere")
            .env_remove("XDG_CACHE_HOME"),
    );
    assert_eq!(env.get("IMAGEGATE_DB").map(String::as_str), Some("/somewhere"));
    assert_eq!(env.get("HOME").map(String::as_str), Some("/elsewhere"));
    assert!(!env.contains_key("XDG_CACHE_HOME"), "{env:?}");

    // Two commands never share a HOME, and it is gone with the command.
    let (a, b) = (isolated("true"), isolated("true"));
    assert_ne!(a.home(), b.home());
    let gone = a.home().to_path_buf();
    drop(a);
    assert!(!gone.exists());
}

#[test]
fn the_http_server_serves_files_like_a_bucket_and_faults_once_each() {
    let server = HttpServer::start();
    let body: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    server.put("/f", body.clone());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("{}/f", server.url());

    let r = client.get(&url).send().unwrap();
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.bytes().unwrap().as_ref(), &body[..]);
    let r = client.get(&url).header("If-None-Match", &tag).send().unwrap();
    assert_eq!(r.status(), 304);
    let r = client
        .get(&url)
        .header("Range", "bytes=9000-")
        .header("If-Range", &tag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &body[9000..]);
    // An If-Range naming another version gets the whole file.
    let r = client
        .get(&url)
        .header("Range", "bytes=9000-")
        .header("If-Range", "\"other\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().len(), body.len());
    assert_eq!(
        client.get(format!("{}/nothing", server.url())).send().unwrap().status(),
        404
    );

    // Each fault answers one request, in order; then the file again.
    server.fault("/f", &[Fault::Status(503), Fault::RateLimited(7), Fault::Truncate(100)]);
    assert_eq!(client.get(&url).send().unwrap().status(), 503);
    let r = client.get(&url).send().unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "7");
    let r = client.get(&url).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], body.len().to_string().as_str());
    assert!(r.bytes().is_err(), "a body cut at 100 of 10000 bytes is an error");
    assert_eq!(client.get(&url).send().unwrap().bytes().unwrap().len(), body.len());

    let log = server.take_log();
    assert_eq!(log.len(), 9);
    assert_eq!(log[1].header("if-none-match"), Some(tag.as_str()));
    assert!(server.requests().is_empty(), "take_log empties the log");
}

#[test]
fn the_http_server_hands_other_paths_to_the_handler_with_the_request_body() {
    let server = HttpServer::with_handler(|r| {
        Response::json(200, format!("{{\"method\":\"{}\",\"len\":{}}}", r.method, r.body.len())).chunked(3)
    });
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v1/querybatch", server.url()))
        .body(vec![b'x'; 5000])
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    assert_eq!(r.text().unwrap(), r#"{"method":"POST","len":5000}"#);
    let log = server.requests();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].path.as_str(), log[0].body.len()), ("/v1/querybatch", 5000));
}
