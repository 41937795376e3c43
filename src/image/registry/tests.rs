//! The client against a scripted HTTP server on 127.0.0.1 (the end-to-end tests run the real
//! Distribution registry; these pin the protocol corners that one does not produce).

use super::*;
use crate::http::test_server::{Request, response};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Serves each connection with `handler` (the shared scripted server), returning `HOST:PORT`.
fn serve(handler: impl Fn(&Request, usize) -> Vec<u8> + Send + Sync + 'static) -> String {
    crate::http::test_server::serve(handler).0
}

fn fast() -> RegistryOptions {
    RegistryOptions {
        backoff: Duration::from_millis(10),
        read_timeout: Duration::from_secs(5),
        docker_config: Some(PathBuf::from("/nonexistent/config.json")),
        ..Default::default()
    }
}

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:aa","size":1},"layers":[]}"#;

#[test]
fn follows_a_bearer_challenge_and_checks_the_digest() {
    let token_requests = Arc::new(AtomicUsize::new(0));
    let seen = token_requests.clone();
    let addr = Arc::new(Mutex::new(String::new()));
    let addr2 = addr.clone();
    let server = serve(move |r, _| {
        if r.path.starts_with("/token") {
            seen.fetch_add(1, Ordering::SeqCst);
            assert!(r.path.contains("scope=repository%3Aapp%3Apull"), "{}", r.path);
            return response("200 OK", &[], br#"{"token":"t0k3n","expires_in":300}"#);
        }
        if r.header("authorization") != Some("Bearer t0k3n") {
            let realm = format!(
                "Bearer realm=\"http://{}/token\",service=\"test\"",
                addr2.lock().unwrap()
            );
            return response("401 Unauthorized", &[("WWW-Authenticate", &realm)], b"");
        }
        response(
            "200 OK",
            &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            MANIFEST,
        )
    });
    *addr.lock().unwrap() = server.clone();
    let client = Client::new(fast()).unwrap();
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let m = client.manifest(&r, "v1").unwrap();
    assert_eq!(m.digest, Digest::sha256_of(MANIFEST));
    assert_eq!(m.media_type, "application/vnd.oci.image.manifest.v1+json");
    // The token is reused for the next request of the same scope.
    client.manifest(&r, "v1").unwrap();
    assert_eq!(token_requests.load(Ordering::SeqCst), 1);
    // A digest reference that the bytes do not hash to is refused.
    let wrong = Digest::sha256_of(b"other");
    let err = client.manifest(&r, &wrong.to_string()).err().unwrap();
    assert!(matches!(err, RegistryError::Digest { .. }), "{err}");
}

#[test]
fn waits_out_a_429_and_retries_5xx_then_gives_up_naming_the_host() {
    let server = serve(|_, n| match n {
        0 => response("429 Too Many Requests", &[("Retry-After", "1")], b""),
        1 => response("503 Service Unavailable", &[], b""),
        _ => response("200 OK", &[], MANIFEST),
    });
    let client = Client::new(fast()).unwrap();
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let started = Instant::now();
    client.manifest(&r, "v1").unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After honoured");

    let server = serve(|_, _| {
        response(
            "500 Internal Server Error",
            &[],
            br#"{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}"#,
        )
    });
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let err = client.manifest(&r, "v1").err().unwrap();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            RegistryError::Server {
                status: 500,
                tries: 5,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains(&server) && text.contains("disk on fire"), "{text}");

    let server = serve(|_, _| response("429 Too Many Requests", &[("Retry-After", "3600")], b""));
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let err = client.manifest(&r, "v1").err().unwrap();
    assert_eq!(err.to_string(), format!("{server}: rate limited (retry after 3600 s)"));
}

#[test]
fn resumes_a_dropped_blob_with_a_range_request() {
    let blob: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let digest = Digest::sha256_of(&blob);
    let served = blob.clone();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    let server = serve(move |r, _| match r.header("range") {
        None => {
            // Promise everything, send a third, hang up.
            let mut out = response("200 OK", &[], &served);
            let head = out.len() - served.len();
            out.truncate(head + served.len() / 3);
            out
        }
        Some(range) => {
            seen.lock().unwrap().push(range.to_string());
            let from: usize = range
                .trim_start_matches("bytes=")
                .trim_end_matches('-')
                .parse()
                .unwrap();
            let cr = format!("bytes {from}-{}/{}", served.len() - 1, served.len());
            response("206 Partial Content", &[("Content-Range", &cr)], &served[from..])
        }
    });
    let client = Client::new(fast()).unwrap();
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let mut got = Vec::new();
    client
        .open_blob(&r, &digest, blob.len() as u64)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(Digest::sha256_of(&got), digest, "every byte exactly once");
    assert_eq!(ranges.lock().unwrap().len(), 1);
}

#[test]
fn follows_link_pagination_and_reports_missing_repositories() {
    let server = serve(|r, _| {
        if r.path.contains("last=b") {
            response("200 OK", &[], br#"{"repositories":["c"]}"#)
        } else if r.path.starts_with("/v2/_catalog") {
            response(
                "200 OK",
                &[("Link", r#"</v2/_catalog?last=b&n=1000>; rel="next""#)],
                br#"{"repositories":["a","b"]}"#,
            )
        } else {
            response(
                "404 Not Found",
                &[],
                br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
            )
        }
    });
    let client = Client::new(fast()).unwrap();
    assert_eq!(client.catalog(&server).unwrap(), ["a", "b", "c"]);
    let err = client.tags(&server, "nope").err().unwrap();
    assert_eq!(err.to_string(), format!("{server}: no such repository (tags of nope)"));
}

#[test]
fn basic_auth_goes_only_where_asked_and_a_refusal_is_an_auth_error() {
    let server = serve(|r, _| match r.header("authorization") {
        // "alice:right"
        Some("Basic YWxpY2U6cmlnaHQ=") => response("200 OK", &[], MANIFEST),
        _ => response(
            "401 Unauthorized",
            &[("WWW-Authenticate", r#"Basic realm="test""#)],
            b"",
        ),
    });
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let with = |password: &str| {
        Client::new(RegistryOptions {
            username: Some("alice".into()),
            password: Some(password.into()),
            ..fast()
        })
        .unwrap()
    };
    with("right").manifest(&r, "v1").unwrap();
    let err = with("wrong").manifest(&r, "v1").err().unwrap();
    assert!(matches!(err, RegistryError::Auth { .. }), "{err}");
    assert!(!err.to_string().contains("wrong"));
    let err = Client::new(fast()).unwrap().manifest(&r, "v1").err().unwrap();
    assert!(err.to_string().contains("requires a user name and password"), "{err}");
}

#[test]
fn parses_headers() {
    assert_eq!(
        next_link(r#"</v2/_catalog?last=x&n=2>; rel="next""#).as_deref(),
        Some("/v2/_catalog?last=x&n=2")
    );
    assert_eq!(
        next_link(r#"<https://r/a>; rel="prev", <https://r/b>; rel=next"#).as_deref(),
        Some("https://r/b")
    );
    assert_eq!(next_link("garbage"), None);
    assert_eq!(next_link(r#"<x>; rel="prev""#), None);
    let mut h = HeaderMap::new();
    h.insert("retry-after", "7".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
    h.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(retry_after(&h), None);
    assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:80"));
    assert!(!is_loopback("registry.example.com:5000"));
}

#[test]
fn oversized_answers_and_a_broken_docker_config_are_errors() {
    let big = vec![b' '; (MAX_MANIFEST + 10) as usize];
    let server = serve(move |_, _| response("200 OK", &[], &big));
    let client = Client::new(fast()).unwrap();
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let err = client.manifest(&r, "v1").err().unwrap();
    assert!(err.to_string().contains("larger than"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{ not json").unwrap();
    let server = serve(|_, _| response("401 Unauthorized", &[("WWW-Authenticate", r#"Basic realm="x""#)], b""));
    let client = Client::new(RegistryOptions {
        docker_config: Some(config),
        ..fast()
    })
    .unwrap();
    let r = Reference::parse(&format!("{server}/app:v1")).unwrap();
    let err = client.manifest(&r, "v1").err().unwrap();
    assert!(matches!(err, RegistryError::Credentials { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");
}
