//! `imagegate db import | status` (and `update`, where the build has it).

use super::{EXIT_OK, Format, emit};
use crate::advisory::{db, update};
use crate::report::db as db_report;
use std::path::PathBuf;

#[derive(clap::Subcommand, Debug)]
pub enum DbCommand {
    /// Download OSV's npm and Alpine dumps (conditional requests, retries, incremental where
    /// the source offers modified_id.csv) and rebuild the index.
    #[command(
        after_help = "Examples:\n  imagegate db update\n  imagegate db update --ecosystem npm --mirror https://osv-mirror.example.com"
    )]
    Update {
        /// Ecosystems to download [default: npm and Alpine]; `nodejs`: the Node.js security WG's
        /// index of runtime advisories
        #[arg(long = "ecosystem", value_name = "NAME")]
        ecosystems: Vec<String>,
        /// Base URL of an OSV dump mirror [default: $IMAGEGATE_OSV_MIRROR, else OSV's bucket]
        #[arg(long)]
        mirror: Option<String>,
        /// URL of the Node.js security WG's vuln/core/index.json, fetched with `--ecosystem nodejs`
        /// [default: $IMAGEGATE_NODEJS_INDEX, else the working group's repository]
        #[arg(long, value_name = "URL")]
        nodejs_index: Option<String>,
        /// Always download the whole dumps.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Import OSV records from an `all.zip` dump or a directory of JSON records (for offline
    /// runners: copy the zip in, import, scan).
    #[command(
        after_help = "Examples:\n  imagegate db import npm-all.zip alpine-all.zip\n  imagegate db import ./osv-records --replace"
    )]
    Import {
        /// OSV `all.zip` files or directories of OSV JSON records.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Start from an empty database instead of merging into the one there.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Where the database is, when it was built, how old it is, records per ecosystem.
    /// With --max-age: exit 1 when the database is older than that (or missing: exit 2).
    #[command(
        after_help = "Exit codes: 0 the database is there (and, with --max-age, no older than DUR); 1 it is older than --max-age; 2 it is missing or unreadable.\n\nExamples:\n  imagegate db status --format json\n  imagegate db status --max-age 1d || imagegate db update"
    )]
    Status {
        #[command(flatten)]
        db: DbArg,
        /// Format of the report.
        #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Exit 1 when the database was built longer ago than DUR (`12h`, `1d`, `1w`).
        #[arg(long, value_name = "DUR", value_parser = parse_age)]
        max_age: Option<i64>,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct DbArg {
    /// Advisory database directory [default: $IMAGEGATE_DB, else $XDG_CACHE_HOME/imagegate/db]
    #[arg(long = "db", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl DbArg {
    pub fn resolve(&self) -> PathBuf {
        db::resolve_dir(self.dir.as_deref())
    }
}

fn parse_age(text: &str) -> Result<i64, String> {
    crate::policy::parse_duration(text).ok_or_else(|| format!("`{text}`: expected a duration such as 12h, 1d or 1w"))
}

pub fn run(command: DbCommand) -> anyhow::Result<u8> {
    match command {
        DbCommand::Update {
            ecosystems,
            mirror,
            nodejs_index,
            full,
            db,
        } => {
            let mut options = update::UpdateOptions {
                mirror,
                nodejs_index,
                incremental: !full,
                ..Default::default()
            };
            if !ecosystems.is_empty() {
                options.ecosystems = ecosystems;
            }
            let report = update::update(&db.resolve(), &options)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            emit(&format!("{report}\n"), None)?;
        }
        DbCommand::Import { paths, replace, db } => {
            let dir = db.resolve();
            let report = db::import(&dir, &paths, replace)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            emit(&db_report::import(&dir, &report), None)?;
        }
        DbCommand::Status { db, format, max_age } => {
            let dir = db.resolve();
            let index = db::open(&dir)?;
            let text = match format {
                Format::Table => db_report::status_text(&dir, index.meta()),
                Format::Json => db_report::status_json(&dir, index.meta())?,
            };
            emit(&text, None)?;
            if let Some(max) = max_age {
                let age = jiff::Timestamp::now().as_second() - index.meta().built_at;
                if age > max {
                    eprintln!(
                        "{}: built {} ago, older than --max-age {}: run `imagegate db update`",
                        crate::report::escape::escape(&dir.display().to_string()),
                        db_report::age(index.meta().built_at),
                        db_report::duration(max)
                    );
                    return Ok(1);
                }
            }
        }
    }
    Ok(EXIT_OK)
}
