//! End of life of the OS releases images are built on: a base image past its end of support
//! gets no more security fixes, whatever the advisory database says about today.
//!
//! The table is dated: it is what the projects published as of 2026-12, and needs a new
//! row each time a release ships.
//! - Alpine: the "end of support" of each branch's `main` repository, from Alpine's release
//!   page (<https://alpinelinux.org/releases/>): v3.20 2026-04-01, v3.21 2026-11-01, v3.22
//!   2027-05-01, v3.23 2027-11-01. Older branches all ended before v3.20 did (branches end
//!   in release order), so they are reported as ended without a date.
//! - Debian: the end of regular security support and the end of LTS, from Debian's release
//!   and LTS pages (<https://www.debian.org/releases/>, <https://wiki.debian.org/LTS>):
//!   10 buster 2022-09-10 / 2024-06-30, 11 bullseye 2024-08-14 / 2026-08-31, 12 bookworm
//!   2026-06-10 / 2028-06-30, 13 trixie (regular support ends a year after Debian 14, not
//!   yet scheduled) / 2030-06-30. Older releases ended before buster.
//! - Ubuntu: "End of Standard Support" from Ubuntu's release cycle page
//!   (<https://ubuntu.com/about/release-cycle>), which gives months; the last day of that
//!   month is used. 20.04 LTS Apr 2025, 22.04 LTS Apr 2027, 23.04 Jan 2024, 23.10 Jul 2024,
//!   24.04 LTS Apr 2029, 24.10 Jul 2025; 25.04 Jan 2026, 25.10 Jul 2026 and 26.04 LTS
//!   Apr 2031 by the page's stated rule (9 months for interim releases, 5 years for LTS).
//!   Ubuntu Pro (ESM) extends LTS releases only for subscribers, so it is not counted.

use jiff::civil::{Date, date};
use serde::Serialize;

use super::os::OsInfo;

/// Where a release is in its life on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Regular support: security fixes from the distribution's own team.
    Supported,
    /// Regular support has ended, an extended one (Debian LTS) still publishes fixes.
    Extended,
    /// No more security fixes.
    EndOfLife,
}

/// A release's support status on a given day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EolStatus {
    /// `Alpine v3.20`, `Debian 12`, `Ubuntu 22.04 LTS`.
    pub release: String,
    pub phase: Phase,
    /// End of regular support: the first day without it is the day after. `None` when not
    /// yet scheduled, or (for branches older than the table) long past.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "iso_date")]
    pub end_of_support: Option<Date>,
    /// End of extended support (Debian LTS), where there is one.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "iso_date")]
    pub end_of_extended: Option<Date>,
    /// Where the dates come from.
    pub source: &'static str,
}

/// `2026-06-10` (jiff's `Display` is ISO 8601).
fn iso_date<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.collect_str(d),
        None => s.serialize_none(),
    }
}

const ALPINE_SOURCE: &str = "https://alpinelinux.org/releases/ (as of 2026-12)";
const DEBIAN_SOURCE: &str = "https://www.debian.org/releases/ and https://wiki.debian.org/LTS (as of 2026-12)";
const UBUNTU_SOURCE: &str = "https://ubuntu.com/about/release-cycle (as of 2026-12; months, end of month used)";

/// Alpine branch (minor of v3.x) → end of support.
const ALPINE: [(u32, Date); 4] = [
    (20, date(2026, 4, 1)),
    (21, date(2026, 11, 1)),
    (22, date(2027, 5, 1)),
    (23, date(2027, 11, 1)),
];

/// Debian major → (end of regular security support, end of LTS).
const DEBIAN: [(u32, Option<Date>, Date); 4] = [
    (10, Some(date(2022, 9, 10)), date(2024, 6, 30)),
    (11, Some(date(2024, 8, 14)), date(2026, 8, 31)),
    (12, Some(date(2026, 6, 10)), date(2028, 6, 30)),
    (13, None, date(2030, 6, 30)),
];

/// Ubuntu release → end of standard support.
const UBUNTU: [(&str, Date); 9] = [
    ("20.04", date(2025, 4, 30)),
    ("22.04", date(2027, 4, 30)),
    ("23.04", date(2024, 1, 31)),
    ("23.10", date(2024, 7, 31)),
    ("24.04", date(2029, 4, 30)),
    ("24.10", date(2025, 7, 31)),
    ("25.04", date(2026, 1, 31)),
    ("25.10", date(2026, 7, 31)),
    ("26.04", date(2031, 4, 30)),
];

fn phase(today: Date, end_of_support: Option<Date>, end_of_extended: Option<Date>) -> Phase {
    let running = |end: Option<Date>| end.is_some_and(|d| today <= d);
    // An unscheduled end of regular support (Debian's newest stable) is still running.
    if running(end_of_support) || (end_of_support.is_none() && running(end_of_extended)) {
        Phase::Supported
    } else if running(end_of_extended) {
        Phase::Extended
    } else {
        Phase::EndOfLife
    }
}

/// The support status of `os` on `today`. `None` when the table cannot tell: another OS,
/// Alpine edge or Debian testing/sid (rolling, no end), or a release newer than the table
/// (which then needs a row).
#[must_use]
pub fn eol(os: &OsInfo, today: Date) -> Option<EolStatus> {
    match os.id.as_str() {
        "alpine" => {
            let branch = os.branch.as_deref()?;
            let minor: u32 = branch.strip_prefix("v3.")?.parse().ok()?;
            let release = format!("Alpine {branch}");
            let oldest = ALPINE[0].0;
            if minor < oldest {
                return Some(EolStatus {
                    release,
                    phase: Phase::EndOfLife,
                    end_of_support: None,
                    end_of_extended: None,
                    source: ALPINE_SOURCE,
                });
            }
            let (_, end) = ALPINE.iter().find(|(m, _)| *m == minor)?;
            Some(EolStatus {
                release,
                phase: phase(today, Some(*end), None),
                end_of_support: Some(*end),
                end_of_extended: None,
                source: ALPINE_SOURCE,
            })
        }
        "debian" if !os.testing => {
            let major: u32 = os.release.as_deref()?.parse().ok()?;
            let release = format!("Debian {major}");
            if major < DEBIAN[0].0 {
                return Some(EolStatus {
                    release,
                    phase: Phase::EndOfLife,
                    end_of_support: None,
                    end_of_extended: None,
                    source: DEBIAN_SOURCE,
                });
            }
            let (_, regular, lts) = DEBIAN.iter().find(|(m, ..)| *m == major)?;
            Some(EolStatus {
                release,
                phase: phase(today, *regular, Some(*lts)),
                end_of_support: *regular,
                end_of_extended: Some(*lts),
                source: DEBIAN_SOURCE,
            })
        }
        "ubuntu" => {
            let r = os.release.as_deref()?;
            let lts = if os.lts { " LTS" } else { "" };
            let release = format!("Ubuntu {r}{lts}");
            let (_, end) = UBUNTU.iter().find(|(v, _)| *v == r).or_else(|| {
                // Older than the table: every release before 20.04 ended before it did.
                (r < UBUNTU[0].0).then_some(&("", Date::MIN))
            })?;
            let end = (*end != Date::MIN).then_some(*end);
            Some(EolStatus {
                release,
                phase: end.map_or(Phase::EndOfLife, |e| phase(today, Some(e), None)),
                end_of_support: end,
                end_of_extended: None,
                source: UBUNTU_SOURCE,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::os::{identify, identify_with_debian_version};

    fn os(os_release: &str) -> OsInfo {
        identify(Some(os_release), None, None).0.unwrap()
    }

    fn phase_of(os_release: &str, today: Date) -> Option<Phase> {
        eol(&os(os_release), today).map(|s| s.phase)
    }

    const DEC_2026: Date = date(2026, 12, 2);

    #[test]
    fn debian_phases() {
        let bookworm = os(include_str!("../../testdata/debian-12/etc/os-release"));
        let s = eol(&bookworm, DEC_2026).unwrap();
        assert_eq!(s.release, "Debian 12");
        assert_eq!(
            s.phase,
            Phase::Extended,
            "regular support ended 2026-06-10, LTS runs to 2028-06-30"
        );
        assert_eq!(s.end_of_extended, Some(date(2028, 6, 30)));
        assert_eq!(
            eol(&bookworm, date(2026, 6, 10)).unwrap().phase,
            Phase::Supported,
            "the last day counts"
        );
        assert_eq!(eol(&bookworm, date(2026, 6, 11)).unwrap().phase, Phase::Extended);
        assert_eq!(eol(&bookworm, date(2028, 7, 1)).unwrap().phase, Phase::EndOfLife);
        assert_eq!(phase_of("ID=debian\nVERSION_ID=11\n", DEC_2026), Some(Phase::EndOfLife));
        assert_eq!(phase_of("ID=debian\nVERSION_ID=13\n", DEC_2026), Some(Phase::Supported));
        assert_eq!(phase_of("ID=debian\nVERSION_ID=9\n", DEC_2026), Some(Phase::EndOfLife));
        assert_eq!(
            phase_of("ID=debian\nVERSION_ID=14\n", DEC_2026),
            None,
            "not in the table yet"
        );
        let sid = identify_with_debian_version(None, None, None, Some("trixie/sid"))
            .0
            .unwrap();
        assert_eq!(eol(&sid, DEC_2026), None, "testing/sid has no end of life");
    }

    #[test]
    fn ubuntu_phases() {
        let jammy = "ID=ubuntu\nVERSION_ID=\"22.04\"\nVERSION=\"22.04.5 LTS (Jammy Jellyfish)\"\n";
        let s = eol(&os(jammy), DEC_2026).unwrap();
        assert_eq!((s.release.as_str(), s.phase), ("Ubuntu 22.04 LTS", Phase::Supported));
        assert_eq!(s.end_of_support, Some(date(2027, 4, 30)));
        assert_eq!(eol(&os(jammy), date(2027, 5, 1)).unwrap().phase, Phase::EndOfLife);
        assert_eq!(
            phase_of("ID=ubuntu\nVERSION_ID=23.10\n", DEC_2026),
            Some(Phase::EndOfLife)
        );
        assert_eq!(
            phase_of("ID=ubuntu\nVERSION_ID=24.04\n", DEC_2026),
            Some(Phase::Supported)
        );
        assert_eq!(
            phase_of("ID=ubuntu\nVERSION_ID=18.04\n", DEC_2026),
            Some(Phase::EndOfLife)
        );
        assert_eq!(phase_of("ID=ubuntu\nVERSION_ID=26.10\n", DEC_2026), None);
    }

    #[test]
    fn alpine_phases() {
        let v320 = identify(
            Some(include_str!("../../testdata/alpine-3.20.3/etc/os-release")),
            Some(include_str!("../../testdata/alpine-3.20.3/etc/alpine-release")),
            None,
        )
        .0
        .unwrap();
        let s = eol(&v320, DEC_2026).unwrap();
        assert_eq!((s.release.as_str(), s.phase), ("Alpine v3.20", Phase::EndOfLife));
        assert_eq!(eol(&v320, date(2026, 3, 31)).unwrap().phase, Phase::Supported);
        let branch = |b: &str| {
            let mut info = v320.clone();
            info.branch = Some(b.into());
            eol(&info, DEC_2026).map(|s| s.phase)
        };
        assert_eq!(branch("v3.22"), Some(Phase::Supported));
        assert_eq!(branch("v3.18"), Some(Phase::EndOfLife));
        assert_eq!(branch("edge"), None);
        assert_eq!(branch("v3.99"), None);
        assert_eq!(phase_of("ID=fedora\nVERSION_ID=40\n", DEC_2026), None);
    }

    #[test]
    fn serializes_dates_as_iso_8601() {
        let s = eol(&os("ID=debian\nVERSION_ID=12\n"), DEC_2026).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["end_of_support"], "2026-06-10");
        assert_eq!(json["end_of_extended"], "2028-06-30");
        assert_eq!(json["phase"], "extended");
    }

    #[test]
    fn the_tables_are_in_order() {
        assert!(ALPINE.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        assert!(DEBIAN.windows(2).all(|w| w[0].0 < w[1].0 && w[0].2 < w[1].2));
        assert!(UBUNTU.windows(2).all(|w| w[0].0 < w[1].0));
        for (_, regular, lts) in DEBIAN {
            assert!(regular.is_none_or(|r| r < lts));
        }
    }
}
