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

/// One line: `checked: 14 apk (Alpine:v3.20), 3 npm (npm); not checked: rpm (var/lib/rpm/rpmdb.sqlite)`.
/// Writes `value` as pretty JSON and a newline, as it is rendered (never held whole). Through
/// a buffer of its own: serde_json writes a token at a time, and each through `dyn Write`
/// was an indirect call (the JSON report of the 200 MB bench image: 16% of a scan's tail).
pub fn write_pretty_json(value: &impl serde::Serialize, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut b = std::io::BufWriter::with_capacity(64 << 10, w);
    serde_json::to_writer_pretty(&mut b, value)?;
    b.write_all(b"\n")?;
    b.flush()
}

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
