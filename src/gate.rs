//! The gate, from request to verdict: the one pipeline `scan`, `audit`, `hook run` and the
//! tests all go through.
//!
//! ```text
//! Gate::new(policy, advisory source)        the database is opened first: without it there is
//!                                           nothing to decide, so nothing is read
//! gate.check(image, load options) ─▶ Run    image ─▶ layers ─▶ inventory ─▶ matches ─▶ findings
//! ```
//!
//! A [`Run`] holds everything a report shows — the inventory, the matches, the findings and
//! verdict, where the advisories and the policy came from, the image's repository name — so
//! reports render it and decide nothing. One `Gate` serves many images (the audit opens the
//! database once).

use crate::advisory::db::{self, DbError};
use crate::advisory::index::{Index, IndexError};
use crate::advisory::online::{OnlineAdvisories, OnlineError, OnlineOptions, Stats};
use crate::advisory::scan::{self, Advisories, ScanResult};
use crate::dockerfile::Dockerfile;
use crate::image::source::ImageSource;
use crate::image::{self, ImageError, LoadOptions};
use crate::inventory::{self, Collector, Inventory};
use crate::policy::evaluate::{self, Context, Outcome};
use crate::policy::{Policy, PolicySource};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where advisories come from.
#[derive(Clone, Debug)]
pub enum AdvisorySource {
    /// The local index in this directory (`db update` / `db import` wrote it).
    Local(PathBuf),
    /// The OSV API (`--online`): sends the image's package names and versions out.
    Online(OnlineOptions),
}

/// Where a run's advisories came from, as reports show it.
#[derive(Clone, Debug, Serialize)]
pub struct DbInfo {
    /// The database directory, or `OSV API <url>` with `--online`.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_at: Option<i64>,
    pub records: usize,
}

/// The policy a run was judged under.
#[derive(Clone, Debug)]
pub struct PolicyInfo {
    pub source: PolicySource,
    /// The source and what the command line changed: `policies/production.toml (fail_on from
    /// --fail-on)`.
    pub description: String,
}

/// A Dockerfile given with `--dockerfile`: SARIF points results at its instructions.
#[derive(Clone, Debug)]
pub struct DockerfileRef {
    /// As the user gave it (relative to the repository root, for SARIF).
    pub path: String,
    pub parsed: Dockerfile,
}

impl DockerfileRef {
    pub fn new(path: &str, text: &str) -> DockerfileRef {
        DockerfileRef {
            path: path.to_string(),
            parsed: Dockerfile::parse(text),
        }
    }

    pub fn read(path: &Path) -> Result<DockerfileRef, GateError> {
        let text = std::fs::read_to_string(path).map_err(|source| GateError::Dockerfile {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(DockerfileRef::new(&path.display().to_string(), &text))
    }
}

/// One image through the gate: everything the reports show.
#[derive(Clone, Debug)]
pub struct Run {
    pub inventory: Inventory,
    pub scan: ScanResult,
    pub outcome: Outcome,
    pub db: DbInfo,
    pub policy: PolicyInfo,
    /// The image's repository name (`acme/app`), for per-repository report categories.
    pub repository: String,
    pub dockerfile: Option<DockerfileRef>,
    /// With `--online`: the requests the OSV API took.
    pub online: Option<Stats>,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Online(#[from] OnlineError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Vex(#[from] crate::vex::VexError),
    #[error("reading the Dockerfile {path}: {source}")]
    Dockerfile { path: PathBuf, source: std::io::Error },
}

enum Source {
    Local { index: Index, dir: PathBuf },
    Online(OnlineOptions),
}

/// A policy and an advisory source, ready to judge images.
pub struct Gate {
    policy: Policy,
    source: Source,
    dockerfile: Option<DockerfileRef>,
    vex: Vec<crate::vex::Statement>,
}

impl Gate {
    /// Opens the advisory source (a missing or damaged database fails here, before any image
    /// is read).
    pub fn new(policy: Policy, advisories: AdvisorySource) -> Result<Gate, GateError> {
        let source = match advisories {
            AdvisorySource::Local(dir) => Source::Local {
                index: db::open(&dir)?,
                dir,
            },
            AdvisorySource::Online(options) => Source::Online(options),
        };
        Ok(Gate {
            policy,
            source,
            dockerfile: None,
            vex: Vec::new(),
        })
    }

    /// VEX statements (`--vex`) applied to every run's findings.
    pub fn with_vex(mut self, vex: Vec<crate::vex::Statement>) -> Gate {
        self.vex = vex;
        self
    }

    /// Points SARIF results at this Dockerfile's instructions.
    pub fn with_dockerfile(mut self, dockerfile: Option<DockerfileRef>) -> Gate {
        self.dockerfile = dockerfile;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Reads the image and judges it. Relative paths in `image` are taken from `base` when
    /// given (the hook's repository root), else from the working directory.
    pub fn check(&self, image: &str, load: &LoadOptions, base: Option<&Path>) -> Result<Run, GateError> {
        let started = Instant::now();
        let source = ImageSource::parse_in(image, base).map_err(ImageError::from)?;
        let inventory = inventory::build(image::load_source(image, &source, load, &Collector)?);
        let repository = image::name::repository(&source, &inventory.image.repo_tags);
        let mut run = self.judge_named(inventory, repository)?;
        run.elapsed = started.elapsed();
        Ok(run)
    }

    /// Matches an inventory against the advisories and evaluates the policy.
    pub fn judge(&self, inventory: Inventory) -> Result<Run, GateError> {
        let repository = repository_of(&inventory);
        self.judge_named(inventory, repository)
    }

    fn judge_named(&self, inventory: Inventory, repository: String) -> Result<Run, GateError> {
        let started = Instant::now();
        let (scan, outcome, db, online) = match &self.source {
            Source::Local { index, dir } => {
                let built_at = index.meta().built_at;
                let (scan, outcome) = self.evaluate(&inventory, index, Some(built_at))?;
                let db = DbInfo {
                    source: dir.display().to_string(),
                    built_at: Some(built_at),
                    records: index.meta().records,
                };
                (scan, outcome, db, None)
            }
            Source::Online(options) => {
                let live = OnlineAdvisories::fetch(&scan::lookups(&inventory), options)?;
                // Live data has no age: the stale-database rule does not apply.
                let (scan, outcome) = self.evaluate(&inventory, &live, None)?;
                let db = DbInfo {
                    source: format!("OSV API {}", live.base()),
                    built_at: None,
                    records: live.record_count(),
                };
                (scan, outcome, db, Some(live.stats.clone()))
            }
        };
        let mut outcome = outcome;
        crate::vex::apply(
            &self.vex,
            &inventory,
            &repository,
            &mut outcome.findings,
            &mut outcome.verdict,
        );
        Ok(Run {
            inventory,
            scan,
            outcome,
            db,
            policy: PolicyInfo {
                source: self.policy.source.clone(),
                description: self.policy.describe(),
            },
            repository,
            dockerfile: self.dockerfile.clone(),
            online,
            elapsed: started.elapsed(),
        })
    }

    fn evaluate(
        &self,
        inventory: &Inventory,
        advisories: &dyn Advisories,
        db_built_at: Option<i64>,
    ) -> Result<(ScanResult, Outcome), IndexError> {
        let scan = scan::scan(inventory, advisories)?;
        let known_id = |id: &str| {
            scan.vulnerabilities
                .iter()
                .any(|v| v.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
                || advisories.by_id(id).is_ok_and(|r| !r.is_empty())
        };
        let outcome = evaluate::evaluate(
            &self.policy,
            &Context {
                inventory,
                scan: &scan,
                db_built_at,
                now: jiff::Timestamp::now(),
                known_id: &known_id,
            },
        );
        Ok((scan, outcome))
    }
}

/// The repository name of an inventory's image, from the reference it was read from.
pub fn repository_of(inventory: &Inventory) -> String {
    match ImageSource::parse(&inventory.image.reference) {
        Ok(source) => image::name::repository(&source, &inventory.image.repo_tags),
        // A reference that no longer parses (a file since removed): its repo tags, else a
        // stand-in.
        Err(_) => image::name::repository(&ImageSource::Stdin, &inventory.image.repo_tags),
    }
}

/// Reads an image and lists what it ships (the inventory's warnings are in it).
pub fn read_inventory(image: &str, load: &LoadOptions) -> Result<Inventory, ImageError> {
    Ok(inventory::build(image::load(image, load, &Collector)?))
}
