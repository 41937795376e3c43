//! `docker:NAME` / `podman:NAME`: the image read from the engine's API over its unix socket.
//! CI has no Docker engine, so `support::http` on a socket in a temp dir speaks the one endpoint
//! imagegate uses (`GET /images/{name}/get`, a chunked `docker save` stream).

use crate::support::http::{HttpServer, Response};
use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The engine API on `sock`: serves `images` (path after `/images/` and before `/get`, as
/// sent → docker save tar) as a chunked stream; the server logs the request paths.
fn engine(sock: &Path, images: Vec<(&'static str, Vec<u8>)>) -> HttpServer {
    HttpServer::unix(sock, move |request| {
        let name = request
            .path
            .strip_prefix("/images/")
            .and_then(|p| p.strip_suffix("/get"));
        match images.iter().find(|(n, _)| Some(*n) == name) {
            // Odd-sized chunks, so chunk edges fall inside tar headers too.
            Some((_, tar)) => Response::new(200, tar.clone())
                .header("Content-Type", "application/x-tar")
                .chunked(7919),
            None => Response::json(404, r#"{"message":"reference does not exist"}"#),
        }
    })
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let r = imagegate().args(args).envs(env).run();
    (r.code, r.stdout, r.stderr)
}

fn packages(json: &str) -> Value {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    serde_json::json!({"os": v["os"], "apk": v["apk"], "npm": v["npm"], "user": v["image"]["user"]})
}

#[test]
fn docker_and_podman_sources_stream_the_engines_save_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let built = demo_spec().with_compression(Compression::None).build();
    let tar = docker_classic(&[(&built, &["app:dev"])]);
    let file = tmp.path().join("app.tar");
    std::fs::write(&file, &tar).unwrap();
    let sock = tmp.path().join("docker.sock");
    let server = engine(&sock, vec![("app%3Adev", tar.clone()), ("ghcr.io/org/app%3A1", tar)]);
    let host = format!("unix://{}", sock.display());

    let (code, expected, err) = run(&["inventory", file.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        &["inventory", "docker:app:dev", "--format", "json"],
        &[("DOCKER_HOST", &host)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(packages(&out), packages(&expected));
    assert!(packages(&out)["npm"].as_array().is_some_and(|a| !a.is_empty()));

    let (code, out, err) = run(
        &["inventory", "podman:ghcr.io/org/app:1", "--format", "json"],
        &[("CONTAINER_HOST", &host)],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(packages(&out), packages(&expected));
    let seen: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(seen, ["/images/app%3Adev/get", "/images/ghcr.io/org/app%3A1/get"]);
}

#[test]
fn a_missing_image_or_engine_exits_2_and_says_where_it_looked() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("docker.sock");
    engine(&sock, vec![]);
    let host = format!("unix://{}", sock.display());
    let (code, out, err) = run(&["inventory", "docker:nope:1"], &[("DOCKER_HOST", &host)]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("no such image `nope:1`") && err.contains(&sock.display().to_string()),
        "{err}"
    );

    let gone = format!("unix://{}", tmp.path().join("absent.sock").display());
    let (code, _, err) = run(&["inventory", "docker:app:dev"], &[("DOCKER_HOST", &gone)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no Docker engine answers at") && err.contains("DOCKER_HOST="),
        "{err}"
    );

    let (code, _, err) = run(
        &["inventory", "docker:app:dev"],
        &[("DOCKER_HOST", "tcp://10.0.0.1:2375")],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unix socket"), "{err}");
}

#[test]
fn an_engine_that_does_not_speak_http_or_breaks_its_chunks_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, reply) in [
        ("garbage", &b"\x00\x01 not http at all\r\n\r\n"[..]),
        (
            "bad-chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx",
        ),
        (
            "truncated",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n400\r\nonly a few bytes",
        ),
    ] {
        let sock = tmp.path().join(format!("{name}.sock"));
        HttpServer::unix(&sock, move |_| Response::raw(reply));
        let host = format!("unix://{}", sock.display());
        let (code, out, err) = run(&["inventory", "docker:app:dev"], &[("DOCKER_HOST", &host)]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}");
        assert!(err.contains("docker:app:dev"), "{name}: names the image: {err}");
    }
}
