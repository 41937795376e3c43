//! `imagegate scan IMAGE`: the inventory matched against the advisory database.

use super::db::DbArg;
use super::{EXIT_OK, Format, emit};
use crate::advisory::{db, scan};
use crate::image::{self, LoadOptions, model::Platform};
use crate::inventory::{self, Collector};
use crate::report::{self, scan::DbInfo};
use anyhow::anyhow;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// docker-archive:PATH[:TAG], oci:DIR[:TAG|@DIGEST], oci-archive:PATH, a path, or -.
    pub image: String,
    #[command(flatten)]
    pub db: DbArg,
    /// Platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long, default_value = "linux/amd64")]
    pub platform: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
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
    // The database first: without one there is nothing to decide, so fail before reading.
    let dir = args.db.resolve();
    let index = db::open(&dir)?;
    let options = LoadOptions {
        platform,
        ..LoadOptions::default()
    };
    let image = image::load(&args.image, &options, &Collector)?;
    let inv = inventory::build(image);
    for w in &inv.warnings {
        eprintln!("warning: {}: {w}", inv.image.reference);
    }
    let result = scan::scan(&inv, &index)?;
    let info = DbInfo {
        source: dir.display().to_string(),
        built_at: Some(index.meta().built_at),
        records: index.meta().records,
    };
    let text = match args.format {
        Format::Table => report::scan::text(&inv, &info, &result),
        Format::Json => report::scan::json(&inv, &info, &result)?,
    };
    emit(&text, args.output.as_deref())?;
    Ok(EXIT_OK)
}
