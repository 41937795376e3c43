//! The nightly registry audit: which images to scan (catalog, tags, globs, the latest N by
//! semver, one scan per manifest digest, a deterministic shard), and the summary it writes —
//! one row per image — which shards merge into one.

use crate::advisory::scan::ScanResult;
use crate::digest::Digest;
use crate::image::registry::{Client, Reference, RegistryError};
use crate::policy::evaluate::Outcome;
use crate::policy::finding::Level;
use globset::{GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

pub const SUMMARY_SCHEMA: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("--repo/--tag glob `{glob}`: {message}")]
    Glob { glob: String, message: String },
    #[error("--shard `{0}`: expected K/N with 1 ≤ K ≤ N, e.g. 2/4")]
    Shard(String),
    #[error("listing {registry}: {source}")]
    Catalog {
        registry: String,
        source: Box<RegistryError>,
    },
}

/// Which repositories and tags to audit.
#[derive(Default)]
pub struct Selection {
    repos: Option<GlobSet>,
    tags: Option<GlobSet>,
    /// Per repository, only the N highest semver tags (tags that are not semver are skipped).
    latest: Option<usize>,
}

impl Selection {
    pub fn new(repos: &[String], tags: &[String], latest: Option<usize>) -> Result<Selection, AuditError> {
        Ok(Selection {
            repos: globs(repos)?,
            tags: globs(tags)?,
            latest,
        })
    }

    fn wants_repo(&self, repo: &str) -> bool {
        self.repos.as_ref().is_none_or(|g| g.is_match(repo))
    }

    /// The tags of one repository to scan, in a stable order.
    fn pick_tags(&self, mut tags: Vec<String>) -> Vec<String> {
        tags.retain(|t| self.tags.as_ref().is_none_or(|g| g.is_match(t)));
        tags.sort();
        tags.dedup();
        let Some(n) = self.latest else {
            return tags;
        };
        let mut versioned: Vec<(semver::Version, String)> = tags
            .into_iter()
            .filter_map(|t| Some((semver::Version::parse(t.strip_prefix('v').unwrap_or(&t)).ok()?, t)))
            .collect();
        versioned.sort_by(|a, b| b.0.cmp_precedence(&a.0).then_with(|| a.1.cmp(&b.1)));
        versioned.into_iter().take(n).map(|(_, t)| t).collect()
    }
}

fn globs(patterns: &[String]) -> Result<Option<GlobSet>, AuditError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        // `*` must not cross `/`: `team/*` selects `team/app`, not `team/app/worker`.
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| AuditError::Glob {
                glob: p.clone(),
                message: e.kind().to_string(),
            })?;
        b.add(glob);
    }
    b.build().map(Some).map_err(|e| AuditError::Glob {
        glob: patterns.join(", "),
        message: e.to_string(),
    })
}

/// `--shard K/N`: this machine scans the images whose digest falls in bucket K of N. The
/// bucket depends only on the digest, so every shard, listing on its own, agrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, AuditError> {
        let err = || AuditError::Shard(text.to_string());
        let (k, n) = text.split_once('/').ok_or_else(err)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }

    pub fn holds(&self, digest: &Digest) -> bool {
        // A digest is uniformly distributed already; its first 16 hex digits are a fine bucket key.
        let key = u64::from_str_radix(digest.hex().get(..16).unwrap_or("0"), 16).unwrap_or(0);
        key % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// One image to scan: a manifest digest and the tags that point at it.
#[derive(Clone, Debug)]
pub struct Target {
    pub registry: String,
    pub repository: String,
    pub tags: Vec<String>,
    pub digest: Digest,
    /// Other repositories that hold the same digest, with their tags: scanned once (as
    /// `repository`), reported once each (see [`rows_for`]).
    pub also: Vec<(String, Vec<String>)>,
}

impl Target {
    /// The reference pinned to the digest that was listed, so a tag moved mid-audit does not
    /// change what is scanned.
    pub fn reference(&self) -> String {
        format!("{}/{}@{}", self.registry, self.repository, self.digest)
    }
    pub fn name(&self) -> String {
        format!(
            "{}/{}:{}",
            self.registry,
            self.repository,
            self.tags.first().map_or("", String::as_str)
        )
    }
}

/// What listing found: the images to scan, and what could not be listed (reported as errors,
/// the audit goes on).
pub struct Listing {
    pub targets: Vec<Target>,
    pub failures: Vec<ImageSummary>,
}

/// Lists the registry's repositories and tags, resolves each tag to its manifest digest, and
/// keeps one target per digest that falls in `shard`.
pub fn list(
    client: &Client,
    registry: &str,
    selection: &Selection,
    shard: Option<Shard>,
) -> Result<Listing, AuditError> {
    let repos = client.catalog(registry).map_err(|e| AuditError::Catalog {
        registry: registry.to_string(),
        source: Box::new(e),
    })?;
    let mut repos: Vec<String> = repos.into_iter().filter(|r| selection.wants_repo(r)).collect();
    repos.sort();
    let mut failures = Vec::new();
    let mut by_digest: BTreeMap<String, Target> = BTreeMap::new();
    for repo in repos {
        let tags = match client.tags(registry, &repo) {
            Ok(t) => t,
            Err(e) => {
                failures.push(ImageSummary::error(
                    format!("{registry}/{repo}"),
                    &repo,
                    "",
                    e.to_string(),
                ));
                continue;
            }
        };
        for tag in selection.pick_tags(tags) {
            let reference = Reference::repository_ref(registry, &repo, &tag);
            match client.manifest(&reference, &tag) {
                Ok(m) => {
                    if shard.is_some_and(|s| !s.holds(&m.digest)) {
                        continue;
                    }
                    let target = by_digest.entry(m.digest.to_string()).or_insert_with(|| Target {
                        registry: registry.to_string(),
                        repository: repo.clone(),
                        tags: Vec::new(),
                        digest: m.digest.clone(),
                        also: Vec::new(),
                    });
                    // One scan per digest, but every repository that holds it keeps its row.
                    if target.repository == repo {
                        target.tags.push(tag);
                    } else {
                        match target.also.iter_mut().find(|(r, _)| *r == repo) {
                            Some((_, tags)) => tags.push(tag),
                            None => target.also.push((repo.clone(), vec![tag])),
                        }
                    }
                }
                Err(e) => failures.push(ImageSummary::error(reference.to_string(), &repo, &tag, e.to_string())),
            }
        }
    }
    let mut targets: Vec<Target> = by_digest.into_values().collect();
    targets.sort_by(|a, b| (&a.repository, &a.tags).cmp(&(&b.repository, &b.tags)));
    Ok(Listing { targets, failures })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditVerdict {
    Pass,
    Fail,
    Error,
}

/// Vulnerabilities by severity (all of them, including those the policy does not list).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub unknown: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopFinding {
    pub rule: String,
    pub level: String,
    pub title: String,
}

/// One row of the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    /// registry/repository:tag (the first tag, when several point at one digest).
    pub image: String,
    pub repository: String,
    pub tag: String,
    /// Every tag that points at this digest.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub verdict: AuditVerdict,
    #[serde(default)]
    pub counts: SeverityCounts,
    /// Findings per level: fail, warn, info.
    #[serde(default)]
    pub findings: BTreeMap<String, usize>,
    #[serde(default)]
    pub top_findings: Vec<TopFinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The per-image JSON and SARIF reports, relative to the output directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sarif: Option<String>,
}

/// How many findings a summary row shows.
const TOP_FINDINGS: usize = 3;

impl ImageSummary {
    pub fn error(image: String, repository: &str, tag: &str, error: String) -> ImageSummary {
        ImageSummary {
            image,
            repository: repository.to_string(),
            tag: tag.to_string(),
            tags: if tag.is_empty() { vec![] } else { vec![tag.to_string()] },
            digest: None,
            verdict: AuditVerdict::Error,
            counts: SeverityCounts::default(),
            findings: BTreeMap::new(),
            top_findings: Vec::new(),
            error: Some(error),
            report: None,
            sarif: None,
        }
    }

    pub fn of(target: &Target, scan: &ScanResult, outcome: &Outcome) -> ImageSummary {
        let mut counts = SeverityCounts::default();
        for v in &scan.vulnerabilities {
            use crate::advisory::severity::Level as S;
            match v.severity.level {
                Some(S::Critical) => counts.critical += 1,
                Some(S::High) => counts.high += 1,
                Some(S::Medium) => counts.medium += 1,
                Some(S::Low) => counts.low += 1,
                Some(S::None) | None => counts.unknown += 1,
            }
        }
        let listed: Vec<_> = outcome.findings.iter().filter(|f| f.ignored.is_none()).collect();
        let findings = [Level::Fail, Level::Warn, Level::Info]
            .into_iter()
            .map(|l| (l.as_str().to_string(), listed.iter().filter(|f| f.level == l).count()))
            .collect();
        // Findings come worst first from the evaluation.
        let top_findings = listed
            .iter()
            .filter(|f| f.level != Level::Info)
            .take(TOP_FINDINGS)
            .map(|f| TopFinding {
                rule: f.rule.to_string(),
                level: f.level.as_str().to_string(),
                title: f.message.clone(),
            })
            .collect();
        ImageSummary {
            image: target.name(),
            repository: target.repository.clone(),
            tag: target.tags.first().cloned().unwrap_or_default(),
            tags: target.tags.clone(),
            digest: Some(target.digest.to_string()),
            verdict: if outcome.verdict.pass {
                AuditVerdict::Pass
            } else {
                AuditVerdict::Fail
            },
            counts,
            findings,
            top_findings,
            error: None,
            report: None,
            sarif: None,
        }
    }

    /// A file name for this image's reports: `team_app_v1.2`.
    pub fn file_stem(&self) -> String {
        let raw = format!("{}_{}", self.repository, self.tag);
        let mut stem: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if let Some(d) = &self.digest {
            // Two tags of one repository differ, but sanitising can make names collide.
            stem.push('_');
            stem.push_str(d.rsplit(':').next().unwrap_or(d).get(..12).unwrap_or(""));
        }
        stem
    }
}

/// What `summary.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: u32,
    pub registry: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<Shard>,
    pub generated_at: String,
    pub images: Vec<ImageSummary>,
}

impl Summary {
    pub fn new(registry: &str, shard: Option<Shard>, mut images: Vec<ImageSummary>) -> Summary {
        sort(&mut images);
        Summary {
            schema: SUMMARY_SCHEMA,
            registry: registry.to_string(),
            shards: shard.into_iter().collect(),
            generated_at: jiff::Timestamp::now().to_string(),
            images,
        }
    }

    /// 2 when any image could not be scanned, else 1 when any failed the gate, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.images.iter().any(|i| i.verdict == AuditVerdict::Error) {
            2
        } else if self.images.iter().any(|i| i.verdict == AuditVerdict::Fail) {
            1
        } else {
            0
        }
    }

    fn count(&self, verdict: AuditVerdict) -> usize {
        self.images.iter().filter(|i| i.verdict == verdict).count()
    }

    pub fn headline(&self) -> String {
        format!(
            "{}: {} pass, {} fail, {} could not be scanned",
            crate::units::plural(self.images.len(), "image"),
            self.count(AuditVerdict::Pass),
            self.count(AuditVerdict::Fail),
            self.count(AuditVerdict::Error)
        )
    }

    /// The table printed at the end of an audit.
    pub fn table(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        t.set_header(["Image", "Verdict", "Crit", "High", "Med", "Low", "Top finding"]);
        for i in &self.images {
            let top = match (&i.error, i.top_findings.first()) {
                (Some(e), _) => e.clone(),
                (None, Some(f)) => format!("{} {}", f.rule, f.title),
                (None, None) => String::new(),
            };
            // Repository and tag names come from the registry, titles from the images: escaped.
            use crate::report::escape::esc;
            t.add_row([
                esc(&i.image),
                verdict_word(i.verdict).to_string(),
                i.counts.critical.to_string(),
                i.counts.high.to_string(),
                i.counts.medium.to_string(),
                i.counts.low.to_string(),
                esc(&truncate(&top, 80)),
            ]);
        }
        format!("{t}\n{}\n", self.headline())
    }

    /// `summary.md`: the same table for a CI summary page or an issue.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let shards = if self.shards.is_empty() {
            String::new()
        } else {
            let s: Vec<String> = self.shards.iter().map(Shard::to_string).collect();
            format!(" (shards {})", s.join(", "))
        };
        let _ = writeln!(out, "# imagegate audit of {}{shards}\n", self.registry);
        let _ = writeln!(out, "{} — {}\n", self.headline(), self.generated_at);
        let _ = writeln!(
            out,
            "| Image | Digest | Verdict | Critical | High | Medium | Low | Top findings |"
        );
        let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|---|");
        for i in &self.images {
            let top = match &i.error {
                Some(e) => e.clone(),
                None => i
                    .top_findings
                    .iter()
                    .map(|f| format!("{} {}", f.rule, f.title))
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            let digest = i.digest.as_deref().map(short_digest).unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} | {} | {} | {} |",
                i.image,
                digest,
                verdict_word(i.verdict),
                i.counts.critical,
                i.counts.high,
                i.counts.medium,
                i.counts.low,
                md_cell(&truncate(&top, 200))
            );
        }
        out
    }
}

/// The summary rows of one scanned target: `row` (the scanned repository's), and a copy for
/// each other repository that holds the same digest, under its own name and tags. The copies
/// point at the same per-image reports: it is the same image.
pub fn rows_for(target: &Target, row: ImageSummary) -> Vec<ImageSummary> {
    let mut rows = Vec::with_capacity(1 + target.also.len());
    for (repo, tags) in &target.also {
        let tag = tags.first().cloned().unwrap_or_default();
        rows.push(ImageSummary {
            image: format!("{}/{repo}:{tag}", target.registry),
            repository: repo.clone(),
            tag,
            tags: tags.clone(),
            ..row.clone()
        });
    }
    rows.insert(0, row);
    rows
}

/// Merges shard summaries: every image once (by digest and repository), sorted.
pub fn merge(parts: Vec<Summary>) -> Summary {
    let registry = parts.first().map(|p| p.registry.clone()).unwrap_or_default();
    let mut shards: Vec<Shard> = parts.iter().flat_map(|p| p.shards.iter().copied()).collect();
    shards.sort_by_key(|s| (s.count, s.index));
    shards.dedup();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let mut images = Vec::new();
    for image in parts.into_iter().flat_map(|p| p.images) {
        // Shards agree on a digest's bucket, so a digest's rows all come from one shard; one
        // row per repository that holds it.
        let key = match &image.digest {
            Some(d) => format!("{d} {}", image.repository),
            None => image.image.clone(),
        };
        if seen.insert(key, ()).is_none() {
            images.push(image);
        }
    }
    let mut merged = Summary::new(&registry, None, images);
    merged.shards = shards;
    merged
}

fn sort(images: &mut [ImageSummary]) {
    images.sort_by(|a, b| (&a.repository, &a.tag, &a.image).cmp(&(&b.repository, &b.tag, &b.image)));
}

fn verdict_word(v: AuditVerdict) -> &'static str {
    match v {
        AuditVerdict::Pass => "pass",
        AuditVerdict::Fail => "FAIL",
        AuditVerdict::Error => "ERROR",
    }
}

fn short_digest(d: &str) -> String {
    let (alg, hex) = d.split_once(':').unwrap_or(("", d));
    format!("{alg}:{}", hex.get(..12).unwrap_or(hex))
}

fn truncate(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::sha256_of(&[n])
    }

    #[test]
    fn shards_split_every_digest_exactly_once() {
        let shards: Vec<Shard> = (1..=3).map(|k| Shard::parse(&format!("{k}/3")).unwrap()).collect();
        for n in 0..200u8 {
            let d = digest(n);
            assert_eq!(shards.iter().filter(|s| s.holds(&d)).count(), 1, "{d}");
        }
        // Not all in one bucket.
        assert!(shards.iter().all(|s| (0..200u8).any(|n| s.holds(&digest(n)))));
        for bad in ["0/2", "3/2", "1", "a/b", "1/0", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn latest_picks_highest_semver_and_globs_do_not_cross_slashes() {
        let s = Selection::new(&["team/*".into()], &[], Some(2)).unwrap();
        let tags = ["1.2.0", "v1.10.0", "latest", "1.9.3", "1.10.0-rc.1"]
            .map(String::from)
            .to_vec();
        assert_eq!(s.pick_tags(tags), ["v1.10.0", "1.10.0-rc.1"]);
        assert!(s.wants_repo("team/app"));
        assert!(!s.wants_repo("team/app/worker"));
        assert!(!s.wants_repo("other/app"));
        let t = Selection::new(&[], &["v*".into(), "release-?".into()], None).unwrap();
        assert_eq!(
            t.pick_tags(["v1", "release-1", "release-10", "dev"].map(String::from).to_vec()),
            ["release-1", "v1"]
        );
        assert!(Selection::new(&["[".into()], &[], None).is_err());
    }

    #[test]
    fn merge_keeps_each_digest_once_and_exit_code_is_the_worst() {
        let row = |name: &str, d: u8, verdict| ImageSummary {
            digest: Some(digest(d).to_string()),
            verdict,
            ..ImageSummary::error(name.into(), name, "v1", String::new())
        };
        let a = Summary::new("r", Shard::parse("1/2").ok(), vec![row("b", 1, AuditVerdict::Pass)]);
        let b = Summary::new(
            "r",
            Shard::parse("2/2").ok(),
            vec![row("a", 2, AuditVerdict::Fail), row("b", 1, AuditVerdict::Pass)],
        );
        let m = merge(vec![a, b]);
        assert_eq!(
            m.images.iter().map(|i| i.image.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(m.shards.len(), 2);
        assert_eq!(m.exit_code(), 1);
        let with_error = Summary::new(
            "r",
            None,
            vec![row("c", 3, AuditVerdict::Error), row("a", 2, AuditVerdict::Fail)],
        );
        assert_eq!(with_error.exit_code(), 2);
        assert!(with_error.markdown().contains("| `a` |"));
    }
}
