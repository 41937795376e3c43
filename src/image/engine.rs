//! `docker:NAME` and `podman:NAME`: the image just built, read from the local engine's API over
//! its unix socket. `GET /images/{name}/get` streams a `docker save` tar, which goes straight
//! into the one-pass archive reader — nothing is written to disk.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

/// A response head larger than this is not an engine talking.
const MAX_HEAD: usize = 64 << 10;
/// A chunk-size line longer than this is not HTTP.
const MAX_CHUNK_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Docker,
    Podman,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Docker => "Docker",
            Engine::Podman => "Podman",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{engine} engine: {host} is not supported; use a unix socket (unix:///path/to/socket)")]
    UnsupportedHost { engine: Engine, host: String },
    #[error("no {engine} engine answers at {socket} (is it running? {hint}): {source}")]
    NoEngine {
        engine: Engine,
        socket: String,
        hint: String,
        source: io::Error,
    },
    #[error("no such image `{name}` in the {engine} engine at {socket}")]
    NoSuchImage {
        engine: Engine,
        name: String,
        socket: String,
    },
    #[error("the {engine} engine at {socket} answered HTTP {status} for image `{name}`: {message}")]
    Status {
        engine: Engine,
        socket: String,
        name: String,
        status: u16,
        message: String,
    },
    #[error("the {engine} engine at {socket}: {message}")]
    Protocol {
        engine: Engine,
        socket: String,
        message: String,
    },
}

/// The socket the engine listens on: `DOCKER_HOST` / `CONTAINER_HOST`, else the default.
fn socket(engine: Engine) -> Result<(PathBuf, String), EngineError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (host, hint) = match engine {
        Engine::Docker => (var("DOCKER_HOST"), "DOCKER_HOST"),
        Engine::Podman => (var("CONTAINER_HOST"), "CONTAINER_HOST"),
    };
    let hint = match &host {
        Some(h) => format!("{hint}={h}"),
        None => format!("{hint} is not set"),
    };
    if let Some(host) = host {
        return match host.strip_prefix("unix://") {
            Some(path) => Ok((PathBuf::from(path), hint)),
            None => Err(EngineError::UnsupportedHost { engine, host }),
        };
    }
    let path = match engine {
        Engine::Docker => PathBuf::from("/var/run/docker.sock"),
        Engine::Podman => match var("XDG_RUNTIME_DIR") {
            Some(dir) if PathBuf::from(&dir).join("podman/podman.sock").exists() => {
                PathBuf::from(dir).join("podman/podman.sock")
            }
            _ => PathBuf::from("/run/podman/podman.sock"),
        },
    };
    Ok((path, hint))
}

/// Asks the engine for `name` as a `docker save` stream.
pub fn open(engine: Engine, name: &str) -> Result<Box<dyn Read + Send>, EngineError> {
    let (path, hint) = socket(engine)?;
    let socket = path.display().to_string();
    let protocol = |message: String| EngineError::Protocol {
        engine,
        socket: socket.clone(),
        message,
    };
    let mut stream = UnixStream::connect(&path).map_err(|source| EngineError::NoEngine {
        engine,
        socket: socket.clone(),
        hint,
        source,
    })?;
    // An engine that accepts and never answers must not hang the pipeline; a big image may
    // take a while to start streaming, so the limit is generous.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(300)));
    write!(
        stream,
        "GET /images/{}/get HTTP/1.1\r\nHost: localhost\r\nUser-Agent: imagegate/{}\r\nConnection: close\r\n\r\n",
        encode(name),
        env!("CARGO_PKG_VERSION")
    )
    .map_err(|e| protocol(format!("sending the request: {e}")))?;
    let mut reader = BufReader::with_capacity(256 << 10, stream);
    let head = read_head(&mut reader).map_err(|e| protocol(format!("reading the response: {e}")))?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(protocol("the response is not HTTP/1.1".into())),
    }
    let status = response.code.unwrap_or(0);
    let header = |n: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(n))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let body: Box<dyn Read + Send> = if chunked {
        Box::new(Chunked::new(reader))
    } else if let Some(n) = length {
        Box::new(reader.take(n))
    } else {
        Box::new(reader)
    };
    if status == 200 {
        return Ok(body);
    }
    // Error bodies are small JSON: {"message": "..."}.
    let mut text = String::new();
    let _ = body.take(64 << 10).read_to_string(&mut text);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.trim().chars().take(200).collect());
    if status == 404 {
        return Err(EngineError::NoSuchImage {
            engine,
            name: name.to_string(),
            socket,
        });
    }
    Err(EngineError::Status {
        engine,
        socket,
        name: name.to_string(),
        status,
        message,
    })
}

/// Percent-encodes an image name for the path (`app:dev` → `app%3Adev`); `/` stays.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    loop {
        let n = reader
            .take((MAX_HEAD - head.len()) as u64)
            .read_until(b'\n', &mut head)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed"));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            return Ok(head);
        }
        if head.len() >= MAX_HEAD {
            return Err(io::Error::other("response head too large"));
        }
    }
}

/// `Transfer-Encoding: chunked` (RFC 9112 §7.1), streamed. Public for the fuzz target.
pub struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk; `None` before the next size line.
    left: Option<u64>,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    pub fn new(inner: R) -> Self {
        Chunked {
            inner,
            left: None,
            done: false,
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        (&mut self.inner)
            .take(MAX_CHUNK_LINE as u64)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunked body: bad or truncated line",
            ));
        }
        Ok(String::from_utf8_lossy(&line).trim_end().to_string())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            match self.left {
                None => {
                    let line = self.line()?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("chunked body: bad chunk size `{size}`"),
                        )
                    })?;
                    if size == 0 {
                        // Trailers, up to the empty line.
                        while !self.line()?.is_empty() {}
                        self.done = true;
                        return Ok(0);
                    }
                    self.left = Some(size);
                }
                Some(0) => {
                    if !self.line()?.is_empty() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "chunked body: no CRLF after a chunk",
                        ));
                    }
                    self.left = None;
                }
                Some(left) => {
                    let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "chunked body: truncated chunk",
                        ));
                    }
                    self.left = Some(left - n as u64);
                    return Ok(n);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_chunked_bodies_and_refuses_broken_ones() {
        let body = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nIGNORED";
        let mut out = String::new();
        Chunked::new(&body[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello, world");
        for bad in [&b"zz\r\nhello"[..], b"5\r\nhel", b"5\r\nhelloXX0\r\n\r\n", b"5"] {
            let mut out = Vec::new();
            assert!(
                Chunked::new(bad).read_to_end(&mut out).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(encode("ghcr.io/org/app:dev"), "ghcr.io/org/app%3Adev");
        assert_eq!(encode("app@sha256:ab"), "app%40sha256%3Aab");
    }
}
