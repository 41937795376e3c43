//! `imagegate inventory IMAGE`

use super::{EXIT_OK, Format, emit};
use crate::report;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// REGISTRY/REPO[:TAG|@DIGEST], docker-archive:PATH[:TAG], oci:DIR[:TAG|@DIGEST],
    /// oci-archive:PATH, a path, or - for a `docker save` stream on stdin.
    pub image: String,
    #[command(flatten)]
    pub pull: super::pull::PullArgs,
    #[arg(long, value_enum, default_value_t = super::Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write a CycloneDX 1.6 SBOM to FILE.
    #[arg(long, value_name = "FILE")]
    pub cyclonedx: Option<PathBuf>,
    /// Also write an SPDX 2.3 SBOM to FILE.
    #[arg(long, value_name = "FILE")]
    pub spdx: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let inv = crate::gate::read_inventory(&args.image, &args.pull.load_options()?)?;
    super::print_warnings(&inv);
    let text = match args.format {
        Format::Table => report::inventory::text(&inv),
        Format::Json => report::inventory::json(&inv)?,
    };
    emit(&text, args.output.as_deref())?;
    if let Some(path) = &args.cyclonedx {
        emit(&report::cyclonedx::cyclonedx(&inv)?, Some(path))?;
    }
    if let Some(path) = &args.spdx {
        emit(&report::spdx::spdx(&inv)?, Some(path))?;
    }
    Ok(EXIT_OK)
}
