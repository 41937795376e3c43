//! Dockerfiles and the build steps images record: the parser that finds the instruction a
//! layer came from (for SARIF locations), and the one reading of a history entry's
//! `created_by` that every report shares.
//!
//! Docker and BuildKit record steps in several forms: `RUN /bin/sh -c npm ci # buildkit`,
//! `RUN |1 A=b /bin/sh -c …`, `COPY . . # buildkit`, `/bin/sh -c #(nop)  USER 1001` and
//! `/bin/sh -c npm ci` (the classic builder). [`history_step`] turns each into (keyword,
//! arguments); [`short_step`] into what the user wrote, for a table cell.

/// A Dockerfile's instructions with their lines.
#[derive(Clone, Debug, Default)]
pub struct Dockerfile {
    pub instructions: Vec<Instruction>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// Upper case: `RUN`, `COPY`, …
    pub keyword: String,
    /// The arguments, continuation lines joined (and heredoc bodies appended).
    pub args: String,
    /// 1-based.
    pub start_line: usize,
    pub end_line: usize,
}

/// How close a layer's step must be to an instruction to point at it: the token sets overlap
/// at least this much (Jaccard). Below it, the layer most likely came from the base image.
const MATCH_THRESHOLD: f64 = 0.5;

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut escape = '\\';
        let mut directives = true;
        let mut instructions = Vec::new();
        let all: Vec<&str> = text.lines().collect();
        let mut lines = all.iter().copied().enumerate().map(|(i, l)| (i + 1, l));
        while let Some((start, line)) = lines.next() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                directives = false;
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                // Parser directives (`# escape=`` `) come only before anything else.
                if directives && let Some((key, value)) = comment.split_once('=') {
                    let key = key.trim();
                    if key.eq_ignore_ascii_case("escape")
                        && let Some(c) = value.trim().chars().next()
                    {
                        escape = c;
                    }
                    if !key.is_empty() && !key.contains(char::is_whitespace) {
                        continue;
                    }
                }
                directives = false;
                continue;
            }
            directives = false;
            let (keyword, rest) = split_word(trimmed);
            let mut args = String::new();
            let mut end = start;
            let mut current = rest.trim_end().to_string();
            loop {
                let Some(body) = current.strip_suffix(escape) else {
                    args.push_str(&current);
                    break;
                };
                // The escape joins the next line on; comment and blank lines in between go.
                args.push_str(body);
                let next = lines
                    .by_ref()
                    .inspect(|(n, _)| end = *n)
                    .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
                match next {
                    Some((_, l)) => current = l.trim_end().to_string(),
                    None => break,
                }
            }
            let keyword = keyword.to_ascii_uppercase();
            if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
                for (word, strip) in heredocs(&args) {
                    // `end` is the instruction's last line (1-based), so its index is the next
                    // line's. A heredoc without its terminator line is not one: nothing is taken.
                    let body = all.get(end..).unwrap_or_default();
                    let Some(close) = body.iter().position(|l| {
                        let l = if strip { l.trim_start_matches('\t') } else { l };
                        l.trim_end() == word
                    }) else {
                        continue;
                    };
                    args.push('\n');
                    args.push_str(&body[..close].join("\n"));
                    // Skip the body and the terminator.
                    for _ in lines.by_ref().take(close + 1) {}
                    end += close + 1;
                }
            }
            instructions.push(Instruction {
                keyword,
                args,
                start_line: start,
                end_line: end,
            });
        }
        Dockerfile { instructions }
    }

    /// The instruction that made a layer, from the layer's `created_by`: the one of the same
    /// kind whose arguments match best (a later one wins a tie, as the final stage comes last).
    pub fn find_step(&self, created_by: &str) -> Option<&Instruction> {
        let (keyword, args) = history_step(created_by)?;
        let want = normalize(&keyword, &args);
        let mut best: Option<(f64, &Instruction)> = None;
        for ins in self
            .instructions
            .iter()
            .filter(|i| family(&i.keyword) == family(&keyword))
        {
            let have = normalize(&ins.keyword, &ins.args);
            let score = similarity(&keyword, &want, &have);
            if score >= MATCH_THRESHOLD && best.is_none_or(|(b, _)| score >= b) {
                best = Some((score, ins));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The last instruction with this keyword in the final stage.
    pub fn last_in_final_stage(&self, keyword: &str) -> Option<&Instruction> {
        let from = self.instructions.iter().rposition(|i| i.keyword == "FROM").unwrap_or(0);
        self.instructions
            .get(from..)?
            .iter()
            .rev()
            .find(|i| i.keyword == keyword)
    }
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// The heredoc words of an instruction (`<<EOF`, `<<-"EOF"`), in order, and whether leading
/// tabs are stripped before comparing the terminator. Only words that begin with `<<` count,
/// as in BuildKit: `$((1<<2))` is arithmetic and `<<<` a here-string.
fn heredocs(args: &str) -> Vec<(String, bool)> {
    args.split_whitespace()
        .filter_map(|w| {
            let w = w.strip_prefix("<<").filter(|w| !w.starts_with('<'))?;
            let (w, strip) = match w.strip_prefix('-') {
                Some(w) => (w, true),
                None => (w, false),
            };
            let w = w.trim_matches(['"', '\'']);
            let word: String = w
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            (!word.is_empty() && word.len() == w.len()).then_some((word, strip))
        })
        .collect()
}

/// A history entry's step as (keyword, arguments). Docker writes them in several forms:
/// `RUN /bin/sh -c npm ci # buildkit`, `RUN |1 A=b /bin/sh -c …`, `COPY . . # buildkit`,
/// `/bin/sh -c #(nop)  USER 1001` and `/bin/sh -c npm ci` (the classic builder).
pub fn history_step(created_by: &str) -> Option<(String, String)> {
    let s = created_by.trim();
    let s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    if let Some(rest) = s.strip_prefix("/bin/sh -c #(nop)") {
        let (keyword, args) = split_word(rest);
        return Some((keyword.to_ascii_uppercase(), args.to_string()));
    }
    let s = strip_build_args(s);
    if let Some(command) = strip_shell(s) {
        return Some(("RUN".into(), command.to_string()));
    }
    let (keyword, args) = split_word(s);
    if keyword.is_empty() || !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((keyword.to_ascii_uppercase(), args.to_string()))
}

/// `|2 A=1 B=2 rest` → `rest`: the build arguments Docker records before a RUN command.
fn strip_build_args(s: &str) -> &str {
    let Some(count) = s.strip_prefix('|') else { return s };
    let (n, _) = split_word(count);
    let Ok(n) = n.parse::<usize>() else { return s };
    let mut rest = s;
    for _ in 0..=n {
        rest = split_word(rest).1;
    }
    rest
}

/// `/bin/sh -c cmd` (or `bash -c`, a `SHELL` of the image) → `cmd`.
fn strip_shell(s: &str) -> Option<&str> {
    let (shell, rest) = split_word(s);
    let (flag, command) = split_word(rest);
    (shell.ends_with("sh") && flag == "-c").then_some(command)
}

/// `RUN`s match `RUN`s; `COPY` and `ADD` match each other (the classic builder's history and
/// some tools blur them).
fn family(keyword: &str) -> &str {
    match keyword {
        "ADD" | "COPY" => "COPY",
        k => k,
    }
}

/// The words an instruction's arguments come down to: flags (`--mount=…`, `--chown=…`,
/// `--from=…`) dropped, a shell wrapper dropped, the JSON form unpacked.
fn normalize(keyword: &str, args: &str) -> Vec<String> {
    let mut a = args.trim();
    while a.starts_with("--") {
        a = split_word(a).1;
    }
    if keyword == "RUN" {
        a = strip_build_args(a);
        a = strip_shell(a).unwrap_or(a);
    }
    if a.starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(a)
    {
        return words
            .iter()
            .flat_map(|w| w.split_whitespace())
            .map(str::to_string)
            .collect();
    }
    a.split_whitespace().map(str::to_string).collect()
}

fn similarity(keyword: &str, want: &[String], have: &[String]) -> f64 {
    if want == have {
        return 1.0;
    }
    let a: std::collections::HashSet<&String> = want.iter().collect();
    let b: std::collections::HashSet<&String> = have.iter().collect();
    let union = a.union(&b).count();
    let jaccard = if union == 0 {
        0.0
    } else {
        a.intersection(&b).count() as f64 / union as f64
    };
    // The classic builder records `COPY dir:<hash> in /app`: only the destination is left to match.
    let same_destination = family(keyword) == "COPY" && want.last().is_some() && want.last() == have.last();
    if same_destination {
        jaccard.max(MATCH_THRESHOLD)
    } else {
        jaccard
    }
}

/// A step as the user wrote it, for a table cell: the shell wrapper Docker records
/// (`/bin/sh -c #(nop) `, `RUN /bin/sh -c …`) and BuildKit's `# buildkit` marker go, and a step
/// longer than `max` characters keeps its end cut with `…`.
pub fn short_step(created_by: Option<&str>, max: usize) -> String {
    let s = created_by.unwrap_or("").trim();
    let s = s.strip_suffix("# buildkit").unwrap_or(s).trim_end();
    let s = match s.strip_prefix("RUN /bin/sh -c ") {
        Some(rest) => format!("RUN {}", rest.trim()),
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

    const DOCKERFILE: &str = "# syntax=docker/dockerfile:1\n\
        FROM node:20-alpine AS build\n\
        WORKDIR /app\n\
        COPY package.json package-lock.json ./\n\
        RUN npm ci\n\
        \n\
        FROM node:20-alpine\n\
        WORKDIR /app\n\
        # dependencies\n\
        COPY --from=build --chown=1001:1001 /app/node_modules ./node_modules\n\
        RUN --mount=type=cache,target=/root/.npm addgroup -S app \\\n\
        \x20   # a comment inside\n\
        \x20   && npm ci --omit=dev\n\
        RUN <<EOF\n\
        echo hi\n\
        EOF\n\
        USER 1001\n";

    #[test]
    fn parses_lines_continuations_and_heredocs() {
        let d = Dockerfile::parse(DOCKERFILE);
        let kinds: Vec<(&str, usize, usize)> = d
            .instructions
            .iter()
            .map(|i| (i.keyword.as_str(), i.start_line, i.end_line))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("FROM", 2, 2),
                ("WORKDIR", 3, 3),
                ("COPY", 4, 4),
                ("RUN", 5, 5),
                ("FROM", 7, 7),
                ("WORKDIR", 8, 8),
                ("COPY", 10, 10),
                ("RUN", 11, 13),
                ("RUN", 14, 16),
                ("USER", 17, 17),
            ]
        );
    }

    #[test]
    fn heredoc_look_alikes_take_no_lines() {
        let d = Dockerfile::parse("FROM a\nRUN echo $((1<<2)) && cat <<<x\nRUN cat <<EOF > f\nUSER 1\n");
        let lines: Vec<(usize, usize)> = d.instructions.iter().map(|i| (i.start_line, i.end_line)).collect();
        // The unterminated `<<EOF` takes nothing: USER keeps its line.
        assert_eq!(lines, vec![(1, 1), (2, 2), (3, 3), (4, 4)]);
        let d = Dockerfile::parse("FROM a\nCOPY <<-\"EOF\" /x\n\tline\n\tEOF\nUSER 1\n");
        assert_eq!(d.instructions[1].end_line, 4);
        assert_eq!(d.instructions[2].start_line, 5);
    }

    #[test]
    fn finds_the_step_of_a_layer() {
        let d = Dockerfile::parse(DOCKERFILE);
        let line = |s: &str| d.find_step(s).map(|i| i.start_line);
        assert_eq!(line("RUN /bin/sh -c npm ci # buildkit"), Some(5));
        assert_eq!(
            line(
                "RUN --mount=type=cache,target=/root/.npm /bin/sh -c addgroup -S app     && npm ci --omit=dev # buildkit"
            ),
            Some(11)
        );
        assert_eq!(
            line("|1 NODE_ENV=production /bin/sh -c addgroup -S app && npm ci --omit=dev"),
            Some(11)
        );
        assert_eq!(line("COPY /app/node_modules ./node_modules # buildkit"), Some(10));
        assert_eq!(line("/bin/sh -c #(nop) COPY dir:0123abcd in ./node_modules "), Some(10));
        // A base image's layer matches nothing.
        assert_eq!(line("ADD file:9a8b in / "), None);
        assert_eq!(
            line("RUN /bin/sh -c apk add --no-cache python3 make g++ # buildkit"),
            None
        );
    }

    #[test]
    fn short_steps() {
        assert_eq!(short_step(Some("/bin/sh -c #(nop)  USER 1001"), 40), "USER 1001");
        assert_eq!(
            short_step(Some("RUN npm ci --omit=dev && npm cache clean"), 10),
            "RUN npm c…"
        );
        assert_eq!(short_step(None, 10), "");
        assert_eq!(short_step(Some("RUN /bin/sh -c npm ci # buildkit"), 40), "RUN npm ci");
        assert_eq!(short_step(Some("COPY . /app # buildkit"), 40), "COPY . /app");
    }
}
