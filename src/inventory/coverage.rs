//! Coverage: every package source the image holds, and whether it is read. The gate never
//! passes what it did not see, so a source imagegate recognises but does not read (an rpm
//! database, Python's `site-packages`, a Java archive, …) is listed by name and path, and
//! the policy's `[coverage]` section decides how it gates.
//!
//! Recognition looks at the paths of the final filesystem only (after whiteouts), which the
//! inventory lists anyway: it reads no extra bytes, so it costs the layer walk nothing.
//! Sources whose packages the inventory reads (apk, dpkg, npm) are listed with their counts;
//! the advisory scan then says whether each was matched (`checked`) or not (`not_checked`,
//! the database holding no records for its ecosystem).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A kind of package source an image can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Apk,
    Dpkg,
    Npm,
    Rpm,
    Python,
    Java,
    Ruby,
    Php,
    YarnPnp,
    NodeRuntime,
    /// The operating system itself, when its release cannot be identified.
    Os,
    /// The image's own facts (user, health check, size, layers, files), which an SBOM read
    /// with `scan sbom:FILE` does not carry: the checks on them are not run.
    ImageFacts,
    /// Packages of an ecosystem imagegate does not match (an SBOM's `pkg:pypi/…`, `pkg:maven/…`, …).
    Other,
    /// Go binaries (ELF with Go build info), anywhere in the image.
    Go,
    /// Rust binaries with cargo-auditable data (`.dep-v0`).
    Rust,
}

impl Source {
    pub const ALL: [Source; 15] = [
        Source::Apk,
        Source::Dpkg,
        Source::Npm,
        Source::Rpm,
        Source::Python,
        Source::Java,
        Source::Ruby,
        Source::Php,
        Source::YarnPnp,
        Source::NodeRuntime,
        Source::Os,
        Source::ImageFacts,
        Source::Other,
        Source::Go,
        Source::Rust,
    ];

    /// As policies and reports name it: `apk`, `yarn-pnp`, `node-runtime`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Apk => "apk",
            Source::Dpkg => "dpkg",
            Source::Npm => "npm",
            Source::Rpm => "rpm",
            Source::Python => "python",
            Source::Java => "java",
            Source::Ruby => "ruby",
            Source::Php => "php",
            Source::YarnPnp => "yarn-pnp",
            Source::NodeRuntime => "node-runtime",
            Source::Os => "os",
            Source::ImageFacts => "image-facts",
            Source::Other => "other",
            Source::Go => "go",
            Source::Rust => "rust",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Why a recognised source is not read (for the ones imagegate does not support yet).
    fn unsupported_reason(self) -> &'static str {
        match self {
            Source::Rpm => "rpm databases are recognised but not read: their packages were not listed",
            Source::Python => "Python packages (dist-info, egg-info) are recognised but not read",
            Source::Java => "Java archives are recognised but not read (their bundled libraries were not listed)",
            Source::Ruby => "Ruby gems are recognised but not read",
            Source::Php => "Composer packages are recognised but not read",
            Source::YarnPnp => {
                "a Yarn Plug'n'Play install (packages inside .yarn/cache zips) is recognised but not read"
            }
            Source::NodeRuntime => {
                "the Node.js runtime installed outside the OS package manager is recognised but not checked against Node.js's own advisories"
            }
            Source::Os => "the image's OS release could not be identified (no etc/os-release)",
            Source::ImageFacts => {
                "the SBOM carries no image facts: user, health check, size, layers and files were NOT checked"
            }
            Source::Other => "packages of an ecosystem imagegate does not match",
            Source::Apk | Source::Dpkg | Source::Npm | Source::Go | Source::Rust => "",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a source was looked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read by the inventory; the advisory scan has not run (the `inventory` command).
    Read,
    /// Read, and matched against an ecosystem the advisory source has records for.
    Checked,
    /// Recognised but not read, or read but with no advisory data to match against.
    NotChecked,
}

/// One package source of an image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub source: Source,
    pub status: Status,
    /// Packages listed from it (0 for a source that is not read).
    pub packages: usize,
    /// The advisory ecosystem it was (or would be) matched against: `Alpine:v3.20`, `npm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where it is in the image (at most [`MAX_PATHS`]; `more_paths` counts the rest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more_paths: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Paths listed per source; a `node_modules` with 4,000 jars is not a report.
pub const MAX_PATHS: usize = 10;

impl Coverage {
    pub fn read(source: Source, packages: usize, paths: Vec<String>) -> Coverage {
        Coverage {
            source,
            status: Status::Read,
            packages,
            ecosystem: None,
            reason: None,
            paths,
            more_paths: 0,
        }
    }

    /// The entries for binaries a source reads (Go build info, cargo-auditable data): one
    /// `read` entry for the binaries read, one `not_checked` entry (with `reason`) for those
    /// that could not be; paths capped at [`MAX_PATHS`] as everywhere.
    pub fn of_binaries(
        source: Source,
        packages: usize,
        read: &[String],
        unreadable: Vec<String>,
        reason: &str,
    ) -> Vec<Coverage> {
        let capped = |mut paths: Vec<String>| {
            let more = paths.len().saturating_sub(MAX_PATHS);
            paths.truncate(MAX_PATHS);
            (paths, more)
        };
        let mut out = Vec::new();
        if !read.is_empty() {
            let (paths, more_paths) = capped(read.to_vec());
            out.push(Coverage {
                more_paths,
                ..Coverage::read(source, packages, paths)
            });
        }
        if !unreadable.is_empty() {
            let (paths, more_paths) = capped(unreadable);
            out.push(Coverage {
                source,
                status: Status::NotChecked,
                packages: 0,
                ecosystem: None,
                reason: Some(reason.to_string()),
                paths,
                more_paths,
            });
        }
        out
    }

    fn unsupported(source: Source, paths: BTreeSet<String>) -> Coverage {
        let more_paths = paths.len().saturating_sub(MAX_PATHS);
        Coverage {
            source,
            status: Status::NotChecked,
            packages: 0,
            ecosystem: None,
            reason: Some(source.unsupported_reason().to_string()),
            paths: paths.into_iter().take(MAX_PATHS).collect(),
            more_paths,
        }
    }

    /// `checked: 16 apk (Alpine:v3.20)` / `rpm (var/lib/rpm/rpmdb.sqlite)`: for one-line
    /// summaries.
    pub fn short(&self) -> String {
        match (self.status, &self.ecosystem) {
            (Status::NotChecked, _) if self.packages == 0 => match self.paths.first() {
                Some(p) if self.paths.len() + self.more_paths > 1 => {
                    format!(
                        "{} ({p} and {} more)",
                        self.source,
                        self.paths.len() + self.more_paths - 1
                    )
                }
                Some(p) => format!("{} ({p})", self.source),
                None => self.source.to_string(),
            },
            (_, Some(e)) => format!("{} {} ({e})", self.packages, self.source),
            (_, None) => format!("{} {}", self.packages, self.source),
        }
    }
}

/// The sources imagegate recognises but does not read, from the final filesystem's paths.
/// `os_known`: whether the OS release was identified; `node_version_env`: the config's
/// `NODE_VERSION`, which official Node.js images set; `os_owns_node`: whether apk or dpkg
/// installed node (then the OS advisories cover it).
pub fn recognise<'a>(
    paths: impl Iterator<Item = &'a str>,
    os_known: bool,
    node_version_env: Option<&str>,
    os_owns_node: bool,
) -> Vec<Coverage> {
    let mut found: Vec<BTreeSet<String>> = vec![BTreeSet::new(); Source::ALL.len()];
    let mut add = |s: Source, p: String| {
        if let Some(set) = found.get_mut(s as usize) {
            set.insert(p);
        }
    };
    let mut any_file = false;
    for path in paths {
        any_file = true;
        if let Some(s) = classify(path) {
            let shown = match s {
                // One entry per package directory, not per file inside it.
                Source::Python => path
                    .find(".dist-info/")
                    .map(|i| &path[..i + ".dist-info".len()])
                    .or_else(|| path.find(".egg-info").map(|i| &path[..i + ".egg-info".len()]))
                    .unwrap_or(path),
                _ => path,
            };
            add(s, shown.to_string());
        }
    }
    if let Some(v) = node_version_env {
        add(Source::NodeRuntime, format!("config env NODE_VERSION={v}"));
    }
    if !os_known && any_file {
        add(Source::Os, "etc/os-release (missing)".to_string());
    }
    if os_owns_node {
        // apk's or dpkg's `nodejs`: the OS advisories cover it.
        found[Source::NodeRuntime as usize].clear();
    }
    Source::ALL
        .into_iter()
        .zip(found)
        .filter(|(_, paths)| !paths.is_empty())
        .map(|(s, paths)| Coverage::unsupported(s, paths))
        .collect()
}

/// The unsupported source a path belongs to, if any.
///
/// Asked of every file of an image: each rule looks at the file's name before it searches
/// the whole path.
fn classify(path: &str) -> Option<Source> {
    let name = memchr::memrchr(b'/', path.as_bytes()).map_or(path, |i| &path[i + 1..]);
    if matches!(
        path,
        "var/lib/rpm/Packages" | "var/lib/rpm/rpmdb.sqlite" | "var/lib/rpm/Packages.db"
    ) || path.starts_with("usr/lib/sysimage/rpm/") && matches!(name, "Packages" | "rpmdb.sqlite" | "Packages.db")
    {
        return Some(Source::Rpm);
    }
    // `METADATA` in a `.dist-info/`, `PKG-INFO` in an `.egg-info`, or an `.egg-info` file.
    let egg_file = path.ends_with(".egg-info");
    if (name == "METADATA" || name == "PKG-INFO" || egg_file)
        && (path.contains("/site-packages/") || path.contains("/dist-packages/"))
        && (name == "METADATA" && path.contains(".dist-info/")
            || path.contains(".egg-info") && (name == "PKG-INFO" || egg_file))
    {
        return Some(Source::Python);
    }
    let ends_with_ignore_case = |suffix: &str| {
        name.len() >= suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if ends_with_ignore_case(".jar") || ends_with_ignore_case(".war") || ends_with_ignore_case(".ear") {
        return Some(Source::Java);
    }
    if name.ends_with(".gemspec") && path.contains("/specifications/") {
        return Some(Source::Ruby);
    }
    if path.ends_with("vendor/composer/installed.json") {
        return Some(Source::Php);
    }
    if matches!(name, ".pnp.cjs" | ".pnp.js" | ".pnp.data.json")
        || name.ends_with(".zip") && path.contains(".yarn/cache/")
    {
        return Some(Source::YarnPnp);
    }
    if matches!(path, "usr/local/bin/node" | "usr/local/include/node/node_version.h") {
        return Some(Source::NodeRuntime);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(paths: &[&str], os_known: bool) -> Vec<(Source, Vec<String>)> {
        recognise(paths.iter().copied(), os_known, None, false)
            .into_iter()
            .map(|c| (c.source, c.paths))
            .collect()
    }

    #[test]
    fn classify_gives_what_the_plain_rules_give() {
        // The rules as first written, each a search of the whole path; `classify` looks at
        // the name first and must answer the same on every path.
        fn plain(path: &str) -> Option<Source> {
            let name = path.rsplit('/').next().unwrap_or(path);
            if matches!(
                path,
                "var/lib/rpm/Packages" | "var/lib/rpm/rpmdb.sqlite" | "var/lib/rpm/Packages.db"
            ) || path.starts_with("usr/lib/sysimage/rpm/")
                && matches!(name, "Packages" | "rpmdb.sqlite" | "Packages.db")
            {
                return Some(Source::Rpm);
            }
            let in_site = path.contains("/site-packages/") || path.contains("/dist-packages/");
            if in_site
                && (path.contains(".dist-info/") && name == "METADATA"
                    || path.contains(".egg-info") && (name == "PKG-INFO" || path.ends_with(".egg-info")))
            {
                return Some(Source::Python);
            }
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".jar") || lower.ends_with(".war") || lower.ends_with(".ear") {
                return Some(Source::Java);
            }
            if name.ends_with(".gemspec") && path.contains("/specifications/") {
                return Some(Source::Ruby);
            }
            if path.ends_with("vendor/composer/installed.json") {
                return Some(Source::Php);
            }
            if matches!(name, ".pnp.cjs" | ".pnp.js" | ".pnp.data.json")
                || path.contains(".yarn/cache/") && name.ends_with(".zip")
            {
                return Some(Source::YarnPnp);
            }
            if matches!(path, "usr/local/bin/node" | "usr/local/include/node/node_version.h") {
                return Some(Source::NodeRuntime);
            }
            None
        }
        let dirs = [
            "usr",
            "lib",
            "site-packages",
            "dist-packages",
            "a.dist-info",
            "b.egg-info",
            "vendor",
            "composer",
            ".yarn",
            "cache",
            "specifications",
            "sysimage",
            "rpm",
            "var",
            "local",
            "bin",
        ];
        let names = [
            "METADATA",
            "PKG-INFO",
            "x.egg-info",
            "c.egg-info.txt",
            "a.JAR",
            "b.war",
            "c.Ear",
            "ß.jAr",
            "jar",
            "x.jar.gz",
            "x.gemspec",
            "installed.json",
            ".pnp.cjs",
            ".pnp.data.json",
            "x.zip",
            "Packages",
            "rpmdb.sqlite",
            "node",
            "node_version.h",
            "",
        ];
        let mut paths: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        for a in dirs {
            for n in names {
                paths.push(format!("{a}/{n}"));
                for b in dirs {
                    paths.push(format!("{a}/{b}/{n}"));
                    for c in ["lib", "site-packages", "a.dist-info", "cache", "rpm"] {
                        paths.push(format!("{a}/{b}/{c}/{n}"));
                    }
                }
            }
        }
        paths.extend(
            [
                "var/lib/rpm/Packages",
                "usr/lib/sysimage/rpm/Packages.db",
                "usr/local/include/node/node_version.h",
            ]
            .map(String::from),
        );
        let mut seen = BTreeSet::new();
        for path in &paths {
            assert_eq!(classify(path), plain(path), "{path}");
            seen.extend(plain(path));
        }
        assert_eq!(seen.len(), 7, "every source among the paths: {seen:?}");
    }

    #[test]
    fn recognises_each_source_by_its_paths() {
        let found = sources(
            &[
                "var/lib/rpm/rpmdb.sqlite",
                "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
                "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD",
                "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
                "app/lib/log4j-core-2.14.1.jar",
                "usr/local/bundle/specifications/rack-3.0.8.gemspec",
                "app/vendor/composer/installed.json",
                "app/.pnp.cjs",
                "app/.yarn/cache/lodash-npm-4.17.20-abc.zip",
                "usr/local/bin/node",
                "app/node_modules/lodash/package.json",
            ],
            true,
        );
        let names: Vec<Source> = found.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            names,
            [
                Source::Rpm,
                Source::Python,
                Source::Java,
                Source::Ruby,
                Source::Php,
                Source::YarnPnp,
                Source::NodeRuntime
            ]
        );
        // One entry per Python package directory.
        assert_eq!(
            found[1].1,
            [
                "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info",
                "usr/lib/python3/dist-packages/six-1.16.0.egg-info"
            ]
        );
    }

    #[test]
    fn an_unknown_os_is_a_source_and_an_os_owned_node_is_not() {
        assert_eq!(
            sources(&["hello"], false),
            [(Source::Os, vec!["etc/os-release (missing)".into()])]
        );
        assert!(sources(&[], false).is_empty(), "an empty image has nothing to check");
        let node = recognise(["usr/local/bin/node"].into_iter(), true, Some("20.17.0"), false);
        assert_eq!(node[0].paths, ["config env NODE_VERSION=20.17.0", "usr/local/bin/node"]);
        assert!(recognise(["usr/local/bin/node"].into_iter(), true, Some("20.17.0"), true).is_empty());
    }

    #[test]
    fn paths_are_capped() {
        let jars: Vec<String> = (0..25).map(|i| format!("app/lib/{i:02}.jar")).collect();
        let c = recognise(jars.iter().map(String::as_str), true, None, false);
        assert_eq!((c[0].paths.len(), c[0].more_paths), (MAX_PATHS, 15));
        assert_eq!(c[0].short(), "java (app/lib/00.jar and 24 more)");
    }
}
