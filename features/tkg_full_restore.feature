@tkg
Feature: Runbook T — full restore of the workload-cluster objects onto a rebuilt management cluster
  Velero backs up the Cluster API objects of the workload clusters to the management cluster's
  bucket. The management cluster is lost and rebuilt from mgmt-cluster-config.yaml; Velero is
  installed again with the same credentials and location, the backups sync, the restore brings
  the clusters back paused and createdStalled, and the runbook's unpause script lets the
  controllers adopt the VMs that kept running: every cluster is running again.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 3 control-plane nodes and 3 workers
    And the clusters are created and running (seed 7)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When 24 hours pass
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And the controllers settle
    Then "kubectl -n velero get pod" shows:
      | NAME     | READY | STATUS  | RESTARTS |
      | velero-* | 1/1   | Running | 0        |
    And "velero backup-location get" shows:
      | NAME    | PROVIDER | BUCKET/PREFIX | PHASE     | ACCESS MODE | DEFAULT |
      | default | aws      | mgmt          | Available | ReadWrite   | true    |
    And the bucket is served by "the embedded store"
    When I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    Then the output says "Backup completed with status: Completed"
    When I run "velero backup describe my-backup --details"
    Then the output says "cluster.x-k8s.io/v1beta1/Cluster:"
    And the output says "- default/tkg-vc-antrea"
    When I run "velero backup logs my-backup"
    Then the output says "Backup completed with phase Completed"

  Scenario: restore onto a rebuilt management cluster, unpause, every cluster running (steps 1-9)
    When the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    Then the output shows:
      | NAME      | STATUS    | ERRORS | WARNINGS | EXPIRES | STORAGE LOCATION | SELECTOR |
      | my-backup | Completed | 0      | 0        | 29d     | default          | <none>   |
    When I run "velero restore create my-restore --from-backup my-backup --wait"
    Then the output says "Restore completed with status: Completed"
    And every object of backup "my-backup" is back in the management cluster
    And "tanzu cluster list" shows:
      | NAME          | NAMESPACE | STATUS         | CONTROLPLANE | WORKERS | KUBERNETES        | ROLES  | PLAN | TKR                       |
      | tkg-vc-antrea | default   | createdStalled | 0/3          | 0/3     | v1.24.10+vmware.1 | <none> | prod | v1.24.10---vmware.1-tkg.1 |
    When I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tanzu cluster list" shows:
      | NAME          | NAMESPACE | STATUS  | CONTROLPLANE | WORKERS | KUBERNETES        | ROLES  | PLAN | TKR                       |
      | tkg-vc-antrea | default   | running | 3/3          | 3/3     | v1.24.10+vmware.1 | <none> | prod | v1.24.10---vmware.1-tkg.1 |
    And "tkg-vc-antrea" has no drift and nothing is left over
