@tkg @velero @cli-version
Feature: Runbook T — the Velero CLI version rule
  A Velero CLI at v1.8.1 or older must be upgraded to v1.9.5: older CLIs cannot work with the
  CRDs used by Velero v1.9 and later. The velero emulator checks the CRDs and the server on the
  cluster; an old CLI is refused with the upgrade message, and after the upgrade the same
  command works.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 41)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"

  Scenario: a v1.8.1 CLI is told to upgrade; with v1.9.5 the same command works
    Given the operator's velero CLI is v1.8.1
    When I run "velero backup get", which fails
    Then the output says "velero CLI v1.8.1 cannot work with the CRDs used by Velero v1.9 and later"
    And the output says "upgrade the velero CLI to v1.9.5"
    When the operator upgrades the velero CLI to v1.9.5
    Then "velero backup get" shows:
      | NAME      | STATUS    | ERRORS | WARNINGS | STORAGE LOCATION | SELECTOR |
      | my-backup | Completed | 0      | 0        | default          | <none>   |
