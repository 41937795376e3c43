//! SPDX 2.3 JSON: the inventory as an SBOM (`--spdx`). The image is the described package
//! (`primaryPackagePurpose: CONTAINER`, version = manifest digest), the OS an
//! `OPERATING_SYSTEM` package, every package one `LIBRARY` package with its purl as an
//! external reference, `licenseDeclared` an SPDX expression when the package states one (else
//! `NOASSERTION`), and its install paths and layer as annotations (`imagegate:path=…`, the
//! CycloneDX property names). Deterministic but for `documentNamespace` and `created`.

use super::cyclonedx::{self as cdx, Components, is_spdx_expression};
use super::stream::{Json, Lazy, object};
use crate::inventory::Inventory;
use serde_json::{Value, json};

pub fn spdx(inv: &Inventory) -> Result<String, serde_json::Error> {
    cdx::to_string(|w| write(inv, jiff::Timestamp::now(), w))
}

/// [`spdx`], written as it is formed: one package at a time.
///
/// # Errors
///
/// What writing to `w` gives.
pub fn write_spdx(inv: &Inventory, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    write(inv, jiff::Timestamp::now(), w)
}

fn write(inv: &Inventory, now: jiff::Timestamp, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let img = &inv.image;
    let created = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let tool = format!("Tool: imagegate-{}", env!("CARGO_PKG_VERSION"));
    let note = |name: &str, value: &str| {
        json!({
            "annotationDate": created,
            "annotationType": "OTHER",
            "annotator": tool,
            "comment": format!("{name}={value}"),
        })
    };
    let repository = crate::gate::repository_of(inv);
    let mut root_notes = vec![
        note(cdx::PROP_REFERENCE, &img.reference),
        note(cdx::PROP_CONFIG, &img.config_digest.to_string()),
        note(cdx::PROP_PLATFORM, &img.platform),
    ];
    if let Some(m) = &img.manifest_digest {
        root_notes.push(note(cdx::PROP_MANIFEST, &m.to_string()));
    }
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": repository,
        "versionInfo": img.manifest_digest.as_ref().unwrap_or(&img.config_digest).to_string(),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "annotations": root_notes,
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    if let Some(os) = &inv.os {
        packages.push(json!({
            "SPDXID": "SPDXRef-OperatingSystem",
            "name": os.id,
            "versionInfo": os.version.clone().unwrap_or_default(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": "SPDXRef-OperatingSystem",
        }));
    }
    let comps = Components::of(inv);
    // The ids of the packages others depend on (npm's, the only ones with dependencies).
    let ids: std::collections::BTreeMap<String, String> = comps
        .iter()
        .enumerate()
        .filter(|(_, c)| c.kind == crate::inventory::PackageKind::Npm)
        .map(|(i, c)| (c.purl, format!("SPDXRef-Package-{}-{i}", c.kind)))
        .collect();
    let package = |i: usize, c: &cdx::Component<'_>| {
        let id = format!("SPDXRef-Package-{}-{i}", c.kind);
        let license = c
            .license
            .map(str::trim)
            .filter(|l| is_spdx_expression(l))
            .unwrap_or("NOASSERTION");
        let mut notes: Vec<Value> = c.paths.iter().map(|p| note(cdx::PROP_PATH, p)).collect();
        notes.push(note(cdx::PROP_LAYER_INDEX, &c.layer.index.to_string()));
        notes.push(note(cdx::PROP_LAYER_DIGEST, &c.layer.digest.to_string()));
        if let Some(by) = &c.layer.created_by {
            notes.push(note(cdx::PROP_LAYER_CREATED_BY, by));
        }
        if let Some(dev) = c.dev {
            notes.push(note(cdx::PROP_DEV, &dev.to_string()));
        }
        for (name, value) in &c.extra {
            notes.push(note(name, value));
        }
        Json::Value(json!({
            "SPDXID": id,
            "name": c.name,
            "versionInfo": c.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": if c.kind == crate::inventory::PackageKind::NodeRuntime { "APPLICATION" } else { "LIBRARY" },
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": license,
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": c.purl,
            }],
            "annotations": notes,
        }))
    };
    let relations = |i: usize, c: cdx::Component<'_>| {
        let id = format!("SPDXRef-Package-{}-{i}", c.kind);
        let mut out = vec![Json::Value(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }))];
        for dep in c.depends_on.iter().filter_map(|d| ids.get(d.as_str())) {
            out.push(Json::Value(json!({
                "spdxElementId": id,
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": dep,
            })));
        }
        out
    };
    let packages = Lazy::new(
        packages
            .into_iter()
            .map(Json::Value)
            .chain(comps.iter().enumerate().map(|(i, c)| package(i, &c))),
    );
    let relationships = Lazy::new(
        relationships
            .into_iter()
            .map(Json::Value)
            .chain(comps.iter().enumerate().flat_map(|(i, c)| relations(i, c))),
    );
    let uuid = cdx::serial(inv, now);
    let doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("imagegate SBOM of {repository}"),
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/imagegate/{}",
            uuid.trim_start_matches("urn:uuid:")
        ),
        "creationInfo": {"created": created, "creators": [tool]},
        "documentDescribes": ["SPDXRef-Image"],
        "packages": [],
        "relationships": [],
    });
    let doc = object(doc, vec![("packages", packages), ("relationships", relationships)]);
    super::stream::write_pretty(&doc, w)
}
