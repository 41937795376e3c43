//! Output formats. Each report renders a plain data type to a string; the CLI decides where
//! it goes.

pub mod db;
pub mod gate;
pub mod inventory;
pub mod markdown;
pub mod sarif;
pub mod scan;

/// `12.3 MB`: decimal units, as `docker images` prints sizes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Shortens a Dockerfile step for a table cell: the shell wrapper Docker records
/// (`/bin/sh -c #(nop) `, `RUN /bin/sh -c … # buildkit`) goes, what the user wrote stays.
pub fn short_step(step: Option<&str>, max: usize) -> String {
    let s = step.unwrap_or("").trim();
    let s = match s.strip_prefix("RUN /bin/sh -c ") {
        Some(rest) => format!("RUN {}", rest.trim_end_matches("# buildkit").trim()),
        None => s
            .strip_prefix("/bin/sh -c #(nop) ")
            .or_else(|| s.strip_prefix("/bin/sh -c "))
            .unwrap_or(s)
            .trim()
            .to_string(),
    };
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_steps() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_345_678), "12.3 MB");
        assert_eq!(short_step(Some("/bin/sh -c #(nop)  USER 1001"), 40), "USER 1001");
        assert_eq!(
            short_step(Some("RUN npm ci --omit=dev && npm cache clean"), 10),
            "RUN npm c…"
        );
        assert_eq!(short_step(None, 10), "");
        assert_eq!(short_step(Some("RUN /bin/sh -c npm ci # buildkit"), 40), "RUN npm ci");
    }
}
