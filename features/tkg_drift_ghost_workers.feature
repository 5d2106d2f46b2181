@tkg @drift
Feature: Runbook T — ghost worker-node infrastructure: workers scaled up after the backup
  The restored MachineDeployments ask for the worker count of the backup; the worker added after
  it keeps running as a Node and a VM no Machine manages. The drift report finds it, and the
  runbook's mitigation — scale to the expected count, drain, delete the node, remove the VM —
  converges with nothing left over.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 3 control-plane nodes and 3 workers
    And the clusters are created and running (seed 11)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When 24 hours pass
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"

  Scenario: a worker added after the backup is a ghost after the restore, and the runbook removes it
    When I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 4"
    Then every workload cluster is running
    When the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    And I run the runbook's unpause script for every namespace
    And the controllers settle
    Then the drift report for "tkg-vc-antrea" is:
      | FAMILY       | NODE            | MACHINE | VM              |
      | ghost worker | tkg-vc-antrea-* | <none>  | tkg-vc-antrea-* |
    When I carry out the drift mitigation plan for "tkg-vc-antrea"
    Then every workload cluster is running
    And "tkg-vc-antrea" has no drift and nothing is left over
