@tkg @drift
Feature: Runbook T — stale worker nodes: workers scaled down after the backup
  The restore brings back a worker Machine whose Node and VM were removed by the scale-down.
  The runbook says no action is needed: CAPV marks the Machine's VM "removed from infra", the
  MachineHealthCheck has it remediated, and its MachineSet creates a new Machine and node, so the
  machine count matches the desired count of the backup.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 3 control-plane nodes and 3 workers
    And the clusters are created and running (seed 13)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 4"
    And 24 hours pass
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"

  Scenario: a worker removed after the backup comes back under management with no manual step
    When I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 3"
    Then every workload cluster is running
    When the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    And I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | running | 3/3          | 4/4     |
    And "tkg-vc-antrea" has no drift and nothing is left over
