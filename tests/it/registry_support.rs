//! Tests of the test infrastructure itself (`tests/it/support/registry.rs`), independent of
//! imagegate: the real registry starts, serves back byte for byte what was pushed (OCI, Docker
//! schema 2, indexes and manifest lists), enforces basic auth, and the fault proxy injects
//! exactly the faults it is told to and forwards everything else. If these fail, the end-to-end
//! tests in `tests/registry.rs` prove nothing.

use crate::support::registry::{Action, FaultProxy, Registry};
use crate::support::*;
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const ACCEPT_ALL: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

fn small(arch: &str, marker: &str, media: MediaTypes) -> BuiltImage {
    ImageSpec::new()
        .platform("linux", arch, None)
        .media(media)
        .layer(
            Layer::new()
                .file("etc/alpine-release", "3.20.3\n")
                .file("marker", marker),
            Compression::Gzip,
            "ADD rootfs /",
        )
        .build()
}

fn assert_served(registry: &Registry, repo: &str, reference: &str, bytes: &[u8], media_type: &str) {
    let got = registry.get(&format!("{repo}/manifests/{reference}"), ACCEPT_ALL);
    assert_eq!(
        got.status,
        200,
        "{repo}:{reference}: {}",
        String::from_utf8_lossy(&got.body)
    );
    assert_eq!(got.content_type, media_type, "{repo}:{reference}");
    assert_eq!(got.digest, digest_of(bytes), "{repo}:{reference}");
    assert_eq!(
        got.body, bytes,
        "{repo}:{reference}: the manifest comes back byte for byte"
    );
}

#[test]
fn pushed_manifests_and_blobs_come_back_byte_for_byte() {
    let registry = Registry::start();
    let oci = demo_spec().build();
    registry.push("demo/app", Some("oci"), &oci);
    assert_served(&registry, "demo/app", "oci", &oci.manifest, OCI_MANIFEST);
    assert_served(&registry, "demo/app", &oci.manifest_digest, &oci.manifest, OCI_MANIFEST);

    let docker = demo_spec().media(MediaTypes::Docker).build();
    assert_ne!(docker.manifest_digest, oci.manifest_digest);
    registry.push("demo/app", Some("docker"), &docker);
    assert_served(&registry, "demo/app", "docker", &docker.manifest, DOCKER_MANIFEST);
    let config = registry.get(&format!("demo/app/blobs/{}", docker.config_digest), &[]);
    assert_eq!((config.status, config.body), (200, docker.config.clone()));
    for layer in &docker.layers {
        let got = registry.get(&format!("demo/app/blobs/{}", layer.digest), &[]);
        assert_eq!(got.status, 200);
        assert!(got.body == layer.blob, "layer {} differs", layer.digest);
    }

    // Pushed by digest only: no tag, but the manifest is there.
    let untagged = small("amd64", "untagged", MediaTypes::Oci);
    registry.push("demo/app", None, &untagged);
    assert_served(
        &registry,
        "demo/app",
        &untagged.manifest_digest,
        &untagged.manifest,
        OCI_MANIFEST,
    );
    assert_eq!(registry.get("demo/app/manifests/untagged", ACCEPT_ALL).status, 404);

    // Multi-platform: an OCI index and a Docker manifest list over different content.
    for (tag, media, list_type) in [
        ("index", MediaTypes::Oci, OCI_INDEX),
        ("list", MediaTypes::Docker, DOCKER_LIST),
    ] {
        let amd = small("amd64", &format!("amd64 {tag}"), media);
        let arm = small("arm64", &format!("arm64 {tag}"), media);
        assert_ne!(amd.layers[0].digest, arm.layers[0].digest);
        let digest = registry.push_index("multi", tag, &[&amd, &arm], list_type);
        let got = registry.get(&format!("multi/manifests/{tag}"), ACCEPT_ALL);
        assert_eq!((got.status, got.content_type.as_str()), (200, list_type));
        assert_eq!(got.digest, digest);
        let index: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        let listed: Vec<(&str, &str)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["platform"]["architecture"].as_str().unwrap(),
                    m["digest"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("amd64", amd.manifest_digest.as_str()),
                ("arm64", arm.manifest_digest.as_str())
            ]
        );
        assert_served(
            &registry,
            "multi",
            &arm.manifest_digest,
            &arm.manifest,
            &arm.manifest_media_type,
        );
    }

    // A deleted blob is gone for that repository (how the audit tests break an image).
    registry.delete_blob("demo/app", &oci.layers[3].digest);
    assert_eq!(
        registry
            .get(&format!("demo/app/blobs/{}", oci.layers[3].digest), &[])
            .status,
        404
    );
}

#[test]
fn the_htpasswd_registry_wants_the_password() {
    let registry = Registry::start_with_htpasswd("ci", "s3cret-pw");
    let image = small("amd64", "private", MediaTypes::Oci);
    registry.push("private/app", Some("1.0"), &image);
    assert_served(&registry, "private/app", "1.0", &image.manifest, OCI_MANIFEST);

    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/v2/private/app/manifests/1.0", registry.addr());
    let anonymous = client.get(&url).send().unwrap();
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic "), "{challenge}");
    let wrong = client.get(&url).basic_auth("ci", Some("nope")).send().unwrap();
    assert_eq!(wrong.status(), 401);
}

/// A registry holding one small image, and a blocking client with a short timeout.
fn fixture() -> (Registry, BuiltImage, reqwest::blocking::Client) {
    let registry = Registry::start();
    let image = small("amd64", &"x".repeat(4096), MediaTypes::Oci);
    registry.push("demo/app", Some("1.0"), &image);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    (registry, image, client)
}

#[test]
fn the_proxy_answers_429_and_500_as_planned_then_forwards() {
    let (registry, image, client) = fixture();
    let config = image.config_digest.clone();
    let proxy = FaultProxy::start(registry.addr(), move |path, n| {
        if path.contains("/manifests/") && n < 2 {
            Action::Answer(429, vec![("Retry-After".into(), "1".into())])
        } else if path.contains(&config) && n < 3 {
            Action::Answer(500, vec![])
        } else {
            Action::Forward
        }
    });
    let manifest = format!("http://{}/v2/demo/app/manifests/1.0", proxy.addr());
    for _ in 0..2 {
        let r = client.get(&manifest).header("Accept", OCI_MANIFEST).send().unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
    }
    let r = client.get(&manifest).header("Accept", OCI_MANIFEST).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().as_ref(), image.manifest.as_slice());

    let blob = format!("http://{}/v2/demo/app/blobs/{}", proxy.addr(), image.config_digest);
    let statuses: Vec<u16> = (0..4)
        .map(|_| client.get(&blob).send().unwrap().status().as_u16())
        .collect();
    assert_eq!(statuses, [500, 500, 500, 200]);
    // A HEAD is counted as a request, not as a fetch.
    assert_eq!(client.head(&blob).send().unwrap().status(), 200);
    assert_eq!(proxy.count(&image.config_digest), 5);
    assert_eq!(proxy.gets(&image.config_digest), 4);
    assert_eq!((proxy.served(429), proxy.served(500), proxy.served(200)), (2, 3, 3));
}

#[test]
fn the_proxy_cuts_bodies_hangs_and_forwards_request_bodies() {
    let (registry, image, client) = fixture();
    let layer = image.layers[0].clone();
    let cut = layer.digest.clone();
    let proxy = FaultProxy::start(registry.addr(), move |path, n| {
        if path.contains(&cut) && n == 0 {
            Action::Cut(100)
        } else if path.contains("/hang/") {
            Action::Hang
        } else {
            Action::Forward
        }
    });
    let url = format!("http://{}/v2/demo/app/blobs/{}", proxy.addr(), layer.digest);

    // Cut: the full Content-Length is promised, 100 bytes arrive, then the connection closes.
    let r = client.get(&url).send().unwrap();
    assert_eq!(r.content_length(), Some(layer.blob.len() as u64));
    let mut got = Vec::new();
    let read = r.take(layer.blob.len() as u64).read_to_end(&mut got);
    assert!(read.is_err() || got.len() == 100, "{read:?}, {} bytes", got.len());
    assert_eq!(got.as_slice(), &layer.blob[..got.len()]);
    // The rest, asked for with Range (a resume), is forwarded and answered 206.
    let r = client.get(&url).header("Range", "bytes=100-").send().unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().unwrap().as_ref(), &layer.blob[100..]);
    assert_eq!(
        client.get(&url).send().unwrap().bytes().unwrap().as_ref(),
        layer.blob.as_slice()
    );
    assert_eq!(proxy.requests().iter().filter(|s| s.cut).count(), 1);

    // Hang: the client's own timeout is what ends it.
    let started = Instant::now();
    let err = client
        .get(format!("http://{}/v2/hang/manifests/1", proxy.addr()))
        .send()
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(proxy.requests().iter().filter(|s| s.status.is_none()).count(), 1);

    // A blob upload through the proxy: the PUT's body reaches the registry.
    let start = client
        .post(format!("http://{}/v2/uploaded/blobs/uploads/", proxy.addr()))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with("http") {
        location
    } else {
        format!("http://{}{location}", proxy.addr())
    };
    assert!(location.contains(proxy.addr()), "{location}");
    let data = b"uploaded through the proxy".to_vec();
    let separator = if location.contains('?') { '&' } else { '?' };
    let put = client
        .put(format!("{location}{separator}digest={}", digest_of(&data)))
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(
        registry.get(&format!("uploaded/blobs/{}", digest_of(&data)), &[]).body,
        data
    );

    // Stopped: new connections are refused, as for a host that is down.
    proxy.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(proxy.addr()).is_ok() {
        assert!(Instant::now() < deadline, "the proxy still accepts after stop()");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stopped_registry_is_unreachable_and_the_proxy_hangs_up() {
    let (mut registry, image, client) = fixture();
    let proxy = FaultProxy::start(registry.addr(), |_, _| Action::Forward);
    let url = format!("http://{}/v2/demo/app/blobs/{}", proxy.addr(), image.config_digest);
    assert_eq!(client.get(&url).send().unwrap().status(), 200);
    let addr = registry.addr().to_string();
    registry.stop();
    assert!(TcpStream::connect(&addr).is_err(), "nothing listens on {addr} any more");
    let err = client.get(&url).send().unwrap_err();
    assert!(!err.is_timeout(), "hung up at once, not hung: {err}");
    assert_eq!(proxy.requests().last().unwrap().status, None);
}
