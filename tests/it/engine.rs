//! `docker:NAME` / `podman:NAME`: the image read from the engine's API over its unix socket.
//! CI has no Docker engine, so a server in this file speaks the one endpoint imagegate uses
//! (`GET /images/{name}/get`, a chunked `docker save` stream) on a socket in a temp dir.

use crate::support::*;
use assert_cmd::Command;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Serves `images` (path after `/images/` and before `/get`, as sent → docker save tar) and
/// records the request paths.
fn engine(sock: &Path, images: Vec<(&'static str, Vec<u8>)>) -> Arc<Mutex<Vec<String>>> {
    let listener = UnixListener::bind(sock).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            reader.read_line(&mut first).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            seen2.lock().unwrap().push(path.clone());
            let name = path.strip_prefix("/images/").and_then(|p| p.strip_suffix("/get"));
            match images.iter().find(|(n, _)| Some(*n) == name) {
                Some((_, tar)) => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
                    );
                    // Odd-sized chunks, so chunk edges fall inside tar headers too.
                    for chunk in tar.chunks(7919) {
                        let _ = write!(stream, "{:x}\r\n", chunk.len());
                        let _ = stream.write_all(chunk);
                        let _ = stream.write_all(b"\r\n");
                    }
                    let _ = stream.write_all(b"0\r\n\r\n");
                }
                None => {
                    let body = br#"{"message":"reference does not exist"}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(body);
                }
            }
        }
    });
    seen
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::cargo_bin("imagegate").unwrap();
    cmd.args(args).env_remove("DOCKER_HOST").env_remove("CONTAINER_HOST");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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
    let seen = engine(&sock, vec![("app%3Adev", tar.clone()), ("ghcr.io/org/app%3A1", tar)]);
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
    assert_eq!(
        *seen.lock().unwrap(),
        ["/images/app%3Adev/get", "/images/ghcr.io/org/app%3A1/get"]
    );
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
        let listener = UnixListener::bind(&sock).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
                let _ = stream.write_all(reply);
            }
        });
        let host = format!("unix://{}", sock.display());
        let (code, out, err) = run(&["inventory", "docker:app:dev"], &[("DOCKER_HOST", &host)]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(out.is_empty(), "{name}");
        assert!(err.contains("docker:app:dev"), "{name}: names the image: {err}");
    }
}
