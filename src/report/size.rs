//! The size section of the gate's table and Markdown summary: per layer the bytes it adds and
//! those later layers hide, dive's wasted bytes and efficiency, the largest files and
//! directories, and against a baseline the growth per layer and the files that grew most.
//! Paths and steps come from the image: escaped.

use super::text::{columns, step};
use crate::gate::Run;
use crate::image::size::{ImageSize, SizeDelta};
use crate::inventory::Inventory;
use crate::units::human_size;
use std::fmt::Write;

/// Signed sizes: `+1.2 MB`, `-300 B`, `0 B`.
pub fn signed_size(bytes: i64) -> String {
    match bytes {
        0 => "0 B".into(),
        b if b > 0 => format!("+{}", human_size(b as u64)),
        b => format!("-{}", human_size(b.unsigned_abs())),
    }
}

pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// One line for the table's header: `412.0 MB in 9 layers · 8.1 MB hidden by later layers ·
/// efficiency 97.2%, 12.0 MB wasted (as dive counts)`.
pub fn summary(inv: &Inventory, delta: Option<&SizeDelta>) -> Option<String> {
    let size = inv.size.as_ref()?;
    let growth = delta
        .map(|d| {
            let ratio = d
                .growth_ratio()
                .map(|r| format!(" ({:+.1}%)", r * 100.0))
                .unwrap_or_default();
            format!(" · {}{ratio} since the baseline", signed_size(d.growth_bytes()))
        })
        .unwrap_or_default();
    Some(format!(
        "{} in {} · {} hidden by later layers · efficiency {}, {} wasted (as dive counts){growth}",
        human_size(inv.image.uncompressed_size),
        crate::units::plural(inv.image.layer_count, "layer"),
        human_size(size.hidden_bytes),
        percent(size.efficiency),
        human_size(size.wasted_bytes),
    ))
}

/// Whether the table and the Markdown show the whole section: a size check spoke, or there is
/// a baseline.
pub fn wanted(run: &Run) -> bool {
    use crate::policy::rule::{Check, RuleId};
    run.size_delta.is_some()
        || run.outcome.findings.iter().any(|f| {
            matches!(
                f.rule,
                RuleId::Check(
                    Check::ImageTooLarge
                        | Check::CompressedImageTooLarge
                        | Check::LowEfficiency
                        | Check::TooManyWastedBytes
                        | Check::TooManyUserWastedBytes
                        | Check::ImageGrewTooMuch
                )
            )
        })
}

/// The section for the table, in at most `width` columns.
pub fn text(inv: &Inventory, delta: Option<&SizeDelta>, width: usize) -> String {
    let mut out = String::new();
    let Some(size) = inv.size.as_ref() else {
        return out;
    };
    let _ = writeln!(out, "\nSize by layer");
    let rows = layer_rows(inv, size, delta);
    let mut header = vec![("Layer", 5), ("Added", 10), ("Hidden later", 12)];
    if delta.is_some() {
        header.push(("vs baseline", 12));
    }
    header.push(("Step", usize::MAX));
    out.push_str(&columns(&header, &rows, width));
    if !size.largest_files.is_empty() {
        let _ = writeln!(out, "\nLargest files");
        let rows: Vec<Vec<String>> = size
            .largest_files
            .iter()
            .map(|f| {
                vec![
                    human_size(f.bytes),
                    f.layer.map(|l| l.to_string()).unwrap_or_default(),
                    format!("/{}", f.path),
                ]
            })
            .collect();
        out.push_str(&columns(
            &[("Size", 10), ("Layer", 5), ("Path", usize::MAX)],
            &rows,
            width,
        ));
    }
    if !size.largest_dirs.is_empty() {
        let _ = writeln!(out, "\nLargest directories");
        let rows: Vec<Vec<String>> = size
            .largest_dirs
            .iter()
            .map(|d| vec![human_size(d.bytes), format!("/{}", d.path)])
            .collect();
        out.push_str(&columns(&[("Size", 10), ("Path", usize::MAX)], &rows, width));
    }
    if let Some(d) = delta
        && !d.grown_files.is_empty()
    {
        let _ = writeln!(out, "\nFiles that grew most since the baseline");
        let rows: Vec<Vec<String>> = d
            .grown_files
            .iter()
            .map(|g| {
                vec![
                    signed_size(g.after as i64 - g.before as i64),
                    human_size(g.after),
                    format!("/{}", g.path),
                ]
            })
            .collect();
        out.push_str(&columns(
            &[("Growth", 10), ("Now", 10), ("Path", usize::MAX)],
            &rows,
            width,
        ));
    }
    out
}

fn layer_rows(inv: &Inventory, size: &ImageSize, delta: Option<&SizeDelta>) -> Vec<Vec<String>> {
    size.layers
        .iter()
        .map(|l| {
            let mut row = vec![
                l.index.to_string(),
                human_size(l.added_bytes),
                human_size(l.hidden_bytes),
            ];
            if let Some(d) = delta {
                let cell = d
                    .layers
                    .iter()
                    .find(|x| x.index == l.index)
                    .map(|x| {
                        if x.same_layer {
                            "same".to_string()
                        } else {
                            signed_size(x.delta_bytes)
                        }
                    })
                    .unwrap_or_default();
                row.push(cell);
            }
            let created_by = inv.image.layers.get(l.index).and_then(|i| i.created_by.as_deref());
            row.push(step(created_by, 200));
            row
        })
        .collect()
}

/// The section for the Markdown summary, folded away.
pub fn markdown(inv: &Inventory, delta: Option<&SizeDelta>, cell: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let Some(size) = inv.size.as_ref() else {
        return out;
    };
    let Some(line) = summary(inv, delta) else {
        return out;
    };
    let _ = writeln!(out, "\n<details><summary>📦 Size: {}</summary>\n", cell(&line));
    let _ = write!(out, "| Layer | Added | Hidden later |");
    if delta.is_some() {
        let _ = write!(out, " vs baseline |");
    }
    let _ = writeln!(out, " Step |");
    let _ = writeln!(
        out,
        "|---:|---:|---:|{}---|",
        if delta.is_some() { "---:|" } else { "" }
    );
    for row in layer_rows(inv, size, delta) {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    let mut list = |title: &str, rows: Vec<(String, String)>| {
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(out, "\n{title}:\n");
        for (bytes, path) in rows {
            let _ = writeln!(out, "- {bytes} `{}`", cell(&path).replace('`', "'"));
        }
    };
    list(
        "Largest files",
        size.largest_files
            .iter()
            .map(|f| (human_size(f.bytes), format!("/{}", f.path)))
            .collect(),
    );
    list(
        "Largest directories",
        size.largest_dirs
            .iter()
            .map(|d| (human_size(d.bytes), format!("/{}", d.path)))
            .collect(),
    );
    if let Some(d) = delta {
        list(
            "Files that grew most since the baseline",
            d.grown_files
                .iter()
                .map(|g| (signed_size(g.after as i64 - g.before as i64), format!("/{}", g.path)))
                .collect(),
        );
    }
    out.push_str("\n</details>\n");
    out
}
