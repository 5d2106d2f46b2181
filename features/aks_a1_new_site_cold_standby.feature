@aks @runbook-a @volumes
Feature: Runbook A1 — restore AKS-HCI workload clusters to a new site prepared as a cold standby
  Velero on the workload cluster backs the application up to an off-site MinIO bucket of its own
  (one bucket per cluster), with restic copying the volumes file by file. The first site is lost
  with everything on it. The second site was prepared before the disaster: its management cluster
  and one EMPTY workload cluster per cluster to restore, created with New-AksHciCluster. Storage is
  configured there (local storage → CSI disk driver, SMB → CSI file driver), Velero is installed
  against the same bucket, and the restore brings back the same replica counts, CPU and memory
  requests, and every byte of the volumes. Storage classes are not in a Velero backup: a restore
  into a cluster without the class a claim needs fails, and says which class.

  Background:
    Given an AKS-HCI host cluster with 3 hosts (seed 11)
    And the operator runs these PowerShell lines:
      """
      $vnet = New-AksHciNetworkSetting -name site-a-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.16.255.0 -vipPoolEnd 172.16.255.254
      Set-AksHciConfig -imageDir C:\ClusterStorage\Volume1\Images -workingDir C:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation C:\ClusterStorage\Volume1\Config -vnet $vnet
      Install-AksHci
      New-AksHciCluster -name wc -controlPlaneNodeCount 1 -nodePoolName linuxpool -nodeCount 2 -nodeVmSize Standard_A4_v2
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
        name: aks-hci-disk
      provisioner: disk.csi.akshci.com
      reclaimPolicy: Delete
      volumeBindingMode: Immediate
      ---
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata:
        name: aks-hci-file
      provisioner: file.csi.akshci.com
      reclaimPolicy: Delete
      volumeBindingMode: Immediate
      """
    And the file "shop.yaml":
      """
      apiVersion: v1
      kind: Namespace
      metadata:
        name: shop
      ---
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: data
        namespace: shop
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: aks-hci-disk
        resources:
          requests:
            storage: 2Gi
      ---
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata:
        name: shared
        namespace: shop
      spec:
        accessModes: [ReadWriteMany]
        storageClassName: aks-hci-file
        resources:
          requests:
            storage: 1Gi
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: db
        namespace: shop
      spec:
        replicas: 1
        selector:
          matchLabels:
            app: db
        template:
          metadata:
            labels:
              app: db
            annotations:
              backup.velero.io/backup-volumes: data,shared
          spec:
            containers:
            - name: db
              image: mcr.microsoft.com/mssql/server:2019-latest
              resources:
                requests:
                  cpu: 500m
                  memory: 2Gi
              volumeMounts:
              - name: data
                mountPath: /var/opt/mssql
              - name: shared
                mountPath: /mnt/exports
            volumes:
            - name: data
              persistentVolumeClaim:
                claimName: data
            - name: shared
              persistentVolumeClaim:
                claimName: shared
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
        namespace: shop
      spec:
        replicas: 3
        selector:
          matchLabels:
            app: web
        template:
          metadata:
            labels:
              app: web
          spec:
            containers:
            - name: web
              image: mcr.microsoft.com/dotnet/samples:aspnetapp
              resources:
                requests:
                  cpu: 250m
                  memory: 256Mi
      """
    When the operator runs "kubectl apply -f storage.yaml" on workload cluster "wc"
    And the operator runs "kubectl apply -f shop.yaml" on workload cluster "wc"
    And the AKS-HCI site settles
    Then the Deployments in namespace "shop" of workload cluster "wc" are:
      | NAME | REPLICAS | READY | RUNNING PODS | CPU  | MEMORY |
      | db   | 1        | 1     | 1            | 500m | 2Gi    |
      | web  | 3        | 3     | 3            | 250m | 256Mi  |
    When the application writes into PVC "data" in namespace "shop" of workload cluster "wc":
      | PATH                  | CONTENT                |
      | data/master.mdf       | <1048576 random bytes> |
      | data/mastlog.ldf      | <65536 random bytes>   |
      | log/errorlog          | SQL Server is starting |
    And the application writes into PVC "shared" in namespace "shop" of workload cluster "wc":
      | PATH                  | CONTENT                |
      | exports/orders.csv    | 1,9.99;2,24.50         |
      | exports/invoice.pdf   | <32768 random bytes>   |
    And the operator runs "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./credentials-velero --use-restic --wait" on workload cluster "wc"
    And the operator runs "velero backup create shop-backup --include-namespaces shop --wait" on workload cluster "wc"
    Then the output says "Backup completed with status: Completed"

  Scenario: A1 — the site is lost; the cold standby restores the workload cluster with its data
    Given a second site is prepared as a cold standby, 3 hosts (seed 12), with these PowerShell lines:
      """
      $vnet = New-AksHciNetworkSetting -name site-b-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.17.255.0 -vipPoolEnd 172.17.255.254
      Set-AksHciConfig -imageDir D:\ClusterStorage\Volume1\Images -workingDir D:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation D:\ClusterStorage\Volume1\Config -vnet $vnet
      Install-AksHci
      New-AksHciCluster -name wc -controlPlaneNodeCount 1 -nodePoolName linuxpool -nodeCount 2 -nodeVmSize Standard_A4_v2
      """
    And on the cold standby, workload cluster "wc" is empty
    When the first site is lost
    And the operator runs "kubectl apply -f storage.yaml" on workload cluster "wc"
    And the operator runs "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./credentials-velero --use-restic --wait" on workload cluster "wc"
    And the operator repeats "velero backup get" on workload cluster "wc" until it lists "shop-backup"
    And the operator runs "velero restore create shop-restore --from-backup shop-backup --wait" on workload cluster "wc"
    Then the output says "Restore completed with status: Completed"
    When the AKS-HCI site settles
    Then the Deployments in namespace "shop" of workload cluster "wc" are:
      | NAME | REPLICAS | READY | RUNNING PODS | CPU  | MEMORY |
      | db   | 1        | 1     | 1            | 500m | 2Gi    |
      | web  | 3        | 3     | 3            | 250m | 256Mi  |
    And PVC "data" in namespace "shop" of workload cluster "wc" holds every byte the application wrote
    And PVC "shared" in namespace "shop" of workload cluster "wc" holds every byte the application wrote

  Scenario: a restore into a cluster without the SMB storage class fails and names the class
    Given a second site is prepared as a cold standby, 3 hosts (seed 13), with these PowerShell lines:
      """
      $vnet = New-AksHciNetworkSetting -name site-b-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.17.255.0 -vipPoolEnd 172.17.255.254
      Set-AksHciConfig -imageDir D:\ClusterStorage\Volume1\Images -workingDir D:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation D:\ClusterStorage\Volume1\Config -vnet $vnet
      Install-AksHci
      New-AksHciCluster -name wc -controlPlaneNodeCount 1 -nodePoolName linuxpool -nodeCount 2 -nodeVmSize Standard_A4_v2
      """
    And the file "disk-only.yaml":
      """
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata:
        name: aks-hci-disk
      provisioner: disk.csi.akshci.com
      reclaimPolicy: Delete
      volumeBindingMode: Immediate
      """
    When the first site is lost
    And the operator runs "kubectl apply -f disk-only.yaml" on workload cluster "wc"
    And the operator runs "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket wc-backups --backup-location-config region=$REGION --secret-file ./credentials-velero --use-restic --wait" on workload cluster "wc"
    And the operator repeats "velero backup get" on workload cluster "wc" until it lists "shop-backup"
    And the operator runs "velero restore create shop-restore --from-backup shop-backup" on workload cluster "wc"
    And the AKS-HCI site settles
    And the operator runs "kubectl -n shop describe pvc shared" on workload cluster "wc"
    Then the output says "ProvisioningFailed"
    And the output says 'storageclass.storage.k8s.io "aks-hci-file" not found'
    When 5 hours pass on the AKS-HCI site
    And the operator runs "velero restore describe shop-restore" on workload cluster "wc"
    Then the output says "PartiallyFailed"
    And the output says "timed out waiting for all PodVolumeRestores to complete"
    And the output says 'PersistentVolumeClaim shop/shared is Pending, not Bound: storageclass.storage.k8s.io "aks-hci-file" not found'
    And PVC "data" in namespace "shop" of workload cluster "wc" holds every byte the application wrote
