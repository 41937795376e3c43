//! Pulling from a registry (the Docker Registry HTTP API v2 / OCI distribution spec):
//! manifests, the config, layer blobs as streams, the catalog and tag lists.
//!
//! Our own small client on reqwest rather than oci-client: oci-client 0.18 keeps response
//! headers to itself (no `Retry-After`, no `Link` pagination) and does not retry, and a gate
//! that fails a pipeline on one dropped connection is not one people keep.

pub mod auth;
pub mod reference;

pub use auth::{Challenge, Credential, CredentialSource};
pub use reference::Reference;

use crate::digest::{Algorithm, Digest};
use crate::http::{Attempt, Http, HttpOptions, Transport, retry_after, tries_text};
use reqwest::StatusCode;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{self, HeaderMap};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest manifest or index we read (real ones are a few KB).
const MAX_MANIFEST: u64 = 4 << 20;
/// Largest config blob we read.
const MAX_CONFIG: u64 = 16 << 20;
/// Largest catalog or tag list page.
const MAX_LIST_PAGE: u64 = 16 << 20;
/// Pages of a catalog or tag list we follow before deciding the registry loops.
const MAX_PAGES: usize = 10_000;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

#[derive(Clone)]
pub struct RegistryOptions {
    /// Credentials for the registry being pulled from; they go to nobody else.
    pub username: Option<String>,
    pub password: Option<String>,
    /// Registries (HOST:PORT) reached over plain HTTP; loopback always is.
    pub insecure: Vec<String>,
    /// Docker's `config.json` [default: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`].
    pub docker_config: Option<PathBuf>,
    /// How long a registry may stay silent (per read) before the request fails.
    pub read_timeout: Duration,
    pub connect_timeout: Duration,
    /// Retries of one request after a 5xx, a 429 or a dropped connection.
    pub retries: u32,
    /// First backoff between retries; it doubles, up to 8 times this.
    pub backoff: Duration,
    /// A 429 asking to wait longer than this fails at once instead of stalling the pipeline.
    pub max_retry_after: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            username: None,
            password: None,
            insecure: Vec::new(),
            docker_config: None,
            read_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 4,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{reference}` is not an image reference: {why}")]
    InvalidReference { reference: String, why: String },
    #[error("credentials for {registry}: {why}")]
    Credentials { registry: String, why: String },
    #[error(
        "authentication failed for {host}: {why} (check --username/--password, IMAGEGATE_USERNAME/IMAGEGATE_PASSWORD or the Docker config)"
    )]
    Auth { host: String, why: String },
    #[error("{host}: access denied to {what}")]
    Denied { host: String, what: String },
    #[error("{host}: no such {what}")]
    NotFound { host: String, what: String },
    #[error("{host}: rate limited{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited { host: String, retry_after: Option<u64> },
    #[error("{host}: unreachable ({cause})")]
    Unreachable { host: String, cause: String },
    #[error("{host}: timed out after {secs} s without an answer{}", tries_text(*tries))]
    Timeout { host: String, secs: u64, tries: u32 },
    #[error("{host}: HTTP {status} on {what}{}{}", if message.is_empty() { String::new() } else { format!(": {message}") }, tries_text(*tries))]
    Server {
        host: String,
        status: u16,
        what: String,
        message: String,
        tries: u32,
    },
    #[error("{host}: {what}")]
    Invalid { host: String, what: String },
    #[error("{host}: {what}: digest mismatch: expected {expected}, got {actual}")]
    Digest {
        host: String,
        what: String,
        expected: Digest,
        actual: Digest,
    },
}

/// A manifest or index as the registry sent it.
pub struct Manifest {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: Http,
    options: RegistryOptions,
    credentials: CredentialSource,
    /// Bearer tokens by (registry, scope), with when they stop being good.
    tokens: Mutex<HashMap<(String, String), (String, Instant)>>,
    /// Registries that asked for basic auth.
    basic: Mutex<HashSet<String>>,
    /// Credentials looked up so far, by registry (helpers are slow processes).
    looked_up: Mutex<HashMap<String, Option<Credential>>>,
}

enum Authorization {
    Bearer(String),
    Basic(String, String),
}

impl Client {
    pub fn new(options: RegistryOptions) -> Result<Client, RegistryError> {
        let http = Http::new(HttpOptions {
            connect_timeout: options.connect_timeout,
            read_timeout: options.read_timeout,
            max_attempts: options.retries.saturating_add(1),
            backoff: options.backoff,
            max_backoff: options.backoff.saturating_mul(8),
            max_retry_after: options.max_retry_after,
            warn_on_retry: false,
        });
        let explicit = match (&options.username, &options.password) {
            (Some(u), Some(p)) => Some(Credential::Basic {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        };
        let credentials = CredentialSource {
            explicit,
            docker_config: options.docker_config.clone(),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                options,
                credentials,
                tokens: Mutex::default(),
                basic: Mutex::default(),
                looked_up: Mutex::default(),
            }),
        })
    }

    fn base(&self, registry: &str) -> String {
        let host = reference::api_host(registry);
        let plain = self.inner.options.insecure.iter().any(|h| h == registry || h == host) || is_loopback(host);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    /// GET a manifest or index by tag or digest; its digest is checked against a digest
    /// reference and against `Docker-Content-Digest`.
    pub fn manifest(&self, r: &Reference, reference: &str) -> Result<Manifest, RegistryError> {
        let host = r.api_host().to_string();
        let url = format!("{}/v2/{}/manifests/{reference}", self.base(&r.registry), r.repository);
        let what = format!("manifest {}:{reference}", r.repository);
        let response = self.send(&r.registry, &pull_scope(&r.repository), &what, |c| {
            c.get(&url).header(header::ACCEPT, MANIFEST_TYPES)
        })?;
        let sent_digest = header_str(response.headers(), "docker-content-digest").and_then(|d| Digest::parse(&d).ok());
        let content_type = header_str(response.headers(), "content-type").unwrap_or_default();
        let bytes = read_capped(response, MAX_MANIFEST, &host, &what)?;
        let wanted = Digest::parse(reference).ok();
        let algorithm = wanted.as_ref().map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = Digest::of(algorithm, &bytes);
        for expected in [wanted, sent_digest.filter(|d| d.algorithm() == algorithm)]
            .into_iter()
            .flatten()
        {
            if expected != digest {
                return Err(RegistryError::Digest {
                    host,
                    what,
                    expected,
                    actual: digest,
                });
            }
        }
        // The JSON's own mediaType wins over a generic Content-Type.
        let media_type = serde_json::from_slice::<MediaTypeOnly>(&bytes)
            .ok()
            .and_then(|m| m.media_type)
            .unwrap_or(content_type);
        Ok(Manifest {
            digest,
            media_type,
            bytes,
        })
    }

    /// A small blob (the config), whole, its size and digest checked.
    pub fn blob_bytes(&self, r: &Reference, digest: &Digest, size: u64) -> Result<Vec<u8>, RegistryError> {
        let host = r.api_host().to_string();
        let what = format!("blob {digest}");
        if size > MAX_CONFIG {
            return Err(RegistryError::Invalid {
                host,
                what: format!("{what} is {size} bytes; a config is at most {MAX_CONFIG}"),
            });
        }
        let url = format!("{}/v2/{}/blobs/{digest}", self.base(&r.registry), r.repository);
        let response = self.send(&r.registry, &pull_scope(&r.repository), &what, |c| c.get(&url))?;
        let bytes = read_capped(response, size, &host, &what)?;
        if bytes.len() as u64 != size {
            return Err(RegistryError::Invalid {
                host,
                what: format!(
                    "{what}: the manifest says {size} bytes, the registry sent {}",
                    bytes.len()
                ),
            });
        }
        let actual = Digest::of(digest.algorithm(), &bytes);
        if &actual != digest {
            return Err(RegistryError::Digest {
                host,
                what,
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// A layer blob as a stream. A connection dropped mid-body is resumed with a `Range`
    /// request, so the reader sees every byte exactly once; the caller hashes them.
    pub fn open_blob(&self, r: &Reference, digest: &Digest, size: u64) -> Result<BlobReader, RegistryError> {
        let mut reader = BlobReader {
            client: self.clone(),
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            digest: digest.clone(),
            size,
            offset: 0,
            resumes: 0,
            response: None,
        };
        reader.response = Some(reader.request()?);
        Ok(reader)
    }

    /// Every repository, following `Link` pagination.
    pub fn catalog(&self, registry: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            repositories: Option<Vec<String>>,
        }
        let url = format!("{}/v2/_catalog?n=1000", self.base(registry));
        self.paginate(registry, "registry:catalog:*", "the catalog", url, |bytes| {
            serde_json::from_slice::<Page>(bytes).map(|p| p.repositories.unwrap_or_default())
        })
    }

    /// Every tag of a repository, following `Link` pagination.
    pub fn tags(&self, registry: &str, repository: &str) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let url = format!("{}/v2/{repository}/tags/list?n=1000", self.base(registry));
        let what = format!("tags of {repository}");
        self.paginate(registry, &pull_scope(repository), &what, url, |bytes| {
            serde_json::from_slice::<Page>(bytes).map(|p| p.tags.unwrap_or_default())
        })
    }

    fn paginate(
        &self,
        registry: &str,
        scope: &str,
        what: &str,
        first: String,
        parse: impl Fn(&[u8]) -> Result<Vec<String>, serde_json::Error>,
    ) -> Result<Vec<String>, RegistryError> {
        let host = reference::api_host(registry).to_string();
        let base = self.base(registry);
        let mut out = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(RegistryError::Invalid {
                    host,
                    what: format!("{what}: more than {MAX_PAGES} pages; the registry's pagination loops"),
                });
            }
            let response = self.send(registry, scope, what, |c| c.get(&url))?;
            next = header_str(response.headers(), "link")
                .and_then(|l| next_link(&l))
                .map(|l| if l.starts_with('/') { format!("{base}{l}") } else { l });
            let bytes = read_capped(response, MAX_LIST_PAGE, &host, what)?;
            let page = parse(&bytes).map_err(|e| RegistryError::Invalid {
                host: host.clone(),
                what: format!("{what}: not valid JSON ({e})"),
            })?;
            // A registry that answers a page with nothing new would loop forever.
            if page.is_empty() {
                break;
            }
            out.extend(page);
        }
        Ok(out)
    }

    /// Sends a request (rebuilt per try), answering auth challenges and retrying what is
    /// worth retrying. Returns a successful response, or the error that ended the tries.
    // An attempt's error lives only until the next try: its size does not matter.
    #[allow(clippy::result_large_err)]
    fn send(
        &self,
        registry: &str,
        scope: &str,
        what: &str,
        build: impl Fn(&reqwest::blocking::Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let host = reference::api_host(registry).to_string();
        let http = &self.inner.http;
        let mut authenticated = false;
        http.retry(|tries| {
            // The answer to a challenge is part of the same try.
            let response = loop {
                let auth = self.authorization(registry, scope);
                let response = http
                    .execute(|c| match &auth {
                        Some(Authorization::Bearer(t)) => build(c).bearer_auth(t),
                        Some(Authorization::Basic(u, p)) => build(c).basic_auth(u, Some(p)),
                        None => build(c),
                    })
                    .map_err(|t| {
                        let e = transport_error(&host, t.clone(), http.options(), tries);
                        if t.fatal { Attempt::Fail(e) } else { Attempt::retry(e) }
                    })?;
                if response.status() == StatusCode::UNAUTHORIZED && !authenticated {
                    authenticated = true;
                    let challenge = header_str(response.headers(), "www-authenticate").unwrap_or_default();
                    self.authenticate(registry, scope, &challenge).map_err(Attempt::Fail)?;
                    continue;
                }
                break response;
            };
            let status = response.status();
            let fail = |e| Err(Attempt::Fail(e));
            match status {
                s if s.is_success() => Ok(response),
                StatusCode::UNAUTHORIZED => fail(RegistryError::Auth {
                    host: host.clone(),
                    why: "the registry refused the credentials".into(),
                }),
                StatusCode::FORBIDDEN => fail(RegistryError::Denied {
                    host: host.clone(),
                    what: what.to_string(),
                }),
                StatusCode::NOT_FOUND => {
                    let code = error_code(response);
                    let what = match code.as_deref() {
                        Some("NAME_UNKNOWN") => format!("repository ({what})"),
                        Some("MANIFEST_UNKNOWN") => format!("tag or digest ({what})"),
                        _ => what.to_string(),
                    };
                    fail(RegistryError::NotFound {
                        host: host.clone(),
                        what,
                    })
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let after = retry_after(response.headers());
                    Err(Attempt::Retry {
                        error: RegistryError::RateLimited {
                            host: host.clone(),
                            retry_after: after.map(|a| a.as_secs()),
                        },
                        retry_after: after,
                    })
                }
                s => {
                    let after = retry_after(response.headers());
                    let error = RegistryError::Server {
                        host: host.clone(),
                        status: s.as_u16(),
                        what: what.to_string(),
                        message: error_message(response),
                        tries,
                    };
                    if s.is_server_error() {
                        Err(Attempt::Retry {
                            error,
                            retry_after: after,
                        })
                    } else {
                        fail(error)
                    }
                }
            }
        })
    }

    fn backoff(&self, tries: u32) -> Duration {
        self.inner.http.backoff(tries)
    }

    fn authorization(&self, registry: &str, scope: &str) -> Option<Authorization> {
        let tokens = self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, until)) = tokens.get(&(registry.to_string(), scope.to_string()))
            && Instant::now() < *until
        {
            return Some(Authorization::Bearer(token.clone()));
        }
        drop(tokens);
        let basic = self.inner.basic.lock().unwrap_or_else(|p| p.into_inner());
        if !basic.contains(registry) {
            return None;
        }
        drop(basic);
        match self.credential(registry).ok().flatten() {
            Some(Credential::Basic { username, password }) => Some(Authorization::Basic(username, password)),
            _ => None,
        }
    }

    fn credential(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        let mut looked_up = self.inner.looked_up.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = looked_up.get(registry) {
            return Ok(c.clone());
        }
        let c = self.inner.credentials.lookup(registry)?;
        looked_up.insert(registry.to_string(), c.clone());
        Ok(c)
    }

    /// Answers a 401's challenge: remember to send basic credentials, or fetch a token.
    fn authenticate(&self, registry: &str, scope: &str, challenge: &str) -> Result<(), RegistryError> {
        let host = reference::api_host(registry).to_string();
        let credential = self.credential(registry)?;
        match Challenge::parse(challenge) {
            Some(Challenge::Basic) => match credential {
                Some(Credential::Basic { .. }) => {
                    self.inner
                        .basic
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(registry.to_string());
                    Ok(())
                }
                _ => Err(RegistryError::Auth {
                    host,
                    why: "the registry requires a user name and password".into(),
                }),
            },
            Some(Challenge::Bearer { realm, service, .. }) => {
                let token = self.fetch_token(&host, &realm, service.as_deref(), scope, credential.as_ref())?;
                self.inner
                    .tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert((registry.to_string(), scope.to_string()), token);
                Ok(())
            }
            None => Err(RegistryError::Auth {
                host,
                why: format!(
                    "unsupported challenge `{}`",
                    challenge.chars().take(80).collect::<String>()
                ),
            }),
        }
    }

    /// The token flow (https://distribution.github.io/distribution/spec/auth/token/). The
    /// credentials go to the realm the registry names, as Docker does: that is its auth server.
    #[allow(clippy::result_large_err)]
    fn fetch_token(
        &self,
        host: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credential: Option<&Credential>,
    ) -> Result<(String, Instant), RegistryError> {
        let mut params: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(s) = service {
            params.push(("service", s));
        }
        let realm_url = reqwest::Url::parse(realm).map_err(|e| RegistryError::Auth {
            host: host.to_string(),
            why: format!("the token realm `{realm}` is not a URL ({e})"),
        })?;
        let http = &self.inner.http;
        let response = http.retry(|tries| {
            let response = http
                .execute(|c| match credential {
                    Some(Credential::IdentityToken(refresh)) => {
                        let mut form = params.clone();
                        form.extend([("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())]);
                        form.push(("client_id", "imagegate"));
                        c.post(realm_url.clone()).form(&form)
                    }
                    Some(Credential::Basic { username, password }) => c
                        .get(realm_url.clone())
                        .query(&params)
                        .basic_auth(username, Some(password)),
                    None => c.get(realm_url.clone()).query(&params),
                })
                .map_err(|t| {
                    let e = transport_error(host, t.clone(), http.options(), tries);
                    if t.fatal { Attempt::Fail(e) } else { Attempt::retry(e) }
                })?;
            let status = response.status();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                let after = retry_after(response.headers());
                return Err(Attempt::Retry {
                    error: RegistryError::Auth {
                        host: host.to_string(),
                        why: format!(
                            "the token server answered HTTP {}{}",
                            status.as_u16(),
                            tries_text(tries)
                        ),
                    },
                    retry_after: after,
                });
            }
            Ok(response)
        })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Auth {
                host: host.to_string(),
                why: if credential.is_some() {
                    "the token server refused the credentials".into()
                } else {
                    "the registry requires credentials".into()
                },
            });
        }
        if !status.is_success() {
            return Err(RegistryError::Auth {
                host: host.to_string(),
                why: format!("the token server answered HTTP {}", status.as_u16()),
            });
        }
        let bytes = read_capped(response, 1 << 20, host, "token")?;
        let token: auth::TokenResponse = serde_json::from_slice(&bytes).map_err(|e| RegistryError::Auth {
            host: host.to_string(),
            // Position only: serde's message can quote the value, and this one may be a secret.
            why: format!(
                "the token server's answer is not a token (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        let value = token.token.or(token.access_token).filter(|t| !t.is_empty());
        let value = value.ok_or_else(|| RegistryError::Auth {
            host: host.to_string(),
            why: "the token server's answer holds no token".into(),
        })?;
        // Tokens default to 60 s (the spec's minimum); renew a little early.
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(60).clamp(10, 3600));
        Ok((value, Instant::now() + lifetime - Duration::from_secs(5)))
    }
}

#[derive(serde::Deserialize)]
struct MediaTypeOnly {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

/// A layer blob being read; see [`Client::open_blob`].
pub struct BlobReader {
    client: Client,
    registry: String,
    repository: String,
    digest: Digest,
    size: u64,
    /// Bytes handed to the reader so far.
    offset: u64,
    resumes: u32,
    response: Option<Response>,
}

impl BlobReader {
    fn what(&self) -> String {
        format!("blob {} of {}", self.digest, self.repository)
    }

    fn request(&self) -> Result<Response, RegistryError> {
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.client.base(&self.registry),
            self.repository,
            self.digest
        );
        let offset = self.offset;
        self.client
            .send(&self.registry, &pull_scope(&self.repository), &self.what(), |c| {
                let r = c.get(&url);
                if offset > 0 {
                    r.header(header::RANGE, format!("bytes={offset}-"))
                } else {
                    r
                }
            })
    }

    /// Opens the rest of the blob after a dropped connection. `Ok(false)`: nothing is left
    /// (the blob is shorter than promised; the walk's size check reports it).
    fn resume(&mut self, cause: &io::Error) -> io::Result<bool> {
        let options = &self.client.inner.options;
        let host = reference::api_host(&self.registry).to_string();
        if self.resumes >= options.retries {
            let e = if crate::http::io_timed_out(cause) {
                RegistryError::Timeout {
                    host,
                    secs: options.read_timeout.as_secs(),
                    tries: self.resumes + 1,
                }
            } else {
                RegistryError::Unreachable {
                    host,
                    cause: format!(
                        "the connection dropped at byte {} of {} ({cause}) {} times",
                        self.offset,
                        self.what(),
                        self.resumes + 1
                    ),
                }
            };
            return Err(io::Error::other(e));
        }
        self.resumes += 1;
        std::thread::sleep(self.client.backoff(self.resumes));
        tracing::debug!("{host}: resuming {} at byte {}", self.what(), self.offset);
        let mut response = match self.request() {
            Ok(r) => r,
            // Asking past the end: the blob is shorter than the manifest says.
            Err(RegistryError::Server { status: 416, .. }) => return Ok(false),
            Err(e) => return Err(io::Error::other(e)),
        };
        if response.status() != StatusCode::PARTIAL_CONTENT {
            // The registry ignored the range: skip what we already have.
            let skipped = io::copy(&mut (&mut response).take(self.offset), &mut io::sink())?;
            if skipped < self.offset {
                return Ok(false);
            }
        } else if let Some(range) = header_str(response.headers(), "content-range")
            && !range.starts_with(&format!("bytes {}-", self.offset))
        {
            return Err(io::Error::other(RegistryError::Invalid {
                host,
                what: format!("{}: resumed at the wrong offset ({range})", self.what()),
            }));
        }
        self.response = Some(response);
        Ok(true)
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(response) = self.response.as_mut() else {
                return Ok(0);
            };
            match response.read(buf) {
                Ok(0) if self.offset < self.size && !buf.is_empty() => {
                    // The body ended early: a dropped connection, unless the blob really is short.
                    let cause = io::Error::new(io::ErrorKind::UnexpectedEof, "body ended early");
                    if !self.resume(&cause)? {
                        self.response = None;
                    }
                }
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if !self.resume(&e)? {
                        self.response = None;
                    }
                }
            }
        }
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((n, p)) if p.bytes().all(|c| c.is_ascii_digit()) => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// The `rel="next"` target of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                p.trim()
                    .strip_prefix("rel=")
                    .is_some_and(|r| r.trim_matches('"').split_whitespace().any(|r| r == "next"))
            })
            .then(|| target.to_string())
    })
}

/// The distribution spec's error envelope: `{"errors":[{"code":…,"message":…}]}`.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(default)]
    errors: Vec<EnvelopeError>,
}
#[derive(serde::Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

fn envelope(response: Response) -> Option<EnvelopeError> {
    let mut bytes = Vec::new();
    response.take(64 << 10).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice::<Envelope>(&bytes)
        .ok()?
        .errors
        .into_iter()
        .next()
}

fn error_code(response: Response) -> Option<String> {
    envelope(response).map(|e| e.code)
}

fn error_message(response: Response) -> String {
    envelope(response)
        .map(|e| e.message.chars().take(200).collect())
        .unwrap_or_default()
}

fn read_capped(response: Response, cap: u64, host: &str, what: &str) -> Result<Vec<u8>, RegistryError> {
    let mut bytes = Vec::new();
    response
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| RegistryError::Unreachable {
            host: host.to_string(),
            cause: format!("reading {what}: {e}"),
        })?;
    if bytes.len() as u64 > cap {
        return Err(RegistryError::Invalid {
            host: host.to_string(),
            what: format!("{what} is larger than {cap} bytes"),
        });
    }
    Ok(bytes)
}

fn transport_error(host: &str, t: Transport, options: &HttpOptions, tries: u32) -> RegistryError {
    if t.timeout {
        return RegistryError::Timeout {
            host: host.to_string(),
            secs: options.read_timeout.as_secs(),
            tries,
        };
    }
    RegistryError::Unreachable {
        host: host.to_string(),
        cause: t.detail,
    }
}

#[cfg(test)]
mod tests;
