//! An image's size, explained: per layer the bytes it adds and the bytes of it that later
//! layers overwrite or delete, the image's wasted bytes and efficiency as dive counts them,
//! the largest files and directories of the final filesystem, and against a baseline the
//! growth per layer and the files that grew most.
//!
//! Everything comes from the one merge of the layers ([`crate::layer::SizeTally`]): no
//! second walk, and the largest entries come from top-N heaps.

use crate::layer::{Filesystem, SizeTally};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How many of the largest files, directories and grown files a report lists.
pub const TOP: usize = 10;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerSize {
    pub index: usize,
    /// Bytes of the regular files the layer's entries add (what dive calls its size).
    pub added_bytes: u64,
    /// Bytes of those files that a later layer overwrites or deletes: stored, shipped and
    /// pulled, never seen by the container.
    pub hidden_bytes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SizedPath {
    pub path: String,
    pub bytes: u64,
    /// The layer that wrote the file (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ImageSize {
    pub layers: Vec<LayerSize>,
    /// Bytes of the regular files in the final filesystem.
    pub visible_bytes: u64,
    /// Sum of the layers' hidden bytes: what squashing the layers would save.
    pub hidden_bytes: u64,
    /// As dive 0.13 counts it: every copy of a path written (or deleted) in more than one
    /// layer, the surviving copy included.
    pub wasted_bytes: u64,
    /// Dive's `userWastedPercent`, a ratio: wasted bytes over the bytes the layers above the
    /// first add (0 where they add none).
    pub user_wasted_ratio: f64,
    /// Dive's efficiency: per path the smallest copy, over the bytes of all copies.
    pub efficiency: f64,
    /// Paths written in more than one layer.
    pub rewritten_paths: usize,
    pub largest_files: Vec<SizedPath>,
    pub largest_dirs: Vec<SizedPath>,
}

impl ImageSize {
    /// The explanation of a merged filesystem (all layers applied).
    pub fn of<F: Clone>(fs: &Filesystem<F>, layer_count: usize) -> ImageSize {
        let tally: &SizeTally = fs.tally();
        let layers: Vec<LayerSize> = (0..layer_count)
            .map(|index| LayerSize {
                index,
                added_bytes: tally.added.get(index).copied().unwrap_or(0),
                hidden_bytes: tally.hidden.get(index).copied().unwrap_or(0),
            })
            .collect();
        let user_bytes: u64 = layers.iter().skip(1).map(|l| l.added_bytes).sum();
        let wasted = tally.wasted();
        ImageSize {
            visible_bytes: fs.visible_bytes(),
            hidden_bytes: layers.iter().map(|l| l.hidden_bytes).sum(),
            wasted_bytes: wasted,
            user_wasted_ratio: if user_bytes == 0 {
                0.0
            } else {
                wasted as f64 / user_bytes as f64
            },
            efficiency: tally.efficiency(),
            rewritten_paths: tally.rewritten_paths(),
            largest_files: fs
                .largest_files(TOP)
                .into_iter()
                .map(|(path, bytes, layer)| SizedPath {
                    path,
                    bytes,
                    layer: Some(layer),
                })
                .collect(),
            largest_dirs: fs
                .largest_dirs(TOP)
                .into_iter()
                .map(|(path, bytes)| SizedPath {
                    path,
                    bytes,
                    layer: None,
                })
                .collect(),
            layers,
        }
    }
}

/// One layer against the baseline's layer at the same index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerDelta {
    pub index: usize,
    /// The layer's added bytes here minus there (a layer only one side has counts as 0 on
    /// the other).
    pub delta_bytes: i64,
    /// Both sides have this layer, with the same diff_id.
    pub same_layer: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileGrowth {
    pub path: String,
    pub before: u64,
    pub after: u64,
}

/// This image's size against a baseline's.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SizeDelta {
    /// Uncompressed image size, then and now (what `max_size` reads).
    pub before_bytes: u64,
    pub after_bytes: u64,
    pub layers: Vec<LayerDelta>,
    /// The files that grew most (new files count from 0), largest growth first.
    pub grown_files: Vec<FileGrowth>,
}

impl SizeDelta {
    pub fn growth_bytes(&self) -> i64 {
        self.after_bytes as i64 - self.before_bytes as i64
    }

    /// Growth over the baseline's size; `None` for a baseline of 0 bytes.
    pub fn growth_ratio(&self) -> Option<f64> {
        (self.before_bytes > 0).then(|| self.growth_bytes() as f64 / self.before_bytes as f64)
    }
}

/// What a size comparison reads of either side.
#[derive(Clone, Debug, Default)]
pub struct SizeSide {
    pub uncompressed_bytes: u64,
    /// Per layer: diff_id and added bytes.
    pub layers: Vec<(String, u64)>,
    /// Every regular file of the final filesystem and its size.
    pub files: Vec<(String, u64)>,
}

/// Compares `now` with `then`, listing at most [`TOP`] grown files.
pub fn compare(then: &SizeSide, now: &SizeSide) -> SizeDelta {
    let count = then.layers.len().max(now.layers.len());
    let layers = (0..count)
        .map(|index| {
            let before = then.layers.get(index);
            let after = now.layers.get(index);
            let bytes = |side: Option<&(String, u64)>| side.map(|l| l.1 as i64).unwrap_or(0);
            LayerDelta {
                index,
                delta_bytes: bytes(after) - bytes(before),
                same_layer: matches!((before, after), (Some(b), Some(a)) if a.0 == b.0),
            }
        })
        .collect();
    let before: HashMap<&str, u64> = then.files.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    let mut grown: Vec<FileGrowth> = Vec::new();
    for (path, after) in &now.files {
        let was = before.get(path.as_str()).copied().unwrap_or(0);
        if *after <= was {
            continue;
        }
        grown.push(FileGrowth {
            path: path.clone(),
            before: was,
            after: *after,
        });
        if grown.len() > 4 * TOP {
            keep_top(&mut grown);
        }
    }
    keep_top(&mut grown);
    SizeDelta {
        before_bytes: then.uncompressed_bytes,
        after_bytes: now.uncompressed_bytes,
        layers,
        grown_files: grown,
    }
}

fn keep_top(grown: &mut Vec<FileGrowth>) {
    grown.sort_by(|a, b| {
        (b.after - b.before)
            .cmp(&(a.after - a.before))
            .then_with(|| a.path.cmp(&b.path))
    });
    grown.truncate(TOP);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(size: u64, layers: &[(&str, u64)], files: &[(&str, u64)]) -> SizeSide {
        SizeSide {
            uncompressed_bytes: size,
            layers: layers.iter().map(|(d, b)| (d.to_string(), *b)).collect(),
            files: files.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
        }
    }

    #[test]
    fn growth_per_layer_and_the_files_that_grew_most() {
        let then = side(
            1000,
            &[("sha256:a", 600), ("sha256:b", 400)],
            &[("app/x", 100), ("app/y", 300)],
        );
        let now = side(
            1500,
            &[("sha256:a", 600), ("sha256:c", 700), ("sha256:d", 200)],
            &[("app/x", 150), ("app/y", 200), ("app/new", 400)],
        );
        let d = compare(&then, &now);
        assert_eq!(d.growth_bytes(), 500);
        assert_eq!(d.growth_ratio(), Some(0.5));
        let deltas: Vec<(i64, bool)> = d.layers.iter().map(|l| (l.delta_bytes, l.same_layer)).collect();
        assert_eq!(deltas, vec![(0, true), (300, false), (200, false)]);
        let grown: Vec<(&str, u64, u64)> = d
            .grown_files
            .iter()
            .map(|g| (g.path.as_str(), g.before, g.after))
            .collect();
        assert_eq!(grown, vec![("app/new", 0, 400), ("app/x", 100, 150)]);
    }

    #[test]
    fn at_most_top_grown_files_are_listed() {
        let files: Vec<(String, u64)> = (0..1000).map(|i| (format!("f{i}"), i)).collect();
        let now = SizeSide {
            uncompressed_bytes: 1,
            layers: vec![],
            files,
        };
        let d = compare(&SizeSide::default(), &now);
        assert_eq!(d.grown_files.len(), TOP);
        assert_eq!(d.grown_files[0].after, 999);
        assert_eq!(d.growth_ratio(), None);
    }
}
