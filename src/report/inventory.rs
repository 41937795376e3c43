//! The inventory as a table for people, or as JSON (schema 1) for tools.

use crate::dockerfile::short_step;
use crate::inventory::Inventory;
use crate::units::human_size;
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write;

pub fn json(inv: &Inventory) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(inv)?;
    s.push('\n');
    Ok(s)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    t
}

pub fn text(inv: &Inventory) -> String {
    let img = &inv.image;
    let mut out = String::new();
    let _ = writeln!(out, "Image        {}", img.reference);
    if let Some(d) = &img.manifest_digest {
        let _ = writeln!(out, "Manifest     {d}");
    }
    let _ = writeln!(out, "Config       {}", img.config_digest);
    if !img.repo_tags.is_empty() {
        let _ = writeln!(out, "Tags         {}", img.repo_tags.join(", "));
    }
    let _ = writeln!(
        out,
        "Platform     {}   {} layers   {} ({} compressed)",
        img.platform,
        img.layer_count,
        human_size(img.uncompressed_size),
        human_size(img.compressed_size)
    );
    let user = if img.user.is_empty() {
        "(not set: root)"
    } else {
        img.user.as_str()
    };
    let _ = writeln!(out, "User         {user}");
    let _ = writeln!(out, "Sources      {}", super::coverage_line(&inv.coverage));
    let health = match &img.healthcheck {
        Some(h) if !h.test.is_empty() && h.test != ["NONE"] => h.test.join(" "),
        Some(_) => "disabled (NONE)".to_string(),
        None => "none".to_string(),
    };
    let _ = writeln!(out, "Healthcheck  {health}");
    if !img.exposed_ports.is_empty() {
        let _ = writeln!(out, "Ports        {}", img.exposed_ports.join(", "));
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
                "OS           {} ({} {}{branch})",
                os.pretty_name.as_deref().unwrap_or(&os.id),
                os.id,
                os.version.as_deref().unwrap_or("?")
            );
        }
        None => {
            let _ = writeln!(out, "OS           unknown (no os-release)");
        }
    }

    let mut layers = table(&["#", "digest", "size", "compressed", "created by"]);
    for l in &img.layers {
        layers.add_row(vec![
            l.index.to_string(),
            l.digest.short(),
            human_size(l.uncompressed_size),
            human_size(l.compressed_size),
            short_step(l.created_by.as_deref(), 70),
        ]);
    }
    let _ = writeln!(out, "\nLayers\n{layers}");

    if !inv.apk.is_empty() {
        let mut t = table(&["package", "version", "origin", "license", "layer", "created by"]);
        for p in &inv.apk {
            let r = &p.record;
            t.add_row(vec![
                r.name.clone(),
                r.version.clone(),
                r.origin.clone().unwrap_or_default(),
                r.license.clone().unwrap_or_default(),
                p.layer.index.to_string(),
                short_step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\napk packages ({})\n{t}", inv.apk.len());
    }
    if !inv.deb.is_empty() {
        let mut t = table(&["package", "version", "source", "arch", "layer", "created by"]);
        for p in &inv.deb {
            let r = &p.record;
            let source = match (&r.source, &r.source_version) {
                (Some(s), Some(v)) => format!("{s} {v}"),
                (Some(s), None) => s.clone(),
                _ => String::new(),
            };
            t.add_row(vec![
                r.name.clone(),
                r.version.clone(),
                source,
                r.arch.clone().unwrap_or_default(),
                p.layer.index.to_string(),
                short_step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(
            out,
            "
deb packages ({})
{t}",
            inv.deb.len()
        );
    }
    if !inv.npm.is_empty() {
        let mut t = table(&["package", "version", "dev", "installed at", "layer", "created by"]);
        for p in &inv.npm {
            let dev = match p.dev {
                Some(true) => "dev",
                Some(false) => "prod",
                None => "?",
            };
            let at = match p.paths.as_slice() {
                [one] => one.clone(),
                [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
                [] => String::new(),
            };
            t.add_row(vec![
                p.name.clone(),
                p.version.clone(),
                dev.to_string(),
                at,
                p.layer.index.to_string(),
                short_step(p.layer.created_by.as_deref(), 50),
            ]);
        }
        let _ = writeln!(out, "\nnpm packages ({})\n{t}", inv.npm.len());
    }
    if !inv.users.is_empty() {
        let users: Vec<String> = inv.users.iter().map(|u| format!("{}({})", u.name, u.uid)).collect();
        let _ = writeln!(out, "\nUsers        {}", users.join(" "));
    }
    let total: u64 = inv.files.iter().map(|f| f.size).sum();
    let _ = writeln!(out, "Files        {} ({})", inv.files.len(), human_size(total));
    if !inv.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings ({})", inv.warnings.len());
        for w in &inv.warnings {
            let _ = writeln!(out, "  - {w}");
        }
    }
    out
}
