@tkg @velero @upgrade
Feature: Runbook T — a Kubernetes upgrade, then a backup
  `tanzu cluster upgrade` rolls the control plane and then every MachineDeployment out to the
  next release: every Machine, VM and Node is replaced. A backup from before the upgrade would
  bring back Machines none of whose VMs exist (and a control plane KCP cannot remediate without
  losing etcd quorum); the runbook's advice — back up right after a structural change — makes
  the restore bring back the upgraded cluster as it runs.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 2 workers on Kubernetes "v1.23.16+vmware.1"
    And the clusters are created and running (seed 31)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"

  Scenario: upgraded to v1.24.10 and backed up right after, the restore has no drift
    Then "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS | KUBERNETES        |
      | tkg-vc-antrea | running | 1/1          | 2/2     | v1.23.16+vmware.1 |
    When I run "tanzu cluster upgrade tkg-vc-antrea --tkr v1.24.10---vmware.1-tkg.1 --yes"
    Then the output says "Cluster 'tkg-vc-antrea' successfully upgraded to kubernetes version 'v1.24.10+vmware.1'"
    And every workload cluster is running
    When I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    Then the output says "Backup completed with status: Completed"
    When the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    Then the output says "Restore completed with status: Completed"
    When I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS | KUBERNETES        |
      | tkg-vc-antrea | running | 1/1          | 2/2     | v1.24.10+vmware.1 |
    And "tkg-vc-antrea" has no drift and nothing is left over
    And "tkg-vc-antrea" counts 3 nodes, 3 machines and 3 VMs

  Scenario: a downgrade, or an upgrade nobody confirmed, is refused and nothing changes
    When I run "tanzu cluster upgrade tkg-vc-antrea --tkr v1.22.17---vmware.2-tkg.2 --yes", which fails
    Then the output says "attempted to upgrade kubernetes from v1.23.16+vmware.1 to v1.22.17+vmware.2. Kubernetes version downgrade is not allowed."
    When I run "tanzu cluster upgrade tkg-vc-antrea --tkr v1.24 --timeout 45m", which fails
    Then the output says "Are you sure? [y/N]: no answer"
    And "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS | KUBERNETES        |
      | tkg-vc-antrea | running | 1/1          | 2/2     | v1.23.16+vmware.1 |
