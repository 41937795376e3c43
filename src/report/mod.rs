//! Output formats. Each report renders a plain data type — an inventory, or a gate
//! [`Run`](crate::gate::Run) — to a string, and decides nothing: what the gate concluded, the
//! policy's location and the image's repository name all come computed in the run. The CLI
//! decides where the text goes.

pub mod db;
pub mod gate;
pub mod inventory;
pub mod markdown;
pub mod sarif;
