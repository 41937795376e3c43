//! The image's repository name — `acme/app` for `ghcr.io/acme/app:1.2`, `app` for
//! `build/app.tar` — computed once per run from what the image source already parsed, for
//! reports that group by repository (SARIF's `automationDetails.id`, the audit's file names).

use super::registry::Reference;
use super::registry::reference::DOCKER_HUB;
use super::source::ImageSource;

/// The repository name of an image: from its first repo tag (what `docker save` recorded),
/// else from the source the user named (a file or directory gives its name without archive
/// extensions). Lower case, `[a-z0-9._/-]` only, so it is the same however it was spelled.
pub fn repository(source: &ImageSource, repo_tags: &[String]) -> String {
    let name = match repo_tags.first() {
        Some(tag) => tag_repository(tag),
        None => match source {
            ImageSource::Stdin => "stdin".into(),
            ImageSource::DockerArchive { path, .. } | ImageSource::OciArchive { path, .. } => {
                file_stem(&path.to_string_lossy())
            }
            ImageSource::OciDir { dir, .. } => file_stem(&dir.to_string_lossy()),
            ImageSource::Registry(reference) => reference_repository(reference),
            ImageSource::Engine { name, .. } => tag_repository(name),
        },
    };
    sanitize(&name)
}

/// `docker.io/library/node` → `node`; elsewhere the repository as it is.
fn reference_repository(reference: &Reference) -> String {
    match reference.repository.strip_prefix("library/") {
        Some(rest) if reference.registry == DOCKER_HUB => rest.to_string(),
        _ => reference.repository.clone(),
    }
}

/// A `RepoTags` entry or an engine's image name (`app:dev`, `localhost:5000/team/app:1`).
fn tag_repository(tag: &str) -> String {
    match Reference::parse(tag) {
        Ok(r) => reference_repository(&r),
        // Not a valid reference (upper case, spaces): its name part, cleaned up below.
        Err(_) => tag.split(['@', ':']).next().unwrap_or(tag).to_string(),
    }
}

/// `dir/app.tar` → `app`; `dir/layout/` → `layout`.
fn file_stem(path: &str) -> String {
    let last = path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("");
    let mut stem = last;
    for ext in [".tar.gz", ".tar.zstd", ".tar.zst", ".tgz", ".tar", ".oci"] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    stem.to_string()
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('/');
    if s.is_empty() { "image".into() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(reference: &str) -> String {
        repository(&ImageSource::parse(reference).unwrap(), &[])
    }

    #[test]
    fn repository_names() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(tag_repository(&format!("ghcr.io/acme/app:1.2@{digest}")), "acme/app");
        assert_eq!(tag_repository("docker.io/library/node:20"), "node");
        assert_eq!(tag_repository("node:20-alpine"), "node");
        assert_eq!(tag_repository("localhost:5000/app"), "app");
        assert_eq!(tag_repository("localhost:5000/library/app"), "library/app");
        assert_eq!(of("-"), "stdin");
        assert_eq!(of("ghcr.io/acme/app:1.2"), "acme/app");
        assert_eq!(of("docker:web:dev"), "web");
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("web.tar.gz");
        std::fs::write(&tar, b"x").unwrap();
        assert_eq!(of(&format!("docker-archive:{}:web:dev", tar.display())), "web");
        assert_eq!(of(&tar.display().to_string()), "web");
        let layout = dir.path().join("layout");
        std::fs::create_dir(&layout).unwrap();
        assert_eq!(of(&format!("oci:{}:1.0.0", layout.display())), "layout");
        assert_eq!(sanitize("Acme/My App"), "acme/my-app");
        assert_eq!(
            repository(&ImageSource::Stdin, &["Acme/My App:1".to_string()]),
            "acme/my-app"
        );
    }
}
