//! Realistic objects of every kind, shaped as `kubectl get -o json` shows them on a TKG 2.x
//! management cluster (workload cluster `wc1`: 3 control-plane nodes, 3 workers).

use serde_json::{Value, json};

fn condition(type_: &str) -> Value {
    json!({"type": type_, "status": "True", "lastTransitionTime": "2024-05-01T10:04:12Z"})
}

fn meta(name: &str, labels: Value) -> Value {
    json!({
        "name": name,
        "namespace": "default",
        "uid": "6f0c2a8e-3b1d-4c55-9e7a-0d2b6a1f9c31",
        "generation": 2,
        "resourceVersion": "48213",
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "labels": labels,
    })
}

fn vsphere_machine_spec() -> Value {
    json!({
        "template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1",
        "cloneMode": "fullClone",
        "server": "vcenter.lab.local",
        "thumbprint": "8C:1A:4B:2D:99:10:EE:3F:57:6A:0B:C1:22:D4:71:85:9E:F0:3A:6B",
        "datacenter": "/dc0",
        "folder": "/dc0/vm/tkg",
        "datastore": "/dc0/datastore/vsanDatastore",
        "storagePolicyName": "",
        "resourcePool": "/dc0/host/cluster0/Resources/tkg",
        "network": {
            "devices": [{"networkName": "/dc0/network/VM Network", "dhcp4": true, "nameservers": ["10.0.0.2"]}]
        },
        "numCPUs": 2,
        "memoryMiB": 8192,
        "diskGiB": 40,
        "os": "Linux",
        "powerOffMode": "trySoft"
    })
}

/// `(kind, object)` for every kind of the crate.
pub(super) fn all() -> Vec<(&'static str, Value)> {
    let wc1 = json!({"cluster.x-k8s.io/cluster-name": "wc1"});
    vec![
        (
            "Cluster",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "Cluster",
                "metadata": meta("wc1", json!({"tkg.tanzu.vmware.com/cluster-name": "wc1"})),
                "spec": {
                    "paused": true,
                    "clusterNetwork": {
                        "pods": {"cidrBlocks": ["100.96.0.0/11"]},
                        "services": {"cidrBlocks": ["100.64.0.0/13"]},
                        "serviceDomain": "cluster.local"
                    },
                    "controlPlaneEndpoint": {"host": "10.0.0.50", "port": 6443},
                    "topology": {"class": "tkg-vsphere-default-v1.0.0", "version": "v1.24.10+vmware.1"}
                },
                "status": {
                    "phase": "Provisioned",
                    "infrastructureReady": true,
                    "controlPlaneReady": true,
                    "observedGeneration": 2,
                    "conditions": [condition("Ready"), condition("ControlPlaneReady"), condition("InfrastructureReady")]
                }
            }),
        ),
        (
            "KubeadmControlPlane",
            json!({
                "apiVersion": "controlplane.cluster.x-k8s.io/v1beta1",
                "kind": "KubeadmControlPlane",
                "metadata": meta("wc1-hn7rp", wc1.clone()),
                "spec": {
                    "replicas": 3,
                    "version": "v1.24.10+vmware.1",
                    "machineTemplate": {
                        "metadata": {"labels": {"topology.cluster.x-k8s.io/owned": ""}},
                        "infrastructureRef": {
                            "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                            "kind": "VSphereMachineTemplate",
                            "name": "wc1-control-plane-4bwn2",
                            "namespace": "default"
                        },
                        "nodeDrainTimeout": "0s"
                    },
                    "kubeadmConfigSpec": {
                        "clusterConfiguration": {
                            "imageRepository": "projects.registry.vmware.com/tkg",
                            "apiServer": {"extraArgs": {"cloud-provider": "external", "tls-min-version": "VersionTLS12"}},
                            "etcd": {"local": {"imageRepository": "projects.registry.vmware.com/tkg", "imageTag": "v3.5.6_vmware.9"}},
                            "dns": {"imageRepository": "projects.registry.vmware.com/tkg", "imageTag": "v1.8.6_vmware.15"}
                        },
                        "initConfiguration": {"nodeRegistration": {"criSocket": "/var/run/containerd/containerd.sock", "name": "{{ ds.meta_data.hostname }}", "kubeletExtraArgs": {"cloud-provider": "external"}}},
                        "joinConfiguration": {"nodeRegistration": {"criSocket": "/var/run/containerd/containerd.sock", "name": "{{ ds.meta_data.hostname }}", "kubeletExtraArgs": {"cloud-provider": "external"}}},
                        "files": [{"path": "/etc/kubernetes/manifests/kube-vip.yaml", "owner": "root:root", "permissions": "0644", "content": "apiVersion: v1\nkind: Pod\n"}],
                        "preKubeadmCommands": ["hostname \"{{ ds.meta_data.hostname }}\"", "echo \"::1         ipv6-localhost ipv6-loopback\" >/etc/hosts"],
                        "postKubeadmCommands": ["sed -i 's/^.*PasswordAuthentication.*$/PasswordAuthentication no/' /etc/ssh/sshd_config"],
                        "users": [{"name": "capv", "sshAuthorizedKeys": ["ssh-rsa AAAAB3NzaC1yc2E admin@jumpbox"], "sudo": "ALL=(ALL) NOPASSWD:ALL"}],
                        "ntp": {"enabled": true, "servers": ["time.lab.local"]},
                        "format": "cloud-config"
                    },
                    "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                    "remediationStrategy": {"maxRetry": 5, "retryPeriod": "5m", "minHealthyPeriod": "1h"}
                },
                "status": {
                    "selector": "cluster.x-k8s.io/cluster-name=wc1,cluster.x-k8s.io/control-plane",
                    "replicas": 4,
                    "version": "v1.24.10+vmware.1",
                    "updatedReplicas": 1,
                    "readyReplicas": 3,
                    "unavailableReplicas": 1,
                    "initialized": true,
                    "ready": true,
                    "observedGeneration": 2,
                    "conditions": [condition("Ready"), condition("Available"), condition("MachinesReady")],
                    "lastRemediation": {"machine": "wc1-hn7rp-5xk2d", "timestamp": "2024-05-01T11:00:00Z", "retryCount": 0}
                }
            }),
        ),
        (
            "MachineDeployment",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "MachineDeployment",
                "metadata": meta("wc1-md-0-9dfpz", wc1.clone()),
                "spec": {
                    "clusterName": "wc1",
                    "replicas": 3,
                    "minReadySeconds": 0,
                    "progressDeadlineSeconds": 600,
                    "revisionHistoryLimit": 1,
                    "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "wc1", "cluster.x-k8s.io/deployment-name": "wc1-md-0-9dfpz"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0, "deletePolicy": "Oldest"}},
                    "template": {
                        "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "wc1", "cluster.x-k8s.io/deployment-name": "wc1-md-0-9dfpz"}},
                        "spec": {
                            "clusterName": "wc1",
                            "version": "v1.24.10+vmware.1",
                            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": "wc1-md-0-bootstrap-7s2xt", "namespace": "default"}},
                            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc1-md-0-infra-qd8mx", "namespace": "default"},
                            "failureDomain": "rack1"
                        }
                    }
                },
                "status": {
                    "observedGeneration": 2,
                    "selector": "cluster.x-k8s.io/cluster-name=wc1,cluster.x-k8s.io/deployment-name=wc1-md-0-9dfpz",
                    "replicas": 3,
                    "updatedReplicas": 3,
                    "readyReplicas": 3,
                    "availableReplicas": 3,
                    "unavailableReplicas": 0,
                    "phase": "Running",
                    "conditions": [condition("Ready"), condition("Available")]
                }
            }),
        ),
        (
            "MachineSet",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "MachineSet",
                "metadata": meta("wc1-md-0-9dfpz-7c8b4d5f9", json!({"cluster.x-k8s.io/cluster-name": "wc1", "cluster.x-k8s.io/deployment-name": "wc1-md-0-9dfpz"})),
                "spec": {
                    "clusterName": "wc1",
                    "replicas": 3,
                    "deletePolicy": "Oldest",
                    "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "wc1", "machine-template-hash": "3746081951"}},
                    "template": {
                        "metadata": {"labels": {"cluster.x-k8s.io/cluster-name": "wc1", "machine-template-hash": "3746081951"}},
                        "spec": {
                            "clusterName": "wc1",
                            "version": "v1.24.10+vmware.1",
                            "bootstrap": {"configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfigTemplate", "name": "wc1-md-0-bootstrap-7s2xt"}},
                            "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachineTemplate", "name": "wc1-md-0-infra-qd8mx"}
                        }
                    }
                },
                "status": {
                    "selector": "cluster.x-k8s.io/cluster-name=wc1,machine-template-hash=3746081951",
                    "replicas": 3,
                    "fullyLabeledReplicas": 3,
                    "readyReplicas": 2,
                    "availableReplicas": 2,
                    "observedGeneration": 2,
                    "conditions": [condition("Ready"), {"type": "MachinesReady", "status": "False", "severity": "Warning", "reason": "NodeNotFound", "message": "1 of 3 machines is not ready", "lastTransitionTime": "2024-05-01T11:02:00Z"}]
                }
            }),
        ),
        (
            "Machine",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "Machine",
                "metadata": meta("wc1-md-0-9dfpz-7c8b4d5f9-x2x7k", json!({"cluster.x-k8s.io/cluster-name": "wc1", "cluster.x-k8s.io/set-name": "wc1-md-0-9dfpz-7c8b4d5f9", "cluster.x-k8s.io/deployment-name": "wc1-md-0-9dfpz"})),
                "spec": {
                    "clusterName": "wc1",
                    "version": "v1.24.10+vmware.1",
                    "bootstrap": {
                        "configRef": {"apiVersion": "bootstrap.cluster.x-k8s.io/v1beta1", "kind": "KubeadmConfig", "name": "wc1-md-0-bootstrap-7s2xt-r4lm9", "namespace": "default", "uid": "0b1e58a4-6c5f-4b3a-a0b3-5d8e2f7c9a10"},
                        "dataSecretName": "wc1-md-0-bootstrap-7s2xt-r4lm9"
                    },
                    "infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1", "kind": "VSphereMachine", "name": "wc1-md-0-infra-qd8mx-wk5pt", "namespace": "default"},
                    "providerID": "vsphere://4231d9b5-1d8e-6a4f-2e9c-71e5c0f4b2a3",
                    "nodeDrainTimeout": "0s",
                    "nodeDeletionTimeout": "10s"
                },
                "status": {
                    "nodeRef": {"apiVersion": "v1", "kind": "Node", "name": "wc1-md-0-9dfpz-7c8b4d5f9-x2x7k", "uid": "c3f9e1aa-8b2d-4e6f-9a1c-2d3e4f5a6b7c"},
                    "nodeInfo": {
                        "architecture": "amd64",
                        "bootID": "9f4c1e2d-5b6a-4c3d-8e7f-0a1b2c3d4e5f",
                        "containerRuntimeVersion": "containerd://1.6.18-1-gdbc99e5b1",
                        "kernelVersion": "4.19.277-2.ph3",
                        "kubeProxyVersion": "v1.24.10+vmware.1",
                        "kubeletVersion": "v1.24.10+vmware.1",
                        "machineID": "1b7f3c9a2e4d4f6a8c0e2b4d6f8a0c2e",
                        "operatingSystem": "linux",
                        "osImage": "VMware Photon OS/Linux",
                        "systemUUID": "b5d93142-8e1d-4f6a-2e9c-71e5c0f4b2a3"
                    },
                    "lastUpdated": "2024-05-01T10:09:40Z",
                    "addresses": [{"type": "ExternalIP", "address": "10.0.0.61"}, {"type": "InternalIP", "address": "10.0.0.61"}],
                    "phase": "Running",
                    "bootstrapReady": true,
                    "infrastructureReady": true,
                    "observedGeneration": 2,
                    "conditions": [condition("Ready"), condition("BootstrapReady"), condition("InfrastructureReady"), condition("NodeHealthy"), condition("HealthCheckSucceeded")]
                }
            }),
        ),
        (
            "MachineHealthCheck",
            json!({
                "apiVersion": "cluster.x-k8s.io/v1beta1",
                "kind": "MachineHealthCheck",
                "metadata": meta("wc1-md-0-9dfpz", wc1.clone()),
                "spec": {
                    "clusterName": "wc1",
                    "selector": {"matchLabels": {"cluster.x-k8s.io/cluster-name": "wc1", "cluster.x-k8s.io/deployment-name": "wc1-md-0-9dfpz"}},
                    "unhealthyConditions": [
                        {"type": "Ready", "status": "Unknown", "timeout": "5m0s"},
                        {"type": "Ready", "status": "False", "timeout": "12m0s"}
                    ],
                    "maxUnhealthy": "100%",
                    "nodeStartupTimeout": "20m0s"
                },
                "status": {
                    "expectedMachines": 3,
                    "currentHealthy": 2,
                    "remediationsAllowed": 1,
                    "observedGeneration": 2,
                    "targets": ["wc1-md-0-9dfpz-7c8b4d5f9-x2x7k", "wc1-md-0-9dfpz-7c8b4d5f9-6hq4m", "wc1-md-0-9dfpz-7c8b4d5f9-p9w2l"],
                    "conditions": [condition("RemediationAllowed")]
                }
            }),
        ),
        (
            "VSphereCluster",
            json!({
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "VSphereCluster",
                "metadata": meta("wc1-8k2lm", wc1.clone()),
                "spec": {
                    "server": "vcenter.lab.local",
                    "thumbprint": "8C:1A:4B:2D:99:10:EE:3F:57:6A:0B:C1:22:D4:71:85:9E:F0:3A:6B",
                    "controlPlaneEndpoint": {"host": "10.0.0.50", "port": 6443},
                    "identityRef": {"kind": "Secret", "name": "wc1"},
                    "clusterModules": [
                        {"controlPlane": true, "targetObjectName": "wc1-hn7rp", "moduleUUID": "52d4f3a1-0b6e-5c7d-9e8f-1a2b3c4d5e6f"},
                        {"controlPlane": false, "targetObjectName": "wc1-md-0-9dfpz", "moduleUUID": "52a1b2c3-d4e5-f6a7-b8c9-d0e1f2a3b4c5"}
                    ]
                },
                "status": {
                    "ready": true,
                    "vCenterVersion": "8.0.1",
                    "conditions": [condition("Ready"), condition("VCenterAvailable"), condition("ClusterModulesAvailable")]
                }
            }),
        ),
        (
            "VSphereMachine",
            json!({
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "VSphereMachine",
                "metadata": meta("wc1-md-0-infra-qd8mx-wk5pt", wc1.clone()),
                "spec": {
                    "providerID": "vsphere://4231d9b5-1d8e-6a4f-2e9c-71e5c0f4b2a3",
                    "failureDomain": "rack1",
                    "template": "/dc0/vm/photon-3-kube-v1.24.10+vmware.1",
                    "cloneMode": "linkedClone",
                    "snapshot": "base",
                    "server": "vcenter.lab.local",
                    "datacenter": "/dc0",
                    "datastore": "/dc0/datastore/vsanDatastore",
                    "network": {
                        "devices": [{"networkName": "/dc0/network/VM Network", "deviceName": "eth0", "ipAddrs": ["10.0.0.61/24"], "gateway4": "10.0.0.1", "nameservers": ["10.0.0.2"], "searchDomains": ["lab.local"], "mtu": 1500}],
                        "routes": [{"to": "192.168.0.0/16", "via": "10.0.0.254", "metric": 100}]
                    },
                    "numCPUs": 4,
                    "numCoresPerSocket": 2,
                    "memoryMiB": 16384,
                    "diskGiB": 40,
                    "additionalDisksGiB": [100],
                    "tagIDs": ["urn:vmomi:InventoryServiceTag:0f3d9c8e:GLOBAL"]
                },
                "status": {
                    "ready": true,
                    "addresses": [{"type": "InternalIP", "address": "10.0.0.61"}],
                    "network": [{"connected": true, "ipAddrs": ["10.0.0.61"], "macAddr": "00:50:56:b1:2c:3d", "networkName": "VM Network"}],
                    "conditions": [condition("Ready"), condition("VMProvisioned")]
                }
            }),
        ),
        (
            "VSphereMachineTemplate",
            json!({
                "apiVersion": "infrastructure.cluster.x-k8s.io/v1beta1",
                "kind": "VSphereMachineTemplate",
                "metadata": meta("wc1-control-plane-4bwn2", wc1.clone()),
                "spec": {"template": {"metadata": {"annotations": {"vmTemplateMoid": "vm-1042"}}, "spec": vsphere_machine_spec()}}
            }),
        ),
        (
            "TanzuKubernetesRelease",
            json!({
                "apiVersion": "run.tanzu.vmware.com/v1alpha3",
                "kind": "TanzuKubernetesRelease",
                "metadata": {
                    "name": "v1.24.10---vmware.1-tkg.2",
                    "uid": "e2b7c4d1-9a3f-4e5b-8c6d-7f0a1b2c3d4e",
                    "generation": 1,
                    "resourceVersion": "1207",
                    "creationTimestamp": "2024-05-01T09:40:00Z",
                    "labels": {"v1": "", "v1.24": "", "v1.24.10": "", "v1.24.10---vmware.1": "", "v1.24.10---vmware.1-tkg.2": ""}
                },
                "spec": {
                    "version": "v1.24.10+vmware.1-tkg.2",
                    "kubernetes": {
                        "version": "v1.24.10+vmware.1",
                        "imageRepository": "projects.registry.vmware.com/tkg",
                        "etcd": {"imageTag": "v3.5.6_vmware.9"},
                        "pause": {"imageTag": "3.7"},
                        "coredns": {"imageTag": "v1.8.6_vmware.15"},
                        "kube-vip": {"imageRepository": "projects.registry.vmware.com/tkg", "imageTag": "v0.5.7_vmware.2"}
                    },
                    "osImages": [{"name": "v1.24.10---vmware.1-tkg.2-photon-3-amd64-vmi"}, {"name": "v1.24.10---vmware.1-tkg.2-ubuntu-2004-amd64-vmi"}],
                    "bootstrapPackages": [{"name": "antrea.tanzu.vmware.com.1.7.2+vmware.1-tkg.1-advanced"}]
                },
                "status": {"conditions": [condition("Ready"), condition("Compatible"), condition("Valid")]}
            }),
        ),
    ]
}
