//! The version orders a match rests on, apk-tools' and npm's (SemVer precedence): three
//! versions split from the input at newlines, and the laws of an order checked on them
//! (reflexive, antisymmetric, transitive) wherever both orders call the versions valid.
#![no_main]

use imagegate::advisory::{apk_version, npm_version};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fn laws(name: &str, cmp: impl Fn(&str, &str) -> Option<Ordering>, v: [&str; 3]) {
    for a in v {
        if let Some(o) = cmp(a, a) {
            assert_eq!(o, Ordering::Equal, "{name}: {a:?} vs itself");
        }
    }
    for a in v {
        for b in v {
            let (Some(ab), Some(ba)) = (cmp(a, b), cmp(b, a)) else {
                continue;
            };
            assert_eq!(ab, ba.reverse(), "{name}: {a:?} vs {b:?}");
            for c in v {
                let (Some(bc), Some(ac)) = (cmp(b, c), cmp(a, c)) else {
                    continue;
                };
                if ab != Ordering::Greater && bc != Ordering::Greater {
                    assert_ne!(ac, Ordering::Greater, "{name}: {a:?} <= {b:?} <= {c:?}");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let v = [
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    ];
    laws("apk", apk_version::compare, v);
    laws("npm", npm_version::compare, v);
    for a in v {
        // Validity and comparability agree.
        assert_eq!(apk_version::is_valid(a), apk_version::compare(a, a).is_some());
        assert_eq!(npm_version::is_valid(a), npm_version::compare(a, a).is_some());
        for b in v {
            // apk answers any input; these only must not panic.
            let _ = apk_version::compare_unvalidated(a, b);
            let _ = apk_version::compare_fuzzy_unvalidated(a, b);
            if let Some(o) = apk_version::compare_fuzzy(a, b) {
                // Fuzzy only ever turns an order into a match (`3.6.9 ~ 3.6`).
                let strict = apk_version::compare(a, b).expect("both valid");
                assert!(o == strict || o == Ordering::Equal, "apk fuzzy {a:?} ~ {b:?}");
            }
        }
    }
});
