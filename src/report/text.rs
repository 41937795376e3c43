//! Plain-text layout helpers shared by the gate and inventory tables: display widths, cuts
//! that keep one end, padding, word wrap that never breaks a word (an id stays copyable), and
//! a layer step cut so its meaningful end stays (`RUN …npm ci`). Every cell is escaped here.

use super::escape::escape;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How a text report is laid out.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// ANSI colour (a terminal without `NO_COLOR`).
    pub colour: bool,
    /// Columns available: the terminal's, else `$COLUMNS`, else [`DEFAULT_WIDTH`].
    pub width: usize,
    /// The boxed layout of earlier releases, every field in full.
    pub wide: bool,
}

/// The width when neither a terminal nor `$COLUMNS` says: what a CI log shows unwrapped.
pub const DEFAULT_WIDTH: usize = 100;
/// Narrower than this, the compact layout still assumes this much.
pub const MIN_WIDTH: usize = 40;

impl Style {
    pub fn plain() -> Style {
        Style {
            colour: false,
            width: DEFAULT_WIDTH,
            wide: false,
        }
    }
}

impl Default for Style {
    fn default() -> Self {
        Style::plain()
    }
}

/// Display width (CJK counts two).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Escaped, and at most `max` columns: the end is cut with `…`.
pub fn fit(s: &str, max: usize) -> String {
    let s = escape(s);
    if width(&s) <= max {
        return s.into_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Escaped, and at most `max` columns: the start is cut with `…`.
pub fn fit_end(s: &str, max: usize) -> String {
    let s = escape(s);
    if width(&s) <= max {
        return s.into_owned();
    }
    let mut tail: Vec<char> = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        tail.push(c);
        w += cw;
    }
    let mut out = String::from("…");
    out.extend(tail.into_iter().rev());
    out
}

/// `s` (already escaped) padded with spaces to `w` columns.
pub fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

/// Escaped and word-wrapped to `max` columns, each line after the first indented by `indent`
/// spaces; a word longer than a line stands alone, whole.
pub fn wrap(s: &str, max: usize, indent: usize) -> Vec<String> {
    let s = escape(s);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let room = if lines.is_empty() {
            max
        } else {
            max.saturating_sub(indent)
        };
        if !line.is_empty() && width(&line) + 1 + width(word) > room {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    let pre = " ".repeat(indent);
    lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| if i == 0 { l } else { format!("{pre}{l}") })
        .collect()
}

/// A Dockerfile step in at most `max` columns, escaped. What a step did is at its end (`RUN
/// apk add … && npm ci`), so a long step keeps its instruction and its end: `RUN …&& npm ci`.
pub fn step(created_by: Option<&str>, max: usize) -> String {
    let s = crate::dockerfile::short_step(created_by, usize::MAX);
    let s = escape(&s);
    if width(&s) <= max {
        return s.into_owned();
    }
    match s.split_once(' ') {
        Some((keyword, rest)) if width(keyword) + 3 < max => {
            format!("{keyword} {}", fit_end(rest.trim_start(), max - width(keyword) - 1))
        }
        _ => fit_end(&s, max),
    }
}

/// `s` in bold colour `code` (an SGR number) when `on`.
pub fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Aligned columns under a header, indented two spaces, in at most `max` columns: every
/// column as wide as its widest cell up to its cap (cells cut with `…`), the last one taking
/// what is left. Cells are escaped here.
pub fn columns(header: &[(&str, usize)], rows: &[Vec<String>], max: usize) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every piece written is a `str`.
    let _ = write_columns(&mut out, header, || rows.iter(), max);
    String::from_utf8(out).unwrap_or_default()
}

/// [`columns`], written to `w` as the rows are formed: `rows` is called twice, once to size
/// the columns and once to write them, so a table of a million packages is never held.
///
/// # Errors
///
/// What writing to `w` gives.
pub fn write_columns<I, F>(
    w: &mut dyn std::io::Write,
    header: &[(&str, usize)],
    rows: F,
    max: usize,
) -> std::io::Result<()>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: AsRef<[String]>,
{
    let mut widths: Vec<usize> = header.iter().map(|(h, _)| width(h)).collect();
    for r in rows() {
        for (w, c) in widths.iter_mut().zip(r.as_ref()) {
            *w = (*w).max(width(&escape(c)));
        }
    }
    for (w, (_, cap)) in widths.iter_mut().zip(header) {
        *w = (*w).min(*cap);
    }
    // Too wide: the last column keeps at least 8, the others give way from the right, the
    // first (the name) last, never below their header.
    if let Some((last, rest)) = widths.split_last_mut() {
        let floor: Vec<usize> = header.iter().map(|(h, _)| width(h)).collect();
        loop {
            let used: usize = 2 + rest.iter().sum::<usize>() + 2 * rest.len();
            if used + (*last).min(8) <= max {
                *last = (*last).min(max - used);
                break;
            }
            // The rightmost column that can give way, the first (the name) last.
            let give = rest
                .iter_mut()
                .enumerate()
                .filter(|(i, w)| **w > floor.get(*i).copied().unwrap_or(0))
                .max_by_key(|(i, _)| *i);
            match give {
                Some((_, w)) => *w -= 1,
                None => {
                    *last = (*last).min(8);
                    break;
                }
            }
        }
    }
    let mut l = String::new();
    let mut line = |w: &mut dyn std::io::Write, cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
        l.clear();
        l.push_str("  ");
        for (i, c) in cells.enumerate() {
            let cw = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(&pad(&fit(c, cw), cw));
        }
        w.write_all(l.trim_end().as_bytes())?;
        w.write_all(b"\n")
    };
    line(w, &mut header.iter().map(|(h, _)| *h))?;
    for r in rows() {
        line(w, &mut r.as_ref().iter().map(String::as_str))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_the_end_that_matters() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit_end("abcdef", 4), "…def");
        assert_eq!(
            step(
                Some("RUN /bin/sh -c apk add --no-cache libc6-compat && npm ci # buildkit"),
                20
            ),
            "RUN …ompat && npm ci"
        );
        assert_eq!(step(Some("USER 1001"), 20), "USER 1001");
        assert_eq!(fit("\x1b[2J", 10), "\\x1b[2J");
    }

    #[test]
    fn wrap_never_breaks_a_word() {
        assert_eq!(wrap("aa bb cc", 5, 2), vec!["aa bb", "  cc"]);
        assert_eq!(wrap("GHSA-fr5h-rqp8-mj6g x", 8, 0), vec!["GHSA-fr5h-rqp8-mj6g", "x"]);
        assert_eq!(wrap("", 8, 0), vec![""]);
    }
}
