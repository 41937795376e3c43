//! `imagegate inventory IMAGE`

use super::{EXIT_OK, Format, emit};
use crate::image::{self, LoadOptions, model::Platform};
use crate::inventory::{self, Collector};
use crate::report;
use anyhow::anyhow;
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
    let platform = Platform::parse(&args.platform).ok_or_else(|| {
        anyhow!(
            "--platform `{}`: expected os/arch[/variant], e.g. linux/amd64",
            args.platform
        )
    })?;
    let options = LoadOptions {
        platform,
        ..LoadOptions::default()
    };
    let image = image::load(&args.image, &options, &Collector)?;
    let inv = inventory::build(image);
    for w in &inv.warnings {
        eprintln!("warning: {}: {w}", inv.image.reference);
    }
    let text = match args.format {
        Format::Table => report::inventory::text(&inv),
        Format::Json => report::inventory::json(&inv)?,
    };
    emit(&text, args.output.as_deref())?;
    Ok(EXIT_OK)
}
