@tkg @velero @schedule @ttl @slow
Feature: Runbook T — scheduled daily backups kept 14 days
  The runbook mitigates drift with a schedule: a backup every 24 hours, each kept 14 days
  (`--ttl 336h0m0s`). Velero's schedule controller names each backup `daily-bak-<UTC timestamp>`;
  its garbage collector deletes a backup once it expires, from the cluster and from the bucket.
  Time passes on the simulated clock; nothing here lists or deletes a backup but Velero.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 23)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I run 'velero create schedule daily-bak --schedule="@every 24h" --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --ttl 336h0m0s'

  Scenario: backups older than 14 days are gone from the cluster and from the bucket
    When 60 hours pass
    Then "velero backup get" shows:
      | NAME                | STATUS    | ERRORS | WARNINGS | EXPIRES | STORAGE LOCATION | SELECTOR |
      | daily-bak-20221209* | Completed | 0      | 0        | 13d     | default          | <none>   |
      | daily-bak-20221208* | Completed | 0      | 0        | 12d     | default          | <none>   |
    And listing "backups/" in the bucket through S3 shows:
      | PREFIX                      |
      | backups/daily-bak-20221208* |
      | backups/daily-bak-20221209* |
    When 13 days pass
    Then "velero backup get" shows:
      | NAME                | STATUS    | STORAGE LOCATION |
      | daily-bak-20221222* | Completed | default          |
      | daily-bak-20221221* | Completed | default          |
      | daily-bak-20221220* | Completed | default          |
      | daily-bak-20221219* | Completed | default          |
      | daily-bak-20221218* | Completed | default          |
      | daily-bak-20221217* | Completed | default          |
      | daily-bak-20221216* | Completed | default          |
      | daily-bak-20221215* | Completed | default          |
      | daily-bak-20221214* | Completed | default          |
      | daily-bak-20221213* | Completed | default          |
      | daily-bak-20221212* | Completed | default          |
      | daily-bak-20221211* | Completed | default          |
      | daily-bak-20221210* | Completed | default          |
      | daily-bak-20221209* | Completed | default          |
    And listing "backups/" in the bucket through S3 shows:
      | PREFIX                      |
      | backups/daily-bak-20221209* |
      | backups/daily-bak-20221210* |
      | backups/daily-bak-20221211* |
      | backups/daily-bak-20221212* |
      | backups/daily-bak-20221213* |
      | backups/daily-bak-20221214* |
      | backups/daily-bak-20221215* |
      | backups/daily-bak-20221216* |
      | backups/daily-bak-20221217* |
      | backups/daily-bak-20221218* |
      | backups/daily-bak-20221219* |
      | backups/daily-bak-20221220* |
      | backups/daily-bak-20221221* |
      | backups/daily-bak-20221222* |
