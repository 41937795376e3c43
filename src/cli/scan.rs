//! `imagegate scan IMAGE`: the inventory matched against the advisory database and checked
//! against the policy. Exit 0 when the gate passes, 1 when it fails, 2 when it could not run.

use super::db::DbArg;
use super::emit;
use crate::advisory::online::{self, OnlineAdvisories, OnlineOptions};
use crate::advisory::{db, scan};
use crate::policy::evaluate;
use crate::policy::{FailOn, Policy};
use crate::report::{self, scan::DbInfo};
use anyhow::Context as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    Sarif,
    Markdown,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// REGISTRY/REPO[:TAG|@DIGEST], docker-archive:PATH[:TAG], oci:DIR[:TAG|@DIGEST], oci-archive:PATH, a path, or -.
    pub image: String,
    #[command(flatten)]
    pub db: DbArg,
    /// Ask the OSV API instead of the local database. This sends the image's package names
    /// and versions to the API.
    #[arg(long)]
    pub online: bool,
    /// The OSV API for --online [default: https://api.osv.dev]
    #[arg(long, env = "IMAGEGATE_OSV_API", value_name = "URL")]
    pub osv_api: Option<String>,
    /// Policy file [default: ./imagegate.toml, else the built-in default policy]
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Override the policy's `[vulnerabilities] fail_on`: critical, high, medium, low or none.
    #[arg(long, value_name = "LEVEL", value_parser = parse_fail_on)]
    pub fail_on: Option<FailOn>,
    /// The image's Dockerfile: SARIF results point at the step that added each finding.
    #[arg(long)]
    pub dockerfile: Option<PathBuf>,
    #[command(flatten)]
    pub pull: super::pull::PullArgs,
    /// Format of the report on stdout (or --output).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the --format report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write a SARIF report (GitHub code scanning) to FILE.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let started = Instant::now();
    let load = args.pull.load_options()?;
    // Policy and database first: without them there is nothing to decide, so fail before reading.
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut policy = Policy::discover(args.policy.as_deref(), &cwd)?;
    if let Some(fail_on) = args.fail_on {
        policy.vulnerabilities.fail_on = fail_on;
        policy.origin.push_str(" (fail_on from --fail-on)");
    }
    let dockerfile = match &args.dockerfile {
        Some(p) => Some((
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )),
        None => None,
    };
    // The local database first: without it there is nothing to decide, so fail before reading.
    let local = if args.online {
        None
    } else {
        let dir = args.db.resolve();
        Some((db::open(&dir)?, dir))
    };
    let inv = super::read_inventory(&args.image, &load)?;
    let (outcome, info) = match &local {
        Some((index, dir)) => {
            let built_at = index.meta().built_at;
            let (_, outcome) = evaluate::gate(&policy, &inv, index, Some(built_at))?;
            let info = DbInfo {
                source: dir.display().to_string(),
                built_at: Some(built_at),
                records: index.meta().records,
            };
            (outcome, info)
        }
        None => {
            let options = OnlineOptions {
                base: args.osv_api.clone().unwrap_or_else(|| online::DEFAULT_API.to_string()),
                ..Default::default()
            };
            let lookups = scan::lookups(&inv);
            let live = OnlineAdvisories::fetch(&lookups, &options)?;
            eprintln!(
                "OSV API {}: {} packages in {} batch requests; {} records fetched, {} from the cache",
                live.base(),
                lookups.len(),
                live.stats.batch_requests,
                live.stats.records_fetched,
                live.stats.records_cached
            );
            // Live data has no age: the stale-database rule does not apply.
            let (_, outcome) = evaluate::gate(&policy, &inv, &live, None)?;
            let info = DbInfo {
                source: format!("OSV API {}", live.base()),
                built_at: None,
                records: live.record_count(),
            };
            (outcome, info)
        }
    };
    let elapsed = started.elapsed();
    let gate = report::sarif::GateReport {
        inventory: &inv,
        outcome: &outcome,
        policy_origin: &policy.origin,
        db: &info,
        dockerfile: dockerfile.as_ref().map(|(p, t)| (p.as_str(), t.as_str())),
        elapsed,
    };
    let render = |format: ReportFormat, colour: bool| -> anyhow::Result<String> {
        Ok(match format {
            ReportFormat::Table => report::gate::text(&inv, &outcome, &policy.origin, &info, elapsed, colour),
            ReportFormat::Json => report::gate::json(&inv, &outcome, &policy.origin, &info, elapsed)?,
            ReportFormat::Sarif => report::sarif::sarif(&gate)?,
            ReportFormat::Markdown => report::markdown::markdown(&gate),
        })
    };
    // Colour only on a terminal, and never with NO_COLOR (https://no-color.org).
    let colour = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    emit(&render(args.format, colour)?, args.output.as_deref())?;
    for (path, format) in [
        (&args.sarif, ReportFormat::Sarif),
        (&args.json, ReportFormat::Json),
        (&args.markdown, ReportFormat::Markdown),
    ] {
        if let Some(path) = path {
            emit(&render(format, false)?, Some(path))?;
        }
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        append(&PathBuf::from(summary), &report::markdown::markdown(&gate))?;
    }
    Ok(outcome.verdict.exit_code())
}

fn append(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening $GITHUB_STEP_SUMMARY ({})", path.display()))?;
    writeln!(f, "{text}").with_context(|| format!("writing $GITHUB_STEP_SUMMARY ({})", path.display()))
}

fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    FailOn::parse(text).ok_or_else(|| format!("`{text}`: expected critical, high, medium, low or none"))
}
