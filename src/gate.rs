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
use crate::digest::Digest;
use crate::dockerfile::Dockerfile;
use crate::image::size::{self, SizeDelta, SizeSide};
use crate::image::source::ImageSource;
use crate::image::{self, ImageError, LoadOptions};
use crate::inventory::{self, Inventory};
use crate::policy::base::{self, BaseImage, GivenBase, NotPrefix};
use crate::policy::baseline::{Baseline, BaselineError, Comparison};
use crate::policy::evaluate::{self, Context, Outcome};
use crate::policy::upgrade::{self, Upgrade};
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
    /// The checks the policy runs (JUnit lists the ones that passed).
    pub checks: Vec<crate::policy::rule::Check>,
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
    /// Which layers are the base image's, and how that was decided.
    pub base: BaseImage,
    /// With `--baseline`: new, fixed and unchanged findings.
    pub baseline: Option<Comparison>,
    /// The upgrades that clear the failing findings, one per package.
    pub upgrades: Vec<Upgrade>,
    /// With `--baseline`: the size against the baseline's.
    pub size_delta: Option<SizeDelta>,
    /// The VEX statements the run was judged with (`--openvex` writes the ones in effect).
    pub vex: Vec<crate::vex::Statement>,
}

/// What `--baseline` names: an earlier JSON report, or an image scanned with the same DB and
/// policy.
#[derive(Clone, Debug)]
pub enum BaselineArg {
    Report(PathBuf),
    Image(String),
}

impl BaselineArg {
    /// A file that holds a JSON report (it starts with `{`, or is named `*.json`) is a report;
    /// anything else is an image reference.
    pub fn parse(text: &str) -> BaselineArg {
        let path = Path::new(text);
        let looks_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
            || std::fs::File::open(path).is_ok_and(|f| {
                use std::io::Read;
                let mut head = [0u8; 64];
                let n = f.take(64).read(&mut head).unwrap_or(0);
                head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            });
        if looks_json && path.is_file() {
            BaselineArg::Report(path.to_path_buf())
        } else if looks_json && !text.contains(':') {
            // A missing `x.json`: report it as a missing file, not as an image reference.
            BaselineArg::Report(path.to_path_buf())
        } else {
            BaselineArg::Image(text.to_string())
        }
    }
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
    #[error(transparent)]
    BaseNotPrefix(#[from] NotPrefix),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
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
    base: Option<String>,
    baseline: Option<BaselineArg>,
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
        // The policy's VEX documents: one that does not parse stops here, before any image.
        let vex = crate::vex::load_policy(&policy)?;
        Ok(Gate {
            policy,
            source,
            dockerfile: None,
            base: None,
            baseline: None,
            vex,
        })
    }

    /// `--base IMAGE`: the base image whose layers must be the first of each checked image's.
    pub fn with_base(mut self, base: Option<String>) -> Gate {
        self.base = base;
        self
    }

    /// `--baseline FILE|IMAGE`: fail only on findings it does not have.
    pub fn with_baseline(mut self, baseline: Option<BaselineArg>) -> Gate {
        self.baseline = baseline;
        self
    }

    /// VEX statements (`--vex`) applied to every run's findings, after the policy's own.
    pub fn with_vex(mut self, vex: Vec<crate::vex::Statement>) -> Gate {
        self.vex.extend(vex);
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
        // A baseline file that does not parse stops the run before any image is read.
        let baseline = match &self.baseline {
            Some(BaselineArg::Report(path)) => Some(Baseline::read(path)?),
            Some(BaselineArg::Image(reference)) => {
                let run = self.check_one(reference, load, base)?;
                let mut b = Baseline::of_findings(
                    reference,
                    &run.outcome.findings,
                    &run.inventory.image.reference,
                    &run.inventory.image.config_digest.to_string(),
                    run.db.built_at,
                );
                b.size = Some(size_side(&run.inventory));
                Some(b)
            }
            None => None,
        };
        let mut run = self.check_one(image, load, base)?;
        if let Some(b) = baseline {
            let config = run.inventory.image.config_digest.to_string();
            run.baseline = Some(b.apply(&mut run.outcome, &config, run.db.built_at));
            if let Some(then) = &b.size
                && run.inventory.size.is_some()
            {
                let delta = size::compare(then, &size_side(&run.inventory));
                if let Some(f) = evaluate::growth_check(&self.policy, &delta) {
                    run.outcome.findings.push(f);
                    run.outcome.verdict = crate::policy::finding::Verdict::of(&run.outcome.findings);
                }
                run.size_delta = Some(delta);
            }
            run.upgrades = upgrade::advise(&run.outcome.findings, &run.base, &run.inventory);
        }
        run.elapsed = started.elapsed();
        Ok(run)
    }

    fn check_one(&self, image: &str, load: &LoadOptions, base: Option<&Path>) -> Result<Run, GateError> {
        let source = ImageSource::parse_in(image, base).map_err(ImageError::from)?;
        let inventory = inventory::read(image, &source, load)?;
        let base_image = match &self.base {
            Some(reference) => {
                let source = ImageSource::parse_in(reference, base).map_err(ImageError::from)?;
                let base_inv = inventory::read(reference, &source, load)?;
                let diff_ids: Vec<Digest> = base_inv.image.layers.iter().map(|l| l.diff_id.clone()).collect();
                base::detect(
                    &inventory.image,
                    Some(&GivenBase {
                        reference,
                        diff_ids: &diff_ids,
                        digest: Some(
                            base_inv
                                .image
                                .manifest_digest
                                .as_ref()
                                .unwrap_or(&base_inv.image.config_digest)
                                .to_string(),
                        ),
                        from_registry: matches!(source, ImageSource::Registry(_)),
                    }),
                )?
            }
            None => base::detect(&inventory.image, None)?,
        };
        let repository = image::name::repository(&source, &inventory.image.repo_tags);
        self.judge_with(inventory, repository, base_image)
    }

    /// Matches an inventory against the advisories and evaluates the policy.
    pub fn judge(&self, inventory: Inventory) -> Result<Run, GateError> {
        let repository = repository_of(&inventory);
        let base = base::detect(&inventory.image, None)?;
        self.judge_with(inventory, repository, base)
    }

    fn judge_with(&self, inventory: Inventory, repository: String, base: BaseImage) -> Result<Run, GateError> {
        let started = Instant::now();
        let (scan, outcome, db, online) = match &self.source {
            Source::Local { index, dir } => {
                let built_at = index.meta().built_at;
                let (scan, outcome) = self.evaluate(&inventory, index, Some(built_at), &base)?;
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
                let (scan, outcome) = self.evaluate(&inventory, &live, None, &base)?;
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
        // After VEX: a finding a statement suppressed needs no upgrade.
        let upgrades = upgrade::advise(&outcome.findings, &base, &inventory);
        Ok(Run {
            inventory,
            scan,
            outcome,
            db,
            policy: PolicyInfo {
                source: self.policy.source.clone(),
                description: self.policy.describe(),
                checks: self.policy.checks(),
            },
            repository,
            dockerfile: self.dockerfile.clone(),
            online,
            elapsed: started.elapsed(),
            upgrades,
            base,
            baseline: None,
            size_delta: None,
            vex: self.vex.clone(),
        })
    }

    fn evaluate(
        &self,
        inventory: &Inventory,
        advisories: &dyn Advisories,
        db_built_at: Option<i64>,
        base: &BaseImage,
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
                base: Some(base),
            },
        );
        Ok((scan, outcome))
    }
}

/// What the size comparison reads of an inventory.
fn size_side(inv: &Inventory) -> SizeSide {
    SizeSide {
        uncompressed_bytes: inv.image.uncompressed_size,
        layers: inv
            .image
            .layers
            .iter()
            .map(|l| (l.diff_id.to_string(), l.uncompressed_size))
            .collect(),
        files: inv.files.iter().map(|f| (f.path.clone(), f.size)).collect(),
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
    inventory::read(image, &ImageSource::parse(image)?, load)
}
