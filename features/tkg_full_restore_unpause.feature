Feature: Runbook T, full restore — restored workload clusters are stalled until unpaused
  The management cluster is rebuilt, the Cluster API objects come back from the backup paused
  and without status, and the runbook's unpause script brings every workload cluster outside
  tkg-system back under management.

  Scenario: every restored workload cluster is createdStalled, then unpaused by the runbook's script
    Given a management cluster rebuilt from its configuration (seed 7)
    And a backup of tkg-vc-antrea and 4 more workload clusters
    When the backup is restored
    Then tanzu cluster list shows every workload cluster createdStalled
    And tanzu cluster list shows "tkg-vc-antrea  default    createdStalled  0/3           0/3      v1.24.10+vmware.1  <none>  prod  v1.24.10---vmware.1-tkg.1"
    When the runbook's unpause script runs for every namespace
    Then every workload cluster has spec.paused false
    And the clusters in tkg-system are untouched
