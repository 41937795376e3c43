//! One line of progress on stderr for the waits a user would otherwise sit through in silence
//! (a registry pull, indexing a downloaded dump). Only on a terminal: piped or redirected, not a
//! byte is written, so a CI log holds the report and the warnings, not a hundred redraws.
//!
//! The line is redrawn in place at most every [`INTERVAL`], cut to the terminal's width (a line
//! that wrapped could not be redrawn in place), stripped of control and bidi characters (it may
//! name an image), and erased when the work is done, so the report starts on a clean line.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use unicode_width::UnicodeWidthChar;

/// The shortest time between two redraws.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Carriage return, then erase the line (CSI 2 K).
const ERASE: &str = "\r\x1b[2K";

/// A progress line on stderr, or nothing at all. Shared between threads (`&self` methods).
pub struct Progress {
    state: Option<Mutex<State>>,
}

struct State {
    last: Option<Instant>,
    drawn: bool,
    width: usize,
}

impl Progress {
    /// A line on stderr when `wanted` and stderr is a terminal; otherwise [`Progress::hidden`].
    pub fn stderr(wanted: bool) -> Progress {
        let stderr = std::io::stderr();
        if !wanted || !stderr.is_terminal() {
            return Progress::hidden();
        }
        let (_, cols) = console::Term::stderr().size();
        Progress {
            state: Some(Mutex::new(State {
                last: None,
                drawn: false,
                width: usize::from(cols).max(20),
            })),
        }
    }

    /// Writes nothing, ever.
    pub fn hidden() -> Progress {
        Progress { state: None }
    }

    pub fn is_visible(&self) -> bool {
        self.state.is_some()
    }

    /// Shows `line()`, unless the last redraw was less than [`INTERVAL`] ago (then `line` is
    /// not even called). The first call always draws.
    pub fn update(&self, line: impl FnOnce() -> String) {
        self.draw(line, false);
    }

    /// Shows `line()` now, whatever the interval (a phase that starts: "indexing …").
    pub fn show(&self, line: impl FnOnce() -> String) {
        self.draw(line, true);
    }

    fn draw(&self, line: impl FnOnce() -> String, now: bool) {
        let Some(state) = &self.state else { return };
        let Ok(mut s) = state.lock() else { return };
        let at = Instant::now();
        if !now && s.last.is_some_and(|last| at.duration_since(last) < INTERVAL) {
            return;
        }
        s.last = Some(at);
        let text = fit(&line(), s.width.saturating_sub(1));
        let mut err = std::io::stderr().lock();
        // A failed write to the terminal is not worth failing the scan for.
        let _ = write!(err, "{ERASE}{text}").and_then(|_| err.flush());
        s.drawn = true;
    }

    /// Erases the line (if one was drawn), so what follows starts at the left margin.
    pub fn clear(&self) {
        let Some(state) = &self.state else { return };
        let Ok(mut s) = state.lock() else { return };
        if s.drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{ERASE}").and_then(|_| err.flush());
            s.drawn = false;
        }
        s.last = None;
    }
}

impl Drop for Progress {
    /// An error or an early return clears the line too.
    fn drop(&mut self) {
        self.clear();
    }
}

/// The text as one safe line of at most `width` columns: control and bidi characters become
/// `?`, and a line too long ends in `…`.
fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let mut chars = text.chars().map(visible).peekable();
    while let Some(c) = chars.next() {
        let w = c.width().unwrap_or(0);
        let room = if chars.peek().is_some() {
            width.saturating_sub(1)
        } else {
            width
        };
        if used + w > room {
            out.push('…');
            break;
        }
        out.push(c);
        used += w;
    }
    out
}

fn visible(c: char) -> char {
    if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
        '?'
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_safe_line_within_the_width() {
        assert_eq!(fit("pulling app:1", 40), "pulling app:1");
        assert_eq!(fit("ab\x1b]0;x\x07\ncd\u{202e}", 40), "ab?]0;x??cd?");
        assert_eq!(fit("abcdefghij", 6), "abcde…");
        assert_eq!(fit("abcdef", 6), "abcdef");
        // Wide characters count twice.
        assert_eq!(fit("日本語日本語", 6), "日本…");
    }

    #[test]
    fn hidden_progress_writes_nothing_and_does_not_call_the_line() {
        let p = Progress::hidden();
        assert!(!p.is_visible());
        p.update(|| unreachable!("a hidden progress line is never built"));
        p.show(|| unreachable!("a hidden progress line is never built"));
        p.clear();
    }
}
