//! How bad is a record, and where does that judgement come from?
//!
//! In order, the first that applies:
//! 1. `MAL-` records (malicious packages): critical. Installing one is a compromise,
//!    whatever a vector says.
//! 2. CVSS v3.0, v3.1 and v4.0 vectors in `severity[]` (or, when the record has none at
//!    the top level, in `affected[].severity[]`), scored with the `cvss` crate. When a
//!    record carries several, the highest score wins: a gate must not pass a
//!    vulnerability because a second vector scores it lower. Vectors that do not parse,
//!    and other systems (CVSS v2, Ubuntu labels), are passed over.
//! 3. `database_specific.severity` (GitHub's LOW, MODERATE, HIGH, CRITICAL).
//! 4. Borrowed from another record of the same alias group (see
//!    [`fold`](super::matcher::fold)) that has one of the above: OSV's Alpine records
//!    carry no severity, the GHSA or CVE record for the same CVE usually does.
//! 5. Unknown: the policy decides how it gates.
//!
//! Every [`Severity`] records its [`Source`] so a report can say why.

use std::borrow::Borrow;
use std::fmt;

use serde::{Serialize, Serializer};

use super::osv::{Record, SeverityScore, SeverityType};

/// The qualitative rating, CVSS's scale. "Unknown" is deliberately not a level: it must
/// not compare below `Low` by accident; it is `Severity::level == None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// CVSS's qualitative scale: critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0,
    /// none at 0.
    #[must_use]
    pub fn from_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Medium
        } else if score > 0.0 {
            Self::Low
        } else {
            Self::None
        }
    }

    /// A database's label (GitHub uses MODERATE for medium); case-insensitive. Anything
    /// else is not a level.
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Self::Critical),
            "high" => Some(Self::High),
            "moderate" | "medium" => Some(Self::Medium),
            "low" => Some(Self::Low),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a severity came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A `MAL-` record.
    Malicious,
    /// A CVSS v3.0 or v3.1 vector.
    CvssV3,
    /// A CVSS v4.0 vector.
    CvssV4,
    /// The record's `database_specific.severity`.
    DatabaseSpecific,
    /// Borrowed from the record with this id, which shares an alias.
    Alias(String),
    Unknown,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malicious => f.write_str("malicious"),
            Self::CvssV3 => f.write_str("cvss_v3"),
            Self::CvssV4 => f.write_str("cvss_v4"),
            Self::DatabaseSpecific => f.write_str("database_specific"),
            Self::Alias(id) => write!(f, "alias:{id}"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A record's severity and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Severity {
    /// `None`: unknown.
    pub level: Option<Level>,
    /// The CVSS score, when a vector decided (or lent) the level.
    pub score: Option<f64>,
    /// That vector, as written in the record.
    pub vector: Option<String>,
    pub source: Source,
}

impl Severity {
    /// Nothing to go on.
    #[must_use]
    pub fn unknown() -> Self {
        Self {
            level: None,
            score: None,
            vector: None,
            source: Source::Unknown,
        }
    }

    /// `critical`, …, `none`, or `unknown`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        self.level.map_or("unknown", Level::as_str)
    }

    /// Orders by level, then score: `Greater` is worse. Unknown sorts below every level.
    #[must_use]
    pub fn cmp_worse(&self, other: &Self) -> std::cmp::Ordering {
        self.level.cmp(&other.level).then(
            self.score
                .partial_cmp(&other.score)
                .unwrap_or(std::cmp::Ordering::Equal),
        )
    }
}

/// The severity `record` itself states (steps 1–3), else unknown.
#[must_use]
pub fn of_record(record: &Record) -> Severity {
    if record.is_malicious() {
        return Severity {
            level: Some(Level::Critical),
            score: None,
            vector: None,
            source: Source::Malicious,
        };
    }
    // The schema puts per-package severities in `affected[]` only when the top level has
    // none; reading them then keeps their information rather than dropping to a label.
    let entries: Vec<&SeverityScore> = if record.severity.is_empty() {
        record.affected.iter().flat_map(|a| &a.severity).collect()
    } else {
        record.severity.iter().collect()
    };
    let best = entries
        .into_iter()
        .filter_map(score)
        .fold(None, |best: Option<Severity>, s| match best {
            // Ties keep the first: deterministic, in record order.
            Some(b) if b.score >= s.score => Some(b),
            _ => Some(s),
        });
    if let Some(best) = best {
        return best;
    }
    match record.database_severity().and_then(Level::from_label) {
        Some(level) => Severity {
            level: Some(level),
            score: None,
            vector: None,
            source: Source::DatabaseSpecific,
        },
        None => Severity::unknown(),
    }
}

/// The severity of `record` (steps 1–5): its own, else borrowed from one of
/// `same_vulnerability`, the other records of its alias group (the record itself may be
/// among them; it is skipped). When several could lend, the highest level wins, then the
/// highest score, then the smallest id: deterministic, and never optimistic.
#[must_use]
pub fn resolve<R: Borrow<Record>>(record: &Record, same_vulnerability: &[R]) -> Severity {
    let own = of_record(record);
    if own.level.is_some() {
        return own;
    }
    let mut lenders: Vec<(Severity, &str)> = same_vulnerability
        .iter()
        .map(Borrow::borrow)
        .filter(|other| other.id != record.id && !other.is_withdrawn())
        .map(|other| (of_record(other), other.id.as_str()))
        .filter(|(s, _)| s.level.is_some())
        .collect();
    lenders.sort_by(|(a, a_id), (b, b_id)| {
        b.level
            .cmp(&a.level)
            .then(b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal))
            .then(a_id.cmp(b_id))
    });
    match lenders.into_iter().next() {
        Some((lent, id)) => Severity {
            source: Source::Alias(id.to_owned()),
            ..lent
        },
        None => own,
    }
}

/// Scores one `severity[]` entry if it is a CVSS v3.x or v4.0 vector.
fn score(entry: &SeverityScore) -> Option<Severity> {
    if !matches!(entry.kind, SeverityType::CvssV3 | SeverityType::CvssV4) {
        return None;
    }
    let vector: cvss::Cvss = entry.score.trim().parse().ok()?;
    // The source follows the vector's own prefix, not the `type` label, which some
    // records get wrong.
    let source = match vector {
        cvss::Cvss::CvssV30(_) | cvss::Cvss::CvssV31(_) => Source::CvssV3,
        cvss::Cvss::CvssV40(_) => Source::CvssV4,
        // The crate's enum is non-exhaustive; a version this build does not enable
        // (v2) says nothing here.
        _ => return None,
    };
    let value = vector.score();
    if !value.is_finite() {
        return None;
    }
    Some(Severity {
        level: Some(Level::from_score(value)),
        score: Some(value),
        vector: Some(entry.score.clone()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rel: &str) -> Record {
        let path = format!("{}/testdata/osv/{rel}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Record::from_json(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn record(json: &str) -> Record {
        json.parse().unwrap()
    }

    #[test]
    fn cvss_vectors_of_the_real_records_score_as_published() {
        // The base scores GitHub and NVD publish for these vectors.
        let cases = [
            ("GHSA-35jh-r3h4-6jhm", 7.2, Level::High, Source::CvssV3), // CVSS:3.1, lodash
            ("GHSA-42xw-2xvc-qx8m", 7.5, Level::High, Source::CvssV3), // CVSS:3.0, axios
            ("GHSA-67hx-6x53-jw92", 9.3, Level::Critical, Source::CvssV3), // scope changed
            ("GHSA-9c47-m6qq-7p4h", 7.1, Level::High, Source::CvssV3),
            ("GHSA-c2qf-rxjj-qqgw", 5.3, Level::Medium, Source::CvssV3),
            ("GHSA-fr5h-rqp8-mj6g", 7.5, Level::High, Source::CvssV3),
            ("GHSA-vh95-rmgr-6w4m", 5.6, Level::Medium, Source::CvssV3),
            // v3.1 5.0 and v4.0 2.3: the higher one decides.
            ("GHSA-cm22-4g7w-348p", 5.0, Level::Medium, Source::CvssV3),
        ];
        for (id, score, level, source) in cases {
            let s = of_record(&load(&format!("npm/{id}.json")));
            assert_eq!(s.score, Some(score), "{id}");
            assert_eq!((s.level, s.source), (Some(level), source), "{id}");
            assert!(s.vector.as_deref().is_some_and(|v| v.starts_with("CVSS:3.")), "{id}");
        }
    }

    #[test]
    fn cvss_v4_is_scored() {
        let serve = load("npm/GHSA-cm22-4g7w-348p.json");
        let v4 = score(&serve.severity[1]).unwrap();
        assert_eq!(v4.source, Source::CvssV4);
        assert_eq!((v4.score, v4.level), (Some(2.3), Some(Level::Low)));

        let only_v4 = record(
            r#"{"id": "GHSA-aaaa-bbbb-cccc", "severity": [{"type": "CVSS_V4",
                "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"}]}"#,
        );
        let s = of_record(&only_v4);
        assert_eq!(
            (s.score, s.level, &s.source),
            (Some(10.0), Some(Level::Critical), &Source::CvssV4)
        );
        assert_eq!(s.source.to_string(), "cvss_v4");
    }

    #[test]
    fn database_specific_when_there_is_no_vector() {
        // Both real records have `"severity": []`.
        for (id, level) in [
            ("GHSA-4xc9-xhrj-v574", Level::High),
            ("GHSA-78xj-cgh5-2h22", Level::High),
        ] {
            let s = of_record(&load(&format!("npm/{id}.json")));
            assert_eq!(
                (s.level, &s.source, s.score),
                (Some(level), &Source::DatabaseSpecific, None),
                "{id}"
            );
        }
        for (label, level) in [
            ("LOW", Level::Low),
            ("MODERATE", Level::Medium),
            ("CRITICAL", Level::Critical),
        ] {
            let r = record(&format!(
                r#"{{"id": "GHSA-x", "database_specific": {{"severity": "{label}"}}}}"#
            ));
            assert_eq!(of_record(&r).level, Some(level), "{label}");
        }
        let odd = record(r#"{"id": "GHSA-x", "database_specific": {"severity": "SEVERE"}}"#);
        assert_eq!(of_record(&odd), Severity::unknown());
    }

    #[test]
    fn bad_vectors_and_other_systems_fall_through() {
        let r = record(
            r#"{"id": "GHSA-x", "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/garbage"},
                {"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},
                {"type": "Ubuntu", "score": "high"}
            ], "database_specific": {"severity": "LOW"}}"#,
        );
        let s = of_record(&r);
        assert_eq!((s.level, &s.source), (Some(Level::Low), &Source::DatabaseSpecific));
    }

    #[test]
    fn a_mislabelled_vector_counts_by_its_own_prefix() {
        let r = record(
            r#"{"id": "GHSA-x", "severity": [{"type": "CVSS_V4",
                "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}"#,
        );
        let s = of_record(&r);
        assert_eq!((s.score, &s.source), (Some(9.8), &Source::CvssV3));
    }

    #[test]
    fn per_package_severity_when_the_top_level_has_none() {
        let r = record(
            r#"{"id": "GHSA-x", "affected": [{"package": {"ecosystem": "npm", "name": "x"},
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"}]}]}"#,
        );
        assert_eq!(of_record(&r).score, Some(5.3));
    }

    #[test]
    fn malicious_packages_are_critical() {
        let r = record(r#"{"id": "MAL-TEST-1234", "summary": "Malicious code in x (npm)"}"#);
        let s = of_record(&r);
        assert_eq!((s.level, &s.source), (Some(Level::Critical), &Source::Malicious));
        assert_eq!(s.source.to_string(), "malicious");
        // Even with a low label.
        let r = record(r#"{"id": "MAL-TEST-1235", "database_specific": {"severity": "LOW"}}"#);
        assert_eq!(of_record(&r).level, Some(Level::Critical));
    }

    #[test]
    fn alpine_records_borrow_from_their_alias_group() {
        let alpine = load("alpine/ALPINE-CVE-2024-9143.json");
        assert_eq!(
            of_record(&alpine),
            Severity::unknown(),
            "OSV's Alpine records carry none"
        );
        // The lenders are built here (a made-up GHSA id, made-up severities).
        let ghsa = record(
            r#"{"id": "GHSA-aaaa-bbbb-cccc", "aliases": ["CVE-2024-9143"], "severity": [{"type": "CVSS_V3",
                "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}]}"#,
        );
        let cve = record(r#"{"id": "CVE-2024-9143", "database_specific": {"severity": "MODERATE"}}"#);
        let group = [&alpine, &ghsa, &cve];
        let s = resolve(&alpine, &group);
        assert_eq!(s.level, Some(Level::High), "the higher of the two lenders");
        assert_eq!(s.score, Some(7.5));
        assert_eq!(s.source, Source::Alias("GHSA-aaaa-bbbb-cccc".into()));
        assert_eq!(s.source.to_string(), "alias:GHSA-aaaa-bbbb-cccc");
        // A record with its own severity keeps it.
        assert_eq!(resolve(&cve, &group).source, Source::DatabaseSpecific);
        // Nobody to borrow from.
        let s = resolve(&alpine, &[&alpine]);
        assert_eq!((s.label(), &s.source), ("unknown", &Source::Unknown));
        assert_eq!(s.source.to_string(), "unknown");
    }

    #[test]
    fn levels() {
        assert_eq!(Level::from_score(10.0), Level::Critical);
        assert_eq!(Level::from_score(9.0), Level::Critical);
        assert_eq!(Level::from_score(8.9), Level::High);
        assert_eq!(Level::from_score(7.0), Level::High);
        assert_eq!(Level::from_score(6.9), Level::Medium);
        assert_eq!(Level::from_score(4.0), Level::Medium);
        assert_eq!(Level::from_score(3.9), Level::Low);
        assert_eq!(Level::from_score(0.1), Level::Low);
        assert_eq!(Level::from_score(0.0), Level::None);
        assert!(Level::Critical > Level::High && Level::Low > Level::None);
        assert_eq!(serde_json::to_string(&Level::Medium).unwrap(), r#""medium""#);
        let s = Severity {
            source: Source::Alias("GHSA-x".into()),
            ..Severity::unknown()
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"level": null, "score": null, "vector": null, "source": "alias:GHSA-x"})
        );
    }
}
