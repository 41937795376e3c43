//! Debian (dpkg) package version parsing and ordering.
//!
//! OSV's Debian and Ubuntu records say "fixed in 3.0.11-1~deb12u2"; deciding whether the
//! installed `3.0.11-1~deb12u1` is older must agree with dpkg itself, or the gate reports
//! fixes apt would not install (or misses ones it would). So this follows dpkg's
//! `lib/dpkg/parsehelp.c` (`parseversion`) and `lib/dpkg/version.c` (`verrevcmp`), is
//! pinned by the vectors of dpkg's `lib/dpkg/t/t-version.c`, and a test compares it with
//! the real `dpkg --compare-versions` over thousands of generated pairs.
//!
//! Syntax: `[epoch:]upstream[-revision]`.
//! - The epoch is what precedes the first `:`, a decimal number up to `i32::MAX`
//!   (strtol's syntax: an optional sign, so `+1:` is epoch 1 and `-1:` an error).
//! - The revision is what follows the last `-` of the rest; without a `-` it is empty.
//! - Leading and trailing blanks (space, tab) are ignored; blanks inside are an error.
//!
//! dpkg splits what it refuses into errors (no version at all: empty, empty epoch or
//! upstream or revision, bad epoch, embedded blanks) and warnings (an upstream that does
//! not start with a digit, a character outside `[A-Za-z0-9.+~:-]` in the upstream or
//! `[A-Za-z0-9.+~]` in the revision). dpkg's database reader and `--compare-versions`
//! accept a version with a warning and order it anyway, and so does [`parse`];
//! [`parse_strict`] refuses warnings too. One difference, on purpose: a byte outside
//! ASCII is an error here, where dpkg warns and orders it by the platform's `char`
//! signedness (different on amd64 and arm64): a security answer must not depend on that.
//!
//! Order (`verrevcmp`, applied to the upstream, then the revision, after the epoch): the
//! strings alternate between non-digit runs and digit runs. Non-digit runs compare
//! character by character with `~` before everything, even the end of the run, then the
//! end, then letters, then everything else (`1.0~rc1 < 1.0 < 1.0a < 1.0+b1 < 1.0.1`).
//! Digit runs compare numerically, leading zeros ignored, of any length. An empty
//! revision equals `0` (`1.0 == 1.0-0`).

use std::cmp::Ordering;
use std::fmt;

/// Why dpkg would not take a version string. [`VersionError::is_warning`] tells dpkg's
/// warnings (it accepts the version anyway) from its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version string is empty")]
    Empty,
    #[error("version string has embedded spaces")]
    EmbeddedSpaces,
    #[error("epoch in version is empty")]
    EmptyEpoch,
    #[error("epoch in version is not number")]
    EpochNotNumber,
    #[error("epoch in version is negative")]
    NegativeEpoch,
    #[error("epoch in version is too big")]
    EpochTooBig,
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    #[error("revision number is empty")]
    EmptyRevision,
    #[error("version number is empty")]
    EmptyUpstream,
    #[error("version contains a byte outside ASCII")]
    NonAscii,
    /// A warning for dpkg.
    #[error("version number does not start with digit")]
    UpstreamNotDigit,
    /// A warning for dpkg.
    #[error("invalid character in version number")]
    InvalidUpstreamChar,
    /// A warning for dpkg.
    #[error("invalid character in revision number")]
    InvalidRevisionChar,
}

impl VersionError {
    /// Whether dpkg only warns about this (and still installs and orders the version).
    #[must_use]
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::UpstreamNotDigit | Self::InvalidUpstreamChar | Self::InvalidRevisionChar
        )
    }
}

/// A parsed version, borrowing the string it came from.
#[derive(Clone, Copy, Debug)]
pub struct Version<'a> {
    pub epoch: u32,
    pub upstream: &'a str,
    /// Empty when the version has no `-`.
    pub revision: &'a str,
    /// What dpkg would warn about, if anything (only [`parse`] lets a warning through).
    pub warning: Option<VersionError>,
}

impl fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch != 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl PartialEq for Version<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version<'_> {}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version<'_> {
    /// dpkg's order; equal versions may be spelled differently (`0:1.0-0` and `1.00`).
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream.as_bytes(), other.upstream.as_bytes()))
            .then_with(|| verrevcmp(self.revision.as_bytes(), other.revision.as_bytes()))
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses a version as dpkg does, accepting what dpkg only warns about (the warning is
/// kept in [`Version::warning`]).
///
/// # Errors
///
/// A [`VersionError`] that is not a warning: what dpkg refuses outright (plus non-ASCII).
pub fn parse(s: &str) -> Result<Version<'_>, VersionError> {
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|&b| !is_blank(b)).ok_or(VersionError::Empty)?;
    let end = bytes.iter().rposition(|&b| !is_blank(b)).map_or(start, |e| e + 1);
    let s = &s[start..end];
    if s.bytes().any(is_blank) {
        return Err(VersionError::EmbeddedSpaces);
    }
    if !s.is_ascii() {
        return Err(VersionError::NonAscii);
    }
    let (epoch, rest) = match s.split_once(':') {
        Some((epoch, rest)) => {
            let epoch = parse_epoch(epoch)?;
            if rest.is_empty() {
                return Err(VersionError::NothingAfterColon);
            }
            (epoch, rest)
        }
        None => (0, s),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err(VersionError::EmptyRevision),
        Some((upstream, revision)) => (upstream, revision),
        None => (rest, ""),
    };
    if upstream.is_empty() {
        return Err(VersionError::EmptyUpstream);
    }
    let warning = if !upstream.as_bytes()[0].is_ascii_digit() {
        Some(VersionError::UpstreamNotDigit)
    } else if !upstream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~' | b':'))
    {
        Some(VersionError::InvalidUpstreamChar)
    } else if !revision
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~'))
    {
        Some(VersionError::InvalidRevisionChar)
    } else {
        None
    };
    Ok(Version {
        epoch,
        upstream,
        revision,
        warning,
    })
}

/// Parses a version, refusing what dpkg warns about too.
///
/// # Errors
///
/// Any [`VersionError`], warnings included.
pub fn parse_strict(s: &str) -> Result<Version<'_>, VersionError> {
    let v = parse(s)?;
    match v.warning {
        Some(w) => Err(w),
        None => Ok(v),
    }
}

/// The epoch the way dpkg reads it: `strtol` up to the first `:`, which must end the
/// number; then range checks.
fn parse_epoch(epoch: &str) -> Result<u32, VersionError> {
    let (negative, digits) = match epoch.as_bytes().first() {
        Some(b'-') => (true, &epoch[1..]),
        Some(b'+') => (false, &epoch[1..]),
        _ => (false, epoch),
    };
    let numeric = digits.bytes().take_while(u8::is_ascii_digit).count();
    if numeric == 0 {
        return Err(VersionError::EmptyEpoch);
    }
    if numeric != digits.len() {
        return Err(VersionError::EpochNotNumber);
    }
    let value = digits
        .bytes()
        .try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')));
    if negative && value != Some(0) {
        return Err(VersionError::NegativeEpoch);
    }
    match value {
        Some(v) if v <= i32::MAX as u64 => u32::try_from(v).map_err(|_| VersionError::EpochTooBig),
        _ => Err(VersionError::EpochTooBig),
    }
}

/// Whether dpkg takes `v` as a version (possibly with a warning).
#[must_use]
pub fn is_valid(v: &str) -> bool {
    parse(v).is_ok()
}

/// dpkg's order of two versions; `None` when either is not a version ([`parse`]).
#[must_use]
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(parse(a).ok()?.cmp(&parse(b).ok()?))
}

/// The weight of a character in a non-digit run (`order()` in dpkg's `version.c`).
fn weight(c: Option<&u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(*c),
        Some(b'~') => -1,
        Some(c) => i32::from(*c) + 256,
    }
}

fn skip_zeros(s: &[u8]) -> &[u8] {
    &s[s.iter().take_while(|&&c| c == b'0').count()..]
}

fn verrevcmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
    let non_digit = |s: &[u8]| s.first().is_some_and(|c| !c.is_ascii_digit());
    while !a.is_empty() || !b.is_empty() {
        while non_digit(a) || non_digit(b) {
            let (wa, wb) = (weight(a.first()), weight(b.first()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            // Equal weights of non-digit runs: both sides hold the same character here
            // (a digit or the end weighs 0, which no other character does).
            a = &a[1..];
            b = &b[1..];
        }
        a = skip_zeros(a);
        b = skip_zeros(b);
        let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
        // Without leading zeros the longer number is the bigger; equal lengths compare
        // by their first differing digit.
        let by_number = da.cmp(&db).then_with(|| a[..da].cmp(&b[..db]));
        if by_number != Ordering::Equal {
            return by_number;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    fn cmp(a: &str, b: &str) -> Ordering {
        compare(a, b).unwrap_or_else(|| panic!("{a:?} or {b:?} does not parse"))
    }

    fn parts(v: &str) -> (u32, &str, &str) {
        let p = parse_strict(v).unwrap_or_else(|e| panic!("{v:?}: {e}"));
        (p.epoch, p.upstream, p.revision)
    }

    /// `DPKG_VERSION_OBJECT(epoch, version, revision)` of t-version.c, as a string.
    fn object(epoch: u32, upstream: &'static str, revision: &'static str) -> Version<'static> {
        Version {
            epoch,
            upstream,
            revision,
            warning: None,
        }
    }

    #[test]
    fn t_version_compare() {
        // lib/dpkg/t/t-version.c, test_version_compare.
        assert_eq!(object(0, "", "").cmp(&object(0, "", "")), Equal);
        assert_ne!(object(1, "", "").cmp(&object(2, "", "")), Equal);
        assert_ne!(object(0, "1", "1").cmp(&object(0, "2", "1")), Equal);
        assert_ne!(object(0, "1", "1").cmp(&object(0, "1", "2")), Equal);
        assert_eq!(object(0, "0", "0").cmp(&object(0, "0", "0")), Equal);
        assert_eq!(object(0, "0", "00").cmp(&object(0, "00", "0")), Equal);
        assert_eq!(object(1, "2", "3").cmp(&object(1, "2", "3")), Equal);
        for (a, b) in [
            (object(0, "0", "0"), object(1, "0", "0")),
            (object(0, "a", "0"), object(0, "b", "0")),
            (object(0, "0", "a"), object(0, "0", "b")),
        ] {
            assert_eq!(a.cmp(&b), Less);
            assert_eq!(b.cmp(&a), Greater);
        }
        // test_version_relate.
        assert_eq!(object(0, "1", "1").cmp(&object(0, "1", "1")), Equal);
        assert_eq!(object(0, "1", "1").cmp(&object(0, "2", "1")), Less);
        assert_eq!(object(0, "2", "1").cmp(&object(0, "1", "1")), Greater);
    }

    #[test]
    fn t_version_parse_accepts() {
        // lib/dpkg/t/t-version.c, test_version_parse: what parses, and into what.
        for (s, want) in [
            ("0", object(0, "0", "")),
            ("0:0", object(0, "0", "")),
            ("0:0-0", object(0, "0", "0")),
            ("0:0.0-0.0", object(0, "0.0", "0.0")),
            ("1:0", object(1, "0", "")),
            ("5:1", object(5, "1", "")),
            ("0:0-0-0", object(0, "0-0", "0")),
            ("0:0-0-0-0", object(0, "0-0-0", "0")),
            ("0:0:0-0", object(0, "0:0", "0")),
            ("0:0:0:0-0", object(0, "0:0:0", "0")),
            ("0:0:0-0-0", object(0, "0:0-0", "0")),
            ("0:0-0:0-0", object(0, "0-0:0", "0")),
            ("0:09azAZ.-+~:-0", object(0, "09azAZ.-+~:", "0")),
            ("0:0-azAZ09.+~", object(0, "0", "azAZ09.+~")),
            ("  \t0:0-1", object(0, "0", "1")),
            ("0:0-1\t  ", object(0, "0", "1")),
            ("\t  0:0-1  \t", object(0, "0", "1")),
        ] {
            let got = parse_strict(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(
                (got.epoch, got.upstream, got.revision),
                (want.epoch, want.upstream, want.revision),
                "{s:?}"
            );
            assert_eq!(got.cmp(&want), Equal, "{s:?}");
        }
    }

    #[test]
    fn t_version_parse_refuses() {
        use VersionError::*;
        // lib/dpkg/t/t-version.c: errors.
        for (s, want) in [
            ("", Empty),
            ("  ", Empty),
            ("0:", NothingAfterColon),
            (":1.0", EmptyEpoch),
            ("1.0-", EmptyRevision),
            ("0:0 0-1", EmbeddedSpaces),
            ("-1:0-1", NegativeEpoch),
            ("999999999999999999999999:0-1", EpochTooBig),
            ("a:0-0", EmptyEpoch),
            ("A:0-0", EmptyEpoch),
            ("-0", EmptyUpstream),
            ("0:-0", EmptyUpstream),
        ] {
            assert_eq!(parse(s).unwrap_err(), want, "{s:?}");
            assert!(!want.is_warning());
            assert!(!is_valid(s));
        }
        // Warnings: dpkg (and `parse`) still takes them, `parse_strict` does not.
        let mut warned = vec![
            ("0:abc3-0".to_string(), UpstreamNotDigit),
            ("0:0-0:0".into(), InvalidRevisionChar),
        ];
        for c in "!#@$%&/|\\<>()[]{};,_=*^'".chars() {
            warned.push((format!("0:0{c}-0"), InvalidUpstreamChar));
        }
        for c in "!#@$%&/|\\<>()[]{}:;,_=*^'".chars() {
            warned.push((format!("0:0-{c}"), InvalidRevisionChar));
        }
        for (s, want) in &warned {
            assert_eq!(parse_strict(s).unwrap_err(), *want, "{s:?}");
            assert_eq!(parse(s).unwrap().warning, Some(*want), "{s:?}");
            assert!(want.is_warning());
        }
    }

    #[test]
    fn epochs_like_strtol_and_dpkg() {
        assert_eq!(parts("2147483647:1").0, 2_147_483_647);
        assert_eq!(parse("2147483648:1").unwrap_err(), VersionError::EpochTooBig);
        assert_eq!(parts("+1:0"), (1, "0", ""));
        assert_eq!(parts("00:1"), (0, "1", ""));
        // The first `:` ends the epoch, even one in the revision.
        assert_eq!(parse("1.0-a:b").unwrap_err(), VersionError::EpochNotNumber);
        assert_eq!(parse("1:-1").unwrap_err(), VersionError::EmptyUpstream);
        assert_eq!(parse("0-0-").unwrap_err(), VersionError::EmptyRevision);
        assert_eq!(parse("1\u{e9}").unwrap_err(), VersionError::NonAscii);
    }

    #[test]
    fn the_order() {
        let ascending = [
            "1.0~~",
            "1.0~~a",
            "1.0~",
            "1.0~rc1",
            "1.0",
            "1.0-0.1",
            "1.0-1~bpo1",
            "1.0-1",
            "1.0-1+b1",
            "1.0-1.1",
            "1.0a",
            "1.0+dfsg",
            "1.0.1",
            "1.00001.1~",
            "1.2",
            "1.10",
            "1:0.1",
        ];
        for (i, a) in ascending.iter().enumerate() {
            for (j, b) in ascending.iter().enumerate() {
                assert_eq!(cmp(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        assert_eq!(cmp("1.0", "1.0-0"), Equal);
        assert_eq!(cmp("0:1.0-0", "1.00"), Equal);
        assert_eq!(cmp("1.001", "1.1"), Equal);
        // Digit runs of any length.
        assert_eq!(cmp("1.99999999999999999999999", "1.100000000000000000000000"), Less);
        // Real Debian security versions.
        assert_eq!(cmp("3.0.11-1~deb12u1", "3.0.11-1~deb12u2"), Less);
        assert_eq!(cmp("3.0.11-1~deb12u2", "3.0.11-1"), Less);
        assert_eq!(cmp("2.36-9+deb12u3", "2.36-9+deb12u10"), Less);
        assert_eq!(cmp("1:1.2.13.dfsg-1", "1.3"), Greater);
        assert_eq!(compare("1.0", "-1"), None);
    }

    #[test]
    fn display_round_trips_the_parts() {
        for s in ["1:2.0-3", "2.0", "0:2.0-0", "1.0-1-1"] {
            let v = parse(s).unwrap();
            let shown = v.to_string();
            assert_eq!(parse(&shown).unwrap().cmp(&v), Equal, "{s} → {shown}");
        }
        assert_eq!(parse("0:2.0").unwrap().to_string(), "2.0");
    }

    /// A small deterministic generator (xorshift), so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
            items[self.below(items.len())]
        }
        /// One digit/non-digit alternation: the corners `verrevcmp` has.
        fn part(&mut self, separators: &[&str]) -> String {
            let mut s = String::new();
            for _ in 0..=self.below(4) {
                s.push_str(self.pick(&[
                    "0",
                    "1",
                    "2",
                    "9",
                    "10",
                    "01",
                    "001",
                    "00",
                    "11",
                    "12345678901234567890",
                ]));
                if self.below(3) > 0 {
                    s.push_str(self.pick(separators));
                }
            }
            s
        }
        fn version(&mut self) -> String {
            let mut v = String::new();
            if self.below(5) == 0 {
                v.push_str(self.pick(&["0:", "1:", "2:", "01:", "10:"]));
            }
            // Upstream must start with a digit; it may hold `-` only with a revision.
            v.push_str(self.pick(&["0", "1", "2", "10"]));
            let upstream_seps = [
                ".", "~", "+", "a", "b", "A", "~~", "~rc", "+dfsg", ".a", "z", "~a", "+b", ":",
            ];
            v.push_str(&self.part(&upstream_seps));
            if self.below(3) > 0 {
                if self.below(6) == 0 {
                    v.push_str("-1");
                }
                v.push('-');
                let revision_seps = [
                    ".", "~", "+", "a", "~deb12u", "+deb12u", "ubuntu", "~bpo", "build", "~~",
                ];
                if self.below(4) == 0 {
                    v.push_str(self.pick(&["a", "~", "+"]));
                }
                v.push_str(&self.part(&revision_seps));
            }
            v
        }
        /// A version close to `v`: one edit, so the pair shares a prefix and differs
        /// where the order is subtle.
        fn neighbour(&mut self, v: &str) -> String {
            let cut = self.below(v.len() + 1);
            let (head, tail) = v.split_at(cut);
            let insert = self.pick(&["~", "0", "1", "a", ".", "+", "~1", "00", ".0", "-0", "Z", ""]);
            let tail = match self.below(3) {
                0 => tail,
                1 => tail.get(1..).unwrap_or(""),
                _ => "",
            };
            format!("{head}{insert}{tail}")
        }
    }

    /// Runs one shell (one process, reading its script on stdin) that asks `dpkg --compare-versions` whether each `(a, rel, b)` holds,
    /// printing one `1`/`0` per line.
    fn dpkg_says(checks: &[(String, &str, String)]) -> Vec<bool> {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut script = String::with_capacity(checks.len() * 64);
        for (a, rel, b) in checks {
            script.push_str(&format!(
                "dpkg --compare-versions {} {rel} {} 2>/dev/null && echo 1 || echo 0\n",
                quote(a),
                quote(b)
            ));
        }
        // The script goes in on stdin: as an argument it would exceed the kernel's limit.
        let mut child = std::process::Command::new("sh")
            .arg("-s")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, script.as_bytes()));
        let out = child.wait_with_output().expect("sh runs");
        writer.join().expect("writer thread").expect("script written");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let answers: Vec<bool> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l == "1").collect();
        assert_eq!(answers.len(), checks.len(), "one answer per comparison");
        answers
    }

    fn relation(o: Ordering) -> &'static str {
        match o {
            Less => "lt",
            Equal => "eq",
            Greater => "gt",
        }
    }

    /// The real dpkg must agree: direct pairs, each checked with the relation this order
    /// predicts (dpkg agreeing on `lt` is the whole three-way answer), and a chain: many
    /// versions sorted here, each adjacent pair confirmed by dpkg, which (dpkg's order
    /// being transitive) confirms the order of every pair of the chain.
    #[test]
    fn agrees_with_dpkg_compare_versions() {
        let dpkg = std::process::Command::new("dpkg").arg("--version").output();
        assert!(
            dpkg.is_ok_and(|o| o.status.success()),
            "this test needs dpkg (present on every Debian machine)"
        );
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut checks = Vec::new();
        while checks.len() < 1500 {
            let a = rng.version();
            let b = if rng.below(4) == 0 {
                rng.version()
            } else {
                rng.neighbour(&a)
            };
            // Only pairs dpkg takes without complaint: dpkg's own errors are tested above.
            // dpkg's command line would read a leading `-` as an option.
            let (Ok(pa), Ok(pb)) = (parse_strict(&a), parse_strict(&b)) else {
                continue;
            };
            if a.starts_with('-') || b.starts_with('-') {
                continue;
            }
            let rel = relation(pa.cmp(&pb));
            checks.push((a, rel, b));
        }
        let direct = checks.len();
        let mut chain: Vec<String> = Vec::new();
        while chain.len() < 400 {
            let v = if chain.is_empty() || rng.below(2) == 0 {
                rng.version()
            } else {
                let near = chain[rng.below(chain.len())].clone();
                rng.neighbour(&near)
            };
            if parse_strict(&v).is_ok() && !v.starts_with('-') {
                chain.push(v);
            }
        }
        chain.sort_by(|a, b| cmp(a, b));
        for w in chain.windows(2) {
            checks.push((
                w[0].clone(),
                if cmp(&w[0], &w[1]) == Equal { "eq" } else { "lt" },
                w[1].clone(),
            ));
        }
        let answers = dpkg_says(&checks);
        let disagreements: Vec<_> = checks
            .iter()
            .zip(&answers)
            .filter(|(_, ok)| !**ok)
            .map(|((a, rel, b), _)| format!("{a} {rel} {b}"))
            .collect();
        let implied = chain.len() * (chain.len() - 1) / 2;
        eprintln!(
            "dpkg --compare-versions: {direct} direct pairs + {} chain links ({implied} pairs implied), {} disagreements",
            chain.len() - 1,
            disagreements.len()
        );
        assert!(disagreements.is_empty(), "dpkg disagrees: {disagreements:#?}");
        let kinds = |r: &str| checks[..direct].iter().filter(|c| c.1 == r).count();
        assert!(
            kinds("lt") > 100 && kinds("gt") > 100 && kinds("eq") > 10,
            "the pairs exercise every answer"
        );
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = Rng(42);
        let alphabet = ["0", "1", ":", "-", "~", "+", ".", "a", " ", "\t", "_", "é", "9", ""];
        for _ in 0..20_000 {
            let s: String = (0..rng.below(10)).map(|_| rng.pick(&alphabet)).collect();
            if let Ok(v) = parse(&s) {
                assert_eq!(v.cmp(&v), Equal);
                assert!(compare(&s, &s) == Some(Equal));
            }
        }
    }
}
