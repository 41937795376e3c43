//! Output formats. Each report renders a plain data type — an inventory, or a gate
//! [`Run`](crate::gate::Run) — to a string, and decides nothing: what the gate concluded, the
//! policy's location and the image's repository name all come computed in the run. The CLI
//! decides where the text goes.

pub mod cyclonedx;
pub mod db;
pub mod escape;
pub mod gate;
pub mod gitlab;
pub mod inventory;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod openvex;
pub mod origin;
pub mod sarif;
pub mod size;
pub mod spdx;
mod stream;
pub mod text;

use crate::inventory::coverage::{Coverage, Status};

/// Writes `value` as pretty JSON and a newline, as it is rendered (never held whole), with
/// [`json`]'s printer: serde_json's bytes, with 40% fewer instructions.
pub fn write_pretty_json(value: &impl serde::Serialize, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    json::to_writer_pretty(value, w)?;
    w.write_all(b"\n")?;
    w.flush()
}

/// One line: `checked: 14 apk (Alpine:v3.20), 3 npm (npm); not checked: rpm (var/lib/rpm/rpmdb.sqlite)`.
pub fn coverage_line(coverage: &[Coverage]) -> String {
    let list = |status: Status| -> String {
        let items: Vec<String> = coverage
            .iter()
            .filter(|c| c.status == status)
            .map(Coverage::short)
            .collect();
        if items.is_empty() {
            "none".into()
        } else {
            items.join(", ")
        }
    };
    // Names and paths come from the image: escaped for the text reports that show this line.
    let line = if coverage.iter().any(|c| c.status == Status::Read) {
        format!("read: {}; not read: {}", list(Status::Read), list(Status::NotChecked))
    } else {
        format!(
            "checked: {}; not checked: {}",
            list(Status::Checked),
            list(Status::NotChecked)
        )
    };
    escape::esc(&line)
}
