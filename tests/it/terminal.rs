//! Issue 12.3: an image's bytes never drive the terminal. An image whose config `User`,
//! `Healthcheck` and `ExposedPorts`, os-release, apk fields, `package.json` name and version,
//! `/etc/passwd` names and file paths carry ESC / OSC / BEL / CSI and a bidi override is read by
//! `inventory` and `scan` (table and Markdown): stdout and stderr hold none of those characters
//! raw (they are shown as `\x1b`, `\u{202e}`), while `--format json` keeps the exact bytes.

use crate::support::*;
use serde_json::Value;

/// Retitles the terminal (OSC 0 … BEL), clears it (CSI 2 J), forges a line, reverses text.
const EVIL: &str = "\x1b]0;owned\x07\x1b[2J\nPASS: forged\u{202e}";

/// The characters that must never reach stdout or stderr raw.
fn assert_clean(what: &str, text: &str) {
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}'] {
        assert!(
            !text.contains(bad),
            "{what}: raw U+{:04X} in the output:\n{}",
            bad as u32,
            text.escape_debug()
        );
    }
    assert!(
        !text.lines().any(|l| l.starts_with("PASS: forged")),
        "{what}: a forged line:\n{text}"
    );
}

fn hostile_image(dir: &std::path::Path) -> String {
    let apk = format!(
        "{}{}",
        apk_stanza(
            &format!("busy{EVIL}box"),
            &format!("1.0{EVIL}-r0"),
            "x86_64",
            EVIL,
            EVIL
        ),
        apk_stanza("zlib", "1.3.1-r1", "x86_64", "Zlib", "zlib")
    );
    let layer = Layer::new()
        .file(
            "etc/os-release",
            format!("ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine{EVIL}\"\n").replace("\nPASS", " PASS"),
        )
        .file("etc/alpine-release", "3.20.3\n")
        .file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nev\x1b]0;il\x07:x:1001:1001::/app:/sbin/nologin\n",
        )
        .file("lib/apk/db/installed", apk);
    let app = Layer::new()
        .file(
            "app/package.json",
            package_json(&format!("app{EVIL}"), &format!("1.0.0{EVIL}"), "MIT"),
        )
        .file(
            "app/node_modules/left\x1b[31m/package.json",
            package_json(&format!("left{EVIL}"), &format!("1.0.0-{EVIL}"), "MIT"),
        )
        .file("app/node_modules/broken\x1b]0;x\x07/package.json", "{ not json")
        .file(&format!("app/secrets{EVIL}/.env"), "A=1\n");
    let img = ImageSpec::new()
        .layer(layer, Compression::Gzip, &format!("RUN echo {EVIL}"))
        .layer(app, Compression::Gzip, "COPY . /app")
        .user(&format!("1001{EVIL}"))
        .healthcheck(&["CMD", &format!("true{EVIL}")])
        .expose(&format!("3000/tcp{EVIL}"))
        .build();
    let path = dir.join("evil.tar");
    std::fs::write(&path, docker_classic(&[(&img, &["evil:1"])])).unwrap();
    path.display().to_string()
}

#[test]
fn inventory_table_and_warnings_escape_every_image_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let image = hostile_image(tmp.path());
    for extra in [&[][..], &["--wide"][..]] {
        let r = imagegate()
            .args(["inventory", &image])
            .args(extra)
            .env("NO_COLOR", "1")
            .run();
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_clean("inventory stdout", &r.stdout);
        assert_clean("inventory stderr", &r.stderr);
        // Shown, visibly: the user and the package name are there, escaped.
        assert!(r.stdout.contains("1001\\x1b]0;owned\\x07"), "{}", r.stdout);
        assert!(r.stdout.contains("busy\\x1b]0;owned"), "{}", r.stdout);
        assert!(r.stdout.contains("\\u{202e}"), "{}", r.stdout);
    }
}

#[test]
fn inventory_json_keeps_the_exact_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let image = hostile_image(tmp.path());
    let r = imagegate().args(["inventory", &image, "--format", "json"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["image"]["user"], format!("1001{EVIL}"));
    let apk = v["apk"].as_array().unwrap();
    // apk's database is line-based: the name ends at the newline.
    let first_line = EVIL.split('\n').next().unwrap();
    assert!(apk.iter().any(|p| p["name"] == format!("busy{first_line}")), "{apk:?}");
    let npm = v["npm"].as_array().unwrap();
    assert!(npm.iter().any(|p| p["name"] == format!("left{EVIL}")), "{npm:?}");
    assert_clean("inventory json stderr", &r.stderr);
}

#[test]
fn scan_table_markdown_and_errors_escape_every_image_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let image = hostile_image(tmp.path());
    let db = testdata_db().to_str().unwrap().to_string();
    for format in ["table", "markdown"] {
        for extra in [&[][..], &["--wide"][..]] {
            let r = imagegate()
                .args(["scan", &image, "--db", &db, "--format", format])
                .args(extra)
                .env("NO_COLOR", "1")
                .run();
            // The .env file fails the default policy: the finding names its hostile path.
            assert_eq!(r.code, 1, "{format}: {}", r.stderr);
            assert_clean(&format!("scan {format} stdout"), &r.stdout);
            assert_clean(&format!("scan {format} stderr"), &r.stderr);
            assert!(r.stdout.contains("secrets\\x1b]0;owned"), "{format}: {}", r.stdout);
        }
    }
    // The step summary is Markdown too.
    let summary = tmp.path().join("summary.md");
    let r = imagegate()
        .args(["scan", &image, "--db", &db])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_clean("step summary", &std::fs::read_to_string(&summary).unwrap());

    // JSON keeps the exact bytes of the finding's path.
    let r = imagegate()
        .args(["scan", &image, "--db", &db, "--format", "json"])
        .run();
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["evidence"]["path"] == format!("app/secrets{EVIL}/.env")),
        "{findings:?}"
    );
}

/// The widest line of a text.
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// Issue 14: the table fits the width it is given (`COLUMNS`, as a terminal sets it; the same
/// width logic reads the terminal's size when stdout is one), ids stay whole, and without
/// either it never needs more than 100 columns.
#[test]
fn the_demo_table_fits_80_and_120_columns_with_ids_whole() {
    let db = testdata_db().to_str().unwrap().to_string();
    let demo = repo_root().join("testdata/demo/app.tar").display().to_string();
    for (columns, max) in [(Some("80"), 80), (Some("120"), 120), (None, 100)] {
        let mut cmd = imagegate();
        cmd.args(["scan", &demo, "--db", &db, "--policy", "policies/production.toml"])
            .current_dir(repo_root());
        if let Some(c) = columns {
            cmd.env("COLUMNS", c);
        }
        let r = cmd.run();
        assert_eq!(r.code, 1, "{}", r.stderr);
        // The header's Sources line is the one free-running line.
        let body: String = r
            .stdout
            .lines()
            .filter(|l| !l.starts_with("Sources ") && !l.starts_with("Image ") && !l.starts_with("DB "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(widest(&body) <= max, "{columns:?}: wider than {max}:\n{}", r.stdout);
        for id in ["GHSA-fr5h-rqp8-mj6g", "ALPINE-CVE-2023-42364", "GHSA-35jh-r3h4-6jhm"] {
            assert!(
                r.stdout.contains(id),
                "{columns:?}: {id} broken or missing:\n{}",
                r.stdout
            );
        }
        assert!(r.stdout.contains("13.4.0 → 14.1.1"), "{}", r.stdout);
        assert!(
            r.stdout.contains("Vulnerabilities: 9 (high 3, medium 1, unknown 5)"),
            "{}",
            r.stdout
        );
        // The layer as its index and the end of its step: the `npm ci` that added next.
        let next = r
            .stdout
            .lines()
            .position(|l| l.contains("GHSA-fr5h-rqp8-mj6g") && l.contains("npm:next"))
            .unwrap();
        let finding: String = r.stdout.lines().skip(next).take(2).collect::<Vec<_>>().join("\n");
        assert!(finding.contains("2 RUN …") && finding.contains("npm ci"), "{finding}");
        let lines = r.stdout.lines().count();
        // (106 lines at 80 columns before the compact layout; the upgrade and base-image
        // summary lines add a few.)
        assert!(lines <= 70, "{columns:?}: {lines} lines:\n{}", r.stdout);
    }
    // At 120 columns a vulnerability takes one line plus its title.
    let r = imagegate()
        .args(["scan", &demo, "--db", &db])
        .env("COLUMNS", "200")
        .current_dir(repo_root())
        .run();
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("GHSA-35jh-r3h4-6jhm") && l.contains("npm:lodash"))
        .unwrap();
    assert!(
        line.contains("Command Injection in lodash") && line.contains("4.17.20 → 4.17.21"),
        "{line}"
    );
}

#[test]
fn the_inventory_table_names_each_step_once() {
    let demo = repo_root().join("testdata/demo/app.tar").display().to_string();
    let r = imagegate().args(["inventory", &demo]).env("COLUMNS", "80").run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.matches("ADD ").count(), 1, "{}", r.stdout);
    let tables: String = r
        .stdout
        .lines()
        // Table rows; the warnings list (`  - …`) is prose.
        .filter(|l| l.starts_with("  ") && !l.starts_with("  - "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(widest(&tables) <= 80, "{}", r.stdout);
    assert!(
        r.stdout.contains("alpine-baselayout-data"),
        "a name is never broken: {}",
        r.stdout
    );
}

#[test]
fn db_status_max_age_exits_1_when_older() {
    let db = testdata_db().to_str().unwrap().to_string();
    let fresh = imagegate().args(["db", "status", "--db", &db, "--max-age", "1d"]).run();
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    // Built seconds ago: older than nothing at all.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let old = imagegate().args(["db", "status", "--db", &db, "--max-age", "0h"]).run();
    assert_eq!(old.code, 1, "{}{}", old.stdout, old.stderr);
    assert!(old.stderr.contains("db update"), "{}", old.stderr);
    let json = imagegate().args(["db", "status", "--db", &db, "-f", "json"]).run();
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let built = v["built_at"].as_str().unwrap();
    assert!(built.parse::<jiff::Timestamp>().is_ok(), "RFC 3339: {built}");
}

/// Issue 14's small things: `--platform` on a single-platform image of another platform warns;
/// a missing OCI tag names the tags the index has; `-o -` is stdout.
#[test]
fn platform_mismatch_warns_a_missing_tag_lists_tags_and_dash_is_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let img = passing_spec("platform").build();
    let tar = tmp.path().join("amd64.tar");
    std::fs::write(&tar, docker_classic(&[(&img, &["one:1"])])).unwrap();
    let tar = tar.display().to_string();

    let r = imagegate().args(["inventory", &tar, "--platform", "linux/arm64"]).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("not the requested --platform linux/arm64"),
        "{}",
        r.stderr
    );
    let r = imagegate().args(["inventory", &tar]).run();
    assert!(
        !r.stderr.contains("--platform"),
        "no warning without --platform: {}",
        r.stderr
    );

    let layout = tmp.path().join("layout");
    oci_layout(&img, Some("v1")).write_dir(&layout).unwrap();
    let r = imagegate()
        .args(["inventory", &format!("oci:{}:v2", layout.display())])
        .run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("v2") && r.stderr.contains("v1"), "{}", r.stderr);

    let r = imagegate()
        .args(["inventory", &tar, "-f", "json", "-o", "-"])
        .current_dir(tmp.path())
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with('{'), "{}", r.stdout);
    assert!(!tmp.path().join("-").exists(), "a file named -");
}

/// Runs `imagegate ARGS` on a real terminal (tmux, `cols` wide) and returns the screen with
/// wrapped lines joined back (`capture-pane -J`), so a line wider than the terminal shows as one
/// long line. `COLUMNS=200` is set to show the terminal's own size wins.
fn on_terminal(cols: u16, args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("tmux.sock");
    let socket = socket.to_str().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("imagegate");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "cd '{}' && COLUMNS=200 NO_COLOR=1 '{}' {}; echo __DONE__; sleep 60",
        repo_root().display(),
        bin.display(),
        quoted.join(" ")
    );
    let tmux = |extra: &[&str]| {
        std::process::Command::new("tmux")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", tmp.path())
            .env("TERM", "xterm")
            .args(["-S", socket])
            .args(extra)
            .output()
            .expect("tmux runs (scripts/test.sh installs it)")
    };
    let cols = cols.to_string();
    let started = tmux(&["new-session", "-d", "-x", &cols, "-y", "150", "-s", "t", &script]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let screen = loop {
        let out = tmux(&["capture-pane", "-p", "-J", "-t", "t"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("__DONE__") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    tmux(&["kill-server"]);
    assert!(
        screen.contains("__DONE__"),
        "imagegate did not finish on the terminal:\n{screen}"
    );
    screen
}

#[test]
fn on_a_real_terminal_the_table_fits_80_and_120_columns() {
    let db = testdata_db().to_str().unwrap().to_string();
    for cols in [80u16, 120] {
        let screen = on_terminal(
            cols,
            &[
                "scan",
                "testdata/demo/app.tar",
                "--db",
                &db,
                "--policy",
                "policies/production.toml",
            ],
        );
        let wide: Vec<&str> = screen
            .lines()
            // The table on stdout; the inventory's warnings (stderr, `warning: …`) are log lines.
            .filter(|l| !l.starts_with("warning: "))
            .filter(|l| l.trim_end().chars().count() > usize::from(cols))
            .collect();
        assert!(
            wide.is_empty(),
            "{cols} columns: lines wrapped by the terminal: {wide:#?}\n{screen}"
        );
        for id in [
            "GHSA-fr5h-rqp8-mj6g",
            "ALPINE-CVE-2023-42364",
            // 9 vulnerabilities' worth, the dev dependency, and Alpine v3.20 past its end of
            // support (IG019).
            "FAIL: 11 findings fail the policy",
        ] {
            assert!(screen.contains(id), "{cols}: {id}\n{screen}");
        }
        let inv = on_terminal(cols, &["inventory", "testdata/demo/app.tar"]);
        let wide: Vec<&str> = inv
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("  - "))
            .filter(|l| l.trim_end().chars().count() > usize::from(cols))
            .collect();
        assert!(wide.is_empty(), "{cols}: inventory rows wrapped: {wide:#?}\n{inv}");
    }
}

/// [`on_terminal`], also returning every byte the program wrote to the terminal (tmux
/// `pipe-pane`), redraws and erasures included: the screen shows only what is left at the end.
/// The program starts only once the pipe is in place (it waits for a file), so nothing is missed.
fn on_terminal_raw(cols: u16, args: &[&str]) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let socket = tmp.path().join("tmux.sock");
    let socket = socket.to_str().unwrap();
    let go = tmp.path().join("go");
    let raw = tmp.path().join("raw");
    let bin = assert_cmd::cargo::cargo_bin("imagegate");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.05; done; cd '{}' && NO_COLOR=1 '{}' {}; echo __DONE__; sleep 60",
        go.display(),
        repo_root().display(),
        bin.display(),
        quoted.join(" ")
    );
    let tmux = |extra: &[&str]| {
        std::process::Command::new("tmux")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", tmp.path())
            .env("TERM", "xterm")
            .args(["-S", socket])
            .args(extra)
            .output()
            .expect("tmux runs (scripts/test.sh installs it)")
    };
    let cols = cols.to_string();
    let started = tmux(&["new-session", "-d", "-x", &cols, "-y", "50", "-s", "t", &script]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let piped = tmux(&["pipe-pane", "-t", "t", &format!("cat > '{}'", raw.display())]);
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    std::fs::write(&go, "").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (screen, bytes) = loop {
        let out = tmux(&["capture-pane", "-p", "-J", "-t", "t"]);
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        let bytes = String::from_utf8_lossy(&std::fs::read(&raw).unwrap_or_default()).into_owned();
        if (screen.contains("__DONE__") && bytes.contains("__DONE__")) || std::time::Instant::now() > deadline {
            break (screen, bytes);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    tmux(&["kill-server"]);
    assert!(
        screen.contains("__DONE__") && bytes.contains("__DONE__"),
        "imagegate did not finish on the terminal:\n{screen}\n{}",
        bytes.escape_debug()
    );
    (screen, bytes)
}

/// The lines a progress line left on the screen, if any (it must erase itself).
fn progress_left(screen: &str, word: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.contains(word))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_registry_pull_shows_layers_and_bytes_on_a_terminal_and_nothing_in_a_log() {
    let registry = crate::support::registry::Registry::start();
    // Bytes gzip cannot shrink, so the layer is a few hundred kB on the wire.
    let mut x: u32 = 1;
    let noise: Vec<u8> = (0..300 << 10)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    let image = passing_spec("progress")
        .layer(
            Layer::new().file("app/data.bin", noise),
            Compression::Gzip,
            "COPY data.bin /app/",
        )
        .build();
    registry.push("progress/app", Some("1"), &image);
    let reference = format!("{}/progress/app:1", registry.addr());
    let db = testdata_db().to_str().unwrap().to_string();
    let args = ["scan", reference.as_str(), "--db", db.as_str(), "--no-cache"];

    let (screen, raw) = on_terminal_raw(100, &args);
    // Drawn: the image, layers done of all, bytes of the total; then erased (CR, CSI 2 K).
    assert!(
        raw.contains(&format!("pulling {reference}: 0/3 layers")),
        "{}",
        raw.escape_debug()
    );
    assert!(raw.contains("3/3 layers"), "{}", raw.escape_debug());
    assert!(raw.contains(" kB / "), "{}", raw.escape_debug());
    assert!(raw.contains("\r\x1b[2K"), "{}", raw.escape_debug());
    assert!(progress_left(&screen, "pulling").is_empty(), "{screen}");
    assert!(screen.contains("PASS"), "{screen}");

    // Not a terminal: not a byte of progress, no control characters.
    let r = imagegate().args(args).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("pulling"), "{}", r.stderr);
    assert!(!r.stderr.contains(['\r', '\x1b']), "{}", r.stderr.escape_debug());
    // --quiet: none on a terminal either.
    let quiet: Vec<&str> = args.iter().copied().chain(["--quiet"]).collect();
    let (_, raw) = on_terminal_raw(100, &quiet);
    assert!(!raw.contains("pulling"), "{}", raw.escape_debug());
}

/// A zip of one `testdata/osv/` directory, as OSV's bucket serves `<ecosystem>/all.zip`.
fn osv_dump(dir: &str) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(repo_root().join("testdata/osv").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file(p.file_name().unwrap().to_string_lossy(), opts).unwrap();
        w.write_all(&std::fs::read(&p).unwrap()).unwrap();
    }
    w.finish().unwrap();
    buf.into_inner()
}

#[test]
fn db_update_says_it_is_indexing_on_a_terminal_and_nothing_in_a_log() {
    let server = crate::support::http::HttpServer::start();
    server.put("/npm/all.zip", osv_dump("npm"));
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let db = db.to_str().unwrap();
    let args = [
        "db",
        "update",
        "--ecosystem",
        "npm",
        "--mirror",
        server.url(),
        "--db",
        db,
    ];

    let (screen, raw) = on_terminal_raw(100, &args);
    assert!(raw.contains("indexing npm: "), "{}", raw.escape_debug());
    assert!(raw.contains("indexing: writing the index"), "{}", raw.escape_debug());
    assert!(raw.contains("\r\x1b[2K"), "{}", raw.escape_debug());
    assert!(progress_left(&screen, "indexing").is_empty(), "{screen}");

    std::fs::remove_dir_all(db).unwrap();
    let r = imagegate().args(args).run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("indexing"), "{}", r.stderr);
    assert!(!r.stderr.contains(['\r', '\x1b']), "{}", r.stderr.escape_debug());
}

#[test]
fn a_write_error_names_the_file_asked_for_not_a_temporary_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("no/such/dir/report.json");
    let r = imagegate()
        .args(["inventory", "testdata/demo/app.tar", "-f", "json", "-o"])
        .arg(&out)
        .current_dir(repo_root())
        .run();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("writing {}", out.display())), "{}", r.stderr);
    assert!(r.stderr.contains("No such file or directory"), "{}", r.stderr);
    // Not the temporary file beside it (`.report.json.kSdhEE.tmp`).
    assert!(
        !r.stderr.contains(".report.json.") && !r.stderr.contains("at path"),
        "{}",
        r.stderr
    );
}
