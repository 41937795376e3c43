//! `imagegate scan IMAGE`: the inventory matched against the advisory database and checked
//! against the policy. Exit 0 when the gate passes, 1 when it fails, 2 when it could not run.

use super::db::DbArg;
use super::emit;
use crate::advisory::online::{self, OnlineOptions};
use crate::advisory::scan;
use crate::gate::{AdvisorySource, BaselineArg, DockerfileRef, Gate};
use crate::policy::{FailOn, Policy};
use crate::report;
use crate::units::plural;
use anyhow::Context as _;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    Sarif,
    Markdown,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// REGISTRY/REPO[:TAG|@DIGEST], docker:NAME[:TAG], podman:NAME[:TAG], docker-archive:PATH[:TAG],
    /// oci:DIR[:TAG|@DIGEST], oci-archive:PATH, a path, - for a `docker save` stream on stdin, or
    /// sbom:FILE (CycloneDX, SPDX or imagegate's inventory JSON).
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
    /// The base image (any reference imagegate reads): its layers must be the image's first
    /// layers (checked, else exit 2); findings in them are the base's (`fail_in`,
    /// `base_fail_on`). Without it: the config's base labels, else a guess from the history.
    #[arg(long, value_name = "IMAGE")]
    pub base: Option<String>,
    /// An earlier JSON report (`scan --format json`), or an image scanned with the same DB and
    /// policy: only findings it does not have fail.
    #[arg(long, value_name = "FILE|IMAGE")]
    pub baseline: Option<String>,
    /// The image's Dockerfile: SARIF results point at the step that added each finding.
    #[arg(long)]
    pub dockerfile: Option<PathBuf>,
    #[command(flatten)]
    pub pull: super::pull::PullArgs,
    /// Format of the report on stdout (or --output).
    #[arg(long, short = 'f', value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the --format report to FILE instead of stdout (`-` is stdout).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The table with every field in full, boxed, whatever the width.
    #[arg(long)]
    pub wide: bool,
    /// No warnings or log lines on stderr, only errors (the report is unchanged).
    #[arg(long, short)]
    pub quiet: bool,
    /// Advisories without a fixed version do not fail, for this run: the policy's `only_fixable
    /// = true` (Trivy's and Grype's flag of that name).
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// The lowest severity shown, for this run: the policy's `report_from` (critical, high,
    /// medium, low, all). A list as Trivy takes it (`HIGH,CRITICAL`) shows from its lowest.
    #[arg(long, value_name = "LEVEL", value_parser = parse_severity)]
    pub severity: Option<ReportFrom>,
    /// Also write a SARIF report (GitHub code scanning) to FILE.
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Also write the JSON report to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the Markdown summary to FILE.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write a CycloneDX 1.6 SBOM with the findings as vulnerabilities to FILE.
    #[arg(long, value_name = "FILE")]
    pub cyclonedx: Option<PathBuf>,
    /// Also write an SPDX 2.3 SBOM to FILE.
    #[arg(long, value_name = "FILE")]
    pub spdx: Option<PathBuf>,
    /// An OpenVEX 0.2 or CycloneDX VEX document whose not_affected and fixed statements
    /// suppress findings (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Also write GitLab's container-scanning report (gl-container-scanning-report.json) to FILE.
    #[arg(long, value_name = "FILE")]
    pub gitlab: Option<PathBuf>,
    /// Also write a JUnit XML report (a test case per failing or warning finding and per passed
    /// check) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write the ignores and VEX statements in effect for this image as an OpenVEX 0.2
    /// document to FILE.
    #[arg(long, value_name = "FILE")]
    pub openvex: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut load = args.pull.load_options()?;
    load.progress = !args.quiet;
    // Policy and database first: without them there is nothing to decide, so fail before reading.
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let mut policy = Policy::discover(args.policy.as_deref(), &cwd)?;
    if let Some(fail_on) = args.fail_on {
        policy.vulnerabilities.fail_on = fail_on;
        policy.overrides.push("fail_on from --fail-on");
    }
    if args.ignore_unfixed {
        policy.vulnerabilities.only_fixable = true;
        policy.overrides.push("only_fixable from --ignore-unfixed");
    }
    if let Some(ReportFrom(from)) = args.severity {
        policy.vulnerabilities.report_from = from;
        policy.overrides.push("report_from from --severity");
    }
    let dockerfile = args.dockerfile.as_deref().map(DockerfileRef::read).transpose()?;
    let advisories = if args.online {
        AdvisorySource::Online(OnlineOptions {
            base: args.osv_api.clone().unwrap_or_else(|| online::DEFAULT_API.to_string()),
            ..Default::default()
        })
    } else {
        AdvisorySource::Local(args.db.resolve())
    };
    // A VEX document that does not parse stops here, before the image is read.
    let vex = crate::vex::load(&args.vex)?;
    let gate = Gate::new(policy, advisories)?
        .with_dockerfile(dockerfile)
        .with_base(args.base.clone())
        .with_baseline(args.baseline.as_deref().map(BaselineArg::parse))
        .with_vex(vex);
    let reports = Reports {
        format: args.format,
        output: args.output,
        sarif: args.sarif,
        json: args.json,
        markdown: args.markdown,
        wide: args.wide,
        quiet: args.quiet,
        platform: args.pull.requested_platform(),
        cyclonedx: args.cyclonedx,
        spdx: args.spdx,
        gitlab: args.gitlab,
        junit: args.junit,
        openvex: args.openvex,
    };
    check_and_report(&gate, &args.image, &load, None, &reports)
}

/// Where a scan's reports go: the `--format` report to stdout (or `--output`), the others to
/// their files, and the Markdown summary to `$GITHUB_STEP_SUMMARY` when it is set.
pub struct Reports {
    pub format: ReportFormat,
    pub output: Option<PathBuf>,
    pub sarif: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    /// The boxed table (`--wide`).
    pub wide: bool,
    /// No warnings on stderr (`--quiet`).
    pub quiet: bool,
    /// `--platform` as given: a single-platform image of another platform gets a warning.
    pub platform: Option<crate::image::model::Platform>,
    pub cyclonedx: Option<PathBuf>,
    pub spdx: Option<PathBuf>,
    pub gitlab: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub openvex: Option<PathBuf>,
}

impl Reports {
    /// The table on stdout and nothing else.
    pub fn table() -> Reports {
        Reports {
            format: ReportFormat::Table,
            output: None,
            sarif: None,
            json: None,
            markdown: None,
            wide: false,
            quiet: false,
            platform: None,
            cyclonedx: None,
            spdx: None,
            gitlab: None,
            junit: None,
            openvex: None,
        }
    }
}

/// Runs one image through the gate, writes its reports, and gives the exit code.
pub fn check_and_report(
    gate: &Gate,
    image: &str,
    load: &crate::image::LoadOptions,
    base: Option<&std::path::Path>,
    reports: &Reports,
) -> anyhow::Result<u8> {
    // `sbom:FILE`: an SBOM instead of an image, judged without a pull.
    let run = match image.strip_prefix("sbom:") {
        Some(file) => {
            let path = match base {
                Some(b) if std::path::Path::new(file).is_relative() => b.join(file),
                _ => PathBuf::from(file),
            };
            gate.judge(crate::sbom::read(&path)?)?
        }
        None => gate.check(image, load, base)?,
    };
    if !reports.quiet {
        super::print_warnings(&run.inventory);
        super::warn_platform(&run.inventory, reports.platform.as_ref());
    }
    if let Some(stats) = &run.online {
        eprintln!(
            "{}: {} in {}; {} fetched, {} from the cache",
            run.db.source,
            plural(scan::lookups(&run.inventory).len(), "package"),
            plural(stats.batch_requests, "batch request"),
            plural(stats.records_fetched, "record"),
            stats.records_cached
        );
    }
    let to_stdout = super::is_stdout(reports.output.as_deref());
    let style = super::text_style(to_stdout, reports.wide);
    let render = |format: ReportFormat, style: &report::text::Style| -> anyhow::Result<String> {
        Ok(match format {
            ReportFormat::Table => report::gate::text(&run, style),
            ReportFormat::Json => report::gate::json(&run)?,
            ReportFormat::Sarif => report::sarif::sarif(&run)?,
            ReportFormat::Markdown => report::markdown::markdown(&run),
        })
    };
    // JSON, the report that carries the whole inventory, is written as it is rendered.
    let json = |output: Option<&std::path::Path>| super::emit_with(output, &mut |w| report::gate::write_json(&run, w));
    match reports.format {
        ReportFormat::Json => json(reports.output.as_deref())?,
        format => emit(&render(format, &style)?, reports.output.as_deref())?,
    }
    for (path, format) in [
        (&reports.sarif, ReportFormat::Sarif),
        (&reports.json, ReportFormat::Json),
        (&reports.markdown, ReportFormat::Markdown),
    ] {
        match (path, format) {
            (Some(path), ReportFormat::Json) => json(Some(path))?,
            (Some(path), format) => emit(&render(format, &report::text::Style::plain())?, Some(path))?,
            (None, _) => {}
        }
    }
    if let Some(path) = &reports.cyclonedx {
        super::emit_with(Some(path), &mut |w| report::cyclonedx::write_cyclonedx_run(&run, w))?;
    }
    if let Some(path) = &reports.spdx {
        super::emit_with(Some(path), &mut |w| report::spdx::write_spdx(&run.inventory, w))?;
    }
    if let Some(path) = &reports.gitlab {
        emit(&report::gitlab::gitlab(&run)?, Some(path))?;
    }
    if let Some(path) = &reports.junit {
        emit(&report::junit::junit(&run), Some(path))?;
    }
    if let Some(path) = &reports.openvex {
        match report::openvex::openvex(&run)? {
            Some(doc) => emit(&doc, Some(path))?,
            // OpenVEX needs a statement: no document rather than an invalid one.
            None if !reports.quiet => eprintln!(
                "--openvex: no ignore or VEX statement decides a finding of this image; {} not written",
                path.display()
            ),
            None => {}
        }
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        append(&PathBuf::from(summary), &report::markdown::markdown(&run))?;
    }
    let code = run.outcome.verdict.exit_code();
    // The inventory of a large image is tens of thousands of strings: freed beside the exit.
    crate::inventory::drop_beside(run);
    Ok(code)
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

/// `report_from` as `--severity` sets it: `None` shows everything.
#[derive(Clone, Copy, Debug)]
pub struct ReportFrom(Option<crate::advisory::severity::Level>);

fn parse_severity(text: &str) -> Result<ReportFrom, String> {
    use crate::advisory::severity::Level;
    let mut lowest: Option<Level> = None;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.eq_ignore_ascii_case("all") || part.eq_ignore_ascii_case("unknown") {
            return Ok(ReportFrom(None));
        }
        let level = Level::from_label(part)
            .filter(|l| *l != Level::None)
            .ok_or_else(|| format!("`{part}`: expected critical, high, medium, low or all"))?;
        lowest = Some(lowest.map_or(level, |l| l.min(level)));
    }
    lowest
        .map(|l| ReportFrom(Some(l)))
        .ok_or_else(|| "expected critical, high, medium, low or all".to_string())
}

fn parse_fail_on(text: &str) -> Result<FailOn, String> {
    FailOn::parse(text).ok_or_else(|| format!("`{text}`: expected critical, high, medium, low or none"))
}
