//! The one way the tests run a program: from an empty environment. Every child starts with
//! `env_clear()` and gets back only `PATH`, a fresh temporary `HOME` and an `XDG_CACHE_HOME`
//! inside it (both deleted when the command is dropped), so nothing of the developer's or the
//! CI runner's environment reaches it: no `IMAGEGATE_*`, no `GITHUB_STEP_SUMMARY` (which would
//! write into a real job summary), no `DOCKER_CONFIG`/`DOCKER_HOST`, no proxy, no `NO_COLOR`.
//! A test that needs a variable sets it with [`Cmd::env`]; that overrides `HOME` and
//! `XDG_CACHE_HOME` too.
//!
//! ```ignore
//! let r = imagegate().args(["scan", &image]).env("IMAGEGATE_DB", &db).run();
//! assert_eq!(r.code, 0, "{}", r.stderr);
//! ```

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// Long enough for the slowest test on a loaded machine; a hung child fails the test instead of
/// hanging the suite.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// A command with an isolated environment. It owns its temporary `HOME`.
pub struct Cmd {
    cmd: assert_cmd::Command,
    home: tempfile::TempDir,
}

/// What a finished command left: its exit code (`-1` when a signal ended it), stdout and
/// stderr as text.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `imagegate` binary under test, isolated.
pub fn imagegate() -> Cmd {
    isolated(assert_cmd::cargo::cargo_bin("imagegate"))
}

/// Any program (`git`, `scripts/action.sh`), isolated the same way.
pub fn isolated(program: impl AsRef<OsStr>) -> Cmd {
    let home = tempfile::tempdir().expect("a temporary HOME");
    let mut cmd = assert_cmd::Command::new(program);
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join(".cache"))
        .timeout(TIMEOUT);
    Cmd { cmd, home }
}

impl Cmd {
    /// The temporary `HOME` (whether or not the test replaced the variable).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    /// Sets each `(name, value)` pair.
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, vars: &[(K, V)]) -> &mut Self {
        for (k, v) in vars {
            self.cmd.env(k, v);
        }
        self
    }

    /// Takes a variable away again (`HOME` or `XDG_CACHE_HOME`, say).
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Self {
        self.cmd.write_stdin(input);
        self
    }

    /// Replaces the default [`TIMEOUT`].
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.cmd.timeout(timeout);
        self
    }

    /// Runs the command to the end (or the timeout) and returns its raw output.
    pub fn output(&mut self) -> Output {
        self.cmd
            .output()
            .unwrap_or_else(|e| panic!("{:?} does not run: {e}", self.cmd))
    }

    /// Runs the command to the end and returns exit code, stdout and stderr as text.
    pub fn run(&mut self) -> Run {
        let out = self.output();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
