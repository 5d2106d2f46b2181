@tkg @drift
Feature: Runbook T — stale nodes and ghost infrastructure on the control plane
  A control-plane machine replaced after the backup: the restore brings back the old Machine,
  whose VM is gone (CAPV marks it "removed from infra"; the control plane's MachineHealthCheck
  has the KubeadmControlPlane remediate and replace it), while the replacement made after the
  backup keeps running as a control-plane Node and VM no Machine manages. kubectl shows 4 control-plane nodes, tanzu shows the control plane
  `updating 4/3`; the runbook's mitigation deletes the node and removes the VM.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 3 control-plane nodes and 3 workers
    And the clusters are created and running (seed 17)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When 24 hours pass
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"

  Scenario: a control-plane machine replaced after the backup leaves a control-plane ghost
    When a control-plane machine of "tkg-vc-antrea" is replaced
    And the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    And I run the runbook's unpause script for every namespace
    And the controllers settle
    Then "tanzu cluster list" shows:
      | NAME          | STATUS   | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | updating | 4/3          | 3/3     |
    And the drift report for "tkg-vc-antrea" is:
      | FAMILY              | NODE            | MACHINE | VM              |
      | control-plane ghost | tkg-vc-antrea-* | <none>  | tkg-vc-antrea-* |
    When I carry out the drift mitigation plan for "tkg-vc-antrea"
    Then every workload cluster is running
    And "tkg-vc-antrea" has no drift and nothing is left over

  Scenario: a control plane rolled out after the backup and backed up again restores without drift
    A rollout replaces every control-plane machine: a restore from the backup before it would
    bring back three Machines without a VM, and removing any would lose etcd quorum. The runbook's
    advice — back up right after a structural change — makes the restore clean.
    When the control plane of "tkg-vc-antrea" is rolled out
    And I run "velero backup create after-rollout --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    And the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "after-rollout"
    And I restore from the latest backup `velero backup get` lists
    And I run the runbook's unpause script for every namespace
    And the controllers settle
    Then "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | running | 3/3          | 3/3     |
    And "tkg-vc-antrea" has no drift and nothing is left over
