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
