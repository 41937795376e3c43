//! `imagegate audit REGISTRY --indexed-job N --out RUN`: one pod of the nightly audit as a
//! Kubernetes Indexed Job of N pods (`deploy/`), with no shell in the image.
//!
//! Pod `JOB_COMPLETION_INDEX` = I (0-based) scans shard I+1 of N into `RUN/shard-(I+1)`.
//! Pod 0 first updates the advisory DB (once per run, not once per shard) and then writes
//! `RUN/db-ready`; the other pods wait for that marker. Every pod, after writing its shard's
//! summary, merges into `RUN/merged` when all N summaries are there: the last shard to finish
//! merges. Every write is a rename, so a retried pod redoes its step and never reads half a file;
//! `RUN` is per run (the Job's name), so a run never sees the marker or summaries of another.

use super::audit::{Args, merge_dirs};
use super::db::DbCommand;
use crate::advisory::db;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The variable Kubernetes sets in each pod of an Indexed Job.
pub const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";
const READY: &str = "db-ready";
const POLL: Duration = Duration::from_secs(1);

pub fn run(mut args: Args, count: u32) -> anyhow::Result<u8> {
    let text = std::env::var(INDEX_VAR)
        .with_context(|| format!("--indexed-job: ${INDEX_VAR} is not set (Kubernetes sets it in an Indexed Job)"))?;
    let index: u32 = text
        .trim()
        .parse()
        .ok()
        .filter(|i| *i < count)
        .with_context(|| format!("--indexed-job {count}: ${INDEX_VAR} is {text:?}, not 0..{count}"))?;
    let run_dir = args.out.clone();
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let ready = run_dir.join(READY);
    if index == 0 {
        update_db(&args)?;
        super::emit(&format!("{}\n", jiff::Timestamp::now()), Some(&ready))?;
    } else {
        wait_for(
            &ready,
            Duration::from_secs(args.wait),
            "pod 0 to update the advisory DB",
        )?;
    }

    let k = index + 1;
    args.indexed_job = None;
    args.shard = Some(format!("{k}/{count}"));
    args.out = run_dir.join(format!("shard-{k}"));
    // The shard's verdict is in its summary; the pod succeeds once the summary is written (a
    // failing image is a finding, not a reason for Kubernetes to run the shard again).
    super::audit::run(args)?;

    let dirs: Vec<PathBuf> = (1..=count).map(|k| run_dir.join(format!("shard-{k}"))).collect();
    let done = dirs.iter().filter(|d| d.join("summary.json").is_file()).count();
    if done < dirs.len() {
        eprintln!("shard {k}/{count} done; {done} of {count} shards finished, the last one merges");
        return Ok(super::EXIT_OK);
    }
    let merged = run_dir.join("merged");
    eprintln!("all {count} shards finished: merging into {}", merged.display());
    // Two shards finishing together both merge. Each writes its own directory first and then
    // renames the files into `merged/`: every file there is whole, whichever pod wrote it (the
    // temporary names of a direct write carry the process id, and every container is PID 1).
    let own = run_dir.join(format!(".merge-{k}"));
    let code = merge_dirs(&dirs, Some(&own))?;
    std::fs::create_dir_all(&merged).with_context(|| format!("creating {}", merged.display()))?;
    for name in ["summary.json", "summary.md"] {
        let (from, to) = (own.join(name), merged.join(name));
        std::fs::rename(&from, &to).with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
    }
    let _ = std::fs::remove_dir(&own);
    // 0: every image passes. Anything else (images that fail or could not be scanned) is 1, so
    // the Job's podFailurePolicy can end the run as Failed instead of running the merge again;
    // 2 stays for a merge that could not run, which Kubernetes retries.
    Ok(if code == 0 { super::EXIT_OK } else { 1 })
}

/// `db update` into the audit's DB. A failed update with a DB already there is a warning: the
/// audit goes on with it, and the policy's `max_db_age` decides whether that DB is too old.
fn update_db(args: &Args) -> anyhow::Result<()> {
    let command = DbCommand::Update {
        ecosystems: Vec::new(),
        mirror: None,
        nodejs_index: None,
        full: false,
        db: args.db.clone(),
    };
    if let Err(e) = super::db::run(command) {
        let dir = args.db.resolve();
        let index = db::open(&dir).map_err(|_| e.context(format!("updating the advisory DB in {}", dir.display())))?;
        eprintln!(
            "warning: the advisory DB update failed; auditing with the DB in {} built at {}",
            dir.display(),
            jiff::Timestamp::from_second(index.meta().built_at)
                .map_or_else(|_| "an unknown time".to_string(), |t| t.to_string())
        );
    }
    Ok(())
}

fn wait_for(path: &Path, limit: Duration, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut said = false;
    while !path.is_file() {
        if started.elapsed() >= limit {
            anyhow::bail!(
                "waited {} s for {what} ({} is still missing)",
                limit.as_secs(),
                path.display()
            );
        }
        if !said {
            eprintln!("waiting for {what} ({})", path.display());
            said = true;
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}
