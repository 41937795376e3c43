//! Who we are to a registry: credentials (flags, `~/.docker/config.json`, credential helpers)
//! and the challenge a 401 answers with.

use super::RegistryError;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Credentials for one registry. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`docker login` to some registries stores one).
    IdentityToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// What `WWW-Authenticate` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses `Bearer realm="https://auth.example.com/token",service="registry",scope="…"` or
    /// `Basic realm="…"`. Unknown schemes are `None`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = auth_params(rest);
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `key="value", key2=value2` (values may be quoted and contain commas inside quotes).
fn auth_params(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    out
}

/// Where credentials come from, in order: the ones given for this registry (flags or
/// `IMAGEGATE_USERNAME`/`IMAGEGATE_PASSWORD`), then Docker's config file.
#[derive(Clone, Debug, Default)]
pub struct CredentialSource {
    pub explicit: Option<Credential>,
    /// `config.json`; `None`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
}

impl CredentialSource {
    /// The credential for `registry` (as references name it: `docker.io`, `host:5000`).
    /// A missing config or an entry for another registry is no credential, not an error; a
    /// helper that fails is an error (the user configured it, and anonymous would mislead).
    pub fn lookup(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        if let Some(c) = &self.explicit {
            return Ok(Some(c.clone()));
        }
        let Some(path) = self.docker_config.clone().or_else(default_docker_config) else {
            return Ok(None);
        };
        let Ok(file) = std::fs::File::open(&path) else {
            return Ok(None);
        };
        // Docker keys Docker Hub as its v1 index URL; the crate matches either spelling.
        let server = if registry == super::reference::DOCKER_HUB {
            "https://index.docker.io/v1/"
        } else {
            registry
        };
        use docker_credential::{CredentialRetrievalError as E, DockerCredential};
        match docker_credential::get_credential_from_reader(std::io::BufReader::new(file), server) {
            Ok(DockerCredential::UsernamePassword(username, password)) => {
                Ok(Some(Credential::Basic { username, password }))
            }
            Ok(DockerCredential::IdentityToken(t)) => Ok(Some(Credential::IdentityToken(t))),
            Err(E::NoCredentialConfigured) => Ok(None),
            Err(E::HelperFailure { helper, .. }) => Err(RegistryError::Credentials {
                registry: registry.to_string(),
                why: format!("credential helper `{helper}` failed"),
            }),
            Err(e) => Err(RegistryError::Credentials {
                registry: registry.to_string(),
                why: format!("{} ({e})", path.display()),
            }),
        }
    }
}

fn default_docker_config() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// A token endpoint's answer (`token` per Docker, `access_token` per OAuth2).
#[derive(serde::Deserialize)]
pub struct TokenResponse {
    pub token: Option<String>,
    pub access_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"bearer realm="http://127.0.0.1:1/t", scope="a:b:pull,push""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: Some("a:b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None, "no realm");
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(Challenge::parse(""), None);
    }

    #[test]
    fn reads_docker_config_for_the_right_registry_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        // "alice:s3cret" and "bob:hub"
        std::fs::write(
            &path,
            r#"{"auths":{"127.0.0.1:5000":{"auth":"YWxpY2U6czNjcmV0"},"https://index.docker.io/v1/":{"auth":"Ym9iOmh1Yg=="}}}"#,
        )
        .unwrap();
        let source = CredentialSource {
            explicit: None,
            docker_config: Some(path),
        };
        assert_eq!(
            source.lookup("127.0.0.1:5000").unwrap(),
            Some(Credential::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(
            source.lookup("docker.io").unwrap(),
            Some(Credential::Basic {
                username: "bob".into(),
                password: "hub".into()
            })
        );
        assert_eq!(source.lookup("ghcr.io").unwrap(), None);
        let missing = CredentialSource {
            explicit: None,
            docker_config: Some(dir.path().join("nope.json")),
        };
        assert_eq!(missing.lookup("ghcr.io").unwrap(), None);
        let shown = format!(
            "{:?}",
            Credential::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert!(!shown.contains("s3cret"));
    }
}
