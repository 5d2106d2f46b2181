@aks @runbook-a
Feature: Runbook A — AKS on Azure Stack HCI: a lost management VM, day-2 gating, and A2 recovery
  The management cluster is one VM per deployment. While it is down, workloads keep running and
  every day-2 command waits; failover restarts it on a healthy host. A2 recreates the management
  cluster and every workload cluster from the configuration backup (ConvertTo-Json).

  Background:
    Given an AKS-HCI host cluster with 3 hosts (seed 7)
    And the operator runs these PowerShell lines:
      """
      $vnet = New-AksHciNetworkSetting -name mgmt-vnet -vswitchName ConvergedSwitch -vipPoolStart 172.16.255.0 -vipPoolEnd 172.16.255.254
      Set-AksHciConfig -imageDir C:\ClusterStorage\Volume1\Images -workingDir C:\ClusterStorage\Volume1\WorkDir -cloudConfigLocation C:\ClusterStorage\Volume1\Config -vnet $vnet
      Install-AksHci
      New-AksHciCluster -name wc -controlPlaneNodeCount 3 -controlPlaneVmSize Standard_A2_V2 -nodePoolName linuxpool -nodeCount 3 -nodeVmSize Standard_A2_V2
      """
    And workload cluster "wc" has VMs:
      | role              | size           | count |
      | ControlPlane      | Standard_A2_v2 | 3     |
      | LoadBalancer      | Standard_A4_v2 | 1     |
      | Worker/linuxpool  | Standard_A2_v2 | 3     |

  Scenario: day-2 operations wait for the management VM while workloads keep serving
    Given the operator has taken the workload cluster "wc" kubeconfig
    When the host of the management VM fails
    Then the PowerShell line "Set-AksHciNodePool -clusterName wc -name linuxpool -count 4" fails with "management cluster unavailable"
    And the PowerShell line "New-AksHciCluster -name wc2" fails with "management cluster unavailable"
    And the PowerShell line "Update-AksHciCluster -name wc -kubernetesVersion v1.25.6" fails with "management cluster unavailable"
    And workload cluster "wc" keeps serving requests
    When 61 seconds pass on the AKS-HCI host cluster
    Then the management VM runs on a healthy host
    And the PowerShell line "Set-AksHciNodePool -clusterName wc -name linuxpool -count 4" succeeds
    And workload cluster "wc" has VMs:
      | role              | size           | count |
      | ControlPlane      | Standard_A2_v2 | 3     |
      | LoadBalancer      | Standard_A4_v2 | 1     |
      | Worker/linuxpool  | Standard_A2_v2 | 4     |

  Scenario: A2 — recover from management-cluster corruption with the configuration backup
    Given the operator saves Get-AksHciConfig and Get-AksHciCluster as JSON
    When the operator runs the PowerShell line "Uninstall-AksHci"
    And the operator recreates AKS-HCI from the saved JSON
    Then every workload cluster has the same VM counts and sizes as before the disaster
    And the AKS-HCI configuration matches the backup

  Scenario: A2 without the configuration backup shows what is lost
    Given the operator saves only Get-AksHciCluster as JSON
    When the operator runs the PowerShell line "Uninstall-AksHci"
    And the operator recreates AKS-HCI from the saved JSON
    Then every workload cluster has the same VM counts and sizes as before the disaster
    And the configuration lost without the backup includes "vnet.vipPoolStart"
    And the configuration lost without the backup includes "imageDir"
