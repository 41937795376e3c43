//! End-to-end tests of registry pulls, the layer cache and the registry audit, against a real
//! registry (Debian's `docker-registry`, started per test on a free 127.0.0.1 port; see
//! `tests/it/support/registry.rs`) with images the tests build and push.

use crate::support::registry::{Action, FaultProxy, Registry};
use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs the binary with its own layer cache and docker config under its temporary HOME (unless
/// `env` sets them).
fn imagegate(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = crate::support::imagegate();
    let home = cmd.home().to_path_buf();
    cmd.args(args)
        .env("IMAGEGATE_CACHE_DIR", home.join("cache"))
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("IMAGEGATE_REGISTRY_TIMEOUT", "10")
        .env_remove("XDG_CACHE_HOME")
        .envs(env)
        .run()
}

fn demo_path() -> String {
    repo_root().join("testdata/demo/app.tar").display().to_string()
}

/// The packages of an inventory report, without what depends on where the image came from.
fn packages(inventory_json: &str) -> Value {
    let v: Value = serde_json::from_str(inventory_json).unwrap_or_else(|e| panic!("{e}: {inventory_json}"));
    serde_json::json!({
        "os": v["os"],
        "apk": v["apk"],
        "npm": v["npm"],
        "users": v["users"],
    })
}

/// An inventory report without the fields that say where the image was read from.
fn without_origin(inventory_json: &str) -> Value {
    let mut v: Value = serde_json::from_str(inventory_json).unwrap_or_else(|e| panic!("{e}: {inventory_json}"));
    let image = v["image"].as_object_mut().unwrap();
    for key in ["reference", "manifest_digest", "repo_tags"] {
        image.remove(key);
    }
    v
}

fn inventory(image: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = vec!["inventory", image, "--format", "json"];
    args.extend_from_slice(extra);
    imagegate(&args, env)
}

fn scan_json(image: &str, extra: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let mut args = vec![
        "scan",
        image,
        "--db",
        testdata_db().to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let r = imagegate(&args, env);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    (r.code, serde_json::from_str(&r.stdout).unwrap(), r.stderr)
}

fn finding_rules(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

#[test]
fn oci_and_docker_manifests_read_like_the_local_archive() {
    let registry = Registry::start();
    let local = inventory(&demo_path(), &[], &[]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let expected = packages(&local.stdout);
    assert!(expected["npm"].as_array().is_some_and(|a| !a.is_empty()));

    let oci = demo_spec().build();
    registry.push("demo/app", Some("oci"), &oci);
    let docker = demo_spec().media(MediaTypes::Docker).build();
    registry.push("demo/app", Some("docker"), &docker);
    for (tag, built) in [("oci", &oci), ("docker", &docker)] {
        let image = format!("{}/demo/app:{tag}", registry.addr());
        let r = inventory(&image, &[], &[]);
        assert_eq!(r.code, 0, "{tag}: {}", r.stderr);
        assert_eq!(packages(&r.stdout), expected, "{tag}");
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["image"]["manifest_digest"], built.manifest_digest, "{tag}");
        // The whole inventory, layers and files included, equals that of the same image read
        // from a local OCI layout, apart from where it came from.
        let dir = tempfile::tempdir().unwrap();
        oci_layout(built, Some(tag)).write_dir(dir.path()).unwrap();
        let local = inventory(&format!("oci:{}:{tag}", dir.path().display()), &[], &[]);
        assert_eq!(local.code, 0, "{}", local.stderr);
        assert_eq!(without_origin(&r.stdout), without_origin(&local.stdout), "{tag}");
        // By digest too, and with the registry named insecure (plain HTTP) explicitly.
        let by_digest = format!("{}/demo/app@{}", registry.addr(), built.manifest_digest);
        let r = inventory(&by_digest, &["--insecure-registry", registry.addr()], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(without_origin(&r.stdout), without_origin(&local.stdout), "{tag}");
    }
    // And the gate decides the same way as for the archive.
    let (code, v, _) = scan_json(&format!("{}/demo/app:oci", registry.addr()), &[], &[]);
    let (local_code, local_v, _) = scan_json(&demo_path(), &[], &[]);
    assert_eq!((code, finding_rules(&v)), (local_code, finding_rules(&local_v)));
}

#[test]
fn a_multi_platform_index_gives_the_platform_asked_for() {
    let registry = Registry::start();
    let amd = ImageSpec::new()
        .layer(
            Layer::new().file("etc/alpine-release", "3.20.3\n"),
            Compression::Gzip,
            "ADD amd64",
        )
        .build();
    let arm = ImageSpec::new()
        .platform("linux", "arm64", Some("v8"))
        .layer(
            Layer::new().file("etc/alpine-release", "3.19.4\n"),
            Compression::Gzip,
            "ADD arm64",
        )
        .build();
    registry.push_index("multi", "v1", &[&amd, &arm], OCI_INDEX);
    registry.push_index(
        "multi",
        "list",
        &[&amd, &arm],
        "application/vnd.docker.distribution.manifest.list.v2+json",
    );
    for tag in ["v1", "list"] {
        let image = format!("{}/multi:{tag}", registry.addr());
        for (platform, release, digest) in [
            ("linux/arm64", "3.19.4", &arm.manifest_digest),
            ("linux/amd64", "3.20.3", &amd.manifest_digest),
        ] {
            let r = inventory(&image, &["--platform", platform], &[]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            let v: Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["os"]["version"], release, "{tag} {platform}: {}", v["os"]);
            assert_eq!(&v["image"]["manifest_digest"], digest);
        }
        // No --platform: linux/amd64.
        let r = inventory(&image, &[], &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(&v["image"]["manifest_digest"], &amd.manifest_digest, "{tag}");
        let r = inventory(&image, &["--platform", "linux/s390x"], &[]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("linux/arm64"), "lists what there is: {}", r.stderr);
    }
}

#[test]
fn basic_auth_from_flags_env_and_a_credential_helper_and_a_wrong_password() {
    let registry = Registry::start_with_htpasswd("ci", "s3cret-pw");
    let built = demo_spec().build();
    registry.push("private/app", Some("1.0"), &built);
    let image = format!("{}/private/app:1.0", registry.addr());

    let r = inventory(&image, &["--username", "ci", "--password", "s3cret-pw"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = inventory(
        &image,
        &[],
        &[("IMAGEGATE_USERNAME", "ci"), ("IMAGEGATE_PASSWORD", "s3cret-pw")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = inventory(&image, &["--username", "ci", "--password", "wrong-pw-123"], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("authentication failed for") && r.stderr.contains(registry.addr()),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-pw-123") && !r.stdout.contains("wrong-pw-123"));
    let r = inventory(&image, &[], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);

    // ~/.docker/config.json naming a credential helper, found on PATH.
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-igtest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] && [ \"$server\" = \"{}\" ] || exit 1\necho '{{\"Username\":\"ci\",\"Secret\":\"s3cret-pw\"}}'\n",
            registry.addr()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"credHelpers":{{"{}":"igtest"}}}}"#, registry.addr()),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let r = inventory(
        &image,
        &[],
        &[("DOCKER_CONFIG", docker.to_str().unwrap()), ("PATH", &path)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Writes an executable `docker-credential-NAME` answering `get` for `server` with the given
/// secret, and logging each call to `calls`; returns (bin dir, calls file).
fn credential_helper(dir: &Path, name: &str, server: &str, secret: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.join(format!("{name}.calls"));
    let helper = bin.join(format!("docker-credential-{name}"));
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\necho \"$1 $server\" >> '{}'\n[ \"$1\" = get ] && [ \"$server\" = \"{server}\" ] || exit 1\necho '{{\"ServerURL\":\"{server}\",\"Username\":\"ci\",\"Secret\":\"{secret}\"}}'\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, calls)
}

#[test]
fn docker_config_auths_and_creds_store_are_honoured_and_never_leak() {
    let registry = Registry::start_with_htpasswd("ci", "s3cret-pw");
    registry.push("private/app", Some("1.0"), &demo_spec().build());
    let image = format!("{}/private/app:1.0", registry.addr());
    let tmp = tempfile::tempdir().unwrap();
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let config = docker.join("config.json");
    let env = [("DOCKER_CONFIG", docker.to_str().unwrap())];

    // `auths` with a base64 user:password.
    let auths = |password: &str| {
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            registry.addr(),
            base64(format!("ci:{password}").as_bytes())
        )
    };
    std::fs::write(&config, auths("s3cret-pw")).unwrap();
    let r = inventory(&image, &[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A wrong one fails, naming the host, and shows neither the password nor its encoding.
    std::fs::write(&config, auths("wrong-pw-456")).unwrap();
    let r = inventory(&image, &[], &env);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("authentication failed") && r.stderr.contains(registry.addr()),
        "{}",
        r.stderr
    );
    let encoded = base64(b"ci:wrong-pw-456");
    for secret in ["wrong-pw-456", encoded.as_str()] {
        assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret), "{}", r.stderr);
    }

    // `credsStore`: the default helper for every registry.
    let (bin, calls) = credential_helper(tmp.path(), "igstore", registry.addr(), "s3cret-pw");
    std::fs::write(&config, r#"{"credsStore":"igstore"}"#).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let env_path = [("DOCKER_CONFIG", docker.to_str().unwrap()), ("PATH", path.as_str())];
    let r = inventory(&image, &[], &env_path);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = std::fs::read_to_string(&calls).unwrap();
    assert!(log.starts_with(&format!("get {}", registry.addr())), "{log}");

    // A helper answering a wrong secret: authentication fails, the secret is not shown.
    let (bin, _) = credential_helper(tmp.path(), "igwrong", registry.addr(), "helper-secret-789");
    std::fs::write(&config, r#"{"credsStore":"igwrong"}"#).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let r = inventory(
        &image,
        &[],
        &[("DOCKER_CONFIG", docker.to_str().unwrap()), ("PATH", path.as_str())],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("authentication failed"), "{}", r.stderr);
    assert!(!r.stderr.contains("helper-secret-789"), "{}", r.stderr);

    // Flags win over the config file.
    let r = inventory(&image, &["--username", "ci", "--password", "s3cret-pw"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn missing_repositories_and_tags_and_a_dead_registry_exit_2_and_say_so() {
    let mut registry = Registry::start();
    registry.push("demo/app", Some("1.0"), &demo_spec().build());
    let r = inventory(&format!("{}/demo/app:nope", registry.addr()), &[], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no such") && r.stderr.contains("nope"),
        "{}",
        r.stderr
    );
    let r = inventory(&format!("{}/no/such:1.0", registry.addr()), &[], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no such"), "{}", r.stderr);
    let addr = registry.addr().to_string();
    registry.stop();
    let started = Instant::now();
    let r = inventory(&format!("{addr}/demo/app:1.0"), &[], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("unreachable") && r.stderr.contains(&addr),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn rate_limits_and_server_errors_are_retried_and_a_hang_times_out() {
    let registry = Registry::start();
    let built = demo_spec().build();
    registry.push("demo/app", Some("1.0"), &built);
    let local = inventory(&demo_path(), &[], &[]);
    let expected = packages(&local.stdout);

    // 429 (Retry-After: 1) twice on the manifest, then 500 three times on a layer blob.
    let layer = built.layers[2].digest.clone();
    let proxy = FaultProxy::start(registry.addr(), move |path, n| {
        if path.contains("/manifests/") && n < 2 {
            Action::Answer(429, vec![("Retry-After".into(), "1".into())])
        } else if path.contains(&layer) && n < 3 {
            Action::Answer(500, vec![])
        } else {
            Action::Forward
        }
    });
    let image = format!("{}/demo/app:1.0", proxy.addr());
    let r = inventory(&image, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(packages(&r.stdout), expected);
    assert_eq!(proxy.count("/manifests/"), 3);
    assert_eq!(
        (proxy.served(429), proxy.served(500)),
        (2, 3),
        "the proxy sent the faults"
    );

    // 500 forever: exit 2, naming the host and the status.
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Answer(500, vec![]));
    let r = inventory(&format!("{}/demo/app:1.0", proxy.addr()), &[], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(proxy.addr()) && r.stderr.contains("500"),
        "{}",
        r.stderr
    );

    // A 429 asking for an hour fails at once, saying when to come back.
    let proxy = FaultProxy::start(registry.addr(), |_, _| {
        Action::Answer(429, vec![("Retry-After".into(), "3600".into())])
    });
    let r = inventory(&format!("{}/demo/app:1.0", proxy.addr()), &[], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("rate limited (retry after 3600 s)"), "{}", r.stderr);

    // A registry that accepts and never answers.
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Hang);
    let started = Instant::now();
    let r = inventory(
        &format!("{}/demo/app:1.0", proxy.addr()),
        &["--registry-timeout", "1"],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn a_blob_cut_mid_body_is_resumed_and_a_registry_stopped_mid_pull_fails() {
    let registry = Arc::new(Mutex::new(Registry::start()));
    let built = demo_spec().build();
    let addr = registry.lock().unwrap().addr().to_string();
    registry.lock().unwrap().push("demo/app", Some("1.0"), &built);
    let local = inventory(&demo_path(), &[], &[]);
    let expected = packages(&local.stdout);

    let layer = built.layers[0].digest.clone();
    let half = built.layers[0].blob.len() / 2;
    let cut = layer.clone();
    let proxy = FaultProxy::start(&addr, move |path, n| {
        if path.contains(&cut) && n == 0 {
            Action::Cut(half)
        } else {
            Action::Forward
        }
    });
    let r = inventory(&format!("{}/demo/app:1.0", proxy.addr()), &["--no-cache"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        packages(&r.stdout),
        expected,
        "resumed: the same inventory as a clean pull"
    );
    assert_eq!(proxy.count(&layer), 2);

    // The registry dies while sending a layer.
    let dying = registry.clone();
    let proxy = FaultProxy::start(&addr, move |path, _| {
        if path.contains("/blobs/") && !path.contains(&built.config_digest) {
            dying.lock().unwrap().stop();
        }
        Action::Forward
    });
    let r = inventory(&format!("{}/demo/app:1.0", proxy.addr()), &["--no-cache"], &[]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("unreachable"), "{}", r.stderr);
}

#[test]
fn cached_layers_are_not_downloaded_again_and_damage_is_ignored() {
    let registry = Registry::start();
    let built = demo_spec().build();
    registry.push("demo/app", Some("1.0"), &built);
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    let image = format!("{}/demo/app:1.0", proxy.addr());
    let cache = tempfile::tempdir().unwrap();
    let env = [("IMAGEGATE_CACHE_DIR", cache.path().to_str().unwrap())];
    let layer_fetches = |p: &FaultProxy| built.layers.iter().map(|l| p.gets(&l.digest)).sum::<usize>();
    let n = built.layers.len();

    let (code, first, _) = scan_json(&image, &[], &env);
    assert_eq!(layer_fetches(&proxy), n);
    // The flag names the same cache as the variable.
    let flag = ["--cache-dir", cache.path().to_str().unwrap()];
    let (code2, second, _) = scan_json(&image, &flag, &[]);
    assert_eq!(layer_fetches(&proxy), n, "no layer downloaded again");
    assert_eq!(proxy.gets(&built.config_digest), 1, "nor the config: only the manifest");
    assert_eq!((code, finding_rules(&first)), (code2, finding_rules(&second)));
    assert_eq!(first["inventory"], second["inventory"]);

    scan_json(&image, &["--no-cache"], &env);
    assert_eq!(layer_fetches(&proxy), 2 * n, "--no-cache downloads");

    let status = imagegate(&["cache", "status", "--format", "json"], &env);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["entries"], n);

    // Every file under the cache overwritten with garbage (one looks like a zstd frame):
    // ignored, walked again, the same answer; and the entries are good again afterwards.
    assert!(overwrite_every_file(cache.path()) >= n);
    let (code3, third, _) = scan_json(&image, &[], &env);
    assert_eq!((code3, finding_rules(&third)), (code, finding_rules(&first)));
    assert_eq!(third["inventory"], first["inventory"]);
    assert_eq!(layer_fetches(&proxy), 3 * n);
    let (_, fourth, _) = scan_json(&image, &[], &env);
    assert_eq!(layer_fetches(&proxy), 3 * n, "the damaged entries were replaced");
    assert_eq!(fourth["inventory"], first["inventory"]);

    let r = imagegate(&["cache", "clean"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("removed {} layer walks", built.layers.len())),
        "{}",
        r.stdout
    );
    let status = imagegate(&["cache", "status", "--format", "json"], &env);
    assert_eq!(serde_json::from_str::<Value>(&status.stdout).unwrap()["entries"], 0);
}

#[test]
fn a_rescan_by_tag_costs_one_request_and_by_digest_none() {
    let registry = Registry::start();
    let built = demo_spec().build();
    registry.push("demo/app", Some("1.0"), &built);
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    let cache = tempfile::tempdir().unwrap();
    let env = [("IMAGEGATE_CACHE_DIR", cache.path().to_str().unwrap())];
    let by_tag = format!("{}/demo/app:1.0", proxy.addr());
    let by_digest = format!("{}/demo/app@{}", proxy.addr(), built.manifest_digest);

    let (code, first, stderr) = scan_json(&by_tag, &[], &env);
    assert!(!proxy.requests().is_empty(), "{stderr}");
    proxy.reset();
    let (code2, second, _) = scan_json(&by_tag, &[], &env);
    let seen: Vec<String> = proxy
        .requests()
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        seen,
        vec!["GET /v2/demo/app/manifests/1.0".to_string()],
        "by tag: the manifest only"
    );
    assert_eq!((code, &first["inventory"]), (code2, &second["inventory"]));

    // By digest, with the manifest, the config and every layer walk cached: not one request.
    proxy.reset();
    let (code3, third, stderr) = scan_json(&by_digest, &[], &env);
    assert!(
        proxy.requests().is_empty(),
        "{:?}",
        proxy.requests().iter().map(|s| &s.path).collect::<Vec<_>>()
    );
    assert_eq!(
        (code3, finding_rules(&third)),
        (code, finding_rules(&first)),
        "{stderr}"
    );
    for part in ["apk", "npm", "files"] {
        assert_eq!(third["inventory"][part], first["inventory"][part], "{part}");
    }

    // A damaged cached manifest is not believed: it is fetched again, checked, and the scan agrees.
    let manifest_file = cache
        .path()
        .join(format!("blob-sha256-{}.blob", hex_of(&built.manifest_digest)));
    assert!(manifest_file.exists(), "the manifest is cached by its digest");
    std::fs::write(&manifest_file, b"{\"layers\": []}").unwrap();
    let (code4, fourth, _) = scan_json(&by_digest, &[], &env);
    assert_eq!(proxy.gets("/manifests/"), 1, "the damaged manifest was fetched again");
    assert_eq!((code4, &fourth["inventory"]["npm"]), (code, &first["inventory"]["npm"]));
}

/// A re-scan of an unchanged image reads the inventory built for its manifest instead of the
/// layer walks: with every walk gone from the cache it downloads no layer, and says what a
/// scan without any cache says (inventory, findings, exit code), for an Alpine + npm image and
/// a Debian one with dpkg file lists (fields the inventory document shortens, read back).
/// Another tag of the same manifest is named as that tag; another build of imagegate (a copy
/// of the binary) does not take an inventory the first one built.
#[test]
fn a_rescan_reads_the_inventory_of_its_manifest_and_says_what_a_cold_scan_says() {
    let debian = |rel: &str| std::fs::read(repo_root().join("testdata/debian-12").join(rel)).unwrap();
    let info = "var/lib/dpkg/info";
    let debian_spec = ImageSpec::new().layer(
        Layer::new()
            .file("etc/os-release", debian("etc/os-release"))
            .file("var/lib/dpkg/status", debian("var/lib/dpkg/status"))
            .file(&format!("{info}/openssl.list"), debian(&format!("{info}/openssl.list")))
            .file(
                &format!("{info}/libssl3:amd64.list"),
                debian(&format!("{info}/libssl3:amd64.list")),
            ),
        Compression::Gzip,
        "RUN apt-get install -y openssl",
    );
    let registry = Registry::start();
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    for (repo, built) in [("demo/app", demo_spec().build()), ("debian/app", debian_spec.build())] {
        registry.push(repo, Some("1.0"), &built);
        registry.push(repo, Some("also"), &built);
        let cache = tempfile::tempdir().unwrap();
        let env = [("IMAGEGATE_CACHE_DIR", cache.path().to_str().unwrap())];
        let image = format!("{}/{repo}:1.0", proxy.addr());
        let (cold_code, cold, _) = scan_json(&image, &["--no-cache"], &env);
        scan_json(&image, &[], &env);
        let docs = || {
            std::fs::read_dir(cache.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "doc"))
                .count()
        };
        assert_eq!(docs(), 1, "{repo}: one inventory, for its manifest");
        for entry in std::fs::read_dir(cache.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "walk") {
                std::fs::remove_file(path).unwrap();
            }
        }
        proxy.reset();
        let (code, again, stderr) = scan_json(&image, &[], &env);
        let layer_gets: usize = built.layers.iter().map(|l| proxy.gets(&l.digest)).sum();
        assert_eq!(layer_gets, 0, "{repo}: no layer read: {stderr}");
        assert_eq!(code, cold_code, "{repo}");
        assert_eq!(again["inventory"], cold["inventory"], "{repo}");
        assert_eq!(finding_rules(&again), finding_rules(&cold), "{repo}");
        assert_eq!(again["findings"], cold["findings"], "{repo}");

        // The same manifest by another tag: named as asked.
        let other = format!("{}/{repo}:also", proxy.addr());
        let (_, tagged, _) = scan_json(&other, &[], &env);
        assert_eq!(tagged["inventory"]["image"]["reference"], other.as_str());
        assert_eq!(tagged["inventory"]["image"]["repo_tags"], serde_json::json!([other]));
        assert_eq!(tagged["inventory"]["npm"], cold["inventory"]["npm"]);
        assert_eq!(proxy.gets("/blobs/sha256:"), 0, "{repo}: still no blob");

        // Another build of imagegate: the walks again (downloaded, since they were removed).
        let copy = cache.path().join("imagegate-copy");
        std::fs::copy(env!("CARGO_BIN_EXE_imagegate"), &copy).unwrap();
        let out = std::process::Command::new(&copy)
            .args(["inventory", &image, "--format", "json"])
            .env("IMAGEGATE_CACHE_DIR", cache.path())
            .env("IMAGEGATE_REGISTRY_TIMEOUT", "10")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let layer_gets: usize = built.layers.iter().map(|l| proxy.gets(&l.digest)).sum();
        assert_eq!(layer_gets, built.layers.len(), "{repo}: another build walks the layers");
        let inventory: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(inventory["deb"], cold["inventory"]["deb"], "{repo}");
    }
}

/// Overwrites every file below `dir` with garbage; returns how many.
fn overwrite_every_file(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            n += overwrite_every_file(&entry.path());
        } else {
            let garbage: &[u8] = if n % 2 == 0 {
                b"\x28\xb5\x2f\xfd garbage"
            } else {
                b"{\"not\": \"a layer walk\"}"
            };
            std::fs::write(entry.path(), garbage).unwrap();
            n += 1;
        }
    }
    n
}

#[test]
fn two_scans_sharing_one_cache_at_once_both_succeed_alike() {
    let registry = Registry::start();
    registry.push("demo/app", Some("1.0"), &demo_spec().build());
    let image = format!("{}/demo/app:1.0", registry.addr());
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap().to_string();
    for _ in 0..3 {
        let results: Vec<(i32, Value, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| s.spawn(|| scan_json(&image, &[], &[("IMAGEGATE_CACHE_DIR", cache_dir.as_str())])))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results[0].0, results[1].0);
        assert_eq!(finding_rules(&results[0].1), finding_rules(&results[1].1));
        assert_eq!(results[0].1["inventory"], results[1].1["inventory"]);
    }
}

/// Three repositories sharing the demo's base layer, one tag pointing at another's digest,
/// one image whose layer blob is gone and one whose config is not JSON.
fn audit_registry() -> (Registry, FaultProxy, String) {
    let registry = Registry::start();
    let web = demo_spec().build();
    registry.push("team/web", Some("1.0.0"), &web);
    registry.push("team/web", Some("1.1.0"), &demo_spec().label("rev", "2").build());
    registry.push("team/web", Some("latest"), &demo_spec().label("rev", "2").build());
    registry.push("team/api", Some("2.0.0"), &passing_spec("api 2").build());
    registry.push("team/api", Some("2.1.0"), &passing_spec("api 2.1").build());
    registry.push("tools/ci", Some("0.1.0"), &passing_spec("ci").build());
    let broken = passing_spec("broken").build();
    registry.push("tools/broken", Some("1.0"), &broken);
    registry.delete_blob("tools/broken", &broken.layers[1].digest);
    let garbage = passing_spec("garbage")
        .faults(Faults {
            edit_config: Some(|_| b"this is not an image config".to_vec()),
            ..Faults::default()
        })
        .build();
    registry.push("tools/garbage", Some("1.0"), &garbage);
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    let base = web.layers[0].digest.clone();
    (registry, proxy, base)
}

fn audit(proxy: &FaultProxy, extra: &[&str], out: &Path) -> (Run, Value) {
    let mut args = vec![
        "audit",
        proxy.addr(),
        "--db",
        testdata_db().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--concurrency",
        "3",
    ];
    args.extend_from_slice(extra);
    let r = imagegate(&args, &[]);
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .unwrap_or_else(|e| panic!("{e}; exit {}: {}", r.code, r.stderr));
    (r, serde_json::from_str(&summary).unwrap())
}

fn rows(summary: &Value) -> Vec<(String, String)> {
    summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!("{}:{}", i["repository"].as_str().unwrap(), i["tag"].as_str().unwrap()),
                i["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn audit_scans_each_digest_once_reports_broken_images_and_goes_on() {
    let (_registry, proxy, base) = audit_registry();
    let out = tempfile::tempdir().unwrap();
    let (r, summary) = audit(&proxy, &[], out.path());
    assert_eq!(r.code, 2, "broken images make the audit exit 2: {}", r.stderr);
    assert_eq!(
        rows(&summary),
        [
            ("team/api:2.0.0", "pass"),
            ("team/api:2.1.0", "pass"),
            ("team/web:1.0.0", "fail"),
            ("team/web:1.1.0", "fail"),
            ("tools/broken:1.0", "error"),
            ("tools/ci:0.1.0", "pass"),
            ("tools/garbage:1.0", "error"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let images = summary["images"].as_array().unwrap();
    let web11 = images.iter().find(|i| i["tag"] == "1.1.0").unwrap();
    assert_eq!(
        web11["tags"],
        serde_json::json!(["1.1.0", "latest"]),
        "one scan per digest"
    );
    assert!(web11["counts"]["high"].as_u64().unwrap() > 0, "{web11}");
    assert!(!web11["top_findings"].as_array().unwrap().is_empty());
    let broken = images.iter().find(|i| i["repository"] == "tools/broken").unwrap();
    assert!(broken["error"].as_str().unwrap().contains("no such"), "{broken}");
    let garbage = images.iter().find(|i| i["repository"] == "tools/garbage").unwrap();
    assert!(garbage["error"].as_str().unwrap().contains("config"), "{garbage}");
    // Each digest once; every image that was scanned has its counts.
    let mut digests: Vec<&str> = images.iter().map(|i| i["digest"].as_str().unwrap()).collect();
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), images.len());
    for i in images.iter().filter(|i| i["verdict"] != "error") {
        for level in ["critical", "high", "medium", "low", "unknown"] {
            assert!(i["counts"][level].is_u64(), "{i}");
        }
    }
    // Per-image reports exist and are what `scan` writes.
    // Named after the repository (`/` → `_`) and the tag.
    for key in ["report", "sarif"] {
        assert!(
            web11[key].as_str().unwrap().starts_with("images/team_web_1.1.0"),
            "{}",
            web11[key]
        );
    }
    let report = out.path().join(web11["report"].as_str().unwrap());
    let report: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["verdict"]["pass"], false);
    let sarif = std::fs::read_to_string(out.path().join(web11["sarif"].as_str().unwrap())).unwrap();
    assert!(sarif.contains("\"version\": \"2.1.0\"") || sarif.contains("\"version\":\"2.1.0\""));
    assert!(
        std::fs::read_to_string(out.path().join("summary.md"))
            .unwrap()
            .contains("| `")
    );
    assert!(
        r.stdout.contains("7 images: 3 pass, 2 fail, 2 could not be scanned"),
        "{}",
        r.stdout
    );
    // The shared base layer was downloaded once for the two web images.
    assert_eq!(proxy.count(&base), 1);
}

#[test]
fn audit_filters_by_glob_and_latest_and_shards_merge_to_the_whole() {
    let (_registry, proxy, _) = audit_registry();
    let out = tempfile::tempdir().unwrap();
    let (r, summary) = audit(
        &proxy,
        &["--repo", "team/*", "--latest", "1"],
        &out.path().join("latest"),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        rows(&summary).into_iter().map(|(i, _)| i).collect::<Vec<_>>(),
        ["team/api:2.1.0", "team/web:1.1.0"]
    );
    let (_, summary) = audit(&proxy, &["--tag", "2.*"], &out.path().join("tags"));
    assert_eq!(
        rows(&summary).into_iter().map(|(i, _)| i).collect::<Vec<_>>(),
        ["team/api:2.0.0", "team/api:2.1.0"]
    );

    let (_, whole) = audit(&proxy, &[], &out.path().join("whole"));
    let mut shard_dirs = Vec::new();
    let mut seen = Vec::new();
    for k in 1..=3 {
        let dir = out.path().join(format!("shard-{k}"));
        let (_, part) = audit(&proxy, &["--shard", &format!("{k}/3")], &dir);
        seen.extend(rows(&part));
        shard_dirs.push(dir);
    }
    seen.sort();
    let mut expected = rows(&whole);
    expected.sort();
    assert_eq!(seen, expected, "each image in exactly one shard");
    let merged_dir = out.path().join("merged");
    let mut args = vec!["audit", "merge"];
    let dirs: Vec<String> = shard_dirs.iter().map(|d| d.display().to_string()).collect();
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--out", merged_dir.to_str().unwrap()]);
    let r = imagegate(&args, &[]);
    assert_eq!(r.code, 2, "the broken image is in one shard: {}", r.stderr);
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(merged_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(rows(&merged), rows(&whole));
    assert_eq!(merged["shards"].as_array().unwrap().len(), 3);

    let r = imagegate(&["audit", proxy.addr(), "--shard", "4/3"], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--shard"), "{}", r.stderr);
}

#[test]
fn bytes_that_do_not_match_their_digests_are_refused() {
    let registry = Registry::start();
    let built = demo_spec().build();
    registry.push("demo/app", Some("1.0"), &built);
    let by_digest = |proxy: &FaultProxy| format!("{}/demo/app@{}", proxy.addr(), built.manifest_digest);
    // A layer blob, the config, and a manifest fetched by digest, each with one byte flipped.
    for (what, part, expect) in [
        // The flipped byte is in gzip's own trailer, which catches it before the digest does.
        ("layer", built.layers[1].digest.clone(), "layer 1"),
        ("config", built.config_digest.clone(), "digest mismatch"),
        ("manifest", "/manifests/".to_string(), "digest mismatch"),
    ] {
        let proxy = FaultProxy::start(registry.addr(), move |path, _| {
            if path.contains(&part) {
                Action::Corrupt
            } else {
                Action::Forward
            }
        });
        let r = inventory(&by_digest(&proxy), &["--no-cache"], &[]);
        assert_eq!(r.code, 2, "{what}: {}", r.stdout);
        assert!(r.stderr.contains(expect), "{what}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{what}: no report");
    }
    // Nothing unverified went into the cache: a clean pull afterwards is whole.
    let cache = tempfile::tempdir().unwrap();
    let env = [("IMAGEGATE_CACHE_DIR", cache.path().to_str().unwrap())];
    let layer = built.layers[0].digest.clone();
    let proxy = FaultProxy::start(registry.addr(), move |path, _| {
        if path.contains(&layer) {
            Action::Corrupt
        } else {
            Action::Forward
        }
    });
    assert_eq!(inventory(&by_digest(&proxy), &[], &env).code, 2);
    let clean = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    let r = inventory(&by_digest(&clean), &[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        clean.gets(&built.layers[0].digest),
        1,
        "the corrupt walk was not cached"
    );
}

#[test]
fn audit_merge_refuses_what_is_not_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("summary.json"), "{\"schema\": 1, \"images\": 7").unwrap();
    let r = imagegate(&["audit", "merge", bad.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("summary.json") && r.stderr.contains("not an audit summary"),
        "{}",
        r.stderr
    );
    let newer = tmp.path().join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    std::fs::write(
        newer.join("summary.json"),
        r#"{"schema": 99, "registry": "r", "generated_at": "now", "images": []}"#,
    )
    .unwrap();
    let r = imagegate(&["audit", "merge", newer.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("schema 99"), "{}", r.stderr);
    let r = imagegate(&["audit", "merge", tmp.path().join("absent").to_str().unwrap()], &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("absent"), "{}", r.stderr);
    let r = imagegate(&["audit"], &[]);
    assert_eq!(r.code, 2, "no registry given");
}
