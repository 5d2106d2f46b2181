@explore @drift
Feature: explored history explore-seed-11 (seed 14235365815336769880)
  A history found by `drdrill explore` (seed 14235365815336769880), replayed with the suite's steps.

  Scenario: the shrunk history
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-wc-a" in namespace "default" with 3 control-plane nodes and 2 workers
    And workload cluster "tkg-wc-b" in namespace "default" with 1 control-plane node and 1 worker
    And the clusters are created and running (seed 14235365815336769880)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    When I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    When I run "velero backup create my-backup --exclude-namespaces tkg-system --include-resources cluster.cluster.x-k8s.io --wait"
    When the management cluster is lost
    And the management cluster is rebuilt from mgmt-cluster-config.yaml
    And I run "velero install --provider aws --plugins projects.registry.vmware.com/tkg/velero/velero-plugin-for-aws:v1.5.3_vmware.1,projects.registry.vmware.com/tkg/velero/velero-mgmt-cluster-plugin:v0.1.0_vmware.1 --bucket $BUCKET --backup-location-config region=$REGION --secret-file ./VELERO-CREDS"
    And I repeat "velero backup get" until it lists "my-backup"
    And I restore from the latest backup `velero backup get` lists
    And I run the runbook's unpause script for every namespace
    And the controllers settle
    When I carry out the drift mitigation plan for "tkg-wc-a"
    When I carry out the drift mitigation plan for "tkg-wc-b"
    Then every workload cluster is running
    And "tkg-wc-a" has no drift and nothing is left over
    And "tkg-wc-b" has no drift and nothing is left over
