@tkg @velero @schedule @latest
Feature: Runbook T — restore from the latest of several backups
  A daily schedule takes a backup every 24 hours while the workload cluster is scaled between
  them, so each backup holds a different worker count. After the disaster the backups sync to
  the rebuilt management cluster and `velero backup get` lists them all; as the runbook says,
  the restore uses the latest — the one taken after the last scale — and nothing drifts.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 31)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run 'velero create schedule daily-bak --schedule="@every 24h" --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s'

  Scenario: three daily backups with scale changes between them; the latest restores without drift
    When 30 hours pass
    And I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 2"
    Then every workload cluster is running
    When 24 hours pass
    And I run "tanzu cluster scale tkg-vc-antrea --worker-machine-count 3"
    Then every workload cluster is running
    When 24 hours pass
    And the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "daily-bak-20221210*"
    Then the output shows:
      | NAME                | STATUS    | ERRORS | WARNINGS | STORAGE LOCATION |
      | daily-bak-20221210* | Completed | 0      | 0        | default          |
      | daily-bak-20221209* | Completed | 0      | 0        | default          |
      | daily-bak-20221208* | Completed | 0      | 0        | default          |
    When I restore from the latest backup `velero backup get` lists
    Then the output says "Restore completed with status: Completed"
    And "velero restore get" shows:
      | NAME       | BACKUP              | STATUS    |
      | my-restore | daily-bak-20221210* | Completed |
    When I run the runbook's unpause script for every namespace
    Then every workload cluster is running
    And "tanzu cluster list" shows:
      | NAME          | STATUS  | CONTROLPLANE | WORKERS |
      | tkg-vc-antrea | running | 1/1          | 3/3     |
    And "tkg-vc-antrea" has no drift and nothing is left over
    And "tkg-vc-antrea" counts 4 nodes, 4 machines and 4 VMs
