//! Every byte from an image is hostile, and a terminal obeys the control characters it is sent:
//! an image's `User`, a package name or a file path holding `ESC ] 0 ;` retitles the terminal,
//! `ESC [ 2 J` clears it, a newline forges a `PASS` line, a bidi override reverses what follows.
//! The text reports (table, Markdown, warnings, errors) pass every image-derived string through
//! [`escape`] at render time; JSON and SARIF keep the exact bytes (their encoders escape them).

use std::borrow::Cow;

/// True for the characters shown escaped: C0 controls (newline and tab included: a field is one
/// line), DEL, C1 controls, and the Unicode bidi embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069).
pub fn is_unsafe(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The text with every unsafe character written visibly: `\x1b` for a byte-sized control,
/// `\u{202e}` for a bidi override. Text without one is returned as is.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// [`escape`], owned.
pub fn esc(s: &str) -> String {
    escape(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_shown_not_sent() {
        assert_eq!(escape("plain näme ✓"), "plain näme ✓");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(escape("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape("a\nPASS"), "a\\x0aPASS");
        assert_eq!(escape("tab\there\r"), "tab\\x09here\\x0d");
        assert_eq!(escape("\x7f\u{9b}31m"), "\\x7f\\x9b31m");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u{202e}gpj.exe");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        // Neighbours of the ranges are ordinary text.
        assert_eq!(
            escape("\u{a0}\u{2029}\u{202f}\u{2065}\u{206a}"),
            "\u{a0}\u{2029}\u{202f}\u{2065}\u{206a}"
        );
    }
}
