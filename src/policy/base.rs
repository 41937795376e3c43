//! Which layers are the base image's, and so whether a finding came with the base (which the
//! team does not control) or with the app (which it does).
//!
//! Decided in this order, and every finding says which rule decided:
//! 1. `label`: the config's `org.opencontainers.image.base.name` / `.base.digest` labels name
//!    the base. They do not say how many layers it has: that comes from `--base` when given
//!    (checked), else from the history boundary below.
//! 2. `--base`: the base image was read; its layer diff_ids must be a prefix of this image's.
//! 3. `history`: the last `FROM`-stage boundary the builder left in the history, a guess: a
//!    base image's history ends with its `CMD`/`ENTRYPOINT` (an empty layer); the layers before
//!    the last such entry that a layer of this image's own follows are the base's.
//!
//! With none of these, there is no base: every finding is the app's (fail closed).

use crate::digest::Digest;
use crate::image::model::History;
use crate::inventory::ImageFacts;
use serde::Serialize;

pub const LABEL_BASE_NAME: &str = "org.opencontainers.image.base.name";
pub const LABEL_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Whose a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    Base,
    App,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Base => "base",
            Part::App => "app",
        }
    }
}

/// The rule that decided which layers are the base's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Rule {
    #[serde(rename = "label")]
    Label,
    #[serde(rename = "--base")]
    Flag,
    #[serde(rename = "history")]
    History,
    /// No base could be found: everything is the app's.
    #[serde(rename = "none")]
    None,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Label => "label",
            Rule::Flag => "--base",
            Rule::History => "history",
            Rule::None => "none",
        }
    }
}

/// A finding's (or package's) part, and the rule that decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub part: Part,
    pub decided_by: Rule,
}

/// The base image of a run.
#[derive(Clone, Debug, Serialize)]
pub struct BaseImage {
    /// The base's reference: the label's name, else the `--base` reference; `None` for a
    /// history guess.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The newest digest we know for the base: with `--base` a registry reference, what the
    /// registry serves for it now (the manifest read to check the layers); else the digest the
    /// base was read at, or the label's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_digest: Option<String>,
    /// Where `newest_digest` comes from, as reports say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newest_note: Option<String>,
    /// The number of layers (from the bottom) that are the base's.
    pub layers: usize,
    pub decided_by: Rule,
    /// Whether the layer count is a guess from the history.
    pub guess: bool,
    /// One sentence: how it was decided.
    pub note: String,
}

impl BaseImage {
    /// No base: every layer is the app's.
    pub fn none() -> BaseImage {
        BaseImage {
            name: None,
            digest: None,
            newest_digest: None,
            newest_note: None,
            layers: 0,
            decided_by: Rule::None,
            guess: false,
            note: "no base image found (no base labels, no --base, no stage boundary in the history): every finding counts as the app's".into(),
        }
    }

    pub fn origin(&self, layer: usize) -> Origin {
        Origin {
            part: if layer < self.layers { Part::Base } else { Part::App },
            decided_by: self.decided_by,
        }
    }

    /// How reports name it: the reference, else `base image (layers 0-N, guessed)`.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None if self.layers == 0 => "no base image".into(),
            None => format!(
                "base image (layers 0-{}{})",
                self.layers - 1,
                if self.guess { ", guessed from the history" } else { "" }
            ),
        }
    }
}

/// `--base IMAGE`'s layers were not a prefix of the image's.
#[derive(Debug, thiserror::Error)]
#[error(
    "--base {base}: its {base_layers} layers are not the first layers of {image} (layer {at} differs: {base_diff} vs {image_diff})"
)]
pub struct NotPrefix {
    pub base: String,
    pub image: String,
    pub base_layers: usize,
    pub at: usize,
    pub base_diff: String,
    pub image_diff: String,
}

/// A base image read with `--base`: its reference and its layers' diff_ids.
pub struct GivenBase<'a> {
    pub reference: &'a str,
    pub diff_ids: &'a [Digest],
    /// The manifest digest it was read at (the config's where there is no manifest digest).
    pub digest: Option<String>,
    /// Whether the reference is a registry's, so `digest` is what the registry serves now.
    pub from_registry: bool,
}

/// The newest digest we know, and where it comes from.
fn newest(given: Option<&GivenBase<'_>>, label_digest: Option<&String>) -> (Option<String>, Option<String>) {
    match (given.and_then(|g| g.digest.clone().map(|d| (g, d))), label_digest) {
        (Some((g, d)), _) if g.from_registry => (
            Some(d),
            Some(format!("what the registry serves for {} now", g.reference)),
        ),
        (Some((g, d)), _) => (Some(d), Some(format!("as read from {}", g.reference))),
        (None, Some(l)) => (
            Some(l.clone()),
            Some(format!(
                "from the image's {LABEL_BASE_DIGEST} label, as it was built: may not be the newest (name it with --base to check)"
            )),
        ),
        (None, None) => (None, None),
    }
}

/// Decides the base of `image`.
pub fn detect(image: &ImageFacts, given: Option<&GivenBase<'_>>) -> Result<BaseImage, NotPrefix> {
    let diff_ids: Vec<&Digest> = image.layers.iter().map(|l| &l.diff_id).collect();
    let flag_layers = match given {
        Some(g) => Some(check_prefix(g, &diff_ids, &image.reference)?),
        None => None,
    };
    let label_name = image.labels.get(LABEL_BASE_NAME).filter(|s| !s.is_empty()).cloned();
    let label_digest = image.labels.get(LABEL_BASE_DIGEST).filter(|s| !s.is_empty()).cloned();
    let history = history_boundary(&image.history);
    let (newest_digest, newest_note) = newest(given, label_digest.as_ref());
    if label_name.is_some() || label_digest.is_some() {
        let (layers, guess, how) = match (flag_layers, history) {
            (Some(n), _) => (n, false, "its layers from --base (checked)".to_string()),
            (None, Some(n)) => (
                n,
                true,
                "its layers guessed from the history's stage boundary".to_string(),
            ),
            (None, None) => (
                0,
                false,
                "no layer of it found (no --base, no stage boundary in the history)".to_string(),
            ),
        };
        return Ok(BaseImage {
            name: label_name.clone().or_else(|| label_digest.clone()),
            digest: label_digest,
            newest_digest,
            newest_note,
            layers,
            decided_by: Rule::Label,
            guess,
            note: format!("the base is named by the image's {LABEL_BASE_NAME}/{LABEL_BASE_DIGEST} labels; {how}"),
        });
    }
    if let (Some(g), Some(n)) = (given, flag_layers) {
        return Ok(BaseImage {
            name: Some(g.reference.to_string()),
            digest: None,
            newest_digest,
            newest_note,
            layers: n,
            decided_by: Rule::Flag,
            guess: false,
            note: format!(
                "--base {}: its {n} layers are this image's first {n} (checked)",
                g.reference
            ),
        });
    }
    if let Some(n) = history {
        return Ok(BaseImage {
            name: None,
            digest: None,
            newest_digest: None,
            newest_note: None,
            layers: n,
            decided_by: Rule::History,
            guess: true,
            note: format!(
                "a guess: the history's last stage boundary (a CMD or ENTRYPOINT followed by a layer) puts the base at layers 0-{}; name it with --base to be sure",
                n - 1
            ),
        });
    }
    Ok(BaseImage::none())
}

fn check_prefix(given: &GivenBase<'_>, image: &[&Digest], reference: &str) -> Result<usize, NotPrefix> {
    let err = |at: usize| NotPrefix {
        base: given.reference.to_string(),
        image: reference.to_string(),
        base_layers: given.diff_ids.len(),
        at,
        base_diff: given.diff_ids.get(at).map_or("(none)".into(), ToString::to_string),
        image_diff: image.get(at).map_or("(none)".into(), |d| d.to_string()),
    };
    if given.diff_ids.len() > image.len() {
        return Err(err(image.len()));
    }
    if given.diff_ids.is_empty() {
        return Err(err(0));
    }
    match given.diff_ids.iter().zip(image).position(|(a, b)| a != *b) {
        Some(at) => Err(err(at)),
        None => Ok(given.diff_ids.len()),
    }
}

/// Whether a history entry is a base image's last instruction (`CMD`, `ENTRYPOINT`), in the
/// spellings of BuildKit (`CMD ["/bin/sh"]`), the classic builder and buildah
/// (`/bin/sh -c #(nop)  CMD ["/bin/sh"]`).
fn ends_stage(created_by: &str) -> bool {
    let s = created_by.trim();
    let s = s.strip_prefix("/bin/sh -c #(nop)").map(str::trim_start).unwrap_or(s);
    s.starts_with("CMD ") || s.starts_with("CMD[") || s.starts_with("ENTRYPOINT ") || s.starts_with("ENTRYPOINT[")
}

/// The number of layers below the last stage boundary that a layer follows, if any.
fn history_boundary(history: &[History]) -> Option<usize> {
    let mut layers = 0usize;
    let mut boundary = None;
    let mut pending = false;
    for h in history {
        if h.empty_layer {
            if h.created_by.as_deref().is_some_and(ends_stage) {
                pending = true;
            }
            continue;
        }
        if pending && layers > 0 {
            boundary = Some(layers);
        }
        pending = false;
        layers += 1;
    }
    boundary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(created_by: &str, empty: bool) -> History {
        History {
            created: None,
            created_by: Some(created_by.into()),
            comment: None,
            empty_layer: empty,
        }
    }

    #[test]
    fn the_last_cmd_followed_by_a_layer_is_the_boundary() {
        let hist = [
            h("ADD alpine-minirootfs.tar.gz / # buildkit", false),
            h("CMD [\"/bin/sh\"]", true),
            h("RUN apk add nodejs # buildkit", false),
            h("/bin/sh -c #(nop)  CMD [\"node\"]", true),
            h("COPY . /app # buildkit", false),
            h("RUN npm ci # buildkit", false),
            h("CMD [\"node\", \"server.js\"]", true),
        ];
        assert_eq!(history_boundary(&hist), Some(2));
        // A single-stage image from scratch: no boundary.
        assert_eq!(history_boundary(&hist[..1]), None);
        // A CMD at the very bottom (before any layer) is not a base's end.
        assert_eq!(history_boundary(&[h("CMD [\"x\"]", true), h("COPY a /", false)]), None);
    }
}
