//! The inventory as a table for people, or as JSON (schema 1) for tools.

use super::escape::esc;
use super::text::{Style, columns, write_columns};
use crate::inventory::Inventory;
use crate::units::{human_size, plural};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

pub fn json(inv: &Inventory) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(inv)?;
    s.push('\n');
    Ok(s)
}

/// [`json`], written as it is rendered: the document of an image with a million packages is
/// several times its package database, and is never held whole.
pub fn write_json(inv: &Inventory, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    super::write_pretty_json(inv, w)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

/// The inventory for people, every image-derived string escaped. The compact layout lists
/// each layer's step once and gives packages their layer index; `--wide` boxes every field.
pub fn text(inv: &Inventory, style: &Style) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every piece written is a `str`.
    let _ = write_text(inv, style, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// [`text`], written as it is rendered: the package tables' rows are formed as they are
/// written (twice: once to size the columns), never held, as an image with a million
/// packages would need several times its package database for them.
///
/// # Errors
///
/// What writing to `w` gives.
pub fn write_text(inv: &Inventory, style: &Style, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let img = &inv.image;
    let mut out = String::new();
    let _ = writeln!(out, "Image        {}", esc(&img.reference));
    if let Some(d) = &img.manifest_digest {
        let _ = writeln!(out, "Manifest     {d}");
    }
    let _ = writeln!(out, "Config       {}", img.config_digest);
    if !img.repo_tags.is_empty() {
        let _ = writeln!(out, "Tags         {}", esc(&img.repo_tags.join(", ")));
    }
    let _ = writeln!(
        out,
        "Platform     {}   {}   {} ({} compressed)",
        esc(&img.platform.to_string()),
        plural(img.layer_count, "layer"),
        human_size(img.uncompressed_size),
        human_size(img.compressed_size)
    );
    let user = if img.user.is_empty() {
        "(not set: root)".to_string()
    } else {
        esc(&img.user)
    };
    let _ = writeln!(out, "User         {user}");
    let _ = writeln!(out, "Sources      {}", super::coverage_line(&inv.coverage));
    let health = match &img.healthcheck {
        Some(h) if !h.test.is_empty() && h.test != ["NONE"] => esc(&h.test.join(" ")),
        Some(_) => "disabled (NONE)".to_string(),
        None => "none".to_string(),
    };
    let _ = writeln!(out, "Healthcheck  {health}");
    if !img.exposed_ports.is_empty() {
        let _ = writeln!(out, "Ports        {}", esc(&img.exposed_ports.join(", ")));
    }
    match &inv.os {
        Some(os) => {
            let branch = os
                .branch
                .as_deref()
                .map(|b| format!(", branch {b}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "OS           {}",
                esc(&format!(
                    "{} ({} {}{branch})",
                    os.pretty_name.as_deref().unwrap_or(&os.id),
                    os.id,
                    os.version.as_deref().unwrap_or("?")
                ))
            );
        }
        None => {
            let _ = writeln!(out, "OS           unknown (no os-release)");
        }
    }
    if style.wide {
        wide_tables(&mut out, inv);
    } else {
        w.write_all(out.as_bytes())?;
        out.clear();
        compact_tables(w, inv, style.width.max(super::text::MIN_WIDTH))?;
    }
    if !inv.users.is_empty() {
        let users: Vec<String> = inv.users.iter().map(|u| format!("{}({})", u.name, u.uid)).collect();
        let _ = writeln!(out, "\nUsers        {}", esc(&users.join(" ")));
    }
    let total: u64 = inv.files.iter().map(|f| f.size).sum();
    let _ = writeln!(out, "Files        {} ({})", inv.files.len(), human_size(total));
    if !inv.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings ({})", inv.warnings.len());
        for w in &inv.warnings {
            let _ = writeln!(out, "  - {}", esc(w));
        }
    }
    w.write_all(out.as_bytes())
}

fn dev_text(dev: Option<bool>) -> &'static str {
    match dev {
        Some(true) => "dev",
        Some(false) => "prod",
        None => "?",
    }
}

fn paths_text(paths: &[String]) -> String {
    match paths {
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
        [] => String::new(),
    }
}

/// What a Go module row says besides its version: the main module, the toolchain, a
/// replacement.
fn go_note(p: &crate::inventory::gobin::GoPackage) -> String {
    let mut notes = Vec::new();
    if p.main {
        notes.push("main".to_string());
    }
    if p.name == "stdlib" && !p.main {
        notes.push("toolchain".to_string());
    }
    if let Some(dir) = &p.replaced_by {
        notes.push(format!("=> {dir}"));
    }
    if let Some(orig) = &p.replaces {
        notes.push(format!("replaces {orig}"));
    }
    notes.join(", ")
}

/// A crate's source, and `build` for a build-time-only dependency.
fn rust_source(p: &crate::inventory::rustbin::RustPackage) -> String {
    if p.kind == "build" {
        format!("{} (build)", p.source)
    } else {
        p.source.clone()
    }
}

fn compact_tables(w: &mut dyn std::io::Write, inv: &Inventory, width: usize) -> std::io::Result<()> {
    let img = &inv.image;
    // The step in full where it fits: the layer table is the one place it is shown.
    let step_w = width.saturating_sub(2 + 3 + 2 + 19 + 2 + 9 + 2 + 10 + 2).max(12);
    let rows: Vec<Vec<String>> = img
        .layers
        .iter()
        .map(|l| {
            vec![
                l.index.to_string(),
                l.digest.short(),
                human_size(l.uncompressed_size),
                human_size(l.compressed_size),
                super::text::step(l.created_by.as_deref(), step_w),
            ]
        })
        .collect();
    write!(
        w,
        "\nLayers ({})\n{}",
        img.layers.len(),
        columns(
            &[
                ("#", 3),
                ("DIGEST", 19),
                ("SIZE", 9),
                ("COMPRESSED", 10),
                ("CREATED BY", step_w)
            ],
            &rows,
            width
        )
    )?;
    if !inv.apk.is_empty() {
        write!(w, "\napk packages ({})\n", inv.apk.len())?;
        let rows = || {
            inv.apk.iter().map(|p| {
                let r = &p.record;
                [
                    r.name().to_string(),
                    r.version().to_string(),
                    r.origin().unwrap_or_default().to_string(),
                    p.layer.index.to_string(),
                    r.license().unwrap_or_default().to_string(),
                ]
            })
        };
        write_columns(
            w,
            &[
                ("PACKAGE", 32),
                ("VERSION", 24),
                ("ORIGIN", 24),
                ("LAYER", 5),
                ("LICENSE", 40),
            ],
            rows,
            width,
        )?;
    }
    if !inv.deb.is_empty() {
        write!(w, "\ndeb packages ({})\n", inv.deb.len())?;
        let rows = || {
            inv.deb.iter().map(|p| {
                let r = &p.record;
                let source = match (r.source(), r.stated_source_version()) {
                    (Some(s), Some(v)) => format!("{s} {v}"),
                    (Some(s), None) => s.to_string(),
                    _ => String::new(),
                };
                [
                    r.name().to_string(),
                    r.version().to_string(),
                    r.arch().unwrap_or_default().to_string(),
                    p.layer.index.to_string(),
                    source,
                ]
            })
        };
        write_columns(
            w,
            &[
                ("PACKAGE", 32),
                ("VERSION", 28),
                ("ARCH", 8),
                ("LAYER", 5),
                ("SOURCE", 40),
            ],
            rows,
            width,
        )?;
    }
    if !inv.npm.is_empty() {
        write!(w, "\nnpm packages ({})\n", inv.npm.len())?;
        let rows = || {
            inv.npm.iter().map(|p| {
                [
                    p.name.clone(),
                    p.version.clone(),
                    dev_text(p.dev).to_string(),
                    p.layer.index.to_string(),
                    paths_text(&p.paths),
                ]
            })
        };
        write_columns(
            w,
            &[
                ("PACKAGE", 32),
                ("VERSION", 20),
                ("DEV", 4),
                ("LAYER", 5),
                ("INSTALLED AT", 60),
            ],
            rows,
            width,
        )?;
    }
    if !inv.go.is_empty() {
        write!(w, "\nGo modules ({})\n", inv.go.len())?;
        let rows = || {
            inv.go.iter().map(|p| {
                [
                    p.name.clone(),
                    p.version.clone(),
                    go_note(p),
                    p.layer.index.to_string(),
                    paths_text(&p.binaries),
                ]
            })
        };
        write_columns(
            w,
            &[
                ("MODULE", 40),
                ("VERSION", 36),
                ("NOTE", 24),
                ("LAYER", 5),
                ("BINARIES", 60),
            ],
            rows,
            width,
        )?;
    }
    if !inv.rust.is_empty() {
        write!(w, "\nRust crates ({})\n", inv.rust.len())?;
        let rows = || {
            inv.rust.iter().map(|p| {
                [
                    p.name.clone(),
                    p.version.clone(),
                    rust_source(p),
                    p.layer.index.to_string(),
                    paths_text(&p.binaries),
                ]
            })
        };
        write_columns(
            w,
            &[
                ("CRATE", 32),
                ("VERSION", 20),
                ("SOURCE", 16),
                ("LAYER", 5),
                ("BINARIES", 60),
            ],
            rows,
            width,
        )?;
    }
    Ok(())
}

fn wide_tables(out: &mut String, inv: &Inventory) {
    let img = &inv.image;
    let mut layers = table(&["#", "digest", "size", "compressed", "created by"]);
    for l in &img.layers {
        layers.add_row(vec![
            l.index.to_string(),
            l.digest.short(),
            human_size(l.uncompressed_size),
            human_size(l.compressed_size),
            super::text::step(l.created_by.as_deref(), 70),
        ]);
    }
    let _ = writeln!(out, "\nLayers\n{layers}");
    if !inv.apk.is_empty() {
        let mut t = table(&["package", "version", "origin", "license", "layer", "created by"]);
        for p in &inv.apk {
            let r = &p.record;
            t.add_row(vec![
                esc(r.name()),
                esc(r.version()),
                esc(r.origin().unwrap_or_default()),
                esc(r.license().unwrap_or_default()),
                p.layer.index.to_string(),
                super::text::step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\napk packages ({})\n{t}", inv.apk.len());
    }
    if !inv.deb.is_empty() {
        let mut t = table(&["package", "version", "source", "arch", "layer", "created by"]);
        for p in &inv.deb {
            let r = &p.record;
            let source = match (r.source(), r.stated_source_version()) {
                (Some(s), Some(v)) => format!("{s} {v}"),
                (Some(s), None) => s.to_string(),
                _ => String::new(),
            };
            t.add_row(vec![
                esc(r.name()),
                esc(r.version()),
                esc(&source),
                esc(r.arch().unwrap_or_default()),
                p.layer.index.to_string(),
                super::text::step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\ndeb packages ({})\n{t}", inv.deb.len());
    }
    if !inv.npm.is_empty() {
        let mut t = table(&["package", "version", "dev", "installed at", "layer", "created by"]);
        for p in &inv.npm {
            t.add_row(vec![
                esc(&p.name),
                esc(&p.version),
                dev_text(p.dev).to_string(),
                esc(&paths_text(&p.paths)),
                p.layer.index.to_string(),
                super::text::step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\nnpm packages ({})\n{t}", inv.npm.len());
    }
    if !inv.go.is_empty() {
        let mut t = table(&["module", "version", "note", "binaries", "layer", "created by"]);
        for p in &inv.go {
            t.add_row(vec![
                esc(&p.name),
                esc(&p.version),
                esc(&go_note(p)),
                esc(&paths_text(&p.binaries)),
                p.layer.index.to_string(),
                super::text::step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\nGo modules ({})\n{t}", inv.go.len());
    }
    if !inv.rust.is_empty() {
        let mut t = table(&["crate", "version", "source", "binaries", "layer", "created by"]);
        for p in &inv.rust {
            t.add_row(vec![
                esc(&p.name),
                esc(&p.version),
                esc(&rust_source(p)),
                esc(&paths_text(&p.binaries)),
                p.layer.index.to_string(),
                super::text::step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\nRust crates ({})\n{t}", inv.rust.len());
    }
}
