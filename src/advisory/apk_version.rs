//! Alpine (apk-tools 3) package version validation and ordering.
//!
//! Advisory data (secdb) says "fixed in X"; deciding whether an installed package is
//! older than X must agree with apk itself, or the gate reports fixes that apk would not
//! install (or misses ones it would). So this follows apk-tools 3's `src/version.c`
//! token by token, including its less obvious corners, and is pinned by apk-tools' own
//! test vectors (`testdata/apk-tools/version.data`).
//!
//! Grammar: `digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}`.
//!
//! Ordering rules, in apk's terms:
//! - The first number compares numerically. A later `.`-number compares numerically too,
//!   unless either side starts with `0`; then the digit strings compare bytewise
//!   (Gentoo's rule, so `1.01 < 1.1` and `1.001 < 1.01`).
//! - One lowercase letter may follow the numbers; it compares by byte value.
//! - Suffixes rank `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`;
//!   their optional numbers compare numerically.
//! - `~hash` (lowercase hex) compares bytewise.
//! - `-rN` compares numerically.
//! - When one side runs out of tokens first, the side with more tokens is newer, unless
//!   its next token is a pre-release suffix (`1.0_rc1 < 1.0 < 1.0_p1`). Otherwise the
//!   side whose next token kind comes earlier in the grammar is newer (`1.0a < 1.0.1`).
//! - Numbers are accumulated in 64 bits and wrap on overflow, as apk's do.

use std::cmp::Ordering;

/// Token kinds in grammar order. The order is load-bearing: it decides which token may
/// follow which, and which version wins when the two token streams diverge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix rank; `None` is the pivot between pre-releases and post-releases. It is never
/// produced by parsing (no suffix means no token) but marks the boundary for comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    None,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl Suffix {
    /// Exact match only: `_post`, `_a` or `_Alpha` make the whole version invalid.
    fn parse(word: &[u8]) -> Option<Self> {
        Some(match word {
            b"alpha" => Self::Alpha,
            b"beta" => Self::Beta,
            b"pre" => Self::Pre,
            b"rc" => Self::Rc,
            b"cvs" => Self::Cvs,
            b"svn" => Self::Svn,
            b"git" => Self::Git,
            b"hg" => Self::Hg,
            b"p" => Self::P,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Kind,
    /// The token's own bytes (digits, letter, suffix word or hash), without separators.
    text: &'a [u8],
    number: u64,
    /// Meaningful only for `Kind::Suffix`.
    suffix: Suffix,
}

impl Token<'_> {
    fn new(kind: Kind) -> Self {
        Token {
            kind,
            text: &[],
            number: 0,
            suffix: Suffix::None,
        }
    }
}

/// Splits off the longest prefix whose bytes satisfy `pred`.
fn split_span(input: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let len = input.iter().take_while(|&&c| pred(c)).count();
    input.split_at(len)
}

/// A run of decimal digits; an empty run is invalid (e.g. `1.`, `-r`).
fn digits(kind: Kind, input: &[u8]) -> (Token<'_>, &[u8]) {
    let (text, rest) = split_span(input, |c| c.is_ascii_digit());
    if text.is_empty() {
        return (Token::new(Kind::Invalid), rest);
    }
    // apk accumulates in a uint64_t without overflow checks; wrap to agree with it.
    let number = text
        .iter()
        .fold(0u64, |n, &c| n.wrapping_mul(10).wrapping_add(u64::from(c - b'0')));
    let token = Token {
        kind,
        text,
        number,
        suffix: Suffix::None,
    };
    (token, rest)
}

fn first_token(input: &[u8]) -> (Token<'_>, &[u8]) {
    digits(Kind::InitialDigit, input)
}

/// The token after one of kind `prev`. Which kinds may follow which is enforced here,
/// so validity falls out of tokenizing to the end.
fn next_token(prev: Kind, input: &[u8]) -> (Token<'_>, &[u8]) {
    let invalid = (Token::new(Kind::Invalid), input);
    let Some((c, after)) = input.split_first() else {
        return (Token::new(Kind::End), input);
    };
    match *c {
        b'a'..=b'z' => {
            if prev > Kind::Digit {
                return invalid;
            }
            let token = Token {
                text: std::slice::from_ref(c),
                ..Token::new(Kind::Letter)
            };
            (token, after)
        }
        b'.' if prev <= Kind::Digit => digits(Kind::Digit, after),
        b'0'..=b'9' => match prev {
            // Unreachable after digits (they are consumed greedily), kept for parity.
            Kind::InitialDigit | Kind::Digit => digits(Kind::Digit, input),
            Kind::Suffix => digits(Kind::SuffixNo, input),
            _ => invalid,
        },
        b'_' if prev <= Kind::SuffixNo => {
            let (word, rest) = split_span(after, |c| c.is_ascii_lowercase());
            match Suffix::parse(word) {
                Some(suffix) => {
                    let token = Token {
                        text: word,
                        suffix,
                        ..Token::new(Kind::Suffix)
                    };
                    (token, rest)
                }
                None => invalid,
            }
        }
        b'~' if prev < Kind::CommitHash => {
            // Lowercase hex only, as apk's HEXDIGIT class.
            let (hash, rest) = split_span(after, |c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
            if hash.is_empty() {
                return invalid;
            }
            let token = Token {
                text: hash,
                ..Token::new(Kind::CommitHash)
            };
            (token, rest)
        }
        b'-' if prev < Kind::RevisionNo => match after.strip_prefix(b"r") {
            Some(rest) => digits(Kind::RevisionNo, rest),
            None => invalid,
        },
        _ => invalid,
    }
}

/// Compares two tokens of the same kind.
fn token_cmp(a: &Token<'_>, b: &Token<'_>) -> Ordering {
    match a.kind {
        // A leading zero after a dot switches to string sort (so `.05 < .5`).
        Kind::Digit if a.text.first() == Some(&b'0') || b.text.first() == Some(&b'0') => a.text.cmp(b.text),
        Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => a.number.cmp(&b.number),
        Kind::Suffix => a.suffix.cmp(&b.suffix),
        // Letter (a single byte) and hash compare as bytes.
        _ => a.text.cmp(b.text),
    }
}

/// apk's `apk_version_compare_fuzzy`, including its answers for invalid input: tokens
/// are compared until the first difference, so whatever follows it is never examined.
fn apk_compare(a: &[u8], b: &[u8], fuzzy: bool) -> Ordering {
    let (mut ta, mut ra) = first_token(a);
    let (mut tb, mut rb) = first_token(b);
    while ta.kind == tb.kind && ta.kind < Kind::End {
        let ord = token_cmp(&ta, &tb);
        if ord != Ordering::Equal {
            return ord;
        }
        (ta, ra) = next_token(ta.kind, ra);
        (tb, rb) = next_token(tb.kind, rb);
    }
    // Both ended (or both turned invalid) at the same point.
    if ta.kind == tb.kind {
        return Ordering::Equal;
    }
    // Fuzzy: `b` is a whole-token prefix of `a` (`3.6.9 ~ 3.6`, but not `3.60 ~ 3.6`).
    if fuzzy && tb.kind == Kind::End {
        return Ordering::Equal;
    }
    // The longer version is newer unless what it adds is a pre-release suffix.
    if ta.kind == Kind::Suffix && ta.suffix < Suffix::None {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.suffix < Suffix::None {
        return Ordering::Greater;
    }
    // Otherwise the token kind earlier in the grammar wins: `1.0a < 1.0.1`, `1.0 < 1.0-r0`.
    tb.kind.cmp(&ta.kind)
}

/// Whether `v` is a version string apk-tools accepts.
#[must_use]
pub fn is_valid(v: &str) -> bool {
    let (mut token, mut rest) = first_token(v.as_bytes());
    while token.kind < Kind::End {
        (token, rest) = next_token(token.kind, rest);
    }
    token.kind == Kind::End
}

/// apk-tools' ordering of two versions. Invalid versions: return None.
#[must_use]
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    (is_valid(a) && is_valid(b)).then(|| apk_compare(a.as_bytes(), b.as_bytes(), false))
}

/// apk-tools' fuzzy ordering, behind the `~`, `<~` and `>~` dependency operators (the
/// test vectors exercise them): `Equal` when `b` is a whole-token prefix of `a`
/// (`3.6.9 ~ 3.6`, `3.6_pre1 ~ 3.6`, but `3.60 > 3.6`), otherwise as [`compare`].
/// Note the asymmetry: `b` is the pattern. Invalid versions: return None.
#[must_use]
pub fn compare_fuzzy(a: &str, b: &str) -> Option<Ordering> {
    (is_valid(a) && is_valid(b)).then(|| apk_compare(a.as_bytes(), b.as_bytes(), true))
}

/// apk-tools' ordering without validating first, exactly what apk answers for any input.
/// Exists because apk itself orders invalid versions (it only looks as far as the first
/// differing token) and its test vectors pin that (`1.0 < 1.0bc`). Prefer [`compare`]:
/// a security decision should not rest on a version apk would reject.
#[must_use]
pub fn compare_unvalidated(a: &str, b: &str) -> Ordering {
    apk_compare(a.as_bytes(), b.as_bytes(), false)
}

/// [`compare_fuzzy`] without validating first; see [`compare_unvalidated`] for why it
/// exists (vectors such as `3.6.9_post1 ~ 3.6`, where `_post` is not a valid suffix).
#[must_use]
pub fn compare_fuzzy_unvalidated(a: &str, b: &str) -> Ordering {
    apk_compare(a.as_bytes(), b.as_bytes(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::{Equal, Greater, Less};

    const VECTORS: &str = include_str!("../../testdata/apk-tools/version.data");

    /// Lines whose comparison involves a version apk rejects; checked through the
    /// unvalidated functions, while the validated ones must refuse them.
    const INVALID_OPERAND_LINES: [usize; 4] = [2, 3, 745, 756];

    /// Asserts `a < b < c < ...` pairwise for every ordered pair, both directions.
    fn assert_ascending(versions: &[&str]) {
        for (i, a) in versions.iter().enumerate() {
            for b in &versions[i + 1..] {
                assert_eq!(compare(a, b), Some(Less), "{a} < {b}");
                assert_eq!(compare(b, a), Some(Greater), "{b} > {a}");
            }
        }
    }

    /// One vector line, judged like apk-tools' `test/unit/version_test.c`: `ver1 op ver2`
    /// (op chars `<`, `>`, `=`, `~`, optionally prefixed by `!` to negate), or `version`
    /// / `!version` for validity. Returns an error text on mismatch.
    fn check_line(line_no: usize, line: &str, invalid_operands: &mut Vec<usize>) -> Result<(), String> {
        let Some((ver1, rest)) = line.split_once(' ') else {
            let (want_valid, ver) = match line.strip_prefix('!') {
                Some(ver) => (false, ver),
                None => (true, line),
            };
            return if is_valid(ver) == want_valid {
                Ok(())
            } else {
                Err(format!("line {line_no}: is_valid({ver:?}) != {want_valid}"))
            };
        };
        let (op, ver2) = rest
            .split_once(' ')
            .ok_or_else(|| format!("line {line_no}: malformed {line:?}"))?;
        let (negate, op) = match op.strip_prefix('!') {
            Some(op) => (true, op),
            None => (false, op),
        };
        let (mut allowed, mut fuzzy) = (Vec::new(), false);
        for c in op.chars() {
            match c {
                '<' => allowed.push(Less),
                '>' => allowed.push(Greater),
                '=' => allowed.push(Equal),
                '~' => {
                    fuzzy = true;
                    allowed.push(Equal);
                }
                _ => return Err(format!("line {line_no}: unknown operator {op:?}")),
            }
        }
        if allowed.is_empty() {
            return Err(format!("line {line_no}: empty operator"));
        }
        let (unvalidated, validated) = if fuzzy {
            (compare_fuzzy_unvalidated(ver1, ver2), compare_fuzzy(ver1, ver2))
        } else {
            (compare_unvalidated(ver1, ver2), compare(ver1, ver2))
        };
        if allowed.contains(&unvalidated) == negate {
            return Err(format!("line {line_no}: {line:?} but got {unvalidated:?}"));
        }
        if is_valid(ver1) && is_valid(ver2) {
            if validated != Some(unvalidated) {
                return Err(format!("line {line_no}: validated {validated:?} != {unvalidated:?}"));
            }
        } else if validated.is_some() {
            return Err(format!("line {line_no}: invalid operand but got {validated:?}"));
        } else {
            invalid_operands.push(line_no);
        }
        Ok(())
    }

    #[test]
    fn upstream_vectors() {
        let mut checked = 0;
        let mut failures = Vec::new();
        let mut invalid_operands = Vec::new();
        for (idx, raw) in VECTORS.lines().enumerate() {
            // As upstream: drop the comment, trim, skip blank lines.
            let line = raw.split_once('#').map_or(raw, |(body, _)| body).trim();
            if line.is_empty() {
                continue;
            }
            checked += 1;
            if let Err(e) = check_line(idx + 1, line, &mut invalid_operands) {
                failures.push(e);
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        // 785 non-blank lines in the pinned file; fewer means the file or parser broke.
        assert!(checked >= 785, "only {checked} vector lines checked");
        assert_eq!(invalid_operands, INVALID_OPERAND_LINES);
    }

    #[test]
    fn initial_number_is_numeric_even_with_leading_zeros() {
        assert_eq!(compare("10", "9"), Some(Greater));
        assert_eq!(compare("010", "10"), Some(Equal));
        assert_eq!(compare("006", "1.0.0"), Some(Greater));
    }

    #[test]
    fn later_numbers_are_numeric_without_leading_zero() {
        assert_ascending(&["1.2", "1.9", "1.10", "1.10.1", "1.100"]);
    }

    #[test]
    fn leading_zero_after_dot_sorts_as_string() {
        assert_ascending(&["1.0", "1.00", "1.001", "1.01", "1.010", "1.1"]);
        assert_eq!(compare("1.05", "1.5"), Some(Less));
        // String sort, so `.09 < .1` even though 9 > 1 numerically.
        assert_eq!(compare("1.09", "1.1"), Some(Less));
        assert_eq!(compare("1.0", "1.0"), Some(Equal));
    }

    #[test]
    fn letters() {
        assert_ascending(&["1.0", "1.0a", "1.0b", "1.0z", "1.0.1"]);
        assert_eq!(compare("2.3.0b-r1", "2.3.0b-r2"), Some(Less));
        assert!(!is_valid("1.0A"));
        // Only one letter, and no digits directly after it.
        assert!(!is_valid("1.0ab"));
        assert!(!is_valid("1.0a1"));
        assert!(!is_valid("1.0a.1"));
    }

    #[test]
    fn suffix_ranking() {
        assert_ascending(&[
            "1.0_alpha",
            "1.0_beta",
            "1.0_pre",
            "1.0_rc",
            "1.0",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_hg",
            "1.0_p",
        ]);
    }

    #[test]
    fn suffix_numbers() {
        assert_ascending(&["1.0_alpha", "1.0_alpha0", "1.0_alpha2", "1.0_alpha10", "1.0_beta"]);
        // Suffix numbers are plain numeric, leading zeros included.
        assert_eq!(compare("1.0_p01", "1.0_p1"), Some(Equal));
        assert!(is_valid("0.1_alpha1_pre2"));
        assert!(is_valid("0.1_git20240101_pre1"));
        assert_eq!(compare("1.0_rc1_p1", "1.0_rc1"), Some(Greater));
        assert_eq!(compare("1.0_rc1_pre1", "1.0_rc1"), Some(Less));
    }

    #[test]
    fn invalid_suffixes() {
        for v in [
            "0.1_",
            "0.1_foobar",
            "0.1_post1",
            "0.1_Alpha",
            "0.1__alpha",
            "0.1_1_alpha",
        ] {
            assert!(!is_valid(v), "{v}");
        }
    }

    #[test]
    fn revisions() {
        assert_ascending(&["1.0", "1.0-r0", "1.0-r1", "1.0-r9", "1.0-r10", "1.0.1"]);
        assert_eq!(compare("1.0_rc1-r5", "1.0-r0"), Some(Less));
        assert_eq!(compare("1.0_p1", "1.0-r5"), Some(Greater));
        for v in ["0.1-r", "0.1-r2-r3", "0.1-r2.1", "0.1-r2_p1", "0.1-1", "0.1-"] {
            assert!(!is_valid(v), "{v}");
        }
    }

    #[test]
    fn commit_hashes() {
        assert_ascending(&["1.0", "1.0~12", "1.0~123", "1.0~abc", "1.0~abd"]);
        assert_eq!(compare("1.0~1234-r1", "1.0~1234-r0"), Some(Greater));
        // A hash outranks any revision at the same point.
        assert_eq!(compare("1.0~00", "1.0-r99"), Some(Greater));
        assert!(is_valid("0.1a_rc1~ff-r3"));
        for v in ["1.0~", "1.0~ABC", "1.0~12x", "1.0~12~34", "1.0-r1~12", "1.0~12_p1"] {
            assert!(!is_valid(v), "{v}");
        }
    }

    #[test]
    fn invalid_versions_are_refused() {
        for v in [
            "", "!", ".1", "a", "_pre1", "-r1", "1.", "1..2", "1.0 ", " 1.0", "1.0é", "1\0",
        ] {
            assert!(!is_valid(v), "{v:?}");
            assert_eq!(compare(v, "1.0"), None, "{v:?}");
            assert_eq!(compare("1.0", v), None, "{v:?}");
            assert_eq!(compare_fuzzy(v, "1.0"), None, "{v:?}");
        }
    }

    #[test]
    fn unvalidated_matches_apk_on_invalid_input() {
        // Decided before the invalid tail is reached.
        assert_eq!(compare_unvalidated("1.0", "1.0bc"), Less);
        assert_eq!(compare_unvalidated("2.0_foo", "1.0"), Greater);
        // Both turn invalid at the same point: apk calls that equal.
        assert_eq!(compare_unvalidated("a", "b"), Equal);
        // An invalid tail ranks below anything valid at that point.
        assert_eq!(compare_unvalidated("1.0_foo", "1.0"), Less);
    }

    #[test]
    fn fuzzy_prefix_matching() {
        assert_eq!(compare_fuzzy("3.6.9", "3.6"), Some(Equal));
        assert_eq!(compare_fuzzy("3.6_pre1", "3.6"), Some(Equal));
        assert_eq!(compare_fuzzy("3.6-r3", "3.6"), Some(Equal));
        // Whole tokens only, and `b` is the pattern.
        assert_eq!(compare_fuzzy("3.60", "3.6"), Some(Greater));
        assert_eq!(compare_fuzzy("3.6", "3.6.9"), Some(Less));
        assert_eq!(compare_fuzzy("3.5.9", "3.6"), Some(Less));
        // Non-fuzzy compare still orders them.
        assert_eq!(compare("3.6.9", "3.6"), Some(Greater));
    }

    #[test]
    fn numbers_wrap_like_apk() {
        // 2^64 wraps to 0 in apk's uint64_t accumulator.
        assert_eq!(compare("18446744073709551616", "0"), Some(Equal));
        assert_eq!(compare("18446744073709551615", "1"), Some(Greater));
        assert_eq!(compare("1.0-r18446744073709551617", "1.0-r1"), Some(Equal));
    }

    /// xorshift64*: deterministic pseudo-random bytes without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            // n is small; the modulo bias is irrelevant here.
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }

        fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
            items.get(self.below(items.len())).copied().unwrap_or("")
        }

        /// A third each: arbitrary bytes (lossily made UTF-8), a soup of version
        /// characters, and grammar-shaped versions with an occasional stray piece, so
        /// deep parser states and valid/valid comparisons are both reached.
        fn version(&mut self) -> String {
            const SOUP: &[u8] = b"0123456789012345....____--~~rrpabcfgxzA\0 \xff";
            const PIECES: &[&str] = &[
                "", ".0", ".1", ".01", ".10", ".9", "a", "z", "_alpha", "_rc", "_p", "_git", "_pre2", "_beta10",
                "~ab12", "~0", "-r0", "-r1", "-r10", "_", "-", "~", ".", "b1",
            ];
            match self.below(3) {
                0 => {
                    let bytes: Vec<u8> = (0..self.below(24)).map(|_| self.next().to_le_bytes()[0]).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => {
                    let bytes: Vec<u8> = (0..self.below(24))
                        .filter_map(|_| SOUP.get(self.below(SOUP.len())).copied())
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                _ => {
                    let mut v = self.pick(&["0", "1", "2", "10", "007"]).to_owned();
                    for _ in 0..self.below(5) {
                        v.push_str(self.pick(PIECES));
                    }
                    v
                }
            }
        }
    }

    #[test]
    fn random_input_never_panics_and_stays_consistent() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut valid_seen = 0;
        for _ in 0..200_000 {
            let (a, b) = (rng.version(), rng.version());
            let (va, vb) = (is_valid(&a), is_valid(&b));
            valid_seen += usize::from(va);
            let ord = compare(&a, &b);
            assert_eq!(ord.is_some(), va && vb, "{a:?} {b:?}");
            assert_eq!(
                compare_unvalidated(&b, &a),
                compare_unvalidated(&a, &b).reverse(),
                "{a:?} {b:?}"
            );
            assert_eq!(compare_unvalidated(&a, &a), Equal, "{a:?}");
            assert_eq!(compare_fuzzy_unvalidated(&a, &a), Equal, "{a:?}");
            assert_eq!(compare_fuzzy(&a, &b).is_some(), ord.is_some());
        }
        // The generator must actually reach valid versions, or the checks above are weak.
        assert!(valid_seen > 20_000, "only {valid_seen} valid versions generated");
    }
}
