//! The one test HTTP server: HTTP/1.1 on 127.0.0.1 (or a unix socket, for the engine API), one
//! request per connection (`Connection: close`). It answers from
//!
//! * files put at a path ([`HttpServer::put`]), served like a bucket: `ETag` and
//!   `Last-Modified`, `If-None-Match` (304), `Range: bytes=N-` with `If-Range` (206);
//! * else a handler (`Fn(&Request) -> Response`) the test gives, which can also answer with
//!   chunks or with raw bytes that are not HTTP at all;
//! * else 404.
//!
//! Faults are queued per path ([`HttpServer::fault`]): the next request for that path gets the
//! fault instead of its answer. Every request is logged (method, path, headers, body, time).
//!
//! The registry tests keep their own `FaultProxy` (`support/registry.rs`): it forwards to a
//! real registry and corrupts *its* answers, which is a proxy, not a server.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest request body the server reads (the tests send small JSON queries).
const MAX_BODY: usize = 16 << 20;

/// What the next request for a path gets instead of its answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status, no body.
    Status(u16),
    /// 429 with `Retry-After: <seconds>`.
    RateLimited(u64),
    /// 200 announcing the whole body's length (and its `ETag`), then only this many bytes, then
    /// the connection closes. Ignores `Range`: the same cut whatever the client asked for.
    Truncate(usize),
    /// 200, half the body, then silence for this long, then the rest.
    Stall(Duration),
}

/// One request, as logged.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target as sent (query string included).
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// When its head had been read.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// An answer from a handler.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body with `Transfer-Encoding: chunked`, in chunks of this many bytes.
    pub chunked: Option<usize>,
    /// Send `body` verbatim, no status line, no headers (an engine that does not speak HTTP, or
    /// breaks its framing).
    pub raw: bool,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
            chunked: None,
            raw: false,
        }
    }

    /// `Content-Type: application/json`.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, body).header("Content-Type", "application/json")
    }

    pub fn raw(bytes: impl Into<Vec<u8>>) -> Response {
        Response {
            raw: true,
            ..Response::new(0, bytes)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn chunked(mut self, chunk: usize) -> Response {
        self.chunked = Some(chunk.max(1));
        self
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, VecDeque<Fault>>,
    log: Vec<Request>,
}

/// A running server; clones share it. It lives as long as the test process.
#[derive(Clone)]
pub struct HttpServer {
    url: String,
    state: Arc<Mutex<State>>,
}

impl HttpServer {
    /// Files only (404 for anything not put).
    pub fn start() -> HttpServer {
        Self::with_handler(|_| Response::new(404, ""))
    }

    /// Files, then `handler` for every other path.
    pub fn with_handler(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        Self::spawn(url, move || listener.accept().map(|(s, _)| s), Arc::new(handler))
    }

    /// The same on a unix socket at `sock` (the Docker/Podman engine API). `url()` is
    /// `unix://<sock>`, the way `DOCKER_HOST` spells it.
    pub fn unix(sock: &Path, handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> HttpServer {
        let listener = UnixListener::bind(sock).unwrap_or_else(|e| panic!("bind {}: {e}", sock.display()));
        let url = format!("unix://{}", sock.display());
        Self::spawn(url, move || listener.accept().map(|(s, _)| s), Arc::new(handler))
    }

    fn spawn<S: Conn>(
        url: String,
        accept: impl FnMut() -> io::Result<S> + Send + 'static,
        handler: Arc<Handler>,
    ) -> HttpServer {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || serve_all(accept, shared, handler));
        HttpServer { url, state }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), or `unix://PATH`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves `body` at `path` from now on (replacing what was there).
    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.lock().files.insert(path.to_string(), body.into());
    }

    pub fn remove(&self, path: &str) {
        self.lock().files.remove(path);
    }

    /// Queues faults for the next requests of `path`, one request each, in order.
    pub fn fault(&self, path: &str, faults: &[Fault]) {
        self.lock()
            .faults
            .entry(path.to_string())
            .or_default()
            .extend(faults.iter().cloned());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().log.clone()
    }

    /// Requests made so far, emptying the log.
    pub fn take_log(&self) -> Vec<Request> {
        std::mem::take(&mut self.lock().log)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A handler that panicked (a test's assertion) must not hide the next answer.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A strong ETag that changes with the content (FNV-1a).
pub fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in body {
        h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
    format!("\"{h:016x}\"")
}

/// The two kinds of stream the server accepts.
trait Conn: Read + Write + Send + Sized + 'static {
    fn duplicate(&self) -> io::Result<Self>;
    fn prepare(&self);
    fn close(&self);
}

impl Conn for TcpStream {
    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn prepare(&self) {
        let _ = self.set_read_timeout(Some(Duration::from_secs(5)));
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl Conn for UnixStream {
    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn prepare(&self) {
        let _ = self.set_read_timeout(Some(Duration::from_secs(5)));
    }
    fn close(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

fn serve_all<S: Conn>(mut accept: impl FnMut() -> io::Result<S>, state: Arc<Mutex<State>>, handler: Arc<Handler>) {
    loop {
        let Ok(stream) = accept() else { continue };
        let (state, handler) = (state.clone(), handler.clone());
        std::thread::spawn(move || serve(stream, &state, &*handler));
    }
}

/// Reads one request: `None` when the client sent no whole request head.
fn read_request<S: Conn>(stream: &S) -> Option<Request> {
    let mut reader = BufReader::new(stream.duplicate().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let at = Instant::now();
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
        at,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Fault",
    }
}

fn head(status: u16, headers: &[(String, String)], len: Option<usize>) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if let Some(len) = len {
        out.push_str(&format!("Content-Length: {len}\r\n"));
    }
    out.push_str("Connection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn file_headers(body: &[u8]) -> Vec<(String, String)> {
    vec![
        ("ETag".into(), etag(body)),
        ("Last-Modified".into(), "Mon, 01 Jan 2024 00:00:00 GMT".into()),
    ]
}

fn serve<S: Conn>(mut stream: S, state: &Mutex<State>, handler: &Handler) {
    stream.prepare();
    let Some(request) = read_request(&stream) else {
        return;
    };
    let (file, fault) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.log.push(request.clone());
        let fault = s.faults.get_mut(&request.path).and_then(VecDeque::pop_front);
        (s.files.get(&request.path).cloned(), fault)
    };
    let _ = answer(&mut stream, &request, file, fault, handler);
    let _ = stream.flush();
    stream.close();
}

fn answer(
    out: &mut impl Write,
    request: &Request,
    file: Option<Vec<u8>>,
    fault: Option<Fault>,
    handler: &Handler,
) -> io::Result<()> {
    match fault {
        Some(Fault::Status(code)) => return out.write_all(&head(code, &[], Some(0))),
        Some(Fault::RateLimited(s)) => {
            return out.write_all(&head(429, &[("Retry-After".into(), s.to_string())], Some(0)));
        }
        Some(fault @ (Fault::Truncate(_) | Fault::Stall(_))) => {
            // The whole answer, cut or delayed; a path with nothing behind it is just a 404.
            let (status, headers, body) = match file {
                Some(body) => (200, vec![("ETag".into(), etag(&body))], body),
                None => {
                    let r = handler(request);
                    (r.status, r.headers, r.body)
                }
            };
            if status == 404 {
                return out.write_all(&head(404, &[], Some(0)));
            }
            out.write_all(&head(status, &headers, Some(body.len())))?;
            return match fault {
                Fault::Truncate(n) => out.write_all(&body[..n.min(body.len())]),
                Fault::Stall(d) => {
                    out.write_all(&body[..body.len() / 2])?;
                    out.flush()?;
                    std::thread::sleep(d);
                    out.write_all(&body[body.len() / 2..])
                }
                _ => Ok(()),
            };
        }
        None => {}
    }
    if let Some(body) = file {
        return serve_file(out, request, &body);
    }
    let r = handler(request);
    if r.raw {
        return out.write_all(&r.body);
    }
    match r.chunked {
        None => {
            out.write_all(&head(r.status, &r.headers, Some(r.body.len())))?;
            out.write_all(&r.body)
        }
        Some(size) => {
            let mut headers = r.headers.clone();
            headers.push(("Transfer-Encoding".into(), "chunked".into()));
            out.write_all(&head(r.status, &headers, None))?;
            for chunk in r.body.chunks(size) {
                write!(out, "{:x}\r\n", chunk.len())?;
                out.write_all(chunk)?;
                out.write_all(b"\r\n")?;
            }
            out.write_all(b"0\r\n\r\n")
        }
    }
}

/// A bucket's answer: 304 for a matching `If-None-Match`, 206 for `Range: bytes=N-` (unless an
/// `If-Range` names another version), else the whole file.
fn serve_file(out: &mut impl Write, request: &Request, body: &[u8]) -> io::Result<()> {
    let tag = etag(body);
    let headers = file_headers(body);
    let start = request
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| request.header("if-range").is_none_or(|v| v == tag));
    if request.header("if-none-match") == Some(tag.as_str()) {
        out.write_all(&head(304, &headers, Some(0)))
    } else if let Some(start) = start.filter(|s| *s < body.len()) {
        let mut headers = headers;
        headers.push((
            "Content-Range".into(),
            format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
        ));
        out.write_all(&head(206, &headers, Some(body.len() - start)))?;
        out.write_all(&body[start..])
    } else {
        out.write_all(&head(200, &headers, Some(body.len())))?;
        out.write_all(body)
    }
}
