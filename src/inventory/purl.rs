//! Package URLs (<https://github.com/package-url/purl-spec>): the one place an inventory's
//! packages are spelled as purls (SBOMs out) and purls are read back (SBOMs in, VEX products).
//!
//! `pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3&upstream=busybox`,
//! `pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl%403.0.15-1~deb12u1`,
//! `pkg:npm/%40scope/name@1.0.0`. The `upstream` qualifier (the source package, as Syft
//! writes it) is what advisories are matched through, so an SBOM read back matches the same.

use super::gobin::GoPackage;
use super::os::OsInfo;
use super::rustbin::RustPackage;
use super::{ApkPackage, DebPackage, NpmPackage, PackageKind};
use std::collections::BTreeMap;

/// A parsed purl. Components are percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
}

impl Purl {
    /// The inventory's kind for this purl's type, when it reads that kind.
    pub fn kind(&self) -> Option<PackageKind> {
        match self.ty.as_str() {
            "apk" => Some(PackageKind::Apk),
            "deb" => Some(PackageKind::Deb),
            "npm" => Some(PackageKind::Npm),
            "golang" => Some(PackageKind::Go),
            "cargo" => Some(PackageKind::Cargo),
            // The Node.js runtime as Syft names it (and imagegate's SBOMs do).
            "generic" if self.name == "node" && self.namespace.is_none() => Some(PackageKind::NodeRuntime),
            _ => None,
        }
    }

    /// The full name: `@scope/name` for a scoped npm package, the module path for a Go
    /// module (`github.com/evanw/esbuild`), else the name.
    pub fn full_name(&self) -> String {
        match (&self.namespace, self.ty.as_str()) {
            (Some(ns), "npm" | "golang") => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// Whether `other` names the same package (type, namespace, name and, when this purl
    /// gives one, version). Qualifiers are ignored: VEX authors rarely repeat them.
    pub fn matches(&self, other: &Purl) -> bool {
        self.ty == other.ty
            && self.namespace.as_deref().map(str::to_ascii_lowercase)
                == other.namespace.as_deref().map(str::to_ascii_lowercase)
            && self.name == other.name
            && self.version.as_ref().is_none_or(|v| Some(v) == other.version.as_ref())
    }
}

impl std::fmt::Display for Purl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/') {
                write!(f, "{}/", encode(seg))?;
            }
        }
        f.write_str(&encode(&self.name))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", encode(v))?;
        }
        let mut sep = '?';
        for (k, v) in &self.qualifiers {
            if v.is_empty() {
                continue;
            }
            write!(f, "{sep}{k}={}", encode(v))?;
            sep = '&';
        }
        Ok(())
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Parses a purl; `None` when it is not one.
pub fn parse(text: &str) -> Option<Purl> {
    let rest = text.strip_prefix("pkg:")?.trim_start_matches('/');
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, qualifiers) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let mut quals = BTreeMap::new();
    for pair in qualifiers.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=')?;
        quals.insert(k.to_ascii_lowercase(), decode(v)?);
    }
    let (ty, path) = rest.split_once('/')?;
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(decode(v)?)),
        None => (path, None),
    };
    let path = path.trim_end_matches('/');
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, n)) => {
            let ns: Option<Vec<String>> = ns.split('/').map(decode).collect();
            (Some(ns?.join("/")), decode(n)?)
        }
        None => (None, decode(path)?),
    };
    if ty.is_empty() || name.is_empty() {
        return None;
    }
    Some(Purl {
        ty: ty.to_ascii_lowercase(),
        namespace,
        name,
        version,
        qualifiers: quals,
    })
}

/// `alpine-3.20.3`, `debian-12`: the `distro` qualifier.
fn distro(os: Option<&OsInfo>) -> Option<String> {
    let os = os?;
    Some(match &os.version {
        Some(v) => format!("{}-{v}", os.id),
        None => os.id.clone(),
    })
}

pub fn apk(p: &ApkPackage, os: Option<&OsInfo>) -> Purl {
    let r = &p.record;
    let mut qualifiers = BTreeMap::new();
    if let Some(a) = r.arch() {
        qualifiers.insert("arch".into(), a.to_string());
    }
    if let Some(d) = distro(os) {
        qualifiers.insert("distro".into(), d);
    }
    if let Some(o) = r.origin() {
        qualifiers.insert("upstream".into(), o.to_string());
    }
    Purl {
        ty: "apk".into(),
        namespace: Some(os.map_or("alpine", |o| o.id.as_str()).to_string()),
        name: r.name().to_string(),
        version: Some(r.version().to_string()),
        qualifiers,
    }
}

pub fn deb(p: &DebPackage, os: Option<&OsInfo>) -> Purl {
    let r = &p.record;
    let mut qualifiers = BTreeMap::new();
    if let Some(a) = r.arch() {
        qualifiers.insert("arch".into(), a.to_string());
    }
    if let Some(d) = distro(os) {
        qualifiers.insert("distro".into(), d);
    }
    if let Some(s) = r.source() {
        let upstream = match r.stated_source_version() {
            Some(v) => format!("{s}@{v}"),
            None => s.to_string(),
        };
        qualifiers.insert("upstream".into(), upstream);
    }
    Purl {
        ty: "deb".into(),
        namespace: Some(os.map_or("debian", |o| o.id.as_str()).to_string()),
        name: r.name().to_string(),
        version: Some(r.version().to_string()),
        qualifiers,
    }
}

pub fn npm(p: &NpmPackage) -> Purl {
    let (namespace, name) = match p.name.split_once('/') {
        Some((scope, name)) if p.name.starts_with('@') => (Some(scope.to_string()), name.to_string()),
        _ => (None, p.name.clone()),
    };
    Purl {
        ty: "npm".into(),
        namespace,
        name,
        version: Some(p.version.clone()),
        qualifiers: BTreeMap::new(),
    }
}

/// `pkg:golang/github.com/evanw/esbuild@v0.24.0`: the module path split into namespace and
/// name as the purl spec's golang type (and Syft, Trivy) do; the toolchain as
/// `pkg:golang/stdlib@1.19.8`, Syft's spelling (the version as OSV's Go records give it).
pub fn go(p: &GoPackage) -> Purl {
    let (namespace, name) = match p.name.rsplit_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, p.name.clone()),
    };
    Purl {
        ty: "golang".into(),
        namespace,
        name,
        version: Some(p.version.clone()),
        qualifiers: BTreeMap::new(),
    }
}

/// `pkg:cargo/smallvec@1.6.0`.
pub fn cargo(p: &RustPackage) -> Purl {
    Purl {
        ty: "cargo".into(),
        namespace: None,
        name: p.name.clone(),
        version: Some(p.version.clone()),
        qualifiers: BTreeMap::new(),
    }
}

/// The toolchain version a `pkg:golang/stdlib` purl states, as OSV's Go records spell it:
/// Syft writes `1.19.8`, Trivy `v1.19.8` (older Trivy `1.19.8`), Go itself `go1.19.8`.
pub fn stdlib_version(version: &str) -> Option<String> {
    let v = version.trim();
    let v = v.strip_prefix("go").or_else(|| v.strip_prefix('v')).unwrap_or(v);
    super::gobin::stdlib_version(&format!("go{v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_encodes() {
        let p = parse("pkg:npm/%40babel/core@7.0.0").unwrap();
        assert_eq!(
            (p.full_name(), p.version.as_deref()),
            ("@babel/core".into(), Some("7.0.0"))
        );
        assert_eq!(p.to_string(), "pkg:npm/%40babel/core@7.0.0");
        let d = parse("pkg:deb/debian/libssl3@1%3A3.0.15-1~deb12u1?arch=amd64&upstream=openssl%403.0.15").unwrap();
        assert_eq!(d.version.as_deref(), Some("1:3.0.15-1~deb12u1"));
        assert_eq!(d.qualifiers["upstream"], "openssl@3.0.15");
        assert_eq!(
            d.to_string(),
            "pkg:deb/debian/libssl3@1%3A3.0.15-1~deb12u1?arch=amd64&upstream=openssl%403.0.15"
        );
        assert!(parse("npm/lodash@1").is_none());
        assert!(parse("pkg:npm/lodash@%zz").is_none());
        assert!(parse("pkg:npm/%40babel/core").unwrap().matches(&p));
        assert!(!parse("pkg:npm/%40babel/core@7.0.1").unwrap().matches(&p));
    }

    #[test]
    fn go_module_paths_split_at_their_last_slash_and_stdlib_versions_normalise() {
        let p = parse("pkg:golang/github.com/evanw/esbuild@v0.24.0").unwrap();
        assert_eq!(p.kind(), Some(PackageKind::Go));
        assert_eq!(
            (p.full_name(), p.version.as_deref()),
            ("github.com/evanw/esbuild".into(), Some("v0.24.0"))
        );
        assert_eq!(p.to_string(), "pkg:golang/github.com/evanw/esbuild@v0.24.0");
        let std = parse("pkg:golang/stdlib@1.19.8").unwrap();
        assert_eq!((std.full_name(), std.namespace), ("stdlib".into(), None));
        for v in ["1.19.8", "v1.19.8", "go1.19.8"] {
            assert_eq!(stdlib_version(v).as_deref(), Some("1.19.8"), "{v}");
        }
        assert_eq!(stdlib_version("v1.21").as_deref(), Some("1.21.0"));
        assert_eq!(stdlib_version("devel").as_deref(), None);
        assert_eq!(
            parse("pkg:cargo/smallvec@1.6.0").unwrap().kind(),
            Some(PackageKind::Cargo)
        );
    }
}
