@tkg @volumes
Feature: Workload data — a volume backed up file by file by Velero and restored byte for byte
  Velero on the workload cluster (its own bucket, as the runbook recommends) with the restic node
  agent backs the application's namespace up: the objects, and the contents of its
  PersistentVolumeClaim file by file into the bucket. The namespace is deleted by mistake — the
  claim, its volume and its data with it — and the restore brings the objects back, provisions a
  new volume and writes every file back, each checked by its sha256.

  Background:
    Given a TKG management cluster "tkg-mgmt-vc" on vSphere, built from mgmt-cluster-config.yaml
    And workload cluster "tkg-vc-antrea" in namespace "default" with 1 control-plane node and 2 workers
    And the clusters are created and running (seed 29)
    And the credentials file "VELERO-CREDS":
      """
      [default]
      aws_access_key_id=minio
      aws_secret_access_key=minio123
      """
    And a bucket "tkg-vc-antrea" in the object store
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
              backup.velero.io/backup-volumes: data
          spec:
            containers:
            - name: db
              image: postgres:14
              resources:
                requests:
                  cpu: 250m
                  memory: 256Mi
              volumeMounts:
              - name: data
                mountPath: /var/lib/postgresql/data
            volumes:
            - name: data
              persistentVolumeClaim:
                claimName: data
      """
    When I run "tanzu cluster kubeconfig get tkg-vc-antrea --admin"
    And I run "kubectl config use-context tkg-vc-antrea-admin@tkg-vc-antrea"
    And I run "kubectl apply -f shop.yaml"
    And the controllers settle
    Then "kubectl -n shop get pvc" shows:
      | NAME | STATUS | VOLUME | CAPACITY | ACCESS MODES | STORAGECLASS |
      | data | Bound  | pvc-*  | 1Gi      | RWO          | default      |
    When the application writes into PVC "data" in namespace "shop" of "tkg-vc-antrea":
      | PATH                     | CONTENT                |
      | pgdata/PG_VERSION        | 14                     |
      | pgdata/base/1/PG_VERSION | 14                     |
      | pgdata/base/1/16384      | <1048576 random bytes> |
      | pgdata/global/pg_control | <8192 random bytes>    |
    And I run "velero install --provider aws --plugins velero/velero-plugin-for-aws:v1.5.3 --bucket tkg-vc-antrea --backup-location-config region=$REGION --secret-file ./VELERO-CREDS --use-restic --wait"
    And I run "velero backup create shop-backup --include-namespaces shop --wait"
    Then the output says "Backup completed with status: Completed"

  Scenario: the application's namespace is deleted by mistake and restored with its data
    When I run "kubectl delete namespace shop"
    And the controllers settle
    Then the volume the application wrote into PVC "data" in namespace "shop" of "tkg-vc-antrea" is gone
    When I run "velero restore create shop-restore --from-backup shop-backup --wait"
    Then the output says "Restore completed with status: Completed"
    When the controllers settle
    Then PVC "data" in namespace "shop" of "tkg-vc-antrea" holds every byte the application wrote, on a new volume
    And "kubectl -n shop get deployment db" shows:
      | NAME | READY | UP-TO-DATE | AVAILABLE |
      | db   | 1/1   | 1          | 1         |
