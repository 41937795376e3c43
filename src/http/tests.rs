use super::test_server::{response, serve};
use super::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn fast() -> HttpOptions {
    HttpOptions {
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        ..HttpOptions::default()
    }
}

fn get(http: &Http, url: &str) -> Result<Response, HttpError> {
    let url = Url::parse(url).unwrap();
    http.send(&url, |c| c.get(url.clone()))
}

#[test]
fn retries_server_errors_then_answers() {
    let (addr, count) = serve(|_, n| match n {
        0 => response("500 Internal Server Error", &[], b""),
        1 => response("503 Service Unavailable", &[], b""),
        _ => response("200 OK", &[], b"ok"),
    });
    let http = Http::new(fast());
    let r = get(&http, &format!("http://{addr}/x")).unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // What is not worth a retry is the caller's to read, at once.
    let (addr, count) = serve(|_, _| response("404 Not Found", &[], b""));
    let r = get(&http, &format!("http://{addr}/x")).unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn waits_as_long_as_retry_after_says_in_seconds_or_as_a_date() {
    let (addr, count) = serve(|_, n| match n {
        0 => response("429 Too Many Requests", &[("Retry-After", "1")], b""),
        _ => response("200 OK", &[], b""),
    });
    let http = Http::new(fast());
    let started = Instant::now();
    get(&http, &format!("http://{addr}/x")).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);

    // A date two seconds ahead (HTTP dates have whole seconds: at least one second's wait).
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    let (addr, _) = serve(move |_, n| match n {
        0 => response("503 Service Unavailable", &[("Retry-After", &date)], b""),
        _ => response("200 OK", &[], b""),
    });
    let started = Instant::now();
    get(&http, &format!("http://{addr}/x")).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_wait_over_the_cap_fails_at_once_saying_how_long() {
    let (addr, count) = serve(|_, _| response("429 Too Many Requests", &[("Retry-After", "3600")], b""));
    let http = Http::new(fast());
    let started = Instant::now();
    let err = get(&http, &format!("http://{addr}/x")).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(count.load(Ordering::SeqCst), 1, "no retry");
    assert_eq!(
        err.to_string(),
        format!("http://{addr}/x: rate limited (retry after 3600 s)")
    );
}

#[test]
fn errors_name_the_url_and_status_never_the_credentials() {
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = sent.clone();
    let (addr, count) = serve(move |r, _| {
        log.lock().unwrap().push(r.header("authorization").map(str::to_string));
        response("502 Bad Gateway", &[], b"")
    });
    let http = Http::new(fast());
    let url = Url::parse(&format!("http://ci-bot:s3cret@{addr}/osv/all.zip?sig=t0ken")).unwrap();
    let err = http
        .send(&url, |c| c.get(url.clone()).bearer_auth("b3arer"))
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 5, "every attempt made");
    // The URL's user and password went as basic credentials ("ci-bot:s3cret").
    assert_eq!(
        sent.lock().unwrap()[0].as_deref(),
        Some("Basic Y2ktYm90OnMzY3JldA=="),
        "the secret was sent"
    );
    let text = err.to_string();
    assert_eq!(text, format!("http://{addr}/osv/all.zip?…: HTTP 502 (after 5 tries)"));
    let debug = format!("{err:?} {http:?}");
    for secret in ["s3cret", "ci-bot", "Y2ktYm90OnMzY3JldA==", "t0ken", "b3arer"] {
        assert!(
            !text.contains(secret) && !debug.contains(secret),
            "{secret}: {text} {debug}"
        );
    }

    // Nothing listens: unreachable, after the retries, naming the URL but not its password.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = get(&http, &format!("http://u:pw-123@127.0.0.1:{closed}/y")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, HttpError::Unreachable { tries: 5, .. }), "{text}");
    assert!(
        text.starts_with(&format!("http://127.0.0.1:{closed}/y: unreachable (")),
        "{text}"
    );
    assert!(!text.contains("pw-123"), "{text}");
}

#[test]
fn a_silent_server_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    std::thread::spawn(move || {
        let _held: Vec<_> = listener.incoming().collect();
    });
    let http = Http::new(HttpOptions {
        read_timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast()
    });
    let started = Instant::now();
    let err = get(&http, &format!("http://{addr}/z")).unwrap_err();
    assert!(matches!(err, HttpError::Timeout { tries: 2, .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[test]
fn plain_http_never_builds_the_tls_client_and_https_does() {
    let (addr, _) = serve(|_, _| response("200 OK", &[], b""));
    let http = Http::new(fast());
    get(&http, &format!("http://{addr}/")).unwrap();
    assert!(!http.tls_built(), "plain HTTP loaded the trust store");

    // A plain-HTTP server redirecting to https (a registry handing a blob to object storage):
    // the redirect is followed on the TLS client, which finds nothing listening there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let location = format!("https://127.0.0.1:{closed}/blob");
    let (addr, _) = serve(move |_, _| response("307 Temporary Redirect", &[("Location", &location)], b""));
    let err = get(&http, &format!("http://{addr}/v2/x/blobs/sha256:aa")).unwrap_err();
    assert!(http.tls_built());
    assert!(matches!(err, HttpError::Unreachable { .. }), "{err}");
}

#[test]
fn backoff_doubles_is_capped_and_jittered() {
    let http = Http::new(HttpOptions {
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(350),
        ..HttpOptions::default()
    });
    for _ in 0..20 {
        let d1 = http.backoff(1);
        assert!(
            d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
            "{d1:?}"
        );
        let d2 = http.backoff(2);
        assert!(
            d2 >= Duration::from_millis(100) && d2 <= Duration::from_millis(200),
            "{d2:?}"
        );
        let d9 = http.backoff(9);
        assert!(
            d9 >= Duration::from_millis(175) && d9 <= Duration::from_millis(350),
            "{d9:?}"
        );
    }
}

#[test]
fn parses_retry_after_and_redacts_urls() {
    let mut h = HeaderMap::new();
    assert_eq!(retry_after(&h), None);
    h.insert("retry-after", " 7 ".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
    assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past");
    h.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(retry_after(&h), None);
    h.insert("retry-after", "-3".parse().unwrap());
    assert_eq!(retry_after(&h), None);

    let u = Url::parse("https://user:secret@mirror.example/osv/?token=abc#frag").unwrap();
    assert_eq!(redact(&u), "https://mirror.example/osv/?…");
    assert_eq!(redact_str("not a url user:pw@host"), "…@host");
    assert_eq!(redact_str("http://h:5000/v2/"), "http://h:5000/v2/");
}
