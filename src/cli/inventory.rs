//! `imagegate inventory IMAGE`

use super::{EXIT_OK, Format};
use crate::report;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// REGISTRY/REPO[:TAG|@DIGEST], docker:NAME[:TAG], podman:NAME[:TAG], docker-archive:PATH[:TAG],
    /// oci:DIR[:TAG|@DIGEST], oci-archive:PATH, a path, or - for a `docker save` stream on stdin.
    pub image: String,
    #[command(flatten)]
    pub pull: super::pull::PullArgs,
    /// Format of the report.
    #[arg(long, short = 'f', value_enum, default_value_t = super::Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (`-` is stdout).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// The tables with every field in full, boxed, whatever the width.
    #[arg(long)]
    pub wide: bool,
    /// No warnings or log lines on stderr, only errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write a CycloneDX 1.6 SBOM to FILE.
    #[arg(long, value_name = "FILE")]
    pub cyclonedx: Option<PathBuf>,
    /// Also write an SPDX 2.3 SBOM to FILE.
    #[arg(long, value_name = "FILE")]
    pub spdx: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let inv = crate::gate::read_inventory(
        &args.image,
        &crate::image::LoadOptions {
            progress: !args.quiet,
            ..args.pull.load_options()?
        },
    )?;
    if !args.quiet {
        super::print_warnings(&inv);
        super::warn_platform(&inv, args.pull.requested_platform().as_ref());
    }
    let style = super::text_style(super::is_stdout(args.output.as_deref()), args.wide);
    match args.format {
        Format::Table => super::emit_with(args.output.as_deref(), &mut |w| {
            report::inventory::write_text(&inv, &style, w)
        })?,
        Format::Json => super::emit_with(args.output.as_deref(), &mut |w| report::inventory::write_json(&inv, w))?,
    }
    if let Some(path) = &args.cyclonedx {
        super::emit_with(Some(path), &mut |w| report::cyclonedx::write_cyclonedx(&inv, w))?;
    }
    if let Some(path) = &args.spdx {
        super::emit_with(Some(path), &mut |w| report::spdx::write_spdx(&inv, w))?;
    }
    Ok(EXIT_OK)
}
