//! `scan --online`: the OSV API instead of the local index. It sends package names and
//! versions to the API, so it is never the default.
//!
//! One pass up front: `POST /v1/querybatch` with every lookup the scan will make (following
//! each query's `next_page_token`), then `GET /v1/vulns/{id}` for each id whose record is not
//! cached at the `modified` time the batch reported. The scan then reads from memory through
//! the same [`Advisories`] trait as the local index, so matching and policy are unchanged.

use super::index::IndexError;
use super::osv::{Ecosystem, Record};
use super::scan::Advisories;
use crate::http::{Http, HttpError, HttpOptions, redact, redact_str};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub const DEFAULT_API: &str = "https://api.osv.dev";
/// Queries per batch request (the API's limit is 1,000).
const BATCH: usize = 1000;
/// Pages of one query we follow before deciding the API loops.
const MAX_PAGES: usize = 100;
/// Record fetches in flight at once.
const PARALLEL_GETS: usize = 8;
/// How long "the API has no record with this id" is believed.
const ABSENT_FOR: Duration = Duration::from_secs(24 * 3600);
/// A record or batch answer larger than this is not one.
const MAX_BODY: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    /// Unreachable, timed out, rate limited, or an HTTP status after the retries: the error
    /// names the URL and the status.
    #[error("OSV API {0}")]
    Http(#[from] HttpError),
    #[error("OSV API {url}: the answer is not what the API sends ({why})")]
    Invalid { url: String, why: String },
}

#[derive(Clone, Debug)]
pub struct OnlineOptions {
    /// `--osv-api`, else `$IMAGEGATE_OSV_API`, else [`DEFAULT_API`].
    pub base: String,
    /// Where fetched records are kept; `None` keeps nothing.
    pub cache_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// A `Retry-After` asking for longer than this fails at once.
    pub max_retry_after: Duration,
}

impl Default for OnlineOptions {
    fn default() -> Self {
        OnlineOptions {
            base: DEFAULT_API.to_string(),
            cache_dir: default_cache_dir(),
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// `$XDG_CACHE_HOME/imagegate/osv-api`, else `~/.cache/imagegate/osv-api`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("XDG_CACHE_HOME")
        .map(|d| d.join("imagegate/osv-api"))
        .or_else(|| var("HOME").map(|h| h.join(".cache/imagegate/osv-api")))
}

/// What the API said, held for the scan.
pub struct OnlineAdvisories {
    base: String,
    /// Record ids per (ecosystem, package name).
    ids: HashMap<(String, String), Vec<String>>,
    records: HashMap<String, Record>,
    /// Ids fetched later for `by_id` (ignores naming an alias).
    extra: Mutex<HashMap<String, Option<Record>>>,
    fetcher: Fetcher,
    /// Requests made, for the report and the tests.
    pub stats: Stats,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub batch_requests: usize,
    pub records_fetched: usize,
    pub records_cached: usize,
}

#[derive(Serialize)]
struct BatchRequest<'a> {
    queries: Vec<QueryOut<'a>>,
}

#[derive(Serialize)]
struct QueryOut<'a> {
    package: PackageOut<'a>,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<String>,
}

#[derive(Serialize)]
struct PackageOut<'a> {
    ecosystem: String,
    name: &'a str,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    results: Vec<BatchResult>,
}

#[derive(Deserialize, Default)]
struct BatchResult {
    #[serde(default)]
    vulns: Vec<VulnRef>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct VulnRef {
    id: String,
    #[serde(default)]
    modified: Option<String>,
}

impl OnlineAdvisories {
    /// Asks the API about every lookup (ecosystem, name, version) and fetches the records.
    pub fn fetch(lookups: &[(Ecosystem, String, String)], options: &OnlineOptions) -> Result<Self, OnlineError> {
        let fetcher = Fetcher::new(options)?;
        let mut stats = Stats::default();
        let mut ids: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut modified: HashMap<String, Option<String>> = HashMap::new();
        // Each query with its page token; pages left are asked again until none remain.
        let mut pending: Vec<(usize, Option<String>)> = (0..lookups.len()).map(|i| (i, None)).collect();
        let mut pages = 0;
        while !pending.is_empty() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(OnlineError::Invalid {
                    url: fetcher.shown("/v1/querybatch"),
                    why: format!("more than {MAX_PAGES} pages of results for one query"),
                });
            }
            let mut next = Vec::new();
            for chunk in pending.chunks(BATCH) {
                let request = BatchRequest {
                    queries: chunk
                        .iter()
                        .map(|(i, token)| {
                            let (eco, name, version) = &lookups[*i];
                            QueryOut {
                                package: PackageOut {
                                    ecosystem: eco.to_string(),
                                    name,
                                },
                                version,
                                page_token: token.clone(),
                            }
                        })
                        .collect(),
                };
                let body = serde_json::to_vec(&request).map_err(|e| OnlineError::Invalid {
                    url: fetcher.shown("/v1/querybatch"),
                    why: e.to_string(),
                })?;
                stats.batch_requests += 1;
                let answer: BatchResponse = fetcher.json("/v1/querybatch", Some(body))?;
                if answer.results.len() != chunk.len() {
                    return Err(OnlineError::Invalid {
                        url: fetcher.shown("/v1/querybatch"),
                        why: format!("{} results for {} queries", answer.results.len(), chunk.len()),
                    });
                }
                for ((i, _), result) in chunk.iter().zip(answer.results) {
                    let (eco, name, _) = &lookups[*i];
                    let list = ids.entry((eco.to_string(), name.clone())).or_default();
                    for v in result.vulns {
                        if !list.contains(&v.id) {
                            list.push(v.id.clone());
                        }
                        modified.insert(v.id, v.modified);
                    }
                    if let Some(token) = result.next_page_token.filter(|t| !t.is_empty()) {
                        next.push((*i, Some(token)));
                    }
                }
            }
            pending = next;
        }
        let wanted: Vec<(String, Option<String>)> = modified.into_iter().collect();
        let records = fetcher.records(&wanted, &mut stats)?;
        Ok(OnlineAdvisories {
            base: options.base.clone(),
            ids,
            records,
            extra: Mutex::default(),
            fetcher,
            stats,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn record_count(&self) -> usize {
        self.records.len()
    }
}

impl Advisories for OnlineAdvisories {
    fn lookup(&self, ecosystem: &Ecosystem, name: &str) -> Result<Vec<Record>, IndexError> {
        Ok(self
            .ids
            .get(&(ecosystem.to_string(), name.to_string()))
            .map(|ids| ids.iter().filter_map(|id| self.records.get(id).cloned()).collect())
            .unwrap_or_default())
    }

    fn by_id(&self, id: &str) -> Result<Vec<Record>, IndexError> {
        let known: Vec<Record> = self
            .records
            .values()
            .filter(|r| r.id.eq_ignore_ascii_case(id) || r.aliases.iter().any(|a| a.eq_ignore_ascii_case(id)))
            .cloned()
            .collect();
        if !known.is_empty() {
            return Ok(known);
        }
        // An id the scan did not meet (an ignore naming it): ask once.
        let mut extra = self.extra.lock().unwrap_or_else(|p| p.into_inner());
        let record = extra
            .entry(id.to_string())
            .or_insert_with(|| self.fetcher.record(id, None).ok().flatten());
        Ok(record.iter().cloned().collect())
    }

    /// The API serves every ecosystem it knows; an Alpine branch it lacks answers no records.
    fn covers(&self, _ecosystem: &Ecosystem) -> bool {
        true
    }
}

/// HTTP to the API (retries are [`Http`]'s), and the record cache.
struct Fetcher {
    http: Http,
    options: OnlineOptions,
}

impl Fetcher {
    fn new(options: &OnlineOptions) -> Result<Fetcher, OnlineError> {
        let http = Http::new(HttpOptions {
            connect_timeout: options.timeout.min(Duration::from_secs(10)),
            read_timeout: options.timeout,
            max_attempts: options.retries.saturating_add(1),
            backoff: options.backoff,
            max_backoff: options.backoff.saturating_mul(8),
            max_retry_after: options.max_retry_after,
            warn_on_retry: false,
        });
        Ok(Fetcher {
            http,
            options: options.clone(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.base.trim_end_matches('/'))
    }

    /// [`Fetcher::url`] as errors show it: no credentials, no query.
    fn shown(&self, path: &str) -> String {
        redact_str(&self.url(path))
    }

    /// GET (or POST `body`) with retries on 5xx, 429 and connection errors; `None` on 404.
    fn send(&self, path: &str, body: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, OnlineError> {
        let url = self.url(path);
        let parsed = Url::parse(&url).map_err(|e| OnlineError::Invalid {
            url: redact_str(&url),
            why: format!("not a URL ({e})"),
        })?;
        let shown = redact(&parsed);
        let response = self.http.send(&parsed, |c| match &body {
            Some(b) => c
                .post(parsed.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.clone()),
            None => c.get(parsed.clone()),
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(HttpError::Status {
                url: shown,
                status: status.as_u16(),
                tries: 1,
            }
            .into());
        }
        let mut bytes = Vec::new();
        response
            .take(MAX_BODY + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| HttpError::Unreachable {
                url: shown.clone(),
                cause: format!("reading the answer: {e}"),
                tries: 1,
            })?;
        if bytes.len() as u64 > MAX_BODY {
            return Err(OnlineError::Invalid {
                url: shown,
                why: format!("larger than {MAX_BODY} bytes"),
            });
        }
        Ok(Some(bytes))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, path: &str, body: Option<Vec<u8>>) -> Result<T, OnlineError> {
        let url = self.shown(path);
        let bytes = self.send(path, body)?.ok_or_else(|| HttpError::Status {
            url: url.clone(),
            status: 404,
            tries: 1,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| OnlineError::Invalid {
            url,
            why: e.to_string(),
        })
    }

    fn cache_path(&self, id: &str) -> Option<PathBuf> {
        // Ids are `GHSA-xxxx`, `CVE-…`, `ALPINE-CVE-…`: anything else is kept out of paths.
        let safe: String = id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(self.options.cache_dir.as_ref()?.join(format!("{safe}.json")))
    }

    /// A record from the cache when it is as new as `modified`, else from the API (and cached).
    fn record(&self, id: &str, modified: Option<&str>) -> Result<Option<Record>, OnlineError> {
        if let Some(record) = self.cached(id, modified) {
            return Ok(Some(record));
        }
        if self.known_absent(id) {
            return Ok(None);
        }
        let url = self.shown(&format!("/v1/vulns/{id}"));
        let Some(bytes) = self.send(&format!("/v1/vulns/{id}"), None)? else {
            // Aliases the API has no record for are asked about again a day later, not every run.
            if let Some(path) = self.cache_path(id) {
                self.store_at(&path.with_extension("absent"), b"");
            }
            return Ok(None);
        };
        let record = Record::from_json(&bytes).map_err(|e| OnlineError::Invalid {
            url,
            why: e.to_string(),
        })?;
        self.store(id, &bytes);
        Ok(Some(record))
    }

    fn cached(&self, id: &str, modified: Option<&str>) -> Option<Record> {
        let modified = modified?;
        let bytes = std::fs::read(self.cache_path(id)?).ok()?;
        let record = Record::from_json(&bytes).ok()?;
        (record.id == id && record.modified.as_deref() == Some(modified)).then_some(record)
    }

    fn known_absent(&self, id: &str) -> bool {
        let Some(path) = self.cache_path(id) else { return false };
        std::fs::metadata(path.with_extension("absent"))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < ABSENT_FOR))
    }

    fn store(&self, id: &str, bytes: &[u8]) {
        if let Some(path) = self.cache_path(id) {
            self.store_at(&path, bytes);
        }
    }

    /// Atomic: a parallel scan reads the old record or the new one, never half of one.
    fn store_at(&self, path: &std::path::Path, bytes: &[u8]) {
        let write = || -> std::io::Result<()> {
            let dir = path.parent().ok_or_else(|| std::io::Error::other("no parent"))?;
            std::fs::create_dir_all(dir)?;
            let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
            std::io::Write::write_all(&mut tmp, bytes)?;
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::warn!("OSV record cache {}: {e}", path.display());
        }
    }

    /// Fetches the records (several at a time), from the cache where it is fresh.
    fn records(
        &self,
        wanted: &[(String, Option<String>)],
        stats: &mut Stats,
    ) -> Result<HashMap<String, Record>, OnlineError> {
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        for (id, modified) in wanted {
            match self.cached(id, modified.as_deref()) {
                Some(r) => {
                    stats.records_cached += 1;
                    out.insert(id.clone(), r);
                }
                None => missing.push(id.clone()),
            }
        }
        let next = Mutex::new(missing.iter());
        let fetched: Mutex<Vec<Result<Option<Record>, OnlineError>>> = Mutex::default();
        std::thread::scope(|s| {
            for _ in 0..PARALLEL_GETS.min(missing.len()) {
                s.spawn(|| {
                    loop {
                        let Some(id) = next.lock().unwrap_or_else(|p| p.into_inner()).next() else {
                            return;
                        };
                        let r = self.record(id, None);
                        fetched.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                    }
                });
            }
        });
        for r in fetched.into_inner().unwrap_or_else(|p| p.into_inner()) {
            if let Some(record) = r? {
                stats.records_fetched += 1;
                out.insert(record.id.clone(), record);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_requests_are_what_the_api_expects() {
        let q = BatchRequest {
            queries: vec![QueryOut {
                package: PackageOut {
                    ecosystem: Ecosystem::alpine("v3.20").to_string(),
                    name: "openssl",
                },
                version: "3.3.1-r0",
                page_token: Some("abc".into()),
            }],
        };
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            serde_json::json!({"queries": [{"package": {"ecosystem": "Alpine:v3.20", "name": "openssl"}, "version": "3.3.1-r0", "page_token": "abc"}]})
        );
        let r: BatchResponse = serde_json::from_str(
            r#"{"results":[{},{"vulns":[{"id":"GHSA-1","modified":"2024-01-01T00:00:00Z"}],"next_page_token":"t"}]}"#,
        )
        .unwrap();
        assert_eq!(r.results.len(), 2);
        assert!(r.results[0].vulns.is_empty());
        assert_eq!(r.results[1].next_page_token.as_deref(), Some("t"));
    }

    #[test]
    fn the_api_asking_to_wait_is_waited_out_and_too_long_a_wait_fails_at_once() {
        use crate::http::test_server::{response, serve};
        use std::sync::atomic::Ordering;
        use std::time::Instant;

        // What the server received, per request: (method, path, the queried package names).
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let (addr, count) = serve(move |r, n| {
            let names: Vec<String> = serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|v| v["queries"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|q| q["package"]["name"].as_str().map(str::to_string))
                .collect();
            log.lock().unwrap().push((r.method.clone(), r.path.clone(), names));
            match n {
                0 => response("429 Too Many Requests", &[("Retry-After", "1")], b""),
                _ => response(
                    "200 OK",
                    &[("Content-Type", "application/json")],
                    br#"{"results":[{}]}"#,
                ),
            }
        });
        let options = OnlineOptions {
            base: format!("http://{addr}"),
            cache_dir: None,
            backoff: Duration::from_millis(10),
            ..OnlineOptions::default()
        };
        let lookups = vec![(Ecosystem::Npm, "lodash".to_string(), "4.17.20".to_string())];
        let started = Instant::now();
        let live = OnlineAdvisories::fetch(&lookups, &options).unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "Retry-After: 1 not waited out ({:?})",
            started.elapsed()
        );
        assert_eq!(count.load(Ordering::SeqCst), 2, "asked again after the wait");
        assert_eq!(live.stats.batch_requests, 1);
        assert_eq!(live.record_count(), 0);
        let post = (
            "POST".to_string(),
            "/v1/querybatch".to_string(),
            vec!["lodash".to_string()],
        );
        assert_eq!(*seen.lock().unwrap(), [post.clone(), post]);

        // Asked to come back in an hour: no retry, and the error says when.
        let (addr, count) = serve(|_, _| response("429 Too Many Requests", &[("Retry-After", "3600")], b""));
        let options = OnlineOptions {
            base: format!("http://{addr}"),
            ..options
        };
        let started = Instant::now();
        let err = OnlineAdvisories::fetch(&lookups, &options).err().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(
            err.to_string(),
            format!("OSV API http://{addr}/v1/querybatch: rate limited (retry after 3600 s)")
        );
    }
}
