//! Runbook A's two lists about a Velero backup, checked against what is really in the bucket:
//! "What a Velero backup contains" (each file pattern of the runbook's table matched to the
//! files of `backups/<name>/`, and what each file holds) and "What a Velero backup does NOT
//! contain" (none of the AKS-HCI settings appear anywhere in the backup's tarball).
//!
//! Facts from Velero v1.9 (`pkg/controller/backup_controller.go` `persistBackup`,
//! `pkg/persistence/object_store.go` `PutBackup`): the three `*-csi-*` lists are encoded and
//! uploaded with **every** backup, whether or not the `EnableCSI` feature is on — a backup that
//! took no CSI snapshot (file-system backup with restic) writes them holding JSON `null`. The
//! native `*-volumesnapshots.json.gz` list is likewise written, `null` when no volume snapshotter
//! ran. So the runbook's "CSI" rows are files that always exist; their content says whether CSI
//! snapshots were used.

use std::collections::{BTreeMap, BTreeSet};

use drdrill_velero_sim::format::BackupItem;
use serde_json::Value;

/// One row of the runbook's "What a Velero backup contains" table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentsRow {
    /// The file pattern, e.g. `*-logs.gz`.
    pub pattern: &'static str,
    /// What the runbook says the file holds.
    pub content: &'static str,
}

/// The runbook's table, in its order.
pub const RUNBOOK_CONTENTS: [ContentsRow; 8] = [
    ContentsRow {
        pattern: "*-csi-volumesnapshotclasses.json.gz",
        content: "CSI: persistent-volume snapshots",
    },
    ContentsRow {
        pattern: "*-csi-volumesnapshotcontents.json.gz",
        content: "CSI: persistent-volume snapshots",
    },
    ContentsRow {
        pattern: "*-csi-volumesnapshots.json.gz",
        content: "CSI: persistent-volume snapshots",
    },
    ContentsRow {
        pattern: "*-logs.gz",
        content: "log of the backup operation",
    },
    ContentsRow {
        pattern: "*-podvolumebackups.json.gz",
        content: "metadata about pods and persistent volumes",
    },
    ContentsRow {
        pattern: "*-resource-list.json.gz",
        content: "the resources contained in the backup",
    },
    ContentsRow {
        pattern: "*-volumesnapshots.json.gz",
        content: "metadata about pods and persistent volumes",
    },
    ContentsRow {
        pattern: "*.tar.gz",
        content: "the objects: namespace, pod replica count, memory, CPU",
    },
];

/// Whether `file` matches a runbook pattern (`*` then a fixed suffix).
pub fn pattern_matches(pattern: &str, file: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => file.len() > suffix.len() && file.ends_with(suffix),
        None => file == pattern,
    }
}

/// The runbook row a file belongs to: of the patterns it matches, the longest (a
/// `x-csi-volumesnapshots.json.gz` also ends like `*-volumesnapshots.json.gz`).
pub fn row_of(file: &str) -> Option<&'static ContentsRow> {
    RUNBOOK_CONTENTS
        .iter()
        .filter(|r| pattern_matches(r.pattern, file))
        .max_by_key(|r| r.pattern.len())
}

/// What one file of the backup holds, as read from the bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum FileContent {
    /// A gzipped text (the log).
    Text(String),
    /// A gzipped JSON document.
    Json(Value),
    /// The tarball's objects.
    Items(Vec<BackupItem>),
    /// A file this check does not open (the metadata, later Velero's extra files).
    Other,
}

/// A Deployment as the tarball holds it: what `kubectl get deployment` and the runbook's table
/// row name (namespace, replica count, CPU and memory requests).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeploymentFacts {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.replicas` (1 when unset).
    pub replicas: i64,
    /// CPU requests of the pod template's containers, comma-separated.
    pub cpu: String,
    /// Memory requests of the pod template's containers, comma-separated.
    pub memory: String,
}

/// The Deployments among a tarball's objects.
pub fn deployments_in(items: &[BackupItem]) -> Vec<DeploymentFacts> {
    let mut out: Vec<DeploymentFacts> = items
        .iter()
        .filter(|i| i.group_resource == "deployments.apps")
        .map(|i| deployment_facts(&i.object))
        .collect();
    out.sort();
    out
}

/// The facts of one Deployment object (JSON).
pub fn deployment_facts(object: &Value) -> DeploymentFacts {
    let containers = object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let requests = |what: &str| {
        containers
            .iter()
            .map(|c| c["resources"]["requests"][what].as_str().unwrap_or("-").to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    DeploymentFacts {
        namespace: object["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        name: object["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        replicas: object["spec"]["replicas"].as_i64().unwrap_or(1),
        cpu: requests("cpu"),
        memory: requests("memory"),
    }
}

/// One row of the check: the runbook's row, the files of the backup it matches, and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedRow {
    /// The runbook's row.
    pub row: ContentsRow,
    /// The matching files.
    pub files: Vec<String>,
    /// What the files hold (one line).
    pub finding: String,
}

/// The table checked against a backup's files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContentsCheck {
    /// Every runbook row, in the runbook's order.
    pub rows: Vec<CheckedRow>,
    /// Files of the backup no runbook row names.
    pub unlisted: Vec<String>,
    /// Where the bucket disagrees with the runbook.
    pub problems: Vec<String>,
}

fn json_summary(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Array(a) => format!("{} entries", a.len()),
        Value::Object(o) => format!("{} keys", o.len()),
        other => other.to_string(),
    }
}

/// Checks the runbook's table against a backup's files (name → content). `log` is what
/// `velero backup logs <name>` printed, which the runbook says the log file holds.
pub fn check_contents(backup: &str, files: &BTreeMap<String, FileContent>, log: &str) -> ContentsCheck {
    let mut check = ContentsCheck::default();
    for row in RUNBOOK_CONTENTS {
        let matched: Vec<String> = files.keys().filter(|f| row_of(f) == Some(&row)).cloned().collect();
        let mut problem = |p: String| check.problems.push(format!("{}: {p}", row.pattern));
        let finding = match matched.as_slice() {
            [] => {
                problem(format!("no file of backup {backup} in the bucket matches"));
                "missing".to_string()
            }
            [one] => match (&files[one], row.pattern) {
                (FileContent::Text(text), "*-logs.gz") => {
                    if text.trim().is_empty() {
                        problem(format!("{one} is empty"));
                    }
                    if text.trim_end() != log.trim_end() {
                        problem(format!("{one} differs from what `velero backup logs {backup}` prints"));
                    }
                    format!("{} log lines, as `velero backup logs` prints them", text.lines().count())
                }
                (FileContent::Json(value), "*-podvolumebackups.json.gz") => {
                    let volumes: Vec<String> = value
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    format!(
                                        "{}/{} ({})",
                                        p["spec"]["pod"]["namespace"].as_str().unwrap_or("?"),
                                        p["spec"]["volume"].as_str().unwrap_or("?"),
                                        p["status"]["phase"].as_str().unwrap_or("?")
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if volumes.is_empty() {
                        "no pod volume backups".to_string()
                    } else {
                        format!("pod volumes {}", volumes.join(", "))
                    }
                }
                (FileContent::Json(value), "*-resource-list.json.gz") => {
                    let kinds = value.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
                    let items: usize = value
                        .as_object()
                        .map(|o| o.values().filter_map(Value::as_array).map(Vec::len).sum())
                        .unwrap_or(0);
                    if kinds.is_empty() {
                        problem(format!("{one} lists no resources"));
                    }
                    format!("{items} items of {}", kinds.join(", "))
                }
                (FileContent::Json(value), _) => {
                    let what = json_summary(value);
                    if value.is_null() {
                        format!("{what}: none taken (file-system backup)")
                    } else {
                        what
                    }
                }
                (FileContent::Items(items), "*.tar.gz") => {
                    let deployments = deployments_in(items);
                    if deployments.is_empty() {
                        problem(format!("{one} holds no Deployment"));
                    }
                    let namespaces: BTreeSet<&str> = items.iter().filter_map(|i| i.namespace.as_deref()).collect();
                    let listed: Vec<String> = deployments
                        .iter()
                        .map(|d| {
                            format!(
                                "{}/{} replicas={} cpu={} memory={}",
                                d.namespace, d.name, d.replicas, d.cpu, d.memory
                            )
                        })
                        .collect();
                    format!(
                        "{} objects, namespaces {}; Deployments {}",
                        items.len(),
                        namespaces.into_iter().collect::<Vec<_>>().join(","),
                        listed.join("; ")
                    )
                }
                _ => {
                    problem(format!("{one} could not be read as the runbook describes it"));
                    "unreadable".to_string()
                }
            },
            many => {
                problem(format!("several files match: {}", many.join(", ")));
                "ambiguous".to_string()
            }
        };
        check.rows.push(CheckedRow {
            row,
            files: matched,
            finding,
        });
    }
    check.unlisted = files.keys().filter(|f| row_of(f).is_none()).cloned().collect();
    check
}

/// The check as printed: one line per runbook row, then the files the table does not name.
pub fn render_contents(check: &ContentsCheck) -> String {
    let rows: Vec<Vec<String>> = check
        .rows
        .iter()
        .map(|r| {
            vec![
                r.row.pattern.to_string(),
                if r.files.is_empty() { "-".to_string() } else { r.files.join(",") },
                r.finding.clone(),
            ]
        })
        .collect();
    let mut out = crate::report::columns(&["RUNBOOK ROW", "FILE IN THE BUCKET", "HOLDS"], &rows);
    if !check.unlisted.is_empty() {
        out.push_str(&format!("not in the runbook's table: {}\n", check.unlisted.join(", ")));
    }
    out
}

/// One thing the runbook says a Velero backup does not contain, and the values that would give
/// it away if they were in the tarball.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    /// The runbook's words, e.g. `network settings`.
    pub what: String,
    /// Resources (`<resource>.<group>`) whose presence would mean it is there.
    pub resources: Vec<String>,
    /// Values (names, addresses, paths) whose presence anywhere would mean it is there.
    pub values: Vec<String>,
}

/// For each excluded thing, where the tarball holds it (`<resource> <ns>/<name>: <value>`);
/// empty lists when the runbook is right.
pub fn find_excluded(items: &[BackupItem], excluded: &[Excluded]) -> Vec<(String, Vec<String>)> {
    excluded
        .iter()
        .map(|e| {
            let mut found = Vec::new();
            for item in items {
                let at = format!(
                    "{} {}{}",
                    item.group_resource,
                    item.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(),
                    item.name
                );
                if e.resources.contains(&item.group_resource) {
                    found.push(format!("{at}: the resource itself"));
                }
                let text = item.object.to_string();
                for value in e.values.iter().filter(|v| !v.is_empty()) {
                    if text.contains(value.as_str()) {
                        found.push(format!("{at}: {value}"));
                    }
                }
            }
            (e.what.clone(), found)
        })
        .collect()
}

/// The exclusion check as printed: each runbook entry, what was looked for, and the verdict.
pub fn render_excluded(excluded: &[Excluded], found: &[(String, Vec<String>)]) -> String {
    let rows: Vec<Vec<String>> = excluded
        .iter()
        .zip(found)
        .map(|(e, (_, hits))| {
            let mut looked: Vec<String> = e.resources.clone();
            looked.extend(e.values.iter().filter(|v| !v.is_empty()).cloned());
            vec![
                e.what.clone(),
                looked.join(", "),
                if hits.is_empty() {
                    "not in the backup".to_string()
                } else {
                    format!("FOUND: {}", hits.join("; "))
                },
            ]
        })
        .collect();
    crate::report::columns(&["NOT IN A VELERO BACKUP", "LOOKED FOR", "VERDICT"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_file_goes_to_its_most_specific_row() {
        assert_eq!(
            row_of("b-csi-volumesnapshots.json.gz").map(|r| r.pattern),
            Some("*-csi-volumesnapshots.json.gz")
        );
        assert_eq!(
            row_of("b-volumesnapshots.json.gz").map(|r| r.pattern),
            Some("*-volumesnapshots.json.gz")
        );
        assert_eq!(row_of("b.tar.gz").map(|r| r.pattern), Some("*.tar.gz"));
        assert_eq!(row_of("b-logs.gz").map(|r| r.pattern), Some("*-logs.gz"));
        assert_eq!(row_of("velero-backup.json"), None);
        assert_eq!(row_of("b-results.gz"), None);
        assert!(!pattern_matches("*.tar.gz", ".tar.gz"), "the star stands for a backup name");
    }

    fn item(group_resource: &str, ns: &str, name: &str, object: Value) -> BackupItem {
        BackupItem {
            group_resource: group_resource.into(),
            namespace: Some(ns.into()),
            name: name.into(),
            object,
        }
    }

    #[test]
    fn a_missing_row_and_a_wrong_log_are_problems() {
        let deployment = json!({"metadata": {"namespace": "shop", "name": "db"}, "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "db", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}}}});
        let mut files = BTreeMap::new();
        files.insert(
            "b.tar.gz".to_string(),
            FileContent::Items(vec![item("deployments.apps", "shop", "db", deployment)]),
        );
        files.insert("b-logs.gz".to_string(), FileContent::Text("line 1\n".into()));
        let check = check_contents("b", &files, "other\n");
        assert_eq!(
            check.rows[7].finding,
            "1 objects, namespaces shop; Deployments shop/db replicas=2 cpu=250m memory=256Mi"
        );
        assert!(
            check.problems.iter().any(|p| p.starts_with("*-logs.gz: b-logs.gz differs")),
            "{:?}",
            check.problems
        );
        assert!(
            check
                .problems
                .iter()
                .any(|p| p == "*-podvolumebackups.json.gz: no file of backup b in the bucket matches")
        );
        assert_eq!(check.problems.len(), 7, "{:?}", check.problems);
    }

    #[test]
    fn excluded_values_are_found_wherever_they_hide() {
        let items = vec![
            item("configmaps", "shop", "settings", json!({"data": {"vip": "172.16.255.0"}})),
            BackupItem {
                group_resource: "storageclasses.storage.k8s.io".into(),
                namespace: None,
                name: "aks-disk".into(),
                object: json!({"provisioner": "disk.csi.akshci.com"}),
            },
        ];
        let excluded = vec![
            Excluded {
                what: "network settings".into(),
                resources: vec![],
                values: vec!["172.16.255.0".into(), String::new()],
            },
            Excluded {
                what: "storage settings".into(),
                resources: vec!["storageclasses.storage.k8s.io".into()],
                values: vec![],
            },
            Excluded {
                what: "load-balancer metadata".into(),
                resources: vec![],
                values: vec!["wc-load-balancer-0".into()],
            },
        ];
        let found = find_excluded(&items, &excluded);
        assert_eq!(found[0].1, ["configmaps shop/settings: 172.16.255.0"]);
        assert_eq!(found[1].1, ["storageclasses.storage.k8s.io aks-disk: the resource itself"]);
        assert!(found[2].1.is_empty());
        assert!(render_excluded(&excluded, &found).contains("not in the backup"));
    }
}
