@tkg @velero @drift @after-scale
Feature: Runbook T — back up right after a structural change
  The runbook's advice: after scaling a workload cluster up or down, take a backup right away,
  so the backed-up objects match the physical infrastructure. Restored from such a backup, the
  MachineDeployments ask for the machines that exist: the controllers adopt every VM that kept
  running, and the drift report is clean — no ghost, no stale node.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 2 workers
    And the clusters are created and running (seed 29)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"

  Scenario: scaled up to 4 workers and backed up right after, the restore has no drift
    When I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 4"
    Then every workload cluster is running
    When I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    Then the output says "Backup completed with status: Completed"
    When 2 hours pass
    And the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    Then the output says "Restore completed with status: Completed"
    And "tanzu cluster list" shows:
      | NAME          | STATUS         | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | createdStalled | 0/1          | 0/4     |
    When I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | running | 1/1          | 4/4     |
    And "tkg-vc-antrea" has no drift and nothing is left over
    And "tkg-vc-antrea" counts 5 nodes, 5 machines and 5 VMs
