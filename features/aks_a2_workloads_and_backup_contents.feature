@aks @runbook-a @velero
Feature: Runbook A2 with workload data, and the runbook's two lists about a Velero backup checked against the bucket
  A2 recreates the management cluster and every workload cluster from the saved configuration
  JSON (steps 1–3), configures storage (step 4: local storage → CSI disk driver) and restores
  every workload cluster from its Velero backup (step 5). What the runbook says a backup holds is
  checked file by file in the bucket, through S3; what it says a backup does NOT hold — the
  management cluster's configuration, control-plane and load-balancer VM metadata, network and
  storage settings — is looked for in the backup's tarball and not found: those come back only
  from the configuration JSON.

  Velero v1.9 facts behind the CSI rows: persistBackup encodes the three CSI lists and PutBackup
  uploads them with every backup, whether or not the EnableCSI feature is on. This backup copies
  its volume with restic (file-system backup), takes no CSI snapshot, so the three
  *-csi-*.json.gz files exist and hold JSON null, as does the native *-volumesnapshots.json.gz.

  Background:
    Given an AKS-HCI host cluster with 3 hosts (seed 21)
    And the operator runs these PowerShell lines:
      """
      $vnet = New-AksHciNetworkSetting -name mgmt-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.16.255.0 -vipPoolEnd 172.16.255.254
      Set-AksHciConfig -imageDir C:\ClusterStorage\Volume1\Images -workingDir C:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation C:\ClusterStorage\Volume1\Config -vnet $vnet
      Install-AksHci
      New-AksHciCluster -name wc -controlPlaneNodeCount 3 -controlPlaneVmSize Standard_A2_V2 -nodePoolName linuxpool -nodeCount 2 -nodeVmSize Standard_A2_V2
      """
    And the credentials file "credentials-velero":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    And a bucket "wc-backups" in the off-site object store
    And the file "storage.yaml":
      """
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata:
        name: default
        annotations:
          storageclass.kubernetes.io/is-default-class: "true"
      provisioner: disk.csi.akshci.com
      reclaimPolicy: Delete
      volumeBindingMode: Immediate
      """
    And the file "orders.yaml":
      """
      apiVersion: v1
      kind: Namespace
      metadata:
        name: orders
      ---
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: pgdata
        namespace: orders
      spec:
        accessModes: [ReadWriteOnce]
        resources:
          requests:
            storage: 5Gi
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: postgres
        namespace: orders
      spec:
        replicas: 1
        selector:
          matchLabels:
            app: postgres
        template:
          metadata:
            labels:
              app: postgres
            annotations:
              backup.velero.io/backup-volumes: pgdata
          spec:
            containers:
            - name: postgres
              image: postgres:14
              resources:
                requests:
                  cpu: "1"
                  memory: 1Gi
              volumeMounts:
              - name: pgdata
                mountPath: /var/lib/postgresql/data
            volumes:
            - name: pgdata
              persistentVolumeClaim:
                claimName: pgdata
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: api
        namespace: orders
      spec:
        replicas: 4
        selector:
          matchLabels:
            app: api
        template:
          metadata:
            labels:
              app: api
          spec:
            containers:
            - name: api
              image: ghcr.io/example/orders-api:2.3.1
              resources:
                requests:
                  cpu: 100m
                  memory: 128Mi
      """
    When the operator runs "kubectl apply -f storage.yaml" on workload cluster "wc"
    And the operator runs "kubectl apply -f orders.yaml" on workload cluster "wc"
    And the AKS-HCI site settles
    And the application writes into PVC "pgdata" in namespace "orders" of workload cluster "wc":
      | PATH                     | CONTENT                |
      | pgdata/PG_VERSION        | 14                     |
      | pgdata/base/1/16384      | <524288 random bytes>  |
      | pgdata/global/pg_control | <8192 random bytes>    |
    And the operator runs "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./credentials-velero --use-restic --wait" on workload cluster "wc"
    And the operator runs "velero backup create orders-backup --include-namespaces orders --wait" on workload cluster "wc"
    Then the output says "Backup completed with status: Completed"

  Scenario: A2 — recreate from the configuration JSON, configure storage, restore the workload cluster with its data
    Given the operator saves Get-AksHciConfig and Get-AksHciCluster as JSON
    When the operator runs the PowerShell line "Uninstall-AksHci"
    And the operator recreates AKS-HCI from the saved JSON
    Then every workload cluster has the same VM counts and sizes as before the disaster
    And the AKS-HCI configuration matches the backup
    When the operator runs "kubectl apply -f storage.yaml" on workload cluster "wc"
    And the operator runs "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./credentials-velero --use-restic --wait" on workload cluster "wc"
    And the operator repeats "velero backup get" on workload cluster "wc" until it lists "orders-backup"
    And the operator runs "velero restore create orders-restore --from-backup orders-backup --wait" on workload cluster "wc"
    Then the output says "Restore completed with status: Completed"
    When the AKS-HCI site settles
    Then the Deployments in namespace "orders" of workload cluster "wc" are:
      | NAME     | REPLICAS | READY | RUNNING PODS | CPU  | MEMORY |
      | api      | 4        | 4     | 4            | 100m | 128Mi  |
      | postgres | 1        | 1     | 1            | 1    | 1Gi    |
    And PVC "pgdata" in namespace "orders" of workload cluster "wc" holds every byte the application wrote

  Scenario: the bucket holds what the runbook's "What a Velero backup contains" table lists
    Then the files of backup "orders-backup" in bucket "wc-backups" match the runbook's backup-contents table, the log as "velero backup logs orders-backup" on workload cluster "wc" prints it:
      | RUNBOOK ROW                          | FILE IN THE BUCKET                               | HOLDS                                                         |
      | *-csi-volumesnapshotclasses.json.gz  | orders-backup-csi-volumesnapshotclasses.json.gz  | null: none taken                                              |
      | *-csi-volumesnapshotcontents.json.gz | orders-backup-csi-volumesnapshotcontents.json.gz | null: none taken                                              |
      | *-csi-volumesnapshots.json.gz        | orders-backup-csi-volumesnapshots.json.gz        | null: none taken                                              |
      | *-logs.gz                            | orders-backup-logs.gz                            | as `velero backup logs` prints them                           |
      | *-podvolumebackups.json.gz           | orders-backup-podvolumebackups.json.gz           | pod volumes orders/pgdata (Completed)                         |
      | *-resource-list.json.gz              | orders-backup-resource-list.json.gz              | apps/v1/Deployment                                            |
      | *-volumesnapshots.json.gz            | orders-backup-volumesnapshots.json.gz            | null: none taken                                              |
      | *.tar.gz                             | orders-backup.tar.gz                             | Deployments orders/api replicas=4 cpu=100m memory=128Mi; orders/postgres replicas=1 cpu=1 memory=1Gi |

  Scenario: what a Velero backup does not contain comes back only from the configuration JSON
    Then the tarball of backup "orders-backup" in bucket "wc-backups" holds nothing Runbook A says a Velero backup does not contain about workload cluster "wc"
    Given the operator saves only Get-AksHciCluster as JSON
    When the operator runs the PowerShell line "Uninstall-AksHci"
    And the operator recreates AKS-HCI from the saved JSON
    Then every workload cluster has the same VM counts and sizes as before the disaster
    And the configuration lost without the backup includes "vnet.vipPoolStart"
    And the configuration lost without the backup includes "vnet.name"
    And the configuration lost without the backup includes "imageDir"
