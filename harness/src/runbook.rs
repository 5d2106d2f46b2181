//! The runbooks' commands, quoted verbatim from RUNBOOKS.md: drills run these, not paraphrases.

/// Runbook T, full restore step 7: unpause every Cluster outside `tkg-system`.
pub const UNPAUSE_ALL_NAMESPACES: &str = r#"#!/bin/bash
for ns in $(kubectl get ns -o custom-columns=":metadata.name" | grep -v "tkg-system");
do
      clusters=$(kubectl -n $ns get cluster -o name)
      if [[ -n $clusters ]];then
              kubectl -n $ns patch $clusters --type merge -p '{"spec":{"paused":false}}'
      fi
done
"#;

/// Runbook T, "Deploy Velero to the management cluster": `velero install` with the runbook's
/// plugins, on one line, with `$BUCKET`, `$REGION` and the credentials file of its MinIO example.
pub const VELERO_INSTALL: &str = "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS";

/// Runbook T, "Back up workload-cluster objects".
pub const VELERO_BACKUP: &str =
    "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait";

/// Runbook T, ghost workers step 3.1 (the count follows): scale workers to the expected count.
pub const SCALE_WORKERS: &str = "tanzu cluster scale ${cluster_name} --worker-machine-count";
/// Runbook T, ghost workers step 3.2: drain the ghost node.
pub const DRAIN_NODE: &str = "kubectl drain ${node_name} --delete-emptydir-data --ignore-daemonsets";
/// Runbook T, ghost workers 3.3 and control-plane ghosts 1: delete the node.
pub const DELETE_NODE: &str = "kubectl delete node ${node_name}";

/// Fills a runbook command template's `${cluster_name}` and `${node_name}`.
pub fn fill(template: &str, cluster: &str, node: &str) -> String {
    template.replace("${cluster_name}", cluster).replace("${node_name}", node)
}

/// Fenced code blocks of a Markdown text, with the list indentation of their fence removed
/// (RUNBOOKS.md nests its commands and outputs in numbered steps).
pub fn code_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in markdown.lines() {
        let indent = line.len() - line.trim_start().len();
        match (&mut current, line.trim_start().starts_with("```")) {
            (None, true) => current = Some((indent, String::new())),
            (Some(_), true) => blocks.extend(current.take().map(|(_, b)| b)),
            (Some((fence, text)), false) => {
                text.push_str(line.get(*fence..).unwrap_or(""));
                text.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

/// RUNBOOKS.md beside the checkout, when present; in CI its absence is a failure.
pub fn runbooks_text() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/docs/RUNBOOKS.md");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") => {
            panic!("{} is missing; CI provides ../shared beside the checkout", path.display())
        }
        Err(_) => {
            eprintln!("SKIPPED: {} is missing", path.display());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every command here must appear, character for character, in RUNBOOKS.md.
    #[test]
    fn commands_are_quoted_verbatim_from_the_runbooks() {
        let Some(runbooks) = super::runbooks_text() else { return };
        let blocks = super::code_blocks(&runbooks);
        assert!(
            blocks.iter().any(|b| b == super::UNPAUSE_ALL_NAMESPACES),
            "UNPAUSE_ALL_NAMESPACES is not a code block of RUNBOOKS.md"
        );
        assert!(
            blocks.iter().any(|b| b.trim_end() == super::VELERO_BACKUP),
            "VELERO_BACKUP is not a code block of RUNBOOKS.md"
        );
        // The install block continues lines with `\` and marks optional flags with brackets:
        // joined, without the kubeconfig flag and with the credentials file, it is our line.
        let install = blocks
            .iter()
            .find(|b| b.starts_with("velero install"))
            .expect("RUNBOOKS.md has the velero install block");
        let joined = install.replace(" \\\n  ", " ");
        let resolved = joined
            .trim_end()
            .replace(" [--kubeconfig ...]", "")
            .replace("[--secret-file ./VELERO-CREDS]", "--secret-file ./VELERO-CREDS");
        assert_eq!(resolved, super::VELERO_INSTALL);
    }

    /// The features run the runbook's install and backup lines as these constants hold them.
    /// (A Velero install for a workload cluster's own data — the restic node agent, its own
    /// bucket — is not a runbook line: only installs with the runbook's TKG plugins are held to
    /// it.)
    #[test]
    fn features_quote_the_same_lines() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        for entry in std::fs::read_dir(dir).expect("features/") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("feature");
            for line in text.lines().filter(|l| {
                (l.contains("\"velero install") && l.contains("registry.vmware.com/tkg/")) || l.contains("\"velero backup create my-backup")
            }) {
                let quoted = line.split('"').nth(1).expect("a quoted command");
                assert!(
                    quoted == super::VELERO_INSTALL || quoted == super::VELERO_BACKUP,
                    "{}: {quoted:?} is not the runbook's line",
                    path.display()
                );
            }
        }
    }
}
