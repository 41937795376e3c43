//! A real engine: Debian's `buildah` builds a multi-stage Dockerfile written the way our users
//! write them, and Debian's `podman` serves it over the Docker API on a socket, saves it as a
//! `docker save` archive, and pushes it to a real `docker-registry`. The gate reads it all three
//! ways and must say the same thing each time; an insecure twin of the same app fails for each
//! of its faults. (`scripts/test.sh` installs podman and buildah.)
//!
//! What runs where: the base image is the real Alpine 3.20.3 minirootfs, imported with
//! `podman import`. No Alpine package repository and no musl build of Node.js are reachable
//! from this machine, so Node.js cannot run inside the build: `npm ci` runs on the host (the
//! npm registry is reachable) into the build context, and the Dockerfile's deps stage copies
//! the installed tree in, as a `COPY --from=deps` runtime stage then does. `addgroup`/`adduser`
//! run inside the build (busybox is in the minirootfs).

use crate::support::registry::Registry;
use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn sh(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} does not run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn alpine_rootfs() -> PathBuf {
    repo_root().join("../shared/fixtures/alpine/alpine-minirootfs-3.20.3-x86_64.tar.gz")
}

const PACKAGE_JSON: &str = r#"{"name":"web","version":"1.0.0","private":true,
"dependencies":{"lodash":"4.17.20"},"devDependencies":{"minimist":"1.2.0"}}
"#;

/// The Dockerfile users write (less the `npm ci`, see the module doc), and its insecure twin:
/// no USER, no HEALTHCHECK, dev dependencies installed, and a `.env` copied in.
fn dockerfile(base: &str, secure: bool) -> String {
    let mut d = format!(
        "FROM {base} AS deps\nWORKDIR /app\nCOPY package.json package-lock.json ./\nCOPY node_modules ./node_modules\n\n\
         FROM {base}\nWORKDIR /app\nENV NODE_ENV=production\n\
         LABEL org.opencontainers.image.source=https://example.com/web\n"
    );
    if secure {
        d.push_str(
            "RUN addgroup -S -g 1001 nodejs && adduser -S -D -H -u 1001 -G nodejs nextjs\n\
             COPY --from=deps --chown=1001:1001 /app/node_modules ./node_modules\n\
             COPY --chown=1001:1001 package.json server.js ./\n\
             USER nextjs\n\
             HEALTHCHECK CMD wget -qO- http://localhost:3000/api/health || exit 1\n",
        );
    } else {
        d.push_str(
            "COPY --from=deps /app/node_modules ./node_modules\n\
             COPY package.json package-lock.json server.js .env ./\n",
        );
    }
    d.push_str("EXPOSE 3000\nCMD [\"node\", \"server.js\"]\n");
    d
}

/// `podman system service` on a socket of its own, stopped when dropped.
struct Service {
    child: std::process::Child,
    socket: PathBuf,
}

impl Service {
    fn start(dir: &Path) -> Service {
        let socket = dir.join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .spawn()
            .expect("podman system service");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "podman's socket never appeared");
            std::thread::sleep(Duration::from_millis(50));
        }
        Service { child, socket }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scan … --format json` under production → (exit code, report).
fn scan(image: &str, extra: &[&str], env: &[(&str, String)]) -> (i32, Value) {
    let mut cmd = imagegate();
    cmd.args(["scan", image, "--format", "json", "--db"])
        .arg(testdata_db())
        .arg("--policy")
        .arg(repo_root().join("policies/production.toml"))
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let r = cmd.run();
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{image}: {}", r.stderr));
    (r.code, v)
}

/// What the gate concluded, without what names the image: (rule, level, package) per finding.
fn verdict(v: &Value) -> (Value, Vec<(String, String, String)>) {
    let mut findings: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["level"].as_str().unwrap().to_string(),
                f["evidence"]["package"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    findings.sort();
    (v["verdict"].clone(), findings)
}

fn fails(v: &Value) -> Vec<String> {
    verdict(v)
        .1
        .into_iter()
        .filter(|f| f.1 == "fail")
        .map(|f| f.0)
        .collect()
}

#[test]
fn a_real_build_gates_alike_through_podman_an_archive_and_a_registry() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        tmp.path().file_name().unwrap().to_string_lossy()
    );
    let tag = tag
        .to_ascii_lowercase()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let base = format!("localhost/ig-alpine:{tag}");
    sh(
        "podman",
        &["import", alpine_rootfs().to_str().unwrap(), &base],
        tmp.path(),
    );

    // The app, installed on the host: production dependencies for the real image, everything
    // (dev dependencies too, with the lockfile that says so) for the insecure twin.
    let build = |secure: bool| -> String {
        let ctx = tmp.path().join(if secure { "web" } else { "twin" });
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("package.json"), PACKAGE_JSON).unwrap();
        std::fs::write(ctx.join("server.js"), "console.log('listening on 3000');\n").unwrap();
        std::fs::write(ctx.join(".env"), "DATABASE_PASSWORD=hunter2\n").unwrap();
        let npm = ["--ignore-scripts", "--no-audit", "--no-fund", "--cache"];
        let cache = tmp.path().join("npm-cache");
        let cache = cache.to_str().unwrap();
        let mut lock = vec!["install", "--package-lock-only"];
        lock.extend(npm);
        lock.push(cache);
        sh("npm", &lock, &ctx);
        let mut ci = vec!["ci"];
        if secure {
            ci.push("--omit=dev");
        }
        ci.extend(npm);
        ci.push(cache);
        sh("npm", &ci, &ctx);
        std::fs::write(ctx.join("Dockerfile"), dockerfile(&base, secure)).unwrap();
        let name = format!("localhost/ig-{}:{tag}", if secure { "web" } else { "twin" });
        sh(
            "buildah",
            &[
                "bud",
                "--isolation",
                "chroot",
                "--format",
                "docker",
                "--layers",
                "-q",
                "-t",
                &name,
                ".",
            ],
            &ctx,
        );
        name
    };
    let web = build(true);
    let twin = build(false);
    let built = started.elapsed();

    let service = Service::start(tmp.path());
    let host = [("CONTAINER_HOST", format!("unix://{}", service.socket.display()))];
    let registry = Registry::start();

    let mut results = Vec::new();
    for name in [&web, &twin] {
        // 1. From the engine, over its API.
        let (code, engine) = scan(&format!("podman:{name}"), &[], &host);
        // 2. From `podman save`.
        let archive = tmp.path().join(format!("{}.tar", name.replace(['/', ':'], "_")));
        sh(
            "podman",
            &[
                "save",
                "--format",
                "docker-archive",
                "-o",
                archive.to_str().unwrap(),
                name,
            ],
            tmp.path(),
        );
        let (code2, saved) = scan(&format!("docker-archive:{}", archive.display()), &[], &[]);
        // 3. From the registry, after `podman push`.
        let remote = format!("{}/team/{}", registry.addr(), name.trim_start_matches("localhost/"));
        sh(
            "podman",
            &["push", "--tls-verify=false", "-q", name, &format!("docker://{remote}")],
            tmp.path(),
        );
        let (code3, pulled) = scan(&remote, &["--insecure-registry", registry.addr()], &[]);

        assert_eq!((code, code2, code3), (code, code, code), "{name}: one exit code");
        assert_eq!(verdict(&engine), verdict(&saved), "{name}: engine vs archive");
        assert_eq!(verdict(&engine), verdict(&pulled), "{name}: engine vs registry");
        results.push((code, engine));
    }

    // The real image: run as nextjs (1001) with a health check, production dependencies only,
    // no secrets. What fails it is what it ships: lodash 4.17.20's advisories, and Alpine
    // v3.20 past its end of support.
    let (code, v) = &results[0];
    assert_eq!(*code, 1);
    let f = fails(v);
    for rule in ["IG001", "IG003", "IG009", "IG010"] {
        assert!(!f.contains(&rule.to_string()), "the real image is not {rule}: {f:?}");
    }
    assert!(f.contains(&"GHSA-35jh-r3h4-6jhm".to_string()), "{f:?}");
    assert_eq!(v["inventory"]["image"]["user"], "nextjs");
    // The twin fails for each of its faults.
    let (code, v) = &results[1];
    assert_eq!(*code, 1);
    let f = fails(v);
    for rule in ["IG001", "IG003", "IG009", "IG010"] {
        assert!(f.contains(&rule.to_string()), "the twin fails {rule}: {f:?}");
    }
    let dev = verdict(v).1.into_iter().find(|x| x.0 == "IG009").unwrap();
    assert!(dev.2.starts_with("npm:minimist@"), "{dev:?}");

    for image in [&web, &twin, &base] {
        let _ = Command::new("podman").args(["rmi", "-f", image]).output();
    }
    eprintln!(
        "engine_real: built in {:.1} s, whole test {:.1} s",
        built.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
