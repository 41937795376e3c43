//! OSV records: parse, then everything a scan does with a record: severity (CVSS vectors),
//! alias folding, and the matcher evaluated against the versions the record itself names and
//! a few others, in npm and in Alpine.
#![no_main]

use imagegate::advisory::matcher::{affected, fold};
use imagegate::advisory::osv::{Ecosystem, Event, Record};
use imagegate::advisory::{apk_version, npm_version, severity};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

const MAX_VERSIONS: usize = 24;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = Record::from_json(data) else {
        return;
    };
    let _ = severity::of_record(&record);
    let _ = severity::resolve(&record, std::slice::from_ref(&record));
    let groups = fold(std::slice::from_ref(&record));
    if !record.is_withdrawn() {
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].primary, record.id);
    }
    // What the index builder stores must read back.
    let json = serde_json::to_vec(&record).expect("a parsed record serializes");
    Record::from_json(&json).expect("a serialized record parses");

    let mut versions: Vec<&str> = vec!["0", "1.0.0", "3.3.2-r0", "1.2.5-r0", "4.17.20"];
    let mut ecosystems = vec![
        Ecosystem::Npm,
        Ecosystem::alpine("v3.20"),
        Ecosystem::Alpine { branch: None },
    ];
    let mut packages = Vec::new();
    for a in &record.affected {
        if let Some(p) = &a.package {
            packages.push(p.name.as_str());
            if !ecosystems.contains(&p.ecosystem) {
                ecosystems.push(p.ecosystem.clone());
            }
        }
        versions.extend(a.versions.iter().map(String::as_str));
        for r in &a.ranges {
            for e in &r.events {
                match e {
                    Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => {
                        versions.push(v)
                    }
                    Event::Invalid(_) => {}
                }
            }
        }
    }
    versions.truncate(MAX_VERSIONS);
    packages.truncate(4);
    packages.push("lodash");
    for ecosystem in ecosystems.iter().take(4) {
        for package in &packages {
            for version in &versions {
                if let Ok(Some(m)) = affected(&record, ecosystem, package, version) {
                    assert_eq!(m.id, record.id);
                    assert!(!m.reasons.is_empty());
                    // Fixed versions ascend in the ecosystem's order.
                    for pair in m.fixed.windows(2) {
                        let order = match ecosystem {
                            Ecosystem::Npm => npm_version::compare(&pair[0], &pair[1]),
                            _ => apk_version::compare(&pair[0], &pair[1]),
                        };
                        assert_ne!(order, Some(Ordering::Greater), "{:?}", m.fixed);
                    }
                }
            }
        }
    }
});
