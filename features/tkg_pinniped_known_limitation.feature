@tkg @known-limitation
Feature: Runbook T — known limitation: Pinniped authentication after a management-cluster rebuild
  Runbook T warns that after the management cluster is rebuilt, Pinniped authentication on
  workload clusters no longer works. drdrill does not model Pinniped: its tanzu emulator refuses
  `tanzu cluster kubeconfig get` without `--admin` (the Pinniped path), and this feature reports
  that refusal as the documented limitation — it does not claim Pinniped was tested. What the
  operator still has is the admin kubeconfig, which the restore brings back with the cluster's
  objects: with `--admin`, kubectl reaches the workload cluster.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 37)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    And the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I run "velero restore create my-restore --from-backup my-backup --wait"
    And I run the runbook's unpause script for every namespace
    Then every workload cluster is running

  Scenario: the Pinniped kubeconfig is the documented limitation; the admin kubeconfig still works
    When I run "tanzu cluster kubeconfig get tkg-vc-antrea", which fails
    Then the refusal is Runbook T's known limitation for "tkg-vc-antrea": "After the management cluster is rebuilt, Pinniped authentication on workload clusters no longer works"
    When I run "tanzu cluster kubeconfig get tkg-vc-antrea --admin"
    Then the output says "Credentials of cluster 'tkg-vc-antrea' have been saved"
    And "kubectl --context tkg-vc-antrea-admin@tkg-vc-antrea get node" shows:
      | NAME            | STATUS |
      | tkg-vc-antrea-* | Ready  |
      | tkg-vc-antrea-* | Ready  |
