//! What the user typed as IMAGE, parsed into where to read the image from.

use super::engine::Engine;
use super::registry::Reference;
use crate::digest::Digest;
use std::fmt;
use std::path::{Path, PathBuf};

/// Picks one image out of a layout or archive that holds several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `org.opencontainers.image.ref.name` in an OCI layout, or a `RepoTags` entry of a
    /// `docker save` archive (`app:dev`, `docker.io/library/app:dev` or just `dev`).
    Tag(String),
    Digest(Digest),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageSource {
    /// A `docker save` tarball (classic or Docker 25+ layout), possibly gzip-compressed.
    DockerArchive { path: PathBuf, select: Option<Selector> },
    /// An OCI image layout directory.
    OciDir { dir: PathBuf, select: Option<Selector> },
    /// An OCI image layout packed in a tar.
    OciArchive { path: PathBuf, select: Option<Selector> },
    /// A `docker save` stream on standard input.
    Stdin,
    /// An image in a registry (`alpine`, `ghcr.io/org/app:1.2`, `host:5000/app@sha256:…`).
    Registry(Reference),
    /// An image in the local Docker or Podman engine (`docker:app:dev`).
    Engine { engine: Engine, name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("image `{0}`: no such file or directory")]
    Missing(String),
    #[error(
        "image `{0}`: not a file, a directory or a registry reference; give docker-archive:PATH, oci:DIR[:TAG|@DIGEST], oci-archive:PATH, docker:NAME, podman:NAME, -, or REGISTRY/REPO[:TAG|@DIGEST]"
    )]
    Unknown(String),
    #[error("image `{0}`: {1}")]
    Invalid(String, String),
}

impl ImageSource {
    pub fn parse(reference: &str) -> Result<ImageSource, SourceError> {
        ImageSource::parse_in(reference, None)
    }

    /// Parses IMAGE with relative paths taken from `base` instead of the working directory
    /// (the pre-push hook reads image paths relative to the repository root).
    pub fn parse_in(reference: &str, base: Option<&Path>) -> Result<ImageSource, SourceError> {
        let at = |p: &str| -> PathBuf {
            match base {
                Some(b) if Path::new(p).is_relative() => b.join(p),
                _ => PathBuf::from(p),
            }
        };
        if reference == "-" {
            return Ok(ImageSource::Stdin);
        }
        if let Some(rest) = reference.strip_prefix("docker-archive:") {
            let (path, select) = split_selector(reference, rest, &at)?;
            return Ok(ImageSource::DockerArchive { path, select });
        }
        for (prefix, engine) in [("docker:", Engine::Docker), ("podman:", Engine::Podman)] {
            // `docker://REF` is a registry reference, not the engine.
            if let Some(name) = reference.strip_prefix(prefix)
                && !name.starts_with("//")
            {
                if name.is_empty() {
                    return Err(SourceError::Invalid(reference.into(), "no image name given".into()));
                }
                return Ok(ImageSource::Engine {
                    engine,
                    name: name.to_string(),
                });
            }
        }
        if let Some(rest) = reference.strip_prefix("oci-archive:") {
            let (path, select) = split_selector(reference, rest, &at)?;
            return Ok(ImageSource::OciArchive { path, select });
        }
        if let Some(rest) = reference.strip_prefix("oci:") {
            let (dir, select) = split_selector(reference, rest, &at)?;
            return Ok(ImageSource::OciDir { dir, select });
        }
        let path = at(reference);
        if path.is_dir() {
            return Ok(ImageSource::OciDir {
                dir: path.to_path_buf(),
                select: None,
            });
        }
        if path.is_file() {
            // A tar: what is inside (manifest.json or index.json) decides the layout later.
            return Ok(ImageSource::DockerArchive {
                path: path.to_path_buf(),
                select: None,
            });
        }
        if let Some(rest) = reference
            .strip_prefix("registry:")
            .or(reference.strip_prefix("docker://"))
        {
            return Reference::parse(rest)
                .map(ImageSource::Registry)
                .map_err(|e| SourceError::Invalid(reference.into(), e.to_string()));
        }
        // `app.tar` or `./out/app` is a file the user expected to exist, not a registry image
        // to look for on Docker Hub.
        if looks_like_path(reference) {
            return Err(SourceError::Missing(reference.to_string()));
        }
        Reference::parse(reference)
            .map(ImageSource::Registry)
            .map_err(|_| SourceError::Unknown(reference.to_string()))
    }
}

fn looks_like_path(reference: &str) -> bool {
    let lower = reference.to_ascii_lowercase();
    reference.starts_with(['/', '.', '~'])
        || [".tar", ".tar.gz", ".tgz", ".tar.zst", ".json"]
            .iter()
            .any(|ext| lower.ends_with(ext))
}

/// Splits `PATH[:TAG|@DIGEST]`. Paths may contain `:` and tags may too (`app:dev`), so the
/// longest prefix that exists on disk is the path.
fn split_selector(
    reference: &str,
    rest: &str,
    at: &dyn Fn(&str) -> PathBuf,
) -> Result<(PathBuf, Option<Selector>), SourceError> {
    if rest.is_empty() {
        return Err(SourceError::Invalid(reference.into(), "no path given".into()));
    }
    if at(rest).exists() {
        return Ok((at(rest), None));
    }
    for (i, c) in rest.char_indices().rev() {
        if c != ':' && c != '@' {
            continue;
        }
        let (path, sel) = (&rest[..i], &rest[i + 1..]);
        if !at(path).exists() {
            continue;
        }
        if sel.is_empty() {
            return Err(SourceError::Invalid(
                reference.into(),
                "empty tag or digest after the path".into(),
            ));
        }
        let select = if c == '@' {
            Selector::Digest(Digest::parse(sel).map_err(|e| SourceError::Invalid(reference.into(), e.to_string()))?)
        } else {
            Selector::Tag(sel.to_string())
        };
        return Ok((at(path), Some(select)));
    }
    Err(SourceError::Missing(reference.to_string()))
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Tag(t) => write!(f, "tag {t}"),
            Selector::Digest(d) => write!(f, "digest {d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixes_and_selectors() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        assert_eq!(ImageSource::parse("-").unwrap(), ImageSource::Stdin);
        assert_eq!(
            ImageSource::parse(&format!("oci:{d}:v1")).unwrap(),
            ImageSource::OciDir {
                dir: d.into(),
                select: Some(Selector::Tag("v1".into()))
            }
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            ImageSource::parse(&format!("oci:{d}@{digest}")).unwrap(),
            ImageSource::OciDir {
                dir: d.into(),
                select: Some(Selector::Digest(Digest::parse(&digest).unwrap()))
            }
        );
        assert_eq!(
            ImageSource::parse(&format!("docker-archive:{d}:app:dev")).unwrap(),
            ImageSource::DockerArchive {
                path: d.into(),
                select: Some(Selector::Tag("app:dev".into()))
            }
        );
        assert_eq!(
            ImageSource::parse(d).unwrap(),
            ImageSource::OciDir {
                dir: d.into(),
                select: None
            }
        );
        assert!(matches!(
            ImageSource::parse("/no/such/thing"),
            Err(SourceError::Missing(_))
        ));
        assert!(matches!(ImageSource::parse("app.tar"), Err(SourceError::Missing(_))));
        assert!(matches!(
            ImageSource::parse("Not An Image!"),
            Err(SourceError::Unknown(_))
        ));
        let Ok(ImageSource::Registry(r)) = ImageSource::parse("127.0.0.1:5000/team/app:v1") else {
            panic!("a registry reference");
        };
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("v1"))
        );
        let Ok(ImageSource::Registry(r)) = ImageSource::parse("alpine") else {
            panic!("docker.io shorthand");
        };
        assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
        assert!(matches!(
            ImageSource::parse("oci:/no/such:tag"),
            Err(SourceError::Missing(_))
        ));
        assert!(ImageSource::parse(&format!("oci:{d}@sha256:zz")).is_err());
        assert_eq!(
            ImageSource::parse("docker:app:dev").unwrap(),
            ImageSource::Engine {
                engine: Engine::Docker,
                name: "app:dev".into()
            }
        );
        assert!(matches!(
            ImageSource::parse("podman:localhost/app"),
            Ok(ImageSource::Engine {
                engine: Engine::Podman,
                ..
            })
        ));
        assert!(matches!(
            ImageSource::parse("docker://alpine:3.20"),
            Ok(ImageSource::Registry(_))
        ));
        assert!(ImageSource::parse("docker:").is_err());
    }
}
