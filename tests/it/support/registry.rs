//! A real registry for the tests: Debian's `docker-registry` (Distribution 2.8) on a free
//! 127.0.0.1 port, images pushed to it with oci-client, and a small HTTP proxy that puts
//! faults (429, 500, hangs, cut bodies) in front of it.

#![allow(dead_code)]

use super::BuiltImage;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = "docker-registry";

fn find_binary(name: &str) -> PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/bin", "/usr/sbin"])
    {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} not found: run scripts/test.sh (it installs docker-registry and apache2-utils)");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Registry {
    addr: String,
    child: Option<Child>,
    _dir: tempfile::TempDir,
    pub credentials: Option<(String, String)>,
}

impl Registry {
    pub fn start() -> Registry {
        Self::spawn(None)
    }

    /// A registry that wants basic auth (htpasswd, bcrypt), over plain HTTP.
    pub fn start_with_htpasswd(user: &str, password: &str) -> Registry {
        Self::spawn(Some((user.to_string(), password.to_string())))
    }

    fn spawn(credentials: Option<(String, String)>) -> Registry {
        // A free port is only free until someone else binds it (tests run in parallel): when the
        // registry exits at once, try another port.
        let mut last_log = String::new();
        for _ in 0..5 {
            match Self::try_spawn(credentials.clone()) {
                Ok(registry) => return registry,
                Err(log) => last_log = log,
            }
        }
        panic!("docker-registry exited at start five times; its last log:\n{last_log}");
    }

    /// The registry once `GET /v2/` answers; `Err(log)` when the process exits first.
    fn try_spawn(credentials: Option<(String, String)>) -> Result<Registry, String> {
        let binary = find_binary(BINARY);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some((user, password)) = &credentials {
            let out = Command::new(find_binary("htpasswd"))
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd runs");
            assert!(
                out.status.success(),
                "htpasswd: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: imagegate-tests\n    path: {}\n",
                path.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path).unwrap();
        // Distribution reads REGISTRY_* variables as overrides of its config file: nothing of
        // the ambient environment may reach it.
        let child = Command::new(binary)
            .env_clear()
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let mut registry = Registry {
            addr,
            child: Some(child),
            _dir: dir,
            credentials,
        };
        let read_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
        // Generous: five engineers' builds share two cores.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = http_status(&registry.addr, "/v2/") {
                assert!(status == 200 || status == 401, "GET /v2/ answered {status}");
                return Ok(registry);
            }
            if let Some(child) = registry.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                registry.child = None;
                return Err(format!("{status}\n{}", read_log()));
            }
            if Instant::now() > deadline {
                panic!(
                    "docker-registry did not answer GET /v2/ on {} within 15 s; its log:\n{}",
                    registry.addr,
                    read_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Stops the registry (for faults mid-pull).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn auth(&self) -> oci_client::secrets::RegistryAuth {
        match &self.credentials {
            Some((u, p)) => oci_client::secrets::RegistryAuth::Basic(u.clone(), p.clone()),
            None => oci_client::secrets::RegistryAuth::Anonymous,
        }
    }

    /// Pushes an image's blobs and manifest under `repo:tag` (or by digest when `tag` is None).
    pub fn push(&self, repo: &str, tag: Option<&str>, image: &BuiltImage) {
        let blobs: Vec<(String, Vec<u8>)> = image
            .layers
            .iter()
            .map(|l| (l.digest.clone(), l.blob.clone()))
            .chain([(image.config_digest.clone(), image.config.clone())])
            .collect();
        let name = tag.map_or_else(|| image.manifest_digest.clone(), str::to_string);
        self.push_raw(repo, &name, &blobs, &image.manifest, &image.manifest_media_type);
    }

    /// A multi-platform image: each platform's manifest by digest, then an index (OCI, or a
    /// Docker manifest list, after `media_type`) under `tag`. Returns the index's digest.
    pub fn push_index(&self, repo: &str, tag: &str, images: &[&BuiltImage], media_type: &str) -> String {
        for img in images {
            self.push(repo, None, img);
        }
        let manifests: Vec<serde_json::Value> = images.iter().map(|i| i.descriptor(None, true)).collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
        let bytes = super::json_compact(&index);
        self.push_raw(repo, tag, &[], &bytes, media_type);
        super::digest_of(&bytes)
    }

    /// Pushes blobs (digest, bytes) and a manifest as given.
    pub fn push_raw(&self, repo: &str, name: &str, blobs: &[(String, Vec<u8>)], manifest: &[u8], media_type: &str) {
        let separator = if name.contains(':') { "@" } else { ":" };
        let reference: oci_client::Reference = format!("{}/{repo}{separator}{name}", self.addr).parse().unwrap();
        let client = oci_client::Client::new(oci_client::client::ClientConfig {
            protocol: oci_client::client::ClientProtocol::Http,
            ..Default::default()
        });
        let auth = self.auth();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            client
                .auth(&reference, &auth, oci_client::RegistryOperation::Push)
                .await
                .expect("auth for push");
            for (digest, bytes) in blobs {
                client
                    .push_blob(&reference, bytes.clone(), digest)
                    .await
                    .unwrap_or_else(|e| panic!("push blob {digest}: {e}"));
            }
            client
                .push_manifest_raw(&reference, manifest.to_vec(), media_type.parse().unwrap())
                .await
                .unwrap_or_else(|e| panic!("push manifest {reference}: {e}"));
        });
    }

    /// Deletes a blob from the registry's storage (for a broken image).
    pub fn delete_blob(&self, repo: &str, digest: &str) {
        let client = reqwest::blocking::Client::new();
        let mut request = client.delete(format!("http://{}/v2/{repo}/blobs/{digest}", self.addr));
        if let Some((u, p)) = &self.credentials {
            request = request.basic_auth(u, Some(p));
        }
        let status = request.send().unwrap().status();
        assert!(status.is_success(), "DELETE blob: {status}");
    }

    /// `GET /v2/<path>` straight from the registry (with its credentials, if any), accepting
    /// `accept`: what a client sees, to check what a push stored.
    pub fn get(&self, path: &str, accept: &[&str]) -> Fetched {
        let client = reqwest::blocking::Client::new();
        let mut request = client.get(format!("http://{}/v2/{path}", self.addr));
        if !accept.is_empty() {
            request = request.header("Accept", accept.join(", "));
        }
        if let Some((u, p)) = &self.credentials {
            request = request.basic_auth(u, Some(p));
        }
        let response = request.send().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (status, content_type, digest) = (
            response.status().as_u16(),
            header("content-type"),
            header("docker-content-digest"),
        );
        let body = response.bytes().unwrap().to_vec();
        Fetched {
            status,
            content_type,
            digest,
            body,
        }
    }
}

/// A registry's answer to [`Registry::get`].
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: String,
    /// `Docker-Content-Digest`.
    pub digest: String,
    pub body: Vec<u8>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What the proxy does with one request.
#[derive(Clone, Debug)]
pub enum Action {
    Forward,
    /// Answer with this status (and headers) instead of asking the registry.
    Answer(u16, Vec<(String, String)>),
    /// Accept and never answer (until the proxy stops).
    Hang,
    /// Forward, but send only this many bytes of the response body, then hang up (the headers,
    /// `Content-Length` included, are the registry's).
    Cut(usize),
    /// Forward, with the last byte of the response body flipped (a registry or cache serving
    /// bytes that are not what the digest names).
    Corrupt,
}

type Plan = dyn Fn(&str, usize) -> Action + Send + Sync;

/// One request the proxy saw, and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The status sent (injected or the registry's); `None` for a hang or a dead upstream.
    pub status: Option<u16>,
    /// The body was cut short.
    pub cut: bool,
}

/// An HTTP/1.1 proxy in front of the registry: `plan(path, n)` decides what happens to the
/// `n`-th request (from 0) for that path. Everything else is forwarded verbatim, one request
/// per upstream connection (`Connection: close`). Counts and logs every request.
pub struct FaultProxy {
    addr: String,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    log: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    pub fn start(upstream: &str, plan: impl Fn(&str, usize) -> Action + Send + Sync + 'static) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let plan: Arc<Plan> = Arc::new(plan);
        let shared = Shared {
            upstream: upstream.to_string(),
            seen: seen.clone(),
            log: log.clone(),
            stop: stop.clone(),
            plan,
        };
        std::thread::spawn(move || {
            // The listener is dropped when this loop ends: later connections are refused.
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = handle(stream, &shared);
                });
            }
        });
        FaultProxy { addr, seen, log, stop }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Requests (any method) whose path contains `part`.
    pub fn count(&self, part: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter(|(p, _)| p.contains(part)).map(|(_, n)| n).sum()
    }

    /// `GET` requests whose path contains `part` (a `HEAD` fetches no blob).
    pub fn gets(&self, part: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == "GET" && s.path.contains(part))
            .count()
    }

    /// How many responses had this status (injected or forwarded).
    pub fn served(&self, status: u16) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.status == Some(status))
            .count()
    }

    /// Every request so far, in the order they were answered.
    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.seen.lock().unwrap().clear();
        self.log.lock().unwrap().clear();
    }

    /// Stops accepting (new connections are refused) and ends hanging requests.
    pub fn stop(&self) {
        if !self.stop.swap(true, Ordering::Relaxed) {
            // Wake the accept loop so it sees the flag and drops the listener.
            let _ = TcpStream::connect(&self.addr);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    seen: Arc<Mutex<HashMap<String, usize>>>,
    log: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    plan: Arc<Plan>,
}

fn handle(mut client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    // Serve requests on this connection until the client closes it (reqwest keeps connections).
    let mut reader = BufReader::new(client.try_clone()?);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let end = line == "\r\n";
            head.push(line);
            if end {
                break;
            }
        }
        let mut words = head[0].split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let path = words.next().unwrap_or("").to_string();
        let body_len: usize = head
            .iter()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; body_len];
        reader.read_exact(&mut body)?;
        let n = {
            let mut seen = shared.seen.lock().unwrap();
            let n = seen.entry(path.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let record = |status: Option<u16>, cut: bool| {
            shared.log.lock().unwrap().push(Seen {
                method: method.clone(),
                path: path.clone(),
                status,
                cut,
            });
        };
        let action = (shared.plan)(&path, n);
        match action {
            Action::Hang => {
                record(None, false);
                let until = Instant::now() + Duration::from_secs(300);
                while !shared.stop.load(Ordering::Relaxed) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(50));
                }
                return Ok(());
            }
            Action::Answer(status, headers) => {
                record(Some(status), false);
                let mut out = format!("HTTP/1.1 {status} Fault\r\nContent-Length: 0\r\n");
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                client.write_all(out.as_bytes())?;
            }
            Action::Forward | Action::Cut(_) | Action::Corrupt => {
                let Ok(mut up) = TcpStream::connect(&shared.upstream) else {
                    // The registry is gone: hang up, as a dead host would.
                    record(None, false);
                    return Ok(());
                };
                // One request per upstream connection keeps the response framing simple.
                let mut request: String = head
                    .iter()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
                    .filter(|l| *l != "\r\n")
                    .cloned()
                    .collect();
                request.push_str("Connection: close\r\n\r\n");
                up.write_all(request.as_bytes())?;
                up.write_all(&body)?;
                let mut response = Vec::new();
                up.read_to_end(&mut response)?;
                let head_end = response
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map_or(response.len(), |p| p + 4);
                let status = std::str::from_utf8(&response[..head_end.min(response.len())])
                    .ok()
                    .and_then(|h| h.split_whitespace().nth(1)?.parse().ok());
                match action {
                    Action::Cut(keep) => {
                        record(status, true);
                        client.write_all(&response[..(head_end + keep).min(response.len())])?;
                    }
                    Action::Corrupt => {
                        record(status, false);
                        if response.len() > head_end
                            && let Some(last) = response.last_mut()
                        {
                            *last ^= 0xff;
                        }
                        client.write_all(&response)?;
                    }
                    _ => {
                        record(status, false);
                        client.write_all(&response)?;
                    }
                }
                // The upstream said `Connection: close`; so do we, after this response.
                return Ok(());
            }
        }
    }
}
