//! `imagegate audit REGISTRY`: the nightly audit of every image in a registry, and
//! `imagegate audit merge` of the summaries its shards wrote.

use super::db::DbArg;
use super::pull::PullArgs;
use crate::advisory::db;
use crate::audit::{self, ImageSummary, Selection, Shard, Summary, Target};
use crate::image::registry::Client;
use crate::policy::Policy;
use crate::policy::evaluate;
use crate::report::{self, scan::DbInfo};
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
        return merge(&dirs, out.as_deref());
    }
    let Some(registry) = args.registry.as_deref() else {
        anyhow::bail!("audit: give a REGISTRY (HOST[:PORT]) or `audit merge DIR...`");
    };
    let started = Instant::now();
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let selection = Selection::new(&args.repos, &args.tags, args.latest)?;
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let policy = Policy::discover(args.policy.as_deref(), &cwd)?;
    let dir = args.db.resolve();
    let index = db::open(&dir)?;
    let info = DbInfo {
        source: dir.display().to_string(),
        built_at: Some(index.meta().built_at),
        records: index.meta().records,
    };
    let mut load = args.pull.load_options()?;
    let client = Client::new(load.registry.clone())?;
    // One client for the listing and every scan: its connections and tokens are reused.
    load.registry_client = Some(client.clone());
    let listing = audit::list(&client, registry, &selection, shard)?;
    let images_dir = args.out.join("images");
    std::fs::create_dir_all(&images_dir).with_context(|| format!("creating {}", images_dir.display()))?;
    eprintln!(
        "audit {registry}: {} images to scan{}",
        listing.targets.len(),
        shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
    );

    // Workers take the next image until none is left; one broken image does not stop the others.
    let next = AtomicUsize::new(0);
    let rows = Mutex::new(listing.failures);
    let scan_one = |target: &Target| -> ImageSummary {
        let image_started = Instant::now();
        let result = (|| -> anyhow::Result<ImageSummary> {
            let inv = super::read_inventory(&target.reference(), &load)?;
            let (scan, outcome) = evaluate::gate(&policy, &inv, &index, info.built_at)?;
            let mut row = ImageSummary::of(target, &scan, &outcome);
            let stem = row.file_stem();
            let elapsed = image_started.elapsed();
            let json = report::gate::json(&inv, &outcome, &policy.origin, &info, elapsed)?;
            let gate = report::sarif::GateReport {
                inventory: &inv,
                outcome: &outcome,
                policy_origin: &policy.origin,
                db: &info,
                dockerfile: None,
                elapsed,
            };
            let sarif = report::sarif::sarif(&gate)?;
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
                    eprintln!("  {:<6} {}", format!("{:?}", row.verdict).to_lowercase(), row.image);
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

fn merge(dirs: &[PathBuf], out: Option<&Path>) -> anyhow::Result<u8> {
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
