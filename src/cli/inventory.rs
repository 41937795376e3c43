//! `imagegate inventory IMAGE`

use super::{EXIT_OK, Format, emit};
use crate::report;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// docker-archive:PATH[:TAG], oci:DIR[:TAG|@DIGEST], oci-archive:PATH, a path, or - for a
    /// `docker save` stream on stdin.
    pub image: String,
    /// Platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    #[arg(long, value_enum, default_value_t = super::Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let platform = super::parse_platform(&args.platform)?;
    let inv = super::read_inventory(&args.image, platform)?;
    let text = match args.format {
        Format::Table => report::inventory::text(&inv),
        Format::Json => report::inventory::json(&inv)?,
    };
    emit(&text, args.output.as_deref())?;
    Ok(EXIT_OK)
}
