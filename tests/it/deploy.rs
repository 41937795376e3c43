//! `deploy/` (the nightly audit as one `kubectl apply -k`), checked without a cluster: rendered
//! as kustomize renders it (a small renderer of the features the kustomization uses — it
//! refuses any other), validated against the Kubernetes 1.31 JSON schemas in
//! `testdata/kubernetes/`, and then run: each pod's command line, with its environment resolved
//! as the kubelet does (`configMapKeyRef`, `fieldRef`, `$(VAR)`), runs as a process against a
//! real registry and a local OSV mirror, the volumes mapped to temporary directories. The merged
//! summary must equal a single unsharded audit's, and the DB must be downloaded once per run.

use crate::support::registry::{Action, FaultProxy, Registry};
use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

// ---- YAML → JSON -------------------------------------------------------------------------

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => json!(s.parse::<f64>().unwrap()),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), yaml_to_json(v)))
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_rust2::YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .map(yaml_to_json)
        .collect()
}

// ---- the renderer ------------------------------------------------------------------------

/// `KEY=VALUE` lines of a kustomize env file (comments and blank lines skipped).
fn env_file(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("not KEY=VALUE: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn only_keys(v: &Value, allowed: &[&str], what: &str) {
    for key in v.as_object().unwrap().keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{what}: `{key}` is a kustomize feature this renderer does not implement; add it here"
        );
    }
}

/// One step of a field path: `name` or `[key=value]` (a list element by a field).
fn step<'a>(node: &'a mut Value, part: &str) -> &'a mut Value {
    if let Some(sel) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
        let (k, want) = sel.split_once('=').unwrap();
        node.as_array_mut()
            .unwrap_or_else(|| panic!("[{sel}] on a non-list"))
            .iter_mut()
            .find(|e| e[k] == want)
            .unwrap_or_else(|| panic!("no element [{sel}]"))
    } else {
        node.get_mut(part).unwrap_or_else(|| panic!("no field `{part}`"))
    }
}

/// deploy/ rendered as `kubectl kustomize deploy/` does, with `settings` in place of the values
/// of the env file (each must be a key the file has).
fn render(settings: &[(&str, &str)]) -> Vec<Value> {
    let dir = repo_root().join("deploy");
    let kust = yaml_docs(&dir.join("kustomization.yaml")).remove(0);
    only_keys(
        &kust,
        &[
            "apiVersion",
            "kind",
            "resources",
            "configMapGenerator",
            "replacements",
            "images",
        ],
        "kustomization.yaml",
    );
    let mut docs = Vec::new();
    for generator in kust["configMapGenerator"].as_array().unwrap() {
        only_keys(generator, &["name", "envs", "options"], "configMapGenerator");
        assert_eq!(generator["options"], json!({"disableNameSuffixHash": true}));
        let mut data = BTreeMap::new();
        for env in generator["envs"].as_array().unwrap() {
            data.extend(env_file(&dir.join(env.as_str().unwrap())));
        }
        for (k, v) in settings {
            assert!(data.contains_key(*k), "{k} is not a setting of deploy/");
            data.insert(k.to_string(), v.to_string());
        }
        docs.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": generator["name"]},
            "data": data,
        }));
    }
    for res in kust["resources"].as_array().unwrap() {
        docs.extend(yaml_docs(&dir.join(res.as_str().unwrap())));
    }
    for r in kust["replacements"].as_array().unwrap() {
        only_keys(r, &["source", "targets"], "replacements");
        let src = &r["source"];
        let from = docs
            .iter()
            .find(|d| d["kind"] == src["kind"] && d["metadata"]["name"] == src["name"])
            .expect("replacement source")
            .clone();
        let mut value = &from;
        for part in src["fieldPath"].as_str().unwrap().split('.') {
            value = &value[part];
        }
        let value = value.as_str().expect("a string from a ConfigMap").to_string();
        for t in r["targets"].as_array().unwrap() {
            only_keys(t, &["select", "fieldPaths"], "replacement target");
            for doc in docs
                .iter_mut()
                .filter(|d| d["kind"] == t["select"]["kind"] && d["metadata"]["name"] == t["select"]["name"])
            {
                for path in t["fieldPaths"].as_array().unwrap() {
                    let mut node = &mut *doc;
                    for part in path.as_str().unwrap().split('.') {
                        node = step(node, part);
                    }
                    // kustomize keeps the target's type: a number stays a number.
                    *node = if node.is_number() {
                        json!(value.parse::<i64>().unwrap_or_else(|_| panic!("{value} into {path}")))
                    } else {
                        json!(value)
                    };
                }
            }
        }
    }
    for image in kust["images"].as_array().unwrap() {
        only_keys(image, &["name", "newName", "newTag"], "images");
        let new = format!(
            "{}:{}",
            image["newName"].as_str().unwrap(),
            image["newTag"].as_str().unwrap()
        );
        for doc in &mut docs {
            for c in containers_mut(doc) {
                if c["image"] == image["name"] {
                    c["image"] = json!(new);
                }
            }
        }
    }
    docs
}

fn pod_spec(doc: &Value) -> &Value {
    &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

fn containers_mut(doc: &mut Value) -> Vec<&mut Value> {
    // (`pointer_mut`: indexing a `Value` mutably would add the path to every document.)
    match doc
        .pointer_mut("/spec/jobTemplate/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        Some(cs) => cs.iter_mut().collect(),
        None => Vec::new(),
    }
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let all: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(all.len(), 1, "one {kind}");
    all[0]
}

// ---- validation --------------------------------------------------------------------------

fn validators() -> &'static BTreeMap<String, jsonschema::Validator> {
    static V: OnceLock<BTreeMap<String, jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = repo_root().join("testdata/kubernetes/v1.31.0-strict");
        [
            ("CronJob", "cronjob-batch-v1.json"),
            ("ConfigMap", "configmap-v1.json"),
            ("PersistentVolumeClaim", "persistentvolumeclaim-v1.json"),
        ]
        .into_iter()
        .map(|(kind, file)| {
            let schema: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            let v = jsonschema::draft202012::options()
                .with_pattern_options(jsonschema::PatternOptions::regex())
                .build(&schema)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            (kind.to_string(), v)
        })
        .collect()
    })
}

/// The schema errors of one rendered object ("no schema" for a kind the test has none for).
fn schema_errors(doc: &Value) -> Vec<String> {
    let kind = doc["kind"].as_str().unwrap_or("");
    match validators().get(kind) {
        None => vec![format!("no schema for kind {kind:?} in testdata/kubernetes/")],
        Some(v) => v
            .iter_errors(doc)
            .map(|e| format!("{kind} {}: {e}", e.instance_path()))
            .collect(),
    }
}

// ---- what the kubelet does ---------------------------------------------------------------

/// `$(VAR)` expanded from `env` as the kubelet expands `args` (`$$` is a literal `$`; an
/// unknown variable stays as written).
fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            out.push('$');
            rest = r;
        } else if let Some((name, r)) = rest.strip_prefix("$(").and_then(|r| r.split_once(')')) {
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => out.push_str(&rest[..name.len() + 3]),
            }
            rest = r;
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The container's environment as the kubelet builds it for a pod of Job `job`.
fn container_env(container: &Value, docs: &[Value], job: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for e in container["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap().to_string();
        let value = if let Some(v) = e["value"].as_str() {
            expand(v, &env)
        } else if let Some(r) = e["valueFrom"].get("configMapKeyRef") {
            let cm = docs
                .iter()
                .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == r["name"])
                .unwrap_or_else(|| panic!("{name}: no ConfigMap {}", r["name"]));
            cm["data"][r["key"].as_str().unwrap()]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no key {}", r["key"]))
                .to_string()
        } else if let Some(r) = e["valueFrom"].get("fieldRef") {
            // The labels the Job controller puts on its pods (Kubernetes 1.27+).
            match r["fieldPath"].as_str().unwrap() {
                "metadata.labels['batch.kubernetes.io/job-name']" | "metadata.labels['job-name']" => job.to_string(),
                other => panic!("{name}: fieldRef {other} is not one the test knows"),
            }
        } else {
            panic!("{name}: an env source the test does not resolve: {e}");
        };
        env.insert(name, value);
    }
    env
}

// ---- a registry to audit, and an OSV mirror ----------------------------------------------

struct Fixture {
    _registry: Registry,
    proxy: FaultProxy,
    /// Every layer blob pushed: digest → compressed size.
    layers: BTreeMap<String, u64>,
}

/// Six digests (seven tags): the demo app twice on one base, passing images on another base,
/// and one of those with a `.env` file (the audit policy fails it).
fn fixture() -> Fixture {
    let registry = Registry::start();
    let images = [
        ("team/web", "1.0.0", demo_spec().build()),
        ("team/web", "1.1.0", demo_spec().label("rev", "2").build()),
        ("team/web", "latest", demo_spec().label("rev", "2").build()),
        ("team/api", "2.0.0", passing_spec("api 2").build()),
        ("team/api", "2.1.0", passing_spec("api 2.1").build()),
        ("tools/ci", "0.1.0", passing_spec("ci").build()),
        (
            "tools/leaky",
            "1.0",
            passing_spec("leaky")
                .layer(
                    Layer::new().file("app/.env", "TOKEN=x\n"),
                    Compression::Gzip,
                    "COPY . /app",
                )
                .build(),
        ),
    ];
    let mut layers = BTreeMap::new();
    for (repo, tag, img) in &images {
        registry.push(repo, Some(tag), img);
        for l in &img.layers {
            layers.insert(l.digest.clone(), l.blob.len() as u64);
        }
    }
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    Fixture {
        _registry: registry,
        proxy,
        layers,
    }
}

/// OSV's bucket as `db update` reads it, serving `<ecosystem>/all.zip` built from the records
/// in testdata/osv/; counts the dump downloads.
struct Mirror {
    base: String,
    dumps: Arc<AtomicUsize>,
}

fn zip_of(dir: &Path) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        zip.start_file(
            path.file_name().unwrap().to_str().unwrap(),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&std::fs::read(path).unwrap()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn mirror() -> Mirror {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let osv = repo_root().join("testdata/osv");
    let files: Arc<BTreeMap<String, Vec<u8>>> = Arc::new(
        [
            ("/npm/all.zip".to_string(), zip_of(&osv.join("npm"))),
            ("/Alpine/all.zip".to_string(), zip_of(&osv.join("alpine"))),
        ]
        .into_iter()
        .collect(),
    );
    let dumps = Arc::new(AtomicUsize::new(0));
    let counter = dumps.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (files, counter) = (files.clone(), counter.clone());
            std::thread::spawn(move || serve(stream, &files, &counter));
        }
    });
    Mirror { base, dumps }
}

fn serve(mut stream: TcpStream, files: &BTreeMap<String, Vec<u8>>, dumps: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let (method, path) = {
        let mut parts = line.split_whitespace();
        (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        )
    };
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h.trim().is_empty() {
            break;
        }
    }
    let head =
        |status: &str, len: usize| format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    match files.get(&path) {
        Some(body) => {
            let _ = stream.write_all(head("200 OK", body.len()).as_bytes());
            if method == "GET" {
                dumps.fetch_add(1, Ordering::Relaxed);
                let _ = stream.write_all(body);
            }
        }
        None => {
            let _ = stream.write_all(head("404 Not Found", 0).as_bytes());
        }
    }
}

// ---- running the pods --------------------------------------------------------------------

/// Host directories for the pod's mounts (and the image's shipped policies).
struct Volumes {
    map: Vec<(String, PathBuf)>,
}

impl Volumes {
    fn host(&self, text: &str) -> String {
        for (mount, host) in &self.map {
            if let Some(rest) = text.strip_prefix(mount.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return format!("{}{rest}", host.display());
            }
        }
        text.to_string()
    }
}

fn volumes(cron: &Value, root: &Path) -> Volumes {
    let spec = pod_spec(cron);
    let container = &spec["containers"][0];
    let mut map = Vec::new();
    for m in container["volumeMounts"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let vol = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        let host = root.join(name);
        std::fs::create_dir_all(&host).unwrap();
        if vol.get("secret").is_some() {
            // The pull secret: the items it maps, with no credentials (the registry is open).
            for item in vol["secret"]["items"].as_array().unwrap() {
                assert_eq!(item["key"], ".dockerconfigjson");
                std::fs::write(host.join(item["path"].as_str().unwrap()), "{\"auths\":{}}\n").unwrap();
            }
        }
        map.push((m["mountPath"].as_str().unwrap().to_string(), host));
    }
    // The Dockerfile copies policies/ to /etc/imagegate/policies/.
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("\nCOPY policies/ /etc/imagegate/policies/\n"));
    map.push(("/etc/imagegate/policies".to_string(), repo_root().join("policies")));
    Volumes { map }
}

/// One pod of the Job: the container's args (ENTRYPOINT is imagegate) with its environment.
fn pod(cron: &Value, docs: &[Value], job: &str, index: usize, vols: &Volumes, mirror: &str) -> Child {
    let container = &pod_spec(cron)["containers"][0];
    assert!(container.get("command").is_none(), "the image's ENTRYPOINT runs");
    let mut env = container_env(container, docs, job);
    env.insert("JOB_COMPLETION_INDEX".into(), index.to_string());
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| vols.host(&expand(a.as_str().unwrap(), &env)))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagegate"));
    cmd.args(&args).env_clear();
    for (k, v) in &env {
        cmd.env(k, vols.host(v));
    }
    // The test's stand-in for OSV's bucket.
    cmd.env("IMAGEGATE_OSV_MIRROR", mirror)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

struct Done {
    code: i32,
    stdout: String,
    stderr: String,
}

fn wait(child: Child) -> Done {
    let out = child.wait_with_output().unwrap();
    Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn summary(dir: &Path) -> Value {
    let path = dir.join("summary.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

// ---- the tests ---------------------------------------------------------------------------

#[test]
fn the_manifests_render_valid_and_agree_on_the_shard_count() {
    for n in ["1", "2", "4", "7"] {
        let docs = render(&[
            ("SHARDS", n),
            ("REGISTRY", "registry.test:5000"),
            ("SCHEDULE", "30 1 * * 0"),
        ]);
        let errors: Vec<String> = docs.iter().flat_map(schema_errors).collect();
        assert!(errors.is_empty(), "N = {n}: {errors:#?}");
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ConfigMap", "PersistentVolumeClaim", "CronJob"]);

        let cron = find(&docs, "CronJob");
        let job = &cron["spec"]["jobTemplate"]["spec"];
        assert_eq!(cron["spec"]["schedule"], "30 1 * * 0");
        assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
        assert_eq!(job["completionMode"], "Indexed");
        let n: u64 = n.parse().unwrap();
        assert_eq!(job["completions"], json!(n));
        assert_eq!(
            job["parallelism"],
            json!(n),
            "every shard runs at once: they wait for pod 0"
        );
        let spec = pod_spec(cron);
        assert_eq!(spec["restartPolicy"], "Never", "podFailurePolicy needs it");
        let container = &spec["containers"][0];
        let env = container_env(container, &docs, "imagegate-audit-29000000");
        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| expand(a.as_str().unwrap(), &env))
            .collect();
        let after = |flag: &str| args[args.iter().position(|a| a == flag).unwrap() + 1].clone();
        assert_eq!(args[..2], ["audit", "registry.test:5000"]);
        assert_eq!(after("--indexed-job"), n.to_string(), "{args:?}");
        assert_eq!(after("--out"), "/audit/runs/imagegate-audit-29000000");
        assert!(
            args.iter().all(|a| !a.contains("$(")),
            "every variable is defined: {args:?}"
        );
        // Exit 1 (the merged verdict) ends the Job instead of a retry, for this container.
        let rules = job["podFailurePolicy"]["rules"].as_array().unwrap();
        let fail = rules.iter().find(|r| r["action"] == "FailJob").unwrap();
        assert_eq!(fail["onExitCodes"]["containerName"], container["name"]);
        assert_eq!(fail["onExitCodes"]["values"], json!([1]));
        // The pod runs as the image's user.
        let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
        let uid = spec["securityContext"]["runAsUser"].as_u64().unwrap();
        assert!(dockerfile.contains(&format!("\nUSER {uid}:{uid}\n")), "USER {uid}");
        // The shared volume is the claim the kustomization creates, mountable by every pod.
        let pvc = find(&docs, "PersistentVolumeClaim");
        let audit = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "audit")
            .unwrap();
        assert_eq!(audit["persistentVolumeClaim"]["claimName"], pvc["metadata"]["name"]);
        assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteMany"]));
        let secret = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "docker-config")
            .unwrap();
        assert_eq!(secret["secret"]["secretName"], "registry-pull-secret");
    }
    let docs = render(&[("PULL_SECRET", "other-secret")]);
    let secret = &pod_spec(find(&docs, "CronJob"))["volumes"][1];
    assert_eq!(secret["secret"]["secretName"], "other-secret");
}

#[test]
fn the_schema_check_catches_a_misspelt_or_mistyped_field() {
    let docs = render(&[]);
    let mut cron = find(&docs, "CronJob").clone();
    assert!(schema_errors(&cron).is_empty());
    let job = cron["spec"]["jobTemplate"]["spec"].as_object_mut().unwrap();
    let n = job.remove("completions").unwrap();
    job.insert("completion".into(), n);
    assert!(!schema_errors(&cron).is_empty(), "an unknown field");
    let mut cron = find(&docs, "CronJob").clone();
    cron["spec"]["jobTemplate"]["spec"]["parallelism"] = json!("4");
    assert!(
        !schema_errors(&cron).is_empty(),
        "a string where the API wants an integer"
    );
    let unknown = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}});
    assert!(!schema_errors(&unknown).is_empty());
}

/// The pods of one run, as the Job starts them: all at once (pods 1.. first here, to show they
/// wait for pod 0's DB update), each with its JOB_COMPLETION_INDEX.
fn run_job(n: usize, fx: &Fixture, root: &Path, mirror: &Mirror) -> (Vec<Done>, PathBuf, Duration) {
    let docs = render(&[("SHARDS", &n.to_string()), ("REGISTRY", fx.proxy.addr())]);
    let cron = find(&docs, "CronJob");
    let vols = volumes(cron, root);
    // The audit volume already holds last night's DB (from the testdata records).
    import_testdata_db(&root.join("audit/db"));
    let job = "imagegate-audit-29000000";
    let run = root.join("audit/runs").join(job);
    let mut children: Vec<(usize, Child)> = (1..n)
        .map(|i| (i, pod(cron, &docs, job, i, &vols, &mirror.base)))
        .collect();
    if n > 1 {
        std::thread::sleep(Duration::from_millis(1500));
        for (i, child) in &mut children {
            assert!(child.try_wait().unwrap().is_none(), "pod {i} waits for pod 0");
            assert!(
                !run.join(format!("shard-{}", *i + 1)).exists(),
                "pod {i} has not scanned"
            );
        }
    }
    // The run's time counts from pod 0's start: until then the others only wait.
    let started = Instant::now();
    children.insert(0, (0, pod(cron, &docs, job, 0, &vols, &mirror.base)));
    let done: Vec<Done> = children.into_iter().map(|(_, c)| wait(c)).collect();
    (done, run, started.elapsed())
}

#[test]
fn the_job_pods_audit_the_registry_shard_by_shard_and_merge_to_the_whole() {
    let fx = fixture();
    let mirror = mirror();
    let tmp = tempfile::tempdir().unwrap();

    // The same registry audited in one process, with the policy the pods use.
    let whole_dir = tmp.path().join("whole");
    let db = tmp.path().join("db");
    import_testdata_db(&db);
    let out = assert_cmd::Command::cargo_bin("imagegate")
        .unwrap()
        .args(["audit", fx.proxy.addr(), "--db", db.to_str().unwrap()])
        .args(["--policy", repo_root().join("policies/audit.toml").to_str().unwrap()])
        .args(["--out", whole_dir.to_str().unwrap()])
        .env("IMAGEGATE_CACHE_DIR", tmp.path().join("whole-cache"))
        .env("DOCKER_CONFIG", tmp.path().join("no-docker"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let whole = summary(&whole_dir);
    assert_eq!(whole["images"].as_array().unwrap().len(), 6);

    for n in [1, 2, 4] {
        fx.proxy.reset();
        let dumps_before = mirror.dumps.load(Ordering::Relaxed);
        let root = tmp.path().join(format!("n{n}"));
        let (done, run, elapsed) = run_job(n, &fx, &root, &mirror);
        let log: String = done
            .iter()
            .enumerate()
            .map(|(i, d)| format!("--- pod {i}: exit {}\n{}{}", d.code, d.stdout, d.stderr))
            .collect();
        // Pods that only scanned exit 0; the one that merged (the last to finish, or two
        // finishing together) exits 1: the leaky image fails the audit policy.
        assert!(done.iter().all(|d| d.code == 0 || d.code == 1), "{log}");
        let mergers = done.iter().filter(|d| d.stderr.contains("merging into")).count();
        assert!(mergers >= 1, "{log}");
        assert_eq!(done.iter().filter(|d| d.code == 1).count(), mergers, "{log}");
        assert!(
            done.iter().any(|d| d.stdout.contains("6 images: 5 pass, 1 fail")),
            "{log}"
        );

        // The DB was downloaded once for the run, by pod 0, not once per shard.
        assert_eq!(
            mirror.dumps.load(Ordering::Relaxed) - dumps_before,
            2,
            "npm + Alpine: {log}"
        );
        assert!(!done[0].stderr.contains("update failed"), "{log}");

        // The merge of the N shard summaries is the single audit's summary.
        let merged = summary(&run.join("merged"));
        assert_eq!(merged["images"], whole["images"], "N = {n}");
        assert_eq!(merged["shards"].as_array().unwrap().len(), n);
        let mut left: Vec<String> = std::fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected: Vec<String> = (1..=n).map(|k| format!("shard-{k}")).collect();
        expected.extend(["db-ready".to_string(), "merged".to_string()]);
        expected.sort();
        assert_eq!(left, expected, "no temporary merge directory is left");
        for k in 1..=n {
            let part = summary(&run.join(format!("shard-{k}")));
            assert_eq!(part["shards"], json!([{"index": k, "count": n}]));
        }

        // Bytes fetched: each layer blob at most once per shard.
        let mut bytes = 0;
        for (digest, size) in &fx.layers {
            let gets = fx.proxy.gets(digest);
            assert!(gets <= n, "{digest}: {gets} GETs for {n} shards");
            bytes += gets as u64 * size;
        }
        eprintln!(
            "deploy: N = {n}: {:.2} s wall, {bytes} layer bytes fetched ({} layer GETs, {} requests)",
            elapsed.as_secs_f64(),
            fx.layers.keys().map(|d| fx.proxy.gets(d)).sum::<usize>(),
            fx.proxy.requests().len()
        );

        // Kubernetes retries a pod (evicted, node lost): pod 0 again redoes its step, and the
        // merge it writes is the same.
        if n == 2 {
            let docs = render(&[("SHARDS", "2"), ("REGISTRY", fx.proxy.addr())]);
            let cron = find(&docs, "CronJob");
            let vols = volumes(cron, &root);
            let again = wait(pod(cron, &docs, "imagegate-audit-29000000", 0, &vols, &mirror.base));
            assert_eq!(again.code, 1, "{}", again.stderr);
            assert_eq!(summary(&run.join("merged"))["images"], whole["images"]);
        }
    }

    // A pod outside an Indexed Job, or with an index past N, says so (exit 2, no retry loop
    // of a silent wrong shard).
    let r = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .args(["audit", fx.proxy.addr(), "--indexed-job", "3", "--out"])
        .arg(tmp.path().join("bad"))
        .env("JOB_COMPLETION_INDEX", "3")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("JOB_COMPLETION_INDEX"));
}
