@tkg @disaster
Feature: Runbook T — other disasters: a corrupted management cluster, a worker VM powered off or deleted
  The management cluster's store can be corrupted rather than lost: its API server still answers,
  with nothing in it. The runbook's answer is the same — rebuild it from mgmt-cluster-config.yaml
  and restore. A worker VM powered off or deleted by hand in vSphere is no drift: CAPV powers a
  stopped VM back on; a deleted one leaves its VSphereMachine failed ("removed from infra"), the
  MachineHealthCheck has the Machine replaced, and the cloud provider removes the dead Node.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 2 workers
    And the clusters are created and running (seed 31)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When 24 hours pass
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"

  Scenario: the management cluster's store is corrupted; rebuilt and restored, every cluster running
    When the management cluster's store is corrupted (every object lost)
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    Then the output says "Restore completed with status: Completed"
    When I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tkg-vc-antrea" has no drift and nothing is left over

  Scenario: a worker VM powered off in vSphere is powered back on by CAPV
    When the VM of a worker node of "tkg-vc-antrea" is powered off
    And 30 minutes pass
    Then every workload cluster is running
    And "tkg-vc-antrea" has no drift and nothing is left over
    And "tkg-vc-antrea" counts 3 nodes, 3 machines and 3 VMs

  Scenario: a worker VM deleted by hand in vSphere is replaced through the MachineHealthCheck
    When the VM of a worker node of "tkg-vc-antrea" is deleted in vSphere
    And 30 minutes pass
    Then every workload cluster is running
    And "tkg-vc-antrea" has no drift and nothing is left over
    And "tkg-vc-antrea" counts 3 nodes, 3 machines and 3 VMs
