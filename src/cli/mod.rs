//! The command line: one file per subcommand. Every failure becomes exit code 2 with a message
//! on stderr; success is 0 (and, once the gate lands, 1 for a failing policy).

mod audit;
mod audit_job;
mod cache;
mod db;
mod hook;
mod inventory;
mod policy;
mod pull;
mod scan;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::Path;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "imagegate",
    version,
    about = "Decide whether a container image may ship, and explain why."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List what an image ships: OS, apk, deb and npm packages (with the layer that added each),
    /// users, and files.
    #[command(
        after_help = "Examples:\n  imagegate inventory testdata/demo/app.tar\n  docker save app:dev | imagegate inventory - --format json\n  imagegate inventory oci:./layout:v1 --platform linux/arm64"
    )]
    Inventory(inventory::Args),
    /// The gate: match the image's packages against the advisory database and check it
    /// against the policy. Exit 0 pass, 1 fail, 2 could not run.
    #[command(
        after_help = "Examples:\n  imagegate scan testdata/demo/app.tar --db target/demo-db --policy policies/production.toml\n  docker save app:dev | imagegate scan - --sarif imagegate.sarif --markdown summary.md"
    )]
    Scan(scan::Args),
    /// Validate or write policy files.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Manage the local advisory database.
    #[command(subcommand)]
    Db(db::DbCommand),
    /// Audit every image in a registry: catalog, tags, one scan per digest, summaries.
    #[command(
        after_help = "Examples:\n  imagegate audit registry.example.com --repo 'team/*' --latest 3 --out audit\n  imagegate audit registry.example.com --shard 2/4 --out shard-2\n  imagegate audit merge shard-1 shard-2 shard-3 shard-4 --out audit"
    )]
    Audit(audit::Args),
    /// The per-layer cache of registry pulls.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// A git pre-push hook that gates the images imagegate.toml lists under [hook].
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  imagegate completions bash > /etc/bash_completion.d/imagegate\n  imagegate completions zsh > \"${fpath[1]}/_imagegate\"\n  imagegate completions fish > ~/.config/fish/completions/imagegate.fish"
    )]
    Completions {
        /// The shell to write the script for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// Exit codes a pipeline can rely on.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 2;

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; a bad command line is (exit 2, like any failure).
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { EXIT_OK });
        }
    };
    init_logging(quiet(&cli));
    let result = match cli.command {
        Command::Inventory(args) => inventory::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Db(command) => db::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Cache(command) => cache::run(command),
        Command::Audit(args) => audit::run(args),
        Command::Hook(command) => hook::run(command),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "imagegate", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// `-q`/`--quiet` on the command that has it.
fn quiet(cli: &Cli) -> bool {
    match &cli.command {
        Command::Scan(a) => a.quiet,
        Command::Inventory(a) => a.quiet,
        _ => false,
    }
}

/// Log lines on stderr (`IMAGEGATE_LOG`, default `warn`; `error` with `--quiet`): the level and
/// the message, no module path; colour only when stderr is a terminal and `NO_COLOR` is unset,
/// so a CI log gets plain `WARN …` lines.
fn init_logging(quiet: bool) {
    use std::io::IsTerminal;
    let default = if quiet { "error" } else { "warn" };
    let ansi = std::io::stderr().is_terminal() && no_color_unset();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IMAGEGATE_LOG").unwrap_or_else(|_| default.into()),
        )
        .without_time()
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
}

/// <https://no-color.org>: a non-empty `NO_COLOR` turns colour off.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// How a text report on stdout is laid out: colour on a terminal (not with `NO_COLOR` or
/// `--output`); as wide as the terminal, else `$COLUMNS`, else 100 columns.
pub fn text_style(to_stdout: bool, wide: bool) -> crate::report::text::Style {
    use std::io::IsTerminal;
    let terminal = to_stdout && std::io::stdout().is_terminal();
    let from_terminal = if terminal {
        console::Term::stdout()
            .size_checked()
            .map(|(_, cols)| usize::from(cols))
    } else {
        None
    };
    let width = from_terminal
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|c| *c > 0)
        })
        .unwrap_or(crate::report::text::DEFAULT_WIDTH);
    crate::report::text::Style {
        colour: terminal && no_color_unset(),
        width,
        wide,
    }
}

/// Whether `--output` means stdout: none given, or `-`.
pub fn is_stdout(output: Option<&Path>) -> bool {
    output.is_none_or(|p| p.as_os_str() == "-")
}

/// The error and its causes on one line. Our typed errors already show their source in their
/// message, so a cause whose text is already there is not repeated.
fn describe(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.contains(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    // Parsers quote the bytes they choked on and messages name image paths: control
    // characters are shown (`\x1b`), never sent to the terminal.
    crate::report::escape::esc(&msg)
}

/// Parses `--platform`.
fn parse_platform(text: &str) -> anyhow::Result<crate::image::model::Platform> {
    crate::image::model::Platform::parse(text)
        .ok_or_else(|| anyhow::anyhow!("--platform `{text}`: expected os/arch[/variant], e.g. linux/amd64"))
}

/// The inventory's warnings, on stderr, escaped (they name entries of the image).
fn print_warnings(inv: &crate::inventory::Inventory) {
    use crate::report::escape::escape;
    for w in &inv.warnings {
        eprintln!("warning: {}: {}", escape(&inv.image.reference), escape(w));
    }
}

/// Warns when `--platform` asked for a platform the image is not (a single-platform image is
/// read whatever its platform; an index would have failed instead).
fn warn_platform(inv: &crate::inventory::Inventory, requested: Option<&crate::image::model::Platform>) {
    let Some(wanted) = requested else { return };
    let Some(actual) = crate::image::model::Platform::parse(&inv.image.platform) else {
        return;
    };
    if !actual.satisfies(wanted) {
        warn(&format!(
            "{}: the image is {}, not the requested --platform {wanted} (it has one platform; it was read as it is)",
            inv.image.reference, inv.image.platform
        ));
    }
}

/// A warning on stderr, escaped.
pub fn warn(message: &str) {
    eprintln!("warning: {}", crate::report::escape::escape(message));
}

/// tempfile's error names the temporary file (`… at path "/dir/.x.json.kSdhEE.tmp"`), which the
/// user never asked for: keep the OS error's words, drop the path (the context names the file the
/// user did ask for). tempfile keeps the OS error private, so its message is cut at the path.
fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.rfind(" at path ") {
        Some(at) => std::io::Error::new(e.kind(), text[..at].to_string()),
        None => e,
    }
}

/// Writes a report to `--output` (atomically, so a reader never sees half a file) or stdout
/// (no `--output`, or `-`).
pub fn emit(text: &str, output: Option<&Path>) -> anyhow::Result<()> {
    emit_with(output, &mut |w| w.write_all(text.as_bytes()))
}

/// [`emit`] for a report written as it is rendered (a JSON report of a million packages is
/// never held whole in memory), through a buffer.
pub fn emit_with(
    output: Option<&Path>,
    render: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let buffered = |w: &mut dyn Write, render: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>| {
        let mut b = std::io::BufWriter::with_capacity(64 << 10, w);
        render(&mut b)?;
        b.flush()
    };
    let output = output.filter(|p| p.as_os_str() != "-");
    match output {
        // A device or pipe (`/dev/null`, `/dev/stdout`) is written as is: renaming over it
        // would replace it.
        Some(path) if path.exists() && !path.is_file() => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .with_context(|| format!("writing {}", path.display()))?;
            buffered(&mut f, render).with_context(|| format!("writing {}", path.display()))?;
        }
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            // A temporary file beside the target, with a unique name (a process id is not: every
            // container's first process is 1, and audit pods share a volume), renamed over it.
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("report");
            let writing = || format!("writing {}", path.display());
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".tmp")
                // As `fs::write` would create it (the umask applies), not tempfile's 0600.
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .tempfile_in(dir)
                .map_err(without_temp_path)
                .with_context(writing)?;
            // The error names the file the user asked for, not the temporary one beside it.
            buffered(tmp.as_file_mut(), render).with_context(writing)?;
            tmp.persist(path).map_err(|e| e.error).with_context(writing)?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            if let Err(e) = buffered(&mut out, render).and_then(|_| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("writing to stdout");
            }
        }
    }
    Ok(())
}
