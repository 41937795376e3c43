//! The one HTTP layer: every request imagegate makes (registries, `db update`, the OSV API)
//! goes through an [`Http`] client. It owns client construction (reqwest blocking, rustls,
//! timeouts, user agent), retries with exponential backoff and jitter, `Retry-After`, and
//! what an error may show: the URL without credentials or query, the status, the cause — never
//! an `Authorization` header or a password.
//!
//! The TLS client is built on the first `https` request: building it loads the OS trust store
//! (~7 ms), which a scan of a cached image from a plain-HTTP registry never needs. Plain-HTTP
//! requests go through a client with no trust roots; a redirect from one to `https` (a
//! registry handing blobs to object storage) is followed on the TLS client, without the
//! credentials when the host changes.
//!
//! Resuming a body cut short is the caller's concern (it knows what it has kept); it can use
//! [`Http::retry`] to drive its attempts with the same policy.

use reqwest::Url;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{self, HeaderMap};
use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

pub const USER_AGENT: &str = concat!("imagegate/", env!("CARGO_PKG_VERSION"));
/// Redirects followed per request.
const MAX_REDIRECTS: usize = 10;

/// How a client connects, waits and retries.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// The longest wait for the response, and for each read of its body (not a limit on the
    /// whole download).
    pub read_timeout: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled each time, up to `max_backoff`, with jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` asking for longer than this fails at once instead of stalling the
    /// pipeline.
    pub max_retry_after: Duration,
    /// Log each retry as a warning (a long download) rather than at debug level.
    pub warn_on_retry: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            max_attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            warn_on_retry: false,
        }
    }
}

/// Why a request failed for good, naming the URL (redacted) and what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: rate limited{}{}", retry_after_text(*retry_after), tries_text(*tries))]
    RateLimited {
        url: String,
        retry_after: Option<u64>,
        tries: u32,
    },
    #[error("{url}: HTTP {status}{}", tries_text(*tries))]
    Status { url: String, status: u16, tries: u32 },
    #[error("{url}: timed out after {secs} s without an answer{}", tries_text(*tries))]
    Timeout { url: String, secs: u64, tries: u32 },
    #[error("{url}: unreachable ({cause}){}", tries_text(*tries))]
    Unreachable { url: String, cause: String, tries: u32 },
    #[error("cannot start the HTTP client: {0}")]
    Client(String),
}

fn retry_after_text(s: Option<u64>) -> String {
    s.map(|s| format!(" (retry after {s} s)")).unwrap_or_default()
}

/// ` (after N tries)` when there was more than one.
pub fn tries_text(tries: u32) -> String {
    if tries > 1 {
        format!(" (after {tries} tries)")
    } else {
        String::new()
    }
}

/// One request that failed before an answer: a timeout or a connection error.
#[derive(Clone, Debug)]
pub struct Transport {
    pub timeout: bool,
    /// What went wrong, without the URL, with its causes.
    pub detail: String,
    /// The request could not even be built (a bad header, a bad URL): retrying will not help.
    pub fatal: bool,
}

impl Transport {
    pub fn of(e: reqwest::Error) -> Transport {
        Transport {
            timeout: e.is_timeout(),
            fatal: e.is_builder() || e.is_redirect(),
            detail: describe(e),
        }
    }

    /// The error this is once the tries run out.
    pub fn into_error(self, url: &str, options: &HttpOptions, tries: u32) -> HttpError {
        if self.timeout {
            HttpError::Timeout {
                url: url.to_string(),
                secs: options.read_timeout.as_secs(),
                tries,
            }
        } else {
            HttpError::Unreachable {
                url: url.to_string(),
                cause: self.detail,
                tries,
            }
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The outcome of one attempt that did not succeed, for [`Http::retry`].
pub enum Attempt<E> {
    /// Worth another try (a 5xx, a 429, a timeout, a dropped connection), after
    /// `retry_after` when the server named a wait.
    Retry { error: E, retry_after: Option<Duration> },
    /// Another try will not help.
    Fail(E),
}

impl<E> Attempt<E> {
    pub fn retry(error: E) -> Self {
        Attempt::Retry {
            error,
            retry_after: None,
        }
    }
}

/// Whether a status is worth another try: 5xx, 429, 408.
pub fn transient(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
}

/// A client, shared by reference between threads (it is `Sync`); its reqwest clients are built
/// on first use.
pub struct Http {
    options: HttpOptions,
    /// For `http` URLs: no trust store loaded.
    plain: OnceLock<Result<Client, String>>,
    /// For `https` URLs, built on first use.
    tls: OnceLock<Result<Client, String>>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("options", &self.options)
            .field("tls_built", &self.tls.get().is_some())
            .finish()
    }
}

impl Http {
    /// No I/O and no TLS setup: the clients are built when first needed.
    pub fn new(options: HttpOptions) -> Http {
        Http {
            options,
            plain: OnceLock::new(),
            tls: OnceLock::new(),
        }
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Whether the TLS client has been built (for the tests: plain HTTP never builds it).
    pub fn tls_built(&self) -> bool {
        self.tls.get().is_some_and(Result::is_ok)
    }

    fn builder(&self) -> reqwest::blocking::ClientBuilder {
        Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(self.options.connect_timeout)
            // Per wait in the blocking client: for the answer, then for each read of the body.
            // A server that stops answering fails the request instead of hanging the pipeline.
            .timeout(self.options.read_timeout)
    }

    fn plain(&self) -> Result<&Client, Transport> {
        let built = self.plain.get_or_init(|| {
            self.builder()
                // No roots: an https URL never goes through this client (see `execute`).
                .tls_certs_only(Vec::new())
                .redirect(reqwest::redirect::Policy::custom(|a| {
                    if a.url().scheme() == "https" {
                        // `execute` follows it on the TLS client.
                        a.stop()
                    } else if a.previous().len() >= MAX_REDIRECTS {
                        a.error("too many redirects")
                    } else {
                        a.follow()
                    }
                }))
                .build()
                .map_err(describe)
        });
        built.as_ref().map_err(|e| client_failure(e))
    }

    fn tls(&self) -> Result<&Client, Transport> {
        let built = self.tls.get_or_init(|| {
            self.builder()
                .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
                .build()
                .map_err(describe)
        });
        built.as_ref().map_err(|e| client_failure(e))
    }

    /// Sends one request, no retry, on the client its URL's scheme needs. `build` is handed a
    /// client to build the request with; it may be called twice (to follow a redirect from
    /// `http` to `https`).
    pub fn execute(&self, build: impl Fn(&Client) -> RequestBuilder) -> Result<Response, Transport> {
        let plain = self.plain()?;
        let request = build(plain).build().map_err(Transport::of)?;
        if request.url().scheme() != "http" {
            return self.tls()?.execute(request).map_err(Transport::of);
        }
        let from = request.url().clone();
        let response = plain.execute(request).map_err(Transport::of)?;
        let Some(location) = https_redirect(&response) else {
            return Ok(response);
        };
        let mut request = build(plain).build().map_err(Transport::of)?;
        if location.host_str() != from.host_str() || location.port_or_known_default() != from.port_or_known_default() {
            // As reqwest does on a redirect to another host: the credentials stay behind.
            for h in [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION] {
                request.headers_mut().remove(h);
            }
        }
        *request.url_mut() = location;
        self.tls()?.execute(request).map_err(Transport::of)
    }

    /// The wait before the retry that follows failed attempt `failed` (1 = the first), with
    /// half of it random so that parallel CI jobs that failed together spread out.
    pub fn backoff(&self, failed: u32) -> Duration {
        let exp = self
            .options
            .backoff
            .saturating_mul(1u32 << failed.saturating_sub(1).min(16))
            .min(self.options.max_backoff);
        exp / 2 + (exp / 2).mul_f64(jitter())
    }

    /// Runs `attempt` (given its number, from 1) until it succeeds, fails for good, or the
    /// attempts run out; between tries it waits what the server asked (`Retry-After`), else
    /// the backoff. A server asking for more than `max_retry_after` ends the tries at once:
    /// the error is the one that attempt returned (it should say how long was asked). Each
    /// retry is logged with the error, which names the URL.
    pub fn retry<T, E: fmt::Display>(&self, mut attempt: impl FnMut(u32) -> Result<T, Attempt<E>>) -> Result<T, E> {
        let max = self.options.max_attempts.max(1);
        let mut n = 0;
        loop {
            n += 1;
            let (error, retry_after) = match attempt(n) {
                Ok(t) => return Ok(t),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry { error, retry_after }) => (error, retry_after),
            };
            if n >= max {
                return Err(error);
            }
            let wait = match retry_after {
                Some(w) if w > self.options.max_retry_after => return Err(error),
                Some(w) => w,
                None => self.backoff(n),
            };
            if self.options.warn_on_retry {
                tracing::warn!(
                    "{error}; retrying in {:.1} s (attempt {} of {max})",
                    wait.as_secs_f64(),
                    n + 1
                );
            } else {
                tracing::debug!(
                    "{error}; retrying in {:.1} s (attempt {} of {max})",
                    wait.as_secs_f64(),
                    n + 1
                );
            }
            std::thread::sleep(wait);
        }
    }

    /// Sends a request (rebuilt per try), retrying connection errors, timeouts, 5xx, 408 and
    /// 429. Any other answer is returned as it is, 4xx included: what a 404 means is the
    /// caller's business. `url` is the request's URL, shown (redacted) in errors.
    pub fn send(&self, url: &Url, build: impl Fn(&Client) -> RequestBuilder) -> Result<Response, HttpError> {
        let shown = redact(url);
        self.retry(|tries| match self.execute(&build) {
            Err(t) if t.fatal => Err(Attempt::Fail(HttpError::Client(t.detail))),
            Err(t) => Err(Attempt::retry(t.into_error(&shown, &self.options, tries))),
            Ok(r) if transient(r.status()) => {
                let after = retry_after(r.headers());
                let error = if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    HttpError::RateLimited {
                        url: shown.clone(),
                        retry_after: after.map(|d| d.as_secs()),
                        tries,
                    }
                } else {
                    HttpError::Status {
                        url: shown.clone(),
                        status: r.status().as_u16(),
                        tries,
                    }
                };
                Err(Attempt::Retry {
                    error,
                    retry_after: after,
                })
            }
            Ok(r) => Ok(r),
        })
    }
}

fn client_failure(e: &str) -> Transport {
    Transport {
        timeout: false,
        detail: format!("cannot start the HTTP client: {e}"),
        fatal: true,
    }
}

/// The `https` target of a redirect the plain client stopped at.
fn https_redirect(response: &Response) -> Option<Url> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let next = response.url().join(location).ok()?;
    (next.scheme() == "https").then_some(next)
}

/// A reqwest error without its URL (which may hold credentials), with its causes.
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// Whether a read of a body failed because the server went silent for the read timeout.
pub fn io_timed_out(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|i| i.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
}

/// An I/O error from reading a body, with its causes (a reqwest error inside has no URL:
/// the body reader's errors carry none).
pub fn describe_io(e: &io::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.get_ref().and_then(|i| i.source());
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}

/// `Retry-After`: seconds, or an HTTP date (a date in the past is no wait).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(value).ok()?;
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The URL without user, password, query or fragment (a signed URL's query is a credential
/// too); `?…` marks a query that was there.
pub fn redact(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let had_query = u.query().is_some();
    u.set_query(None);
    u.set_fragment(None);
    let mut s = u.to_string();
    if had_query {
        s.push_str("?…");
    }
    s
}

/// [`redact`] for a string that may not parse.
pub fn redact_str(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(u) => redact(&u),
        // Unparseable: show only what cannot hold a password (the part after any '@').
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("…@{host}"),
            None => url.to_string(),
        },
    }
}

/// A uniform number in [0, 1) that differs between processes and calls, without a rand crate.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;
