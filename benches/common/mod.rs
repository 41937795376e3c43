//! What every bench shares: the child-process launcher that measures a command's own wall
//! time, CPU time and peak RSS, and the statistics the tables print.
//!
//! Why a launcher: Linux carries the *spawning* process's RSS high-water mark into a child
//! started with vfork/`posix_spawn` (as `std::process::Command` does), so `ru_maxrss` of a child
//! spawned by a bench after it generated a 1 GB image would report the bench's own peak. The
//! launcher is this same bench executable, re-run with `IMAGEGATE_BENCH_LAUNCHER=1` while the
//! bench is still small ([`Launcher::start`] first thing in `main`, after [`launcher_main`]); it
//! stays a few MB in size, spawns each command, and reaps it with `wait4` for its own rusage.
//!
//! ```ignore
//! mod common;
//! fn main() -> std::io::Result<()> {
//!     if let Some(r) = common::launcher_main() { return r; }
//!     let mut launcher = common::Launcher::start()?;
//!     let s = launcher.measure(common::Spec::new([bin, "inventory", image]))?;
//! }
//! ```

#![allow(dead_code)]

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

const LAUNCHER_ENV: &str = "IMAGEGATE_BENCH_LAUNCHER";

/// One measured run (or a batch: total wall time, summed CPU, largest RSS).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub wall: f64,
    pub cpu: f64,
    pub rss_kib: u64,
    /// The exit code (the first non-zero one of a batch); -1 when a signal ended the child.
    pub code: i32,
}

/// One command the launcher runs. `stdout`/`stderr` of `None` mean `/dev/null`; the same path
/// for both means one file with both streams.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub env_remove: Vec<String>,
    pub stdout: Option<PathBuf>,
    pub stderr: Option<PathBuf>,
}

impl Spec {
    pub fn new<S: ToString>(argv: impl IntoIterator<Item = S>) -> Spec {
        Spec {
            argv: argv.into_iter().map(|a| a.to_string()).collect(),
            ..Spec::default()
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Spec {
        self.env_remove.push(key.into());
        self
    }

    pub fn stdout(mut self, path: impl Into<PathBuf>) -> Spec {
        self.stdout = Some(path.into());
        self
    }

    pub fn stderr(mut self, path: impl Into<PathBuf>) -> Spec {
        self.stderr = Some(path.into());
        self
    }
}

fn spawn(spec: &Spec) -> io::Result<std::process::Child> {
    let sink = |p: &Option<PathBuf>| -> io::Result<File> {
        match p {
            Some(p) => File::create(p),
            None => File::options().write(true).open("/dev/null"),
        }
    };
    let stdout = sink(&spec.stdout)?;
    let stderr = match &spec.stderr {
        Some(p) if spec.stdout.as_ref() == Some(p) => stdout.try_clone()?,
        p => sink(p)?,
    };
    let Some((program, args)) = spec.argv.split_first() else {
        return Err(io::Error::other("an empty command line"));
    };
    let mut cmd = Command::new(program);
    // A child that is this bench again (a measuring child) must not become a launcher too.
    cmd.args(args)
        .env_remove(LAUNCHER_ENV)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd.spawn()
        .map_err(|e| io::Error::other(format!("{:?} does not start: {e}", spec.argv)))
}

/// Reaps a child with `wait4`, for its own rusage (CPU time and peak RSS).
fn reap(child: std::process::Child) -> io::Result<Sample> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; an all-zero value is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std only reaps in `wait`).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    // Already reaped: dropping the handle does not wait again.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Sample {
        wall: 0.0,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_kib: usage.ru_maxrss.max(0) as u64,
        code,
    })
}

/// A launcher request: commands run one after the other, or all at once.
#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    concurrent: bool,
    specs: Vec<Spec>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Reply {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    code: i32,
    error: Option<String>,
}

fn serve(req: &Request) -> io::Result<Sample> {
    let mut total = Sample::default();
    let mut add = |s: Sample| {
        total.cpu += s.cpu;
        total.rss_kib = total.rss_kib.max(s.rss_kib);
        if total.code == 0 {
            total.code = s.code;
        }
    };
    let start = Instant::now();
    if req.concurrent {
        let children = req.specs.iter().map(spawn).collect::<io::Result<Vec<_>>>()?;
        for child in children {
            add(reap(child)?);
        }
    } else {
        for spec in &req.specs {
            add(reap(spawn(spec)?)?);
        }
    }
    total.wall = start.elapsed().as_secs_f64();
    Ok(total)
}

/// In the launcher process: serves requests until stdin closes and returns `Some`; in the
/// bench itself: `None`. Call it first thing in `main`.
pub fn launcher_main() -> Option<io::Result<()>> {
    std::env::var_os(LAUNCHER_ENV)?;
    Some(launcher_loop())
}

/// One JSON request per line in, one JSON reply per line out.
fn launcher_loop() -> io::Result<()> {
    let stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    for line in io::BufRead::lines(stdin) {
        let req: Request = serde_json::from_str(&line?)?;
        let reply = match serve(&req) {
            Ok(s) => Reply {
                wall: s.wall,
                cpu: s.cpu,
                rss_kib: s.rss_kib,
                code: s.code,
                error: None,
            },
            Err(e) => Reply {
                wall: 0.0,
                cpu: 0.0,
                rss_kib: 0,
                code: -1,
                error: Some(e.to_string()),
            },
        };
        serde_json::to_writer(&mut stdout, &reply)?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}

/// The bench's handle on its launcher process.
pub struct Launcher {
    child: std::process::Child,
    input: Option<std::process::ChildStdin>,
    output: BufReader<std::process::ChildStdout>,
}

impl Launcher {
    /// Must be called while this process is still small.
    pub fn start() -> io::Result<Launcher> {
        let mut child = Command::new(std::env::current_exe()?)
            .env(LAUNCHER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child.stdin.take().ok_or_else(|| io::Error::other("launcher stdin"))?;
        let output = BufReader::new(child.stdout.take().ok_or_else(|| io::Error::other("launcher stdout"))?);
        Ok(Launcher {
            child,
            input: Some(input),
            output,
        })
    }

    /// Runs `specs` one after the other (or all at once) and returns the total wall time,
    /// summed CPU time, largest peak RSS and first non-zero exit code.
    pub fn run(&mut self, specs: Vec<Spec>, concurrent: bool) -> io::Result<Sample> {
        let mut line = serde_json::to_string(&Request { concurrent, specs })?;
        line.push('\n');
        let input = self
            .input
            .as_mut()
            .ok_or_else(|| io::Error::other("launcher stopped"))?;
        input.write_all(line.as_bytes())?;
        input.flush()?;
        let mut reply = String::new();
        io::BufRead::read_line(&mut self.output, &mut reply)?;
        let reply: Reply = serde_json::from_str(&reply)?;
        match reply.error {
            Some(e) => Err(io::Error::other(e)),
            None => Ok(Sample {
                wall: reply.wall,
                cpu: reply.cpu,
                rss_kib: reply.rss_kib,
                code: reply.code,
            }),
        }
    }

    /// One command; its exit code is the caller's to judge.
    pub fn measure(&mut self, spec: Spec) -> io::Result<Sample> {
        self.run(vec![spec], false)
    }

    /// Like [`Launcher::run`], and an error unless every command exited 0.
    pub fn run_ok(&mut self, specs: Vec<Spec>, concurrent: bool) -> io::Result<Sample> {
        let argv: Vec<Vec<String>> = specs.iter().map(|s| s.argv.clone()).collect();
        let s = self.run(specs, concurrent)?;
        if s.code != 0 {
            return Err(io::Error::other(format!("{argv:?} failed (exit {})", s.code)));
        }
        Ok(s)
    }

    /// Ends the launcher (closing its stdin) and waits for it.
    pub fn stop(mut self) -> io::Result<()> {
        drop(self.input.take());
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        if self.input.take().is_some() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

/// The median (the mean of the two middle values for an even count); NaN for none.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

/// NaN for none.
pub fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NAN, f64::max)
}

/// PASS when `value` is within `target`, else OVER (information only: nothing is asserted).
pub fn verdict(value: f64, target: f64) -> &'static str {
    if value <= target { "PASS" } else { "OVER" }
}

/// KiB (as rusage reports them) in MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Bytes in MiB.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

pub fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `cargo bench` passes `--bench`; `cargo test --benches` (or `--all-targets`) does not, and
/// must not spend minutes generating data.
pub fn is_bench_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}
