//! `imagegate audit REGISTRY`: the nightly audit of every image in a registry, and
//! `imagegate audit merge` of the summaries its shards wrote.

use super::db::DbArg;
use super::pull::PullArgs;
use crate::audit::{self, ImageSummary, Selection, Shard, Summary, Target};
use crate::gate::{AdvisorySource, Gate};
use crate::image::registry::Client;
use crate::policy::Policy;
use crate::report;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub merge: Option<AuditCommand>,
    /// The registry to audit (HOST[:PORT]); it must serve /v2/_catalog.
    pub registry: Option<String>,
    /// Only repositories matching GLOB (`*` stays within one path segment).
    #[arg(long = "repo", value_name = "GLOB")]
    pub repos: Vec<String>,
    /// Only tags matching GLOB.
    #[arg(long = "tag", value_name = "GLOB")]
    pub tags: Vec<String>,
    /// Only the N highest semver tags of each repository.
    #[arg(long, value_name = "N")]
    pub latest: Option<usize>,
    /// Images scanned at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub concurrency: usize,
    /// Scan only bucket K of N (by manifest digest): run N jobs, then `audit merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Run as one pod of a Kubernetes Indexed Job of N pods (deploy/): shard
    /// $JOB_COMPLETION_INDEX+1 of N into OUT/shard-K; pod 0 updates --db first, the others wait
    /// for it; the last shard to finish merges into OUT/merged.
    #[arg(long, value_name = "N", conflicts_with = "shard", value_parser = clap::value_parser!(u32).range(1..))]
    pub indexed_job: Option<u32>,
    /// With --indexed-job: seconds a pod waits for pod 0's DB update.
    #[arg(long, default_value_t = 3600, value_name = "SECS", requires = "indexed_job")]
    pub wait: u64,
    /// Policy file [default: ./imagegate.toml, else the built-in default policy]
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Where summary.json, summary.md and the per-image reports go.
    #[arg(long, default_value = "imagegate-audit")]
    pub out: PathBuf,
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub pull: PullArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Merge the summaries of sharded audits into one.
    #[command(after_help = "Examples:\n  imagegate audit merge shard-1 shard-2 shard-3 --out audit")]
    Merge {
        /// Output directories of `audit --shard K/N` runs.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged summary.json and summary.md go.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if let Some(AuditCommand::Merge { dirs, out }) = args.merge {
        return merge_dirs(&dirs, out.as_deref());
    }
    if let Some(count) = args.indexed_job {
        return super::audit_job::run(args, count);
    }
    let Some(registry) = args.registry.as_deref() else {
        anyhow::bail!("audit: give a REGISTRY (HOST[:PORT]) or `audit merge DIR...`");
    };
    let started = Instant::now();
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let selection = Selection::new(&args.repos, &args.tags, args.latest)?;
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let policy = Policy::discover(args.policy.as_deref(), &cwd)?;
    // One gate for every image: the database is opened once.
    let gate = Gate::new(policy, AdvisorySource::Local(args.db.resolve()))?;
    let mut load = args.pull.load_options()?;
    // Several pulls at once, and the audit's own line per image: no per-pull line.
    load.progress = false;
    let client = Client::new(load.registry.clone())?;
    // One client for the listing and every scan: its connections and tokens are reused.
    load.registry_client = Some(client.clone());
    let listing = audit::list(&client, registry, &selection, shard)?;
    let images_dir = args.out.join("images");
    std::fs::create_dir_all(&images_dir).with_context(|| format!("creating {}", images_dir.display()))?;
    eprintln!(
        "audit {registry}: {} to scan{}",
        crate::units::plural(listing.targets.len(), "image"),
        shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
    );

    // Workers take the next image until none is left; one broken image does not stop the others.
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(listing.failures);
    let scan_one = |target: &Target| -> ImageSummary {
        let result = (|| -> anyhow::Result<ImageSummary> {
            let run = gate.check(&target.reference(), &load, None)?;
            super::print_warnings(&run.inventory);
            let mut row = ImageSummary::of(target, &run.scan, &run.outcome);
            let stem = row.file_stem();
            let json = report::gate::json(&run)?;
            let sarif = report::sarif::sarif(&run)?;
            let (json_name, sarif_name) = (format!("images/{stem}.json"), format!("images/{stem}.sarif"));
            super::emit(&json, Some(&args.out.join(&json_name)))?;
            super::emit(&sarif, Some(&args.out.join(&sarif_name)))?;
            row.report = Some(json_name);
            row.sarif = Some(sarif_name);
            Ok(row)
        })();
        result.unwrap_or_else(|e| {
            let mut row = ImageSummary::error(
                target.name(),
                &target.repository,
                target.tags.first().map_or("", String::as_str),
                super::describe(&e),
            );
            row.tags = target.tags.clone();
            row.digest = Some(target.digest.to_string());
            row
        })
    };
    std::thread::scope(|s| {
        for _ in 0..args.concurrency.clamp(1, 64) {
            s.spawn(|| {
                while let Some(target) = listing.targets.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let row = scan_one(target);
                    eprintln!(
                        "  {:<6} {}",
                        format!("{:?}", row.verdict).to_lowercase(),
                        crate::report::escape::esc(&row.image)
                    );
                    let all = audit::rows_for(target, row);
                    rows.lock().unwrap_or_else(|p| p.into_inner()).extend(all);
                }
            });
        }
    });
    let rows = rows.into_inner().unwrap_or_else(|p| p.into_inner());
    let summary = Summary::new(registry, shard, rows);
    write_summary(&summary, &args.out)?;
    print!("{}", summary.table());
    eprintln!(
        "audit finished in {:.1} s; reports in {}",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(summary.exit_code())
}

fn write_summary(summary: &Summary, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    super::emit(
        &(serde_json::to_string_pretty(summary)? + "\n"),
        Some(&out.join("summary.json")),
    )?;
    super::emit(&summary.markdown(), Some(&out.join("summary.md")))
}

pub(super) fn merge_dirs(dirs: &[PathBuf], out: Option<&Path>) -> anyhow::Result<u8> {
    let mut parts = Vec::new();
    for dir in dirs {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let part: Summary =
            serde_json::from_str(&text).with_context(|| format!("{} is not an audit summary", path.display()))?;
        if part.schema != audit::SUMMARY_SCHEMA {
            anyhow::bail!(
                "{}: summary schema {} (this imagegate reads {})",
                path.display(),
                part.schema,
                audit::SUMMARY_SCHEMA
            );
        }
        parts.push(part);
    }
    let merged = audit::merge(parts);
    if let Some(out) = out {
        write_summary(&merged, out)?;
    }
    print!("{}", merged.table());
    Ok(merged.exit_code())
}
