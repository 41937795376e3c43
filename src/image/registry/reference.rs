//! Image references as Docker spells them: `alpine`, `team/app:1.2`, `host:5000/app@sha256:…`.

use super::RegistryError;
use crate::digest::Digest;
use std::fmt;

/// Docker Hub, as references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// `library/alpine`, `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, RegistryError> {
        let invalid = |why: &str| RegistryError::InvalidReference {
            reference: text.to_string(),
            why: why.to_string(),
        };
        if text.is_empty() || text.len() > 4096 {
            return Err(invalid("empty or too long"));
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|e| invalid(&e.to_string()))?)),
            None => (text, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a registry port.
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].find(':') {
            Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
            None => (name_tag, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid(
                "a tag is 1–128 letters, digits, `_`, `.` or `-`, not starting with `.` or `-`",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            // The first component is a registry when it looks like a host.
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        if !valid_host(&registry) {
            return Err(invalid("the registry is not a valid HOST[:PORT]"));
        }
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(invalid(
                "a repository is lowercase letters and digits, separated by `/`, `.`, `_`, `__` or `-`",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag: match (tag, &digest) {
                (Some(t), _) => Some(t.to_string()),
                (None, Some(_)) => None,
                (None, None) => Some("latest".to_string()),
            },
            digest,
        })
    }

    /// `registry/repository:tag`, for the audit's listing.
    pub fn repository_ref(registry: &str, repository: &str, tag: &str) -> Reference {
        Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }

    /// What to ask the manifest endpoint for: the digest when there is one.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host the API lives on.
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }
}

pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        // `[::1]:5000`
        Some((n, p)) if !n.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) && !p.is_empty() => (n, Some(p)),
        _ => (host, None),
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return false;
    }
    if name.starts_with('[') && name.ends_with(']') {
        return name[1..name.len() - 1].parse::<std::net::Ipv6Addr>().is_ok();
    }
    !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
}

/// The distribution spec's repository grammar: components of `[a-z0-9]+` joined by `.`, `_`,
/// `__` or any run of `-`, separated by `/`.
fn valid_repository(repo: &str) -> bool {
    repo.len() <= 255
        && repo.split('/').all(|component| {
            let b = component.as_bytes();
            if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
                return false;
            }
            if b.iter()
                .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c)))
            {
                return false;
            }
            // Separators: one `.`, one or two `_`, or dashes; never mixed.
            let mut i = 0;
            while i < b.len() {
                if b[i].is_ascii_alphanumeric() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                let sep = &component[start..i];
                let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
                if !ok {
                    return false;
                }
            }
            true
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_like_docker() {
        let d = format!("sha256:{}", "a".repeat(64));
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("alpine", "docker.io", "library/alpine", Some("latest")),
            ("alpine:3.20", "docker.io", "library/alpine", Some("3.20")),
            ("team/app", "docker.io", "team/app", Some("latest")),
            (
                "index.docker.io/library/node:20-alpine",
                "docker.io",
                "library/node",
                Some("20-alpine"),
            ),
            ("ghcr.io/org/app/worker:v1.2", "ghcr.io", "org/app/worker", Some("v1.2")),
            ("localhost/app", "localhost", "app", Some("latest")),
            ("127.0.0.1:5000/app:dev", "127.0.0.1:5000", "app", Some("dev")),
            ("[::1]:5000/a_b__c-d--e.f:x", "[::1]:5000", "a_b__c-d--e.f", Some("x")),
        ];
        for (text, registry, repo, tag) in cases {
            let r = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(
                (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
                (*registry, *repo, *tag),
                "{text}"
            );
        }
        let r = Reference::parse(&format!("127.0.0.1:5000/app@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_ref(), d);
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/app@{d}"));
        let r = Reference::parse(&format!("app:v1@{d}")).unwrap();
        assert_eq!(r.manifest_ref(), d, "a digest wins over a tag");
        assert_eq!(Reference::parse("alpine").unwrap().api_host(), "registry-1.docker.io");
        for bad in [
            "",
            "UPPER/case",
            "app:",
            "app:-x",
            "a//b",
            "a/b/",
            "app@sha256:zz",
            "host:99999/app",
            "a..b",
            "a._b",
            "-a",
            "Not An Image!",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
