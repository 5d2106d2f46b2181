//! Tests of the backup format: round trips, exact entry names, truncation and corruption.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::*;

fn cluster(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "cluster.x-k8s.io/v1beta1",
        "kind": "Cluster",
        "metadata": {
            "name": name, "namespace": ns, "uid": format!("uid-{name}"),
            "labels": { "tkg.tanzu.vmware.com/cluster-name": name },
            "annotations": { "note": "a <b> & c\u{2028}" }
        },
        "spec": {
            "topology": { "class": "tkg-vsphere-default-v1.0.0", "version": "v1.24.10+vmware.1" },
            "controlPlaneRef": { "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                                 "kind": "KubeadmControlPlane", "name": format!("{name}-cp") }
        },
        "status": { "phase": "Provisioned", "controlPlaneReady": true }
    })
}

fn namespaced(api_version: &str, kind: &str, ns: &str, name: &str) -> Value {
    json!({ "apiVersion": api_version, "kind": kind,
            "metadata": { "name": name, "namespace": ns }, "spec": { "replicas": 3 } })
}

/// Cluster API objects in two namespaces, a core Secret, and two cluster-scoped objects.
fn realistic_items() -> Vec<BackupItem> {
    let item = |gr: &str, object: Value| BackupItem::new(gr, object).expect("valid item");
    vec![
        item("clusters.cluster.x-k8s.io", cluster("default", "wc-1")),
        item("clusters.cluster.x-k8s.io", cluster("prod", "wc-2")),
        item(
            "kubeadmcontrolplanes.controlplane.cluster.x-k8s.io",
            namespaced("controlplane.cluster.x-k8s.io/v1beta1", "KubeadmControlPlane", "default", "wc-1-cp"),
        ),
        item(
            "machinedeployments.cluster.x-k8s.io",
            namespaced("cluster.x-k8s.io/v1beta1", "MachineDeployment", "prod", "wc-2-md-0"),
        ),
        item(
            "vsphereclusters.infrastructure.cluster.x-k8s.io",
            namespaced("infrastructure.cluster.x-k8s.io/v1beta1", "VSphereCluster", "prod", "wc-2"),
        ),
        item("secrets", namespaced("v1", "Secret", "default", "wc-1-kubeconfig")),
        item(
            "namespaces",
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "prod" } }),
        ),
        item(
            "vspheredeploymentzones.infrastructure.cluster.x-k8s.io",
            json!({ "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                    "kind": "VSphereDeploymentZone", "metadata": { "name": "zone-a" } }),
        ),
    ]
}

/// (path, mode, type, bytes) of every entry of a tar.gz.
fn entries(tarball: &[u8]) -> Vec<(String, u32, tar::EntryType, Vec<u8>)> {
    let tar_bytes = gunzip(tarball, "t").expect("gunzips");
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mode = entry.header().mode().expect("mode");
        let kind = entry.header().entry_type();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("data");
        out.push((path, mode, kind, data));
    }
    out
}

#[test]
fn realistic_backup_round_trips() {
    let items = realistic_items();
    let tarball = write_backup_tarball(&items).expect("writes");
    let archive = read_backup_archive(&tarball, "b.tar.gz").expect("reads");
    assert_eq!(archive.format_version, "1.1.0");
    assert_eq!(archive.items, items);
    assert_eq!(read_backup_tarball(&tarball).expect("reads"), items);
    assert_eq!(write_backup_tarball(&items).expect("writes"), tarball, "deterministic");
}

#[test]
fn tarball_has_velero_entry_names_modes_and_bytes() {
    let items = realistic_items();
    let tarball = write_backup_tarball_at(&items, 1_714_557_600).expect("writes");
    // Go's gzip.NewWriter header: deflate, no flags, mtime 0, XFL 0, OS unknown (255).
    assert_eq!(&tarball[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let entries = entries(&tarball);
    let paths: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "metadata/version",
            "resources/clusters.cluster.x-k8s.io/namespaces/default/wc-1.json",
            "resources/clusters.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/default/wc-1.json",
            "resources/clusters.cluster.x-k8s.io/namespaces/prod/wc-2.json",
            "resources/clusters.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/prod/wc-2.json",
            "resources/kubeadmcontrolplanes.controlplane.cluster.x-k8s.io/namespaces/default/wc-1-cp.json",
            "resources/kubeadmcontrolplanes.controlplane.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/default/wc-1-cp.json",
            "resources/machinedeployments.cluster.x-k8s.io/namespaces/prod/wc-2-md-0.json",
            "resources/machinedeployments.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/prod/wc-2-md-0.json",
            "resources/vsphereclusters.infrastructure.cluster.x-k8s.io/namespaces/prod/wc-2.json",
            "resources/vsphereclusters.infrastructure.cluster.x-k8s.io/v1beta1-preferredversion/namespaces/prod/wc-2.json",
            "resources/secrets/namespaces/default/wc-1-kubeconfig.json",
            "resources/secrets/v1-preferredversion/namespaces/default/wc-1-kubeconfig.json",
            "resources/namespaces/cluster/prod.json",
            "resources/namespaces/v1-preferredversion/cluster/prod.json",
            "resources/vspheredeploymentzones.infrastructure.cluster.x-k8s.io/cluster/zone-a.json",
            "resources/vspheredeploymentzones.infrastructure.cluster.x-k8s.io/v1beta1-preferredversion/cluster/zone-a.json",
        ]
    );
    assert_eq!(entries[0].3, b"1.1.0\n");
    for (path, mode, kind, _) in &entries {
        assert_eq!(*mode, 0o755, "{path}");
        assert_eq!(*kind, tar::EntryType::Regular, "{path}");
    }
    // Both copies hold the same bytes: Go's json.Marshal of the map.
    assert_eq!(entries[1].3, entries[2].3);
    let first = String::from_utf8(entries[1].3.clone()).expect("utf-8");
    assert!(first.starts_with(r#"{"apiVersion":"cluster.x-k8s.io/v1beta1","kind":"Cluster","metadata":{"annotations":{"note":"a \u003cb\u003e \u0026 c\u2028"},"labels":"#), "{first}");
    assert!(!first.contains('\n') && !first.contains(": "));
    assert_eq!(
        String::from_utf8(entries[13].3.clone()).expect("utf-8"),
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}"#
    );
}

#[test]
fn long_paths_use_ustar_prefix_or_pax_and_still_round_trip() {
    let long_ns = "n".repeat(63);
    let long_name = "m".repeat(200);
    let items = vec![
        BackupItem::new("clusters.cluster.x-k8s.io", cluster(&long_ns, "wc-1")).expect("item"),
        BackupItem::new("clusters.cluster.x-k8s.io", cluster(&long_ns, &long_name)).expect("item"),
    ];
    let tarball = write_backup_tarball(&items).expect("writes");
    assert_eq!(read_backup_tarball(&tarball).expect("reads"), items);
    let paths: Vec<String> = entries(&tarball).into_iter().map(|e| e.0).collect();
    assert!(paths.contains(&items[1].preferred_version_path().expect("path")));
    assert!(paths.iter().all(|p| !p.contains("@LongLink")));
}

#[test]
fn truncated_tarball_fails_cleanly_at_every_offset() {
    let tarball = write_backup_tarball(&realistic_items()).expect("writes");
    for len in 0..tarball.len() {
        let err = read_backup_tarball(&tarball[..len]).expect_err("truncated must fail");
        assert!(matches!(err, FormatError::Gzip { .. }), "at {len}: {err}");
        assert!(err.to_string().starts_with("backup tarball: "), "{err}");
    }
}

#[test]
fn truncated_tar_inside_valid_gzip_fails_cleanly() {
    let tarball = write_backup_tarball(&realistic_items()).expect("writes");
    let tar_bytes = gunzip(&tarball, "t").expect("gunzips");
    for len in (0..tar_bytes.len()).step_by(97).chain((0..tar_bytes.len()).step_by(512)) {
        let regzipped = gzip(&tar_bytes[..len]).expect("gzips");
        let err = read_backup_archive(&regzipped, "b.tar.gz").expect_err("truncated must fail");
        assert!(
            matches!(err, FormatError::Truncated { .. } | FormatError::Tar { .. }),
            "at {len}: {err}"
        );
        assert!(err.to_string().starts_with("b.tar.gz: "), "{err}");
    }
}

#[test]
fn corrupted_bytes_never_panic_and_fail_past_the_gzip_header() {
    let tarball = write_backup_tarball(&realistic_items()).expect("writes");
    for i in 0..tarball.len() {
        let mut bad = tarball.clone();
        bad[i] ^= 0x5a;
        let result = read_backup_tarball(&bad);
        // Bytes 4..10 (mtime, XFL, OS) are not checked by gzip readers, Go's included.
        if !(4..10).contains(&i) {
            assert!(result.is_err(), "flipping byte {i} went unnoticed");
        }
    }
}

#[test]
fn corrupted_tar_header_is_reported() {
    let tarball = write_backup_tarball(&realistic_items()).expect("writes");
    let mut tar_bytes = gunzip(&tarball, "t").expect("gunzips");
    tar_bytes[1024 + 10] ^= 0x01; // the second header (after the version file and its block)
    let err = read_backup_archive(&gzip(&tar_bytes).expect("gzips"), "k").expect_err("bad checksum");
    assert!(matches!(err, FormatError::Tar { .. }), "{err}");
}

/// A tar.gz of the given (path, bytes) entries, written as Go's writer would.
fn raw_tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in files {
        append_file(&mut tar, path, data, 0).expect("append");
    }
    gzip(&tar.into_inner().expect("finish")).expect("gzips")
}

#[test]
fn bad_archives_are_named_errors() {
    let ns = br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}"#;
    let ns_other = br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod","x":1}}"#;
    let version: &[u8] = b"1.1.0\n";
    type Files<'a> = Vec<(&'a str, &'a [u8])>;
    let cases: Vec<(Files, &str)> = vec![
        (vec![("resources/namespaces/cluster/prod.json", ns)], "no metadata/version entry"),
        (vec![(VERSION_FILE, b"2.0.0\n")], "unsupported backup format version \"2.0.0\""),
        (
            vec![
                (VERSION_FILE, version),
                ("resources/namespaces/cluster/prod.json", b"{\"apiVersion\""),
            ],
            "resources/namespaces/cluster/prod.json: invalid JSON",
        ),
        (
            vec![(VERSION_FILE, version), ("resources/namespaces/cluster/other.json", ns)],
            "metadata.name differs from the file name",
        ),
        (
            vec![(VERSION_FILE, version), ("resources/../../etc/passwd", ns)],
            "escapes the archive",
        ),
        (
            vec![(VERSION_FILE, version), ("resources/namespaces/prod.json", ns)],
            "is not resources/<resource>",
        ),
        (
            vec![
                (VERSION_FILE, version),
                ("resources/namespaces/cluster/prod.json", ns),
                ("resources/namespaces/v1-preferredversion/cluster/prod.json", ns_other),
            ],
            "v1-preferredversion copy differs",
        ),
        (
            vec![
                (VERSION_FILE, version),
                ("resources/namespaces/v1-preferredversion/cluster/prod.json", ns),
            ],
            "missing itself",
        ),
    ];
    for (files, expected) in cases {
        let err = read_backup_archive(&raw_tarball(&files), "backups/b/b.tar.gz").expect_err(expected);
        assert!(err.to_string().contains(expected), "{err} should say {expected:?}");
    }
}

#[test]
fn legacy_and_api_group_version_tarballs_read() {
    let ns = br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}"#;
    let files: Vec<(&str, &[u8])> = vec![
        (VERSION_FILE, b"1.0.0\n"),
        ("./resources/namespaces/cluster/prod.json", ns),
        ("resources/namespaces/v2alpha1/cluster/prod.json", b"not even json"),
    ];
    let archive = read_backup_archive(&raw_tarball(&files), "k").expect("reads");
    assert_eq!(archive.format_version, "1.0.0");
    assert_eq!(archive.items.len(), 1);
    assert_eq!(archive.items[0].path(), "resources/namespaces/cluster/prod.json");
}

#[test]
fn writer_rejects_items_it_cannot_lay_out() {
    let good = BackupItem::new("namespaces", json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}})).expect("valid");
    let dup = write_backup_tarball(&[good.clone(), good.clone()]).expect_err("duplicate");
    assert!(matches!(dup, FormatError::DuplicateItem { .. }), "{dup}");
    let wrong_group = BackupItem::new(
        "clusters.cluster.x-k8s.io",
        json!({"apiVersion":"v1","kind":"X","metadata":{"name":"a"}}),
    )
    .expect_err("group mismatch");
    assert!(wrong_group.to_string().contains("not in the group"), "{wrong_group}");
    let mut renamed = good.clone();
    renamed.name = "b".to_string();
    assert!(write_backup_tarball(&[renamed]).is_err());
    let slash = BackupItem::new(
        "namespaces",
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a/b"}}),
    )
    .expect_err("slash");
    assert!(slash.to_string().contains("cannot be a path component"), "{slash}");
    let no_kind = BackupItem::new("namespaces", json!({"apiVersion":"v1","metadata":{"name":"a"}})).expect_err("no kind");
    assert!(no_kind.to_string().contains("no apiVersion or kind"), "{no_kind}");
}

#[test]
fn resource_list_has_velero_json_shape() {
    let list = resource_list(&realistic_items()).expect("lists");
    let gz = encode_resource_list(&list).expect("encodes");
    let json = String::from_utf8(gunzip(&gz, "rl").expect("gunzips")).expect("utf-8");
    assert_eq!(
        json,
        concat!(
            r#"{"cluster.x-k8s.io/v1beta1/Cluster":["default/wc-1","prod/wc-2"],"#,
            r#""cluster.x-k8s.io/v1beta1/MachineDeployment":["prod/wc-2-md-0"],"#,
            r#""controlplane.cluster.x-k8s.io/v1beta1/KubeadmControlPlane":["default/wc-1-cp"],"#,
            r#""infrastructure.cluster.x-k8s.io/v1beta1/VSphereCluster":["prod/wc-2"],"#,
            r#""infrastructure.cluster.x-k8s.io/v1beta1/VSphereDeploymentZone":["zone-a"],"#,
            r#""v1/Namespace":["prod"],"v1/Secret":["default/wc-1-kubeconfig"]}"#,
            "\n"
        )
    );
    assert_eq!(decode_resource_list(&gz, "rl").expect("decodes"), list);
    let err = decode_resource_list(&gz[..gz.len() - 3], "backups/b/b-resource-list.json.gz").expect_err("truncated");
    assert!(err.to_string().starts_with("backups/b/b-resource-list.json.gz: "), "{err}");
}

#[test]
fn side_files_encode_like_go() {
    let none: Option<Vec<String>> = None;
    let gz = encode_json_gz(&none, "pvb").expect("encodes");
    assert_eq!(gunzip(&gz, "pvb").expect("gunzips"), b"null\n");
    let gz = encode_json_gz(&json!({"msg": "a<b"}), "x").expect("encodes");
    assert_eq!(gunzip(&gz, "x").expect("gunzips"), b"{\"msg\":\"a\\u003cb\"}\n");
}

#[test]
fn backup_metadata_round_trips_and_rejects_other_objects() {
    let mut backup = drdrill_apis::velero::Backup::new("my-backup", Default::default());
    backup.metadata.namespace = Some("velero".to_string());
    backup.spec.included_resources = Some(vec!["cluster.cluster.x-k8s.io".to_string()]);
    let bytes = encode_backup_metadata(&backup).expect("encodes");
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(text.contains("\n  \"kind\": \"Backup\""), "{text}");
    assert_eq!(decode_backup_metadata(&bytes, "velero-backup.json").expect("decodes"), backup);
    let err =
        decode_backup_metadata(br#"{"apiVersion":"v1","kind":"ConfigMap"}"#, "backups/x/velero-backup.json").expect_err("not a backup");
    assert!(
        err.to_string()
            .starts_with("backups/x/velero-backup.json: holds apiVersion v1 kind ConfigMap"),
        "{err}"
    );
    let err = decode_backup_metadata(b"{", "backups/x/velero-backup.json").expect_err("bad json");
    assert!(matches!(err, FormatError::Json { .. }), "{err}");
}

/// A fresh scratch folder under the system temp dir.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("drdrill-velero-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(cmd: &mut Command) -> bool {
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

#[test]
fn plain_tar_unpacks_it_and_its_repack_reads_back() {
    if !run(Command::new("tar").arg("--version").stdout(std::process::Stdio::null())) {
        eprintln!("skipped: no `tar` on PATH");
        return;
    }
    let items = realistic_items();
    let dir = scratch("untar");
    let file = dir.join("b.tar.gz");
    std::fs::write(&file, write_backup_tarball(&items).expect("writes")).expect("write file");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    assert!(
        run(Command::new("tar").arg("-xzf").arg(&file).arg("-C").arg(&out)),
        "tar -xzf failed"
    );
    let read = |p: &str| std::fs::read(out.join(Path::new(p))).expect(p);
    assert_eq!(read("metadata/version"), b"1.1.0\n");
    for item in &items {
        let bytes = read(&item.path());
        assert_eq!(bytes, go_json(&item.object));
        assert_eq!(read(&item.preferred_version_path().expect("path")), bytes);
    }
    // GNU tar's own archive (directory entries, `./` prefixes) reads back as the same items.
    let repacked = dir.join("repacked.tar.gz");
    assert!(run(Command::new("tar").arg("-czf").arg(&repacked).arg("-C").arg(&out).arg(".")));
    let mut back = read_backup_tarball(&std::fs::read(&repacked).expect("read")).expect("reads");
    let mut want = items;
    back.sort_by_key(BackupItem::path);
    want.sort_by_key(BackupItem::path);
    assert_eq!(back, want);
    let _ = std::fs::remove_dir_all(&dir);
}
