//! Runbook A2 steps 1–3 from the configuration backup: read what `Get-AksHciConfig |
//! ConvertTo-Json` and `Get-AksHciCluster -name X | ConvertTo-Json` saved, write the PowerShell
//! lines that recreate the same settings after `Uninstall-AksHci` (network setting,
//! `Set-AksHciConfig`, `Install-AksHci`, `New-AksHciCluster` with the control-plane and
//! load-balancer counts and sizes, `New-AksHciNodePool` for further pools), and list what differs
//! between two configurations — what is lost when the configuration was not saved.

use drdrill_akshci_sim::{AksHciClusterSpec, AksHciConfigSpec, NodePoolSpec, VirtualNetwork};

use super::psobject::{PsValue, from_json};

/// Why a saved document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecreateError {
    /// Not JSON at all.
    #[error("{document} is not valid JSON: {source}")]
    Json {
        /// Which document (e.g. `the saved Get-AksHciConfig output`).
        document: String,
        /// The parser's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// JSON of the wrong shape.
    #[error("{document}: {message}")]
    Shape {
        /// Which document.
        document: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// A workload cluster as the backup describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedCluster {
    /// Cluster name.
    pub name: String,
    /// Counts, sizes and version.
    pub spec: AksHciClusterSpec,
}

fn field<'a>(obj: &'a PsValue, name: &str, path: &str) -> Result<&'a PsValue, String> {
    obj.get(name).ok_or_else(|| format!("the field {path}{name} is missing"))
}

fn string(obj: &PsValue, name: &str, path: &str) -> Result<String, String> {
    match field(obj, name, path)? {
        PsValue::Str(s) => Ok(s.clone()),
        PsValue::Null => Ok(String::new()),
        other => Err(format!("the field {path}{name} should be a string, not {}", kind(other))),
    }
}

fn optional_string(obj: &PsValue, name: &str, path: &str) -> Result<String, String> {
    if obj.get(name).is_none() {
        Ok(String::new())
    } else {
        string(obj, name, path)
    }
}

fn number(obj: &PsValue, name: &str, path: &str) -> Result<u32, String> {
    match field(obj, name, path)? {
        PsValue::Int(n) => u32::try_from(*n).map_err(|_| format!("the field {path}{name} should be a count of 0 or more, not {n}")),
        other => Err(format!("the field {path}{name} should be a number, not {}", kind(other))),
    }
}

fn kind(value: &PsValue) -> String {
    match value {
        PsValue::Null => "null".into(),
        PsValue::Bool(_) => "a boolean".into(),
        PsValue::Int(n) => format!("the number {n}"),
        PsValue::Str(s) => format!("the string {s:?}"),
        PsValue::Array(_) => "an array".into(),
        PsValue::Object(_) => "an object".into(),
    }
}

/// A string where an object was saved means `ConvertTo-Json` cut it at its `-Depth`.
fn nested<'a>(obj: &'a PsValue, name: &str, path: &str) -> Result<&'a PsValue, String> {
    match field(obj, name, path)? {
        value @ PsValue::Object(_) => Ok(value),
        PsValue::Str(s) if s.starts_with("@{") => Err(format!(
            "the field {path}{name} holds {s:?}: ConvertTo-Json cut it at its -Depth; save the output again with ConvertTo-Json -Depth 4"
        )),
        other => Err(format!("the field {path}{name} should be an object, not {}", kind(other))),
    }
}

/// The virtual network of an object made by `New-AksHciNetworkSetting` (or saved in `vnet`).
pub fn vnet_from_object(obj: &PsValue) -> Result<VirtualNetwork, String> {
    if !matches!(obj, PsValue::Object(_)) {
        return Err(format!("expected the object New-AksHciNetworkSetting returns, not {}", kind(obj)));
    }
    let path = "vnet.";
    let dns_servers = match obj.get("dnsServers") {
        None | Some(PsValue::Null) => Vec::new(),
        Some(PsValue::Array(items)) => items.iter().map(PsValue::display).collect(),
        Some(PsValue::Str(s)) if s.is_empty() => Vec::new(),
        Some(PsValue::Str(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(other) => {
            return Err(format!(
                "the field vnet.dnsServers should be a list of addresses, not {}",
                kind(other)
            ));
        }
    };
    Ok(VirtualNetwork {
        name: string(obj, "name", path)?,
        vswitch_name: string(obj, "vswitchName", path)?,
        ip_address_prefix: optional_string(obj, "ipAddressPrefix", path)?,
        gateway: optional_string(obj, "gateway", path)?,
        dns_servers,
        vip_pool_start: optional_string(obj, "vipPoolStart", path)?,
        vip_pool_end: optional_string(obj, "vipPoolEnd", path)?,
        k8s_node_ip_pool_start: optional_string(obj, "k8snodeippoolstart", path)?,
        k8s_node_ip_pool_end: optional_string(obj, "k8snodeippoolend", path)?,
        vlan_id: if obj.get("vlanID").is_some() {
            number(obj, "vlanID", path)?
        } else {
            0
        },
    })
}

fn parse(document: &str, text: &str) -> Result<PsValue, RecreateError> {
    from_json(text).map_err(|source| RecreateError::Json {
        document: document.to_string(),
        source,
    })
}

/// Reads the saved `Get-AksHciConfig | ConvertTo-Json` output.
pub fn parse_saved_config(text: &str) -> Result<AksHciConfigSpec, RecreateError> {
    let document = "the saved Get-AksHciConfig output";
    let obj = parse(document, text)?;
    let shape = |message: String| RecreateError::Shape {
        document: document.to_string(),
        message,
    };
    if !matches!(obj, PsValue::Object(_)) {
        return Err(shape(format!("expected one object, found {}", kind(&obj))));
    }
    Ok(AksHciConfigSpec {
        version: string(&obj, "version", "").map_err(shape)?,
        image_dir: string(&obj, "imageDir", "").map_err(shape)?,
        working_dir: string(&obj, "workingDir", "").map_err(shape)?,
        cloud_config_location: string(&obj, "cloudConfigLocation", "").map_err(shape)?,
        node_config_location: string(&obj, "nodeConfigLocation", "").map_err(shape)?,
        control_plane_vm_size: string(&obj, "controlPlaneVmSize", "").map_err(shape)?,
        cloud_service_cidr: optional_string(&obj, "cloudServiceCidr", "").map_err(shape)?,
        vnet: vnet_from_object(nested(&obj, "vnet", "").map_err(shape)?).map_err(shape)?,
    })
}

/// Reads saved `Get-AksHciCluster [-name X] | ConvertTo-Json` output: one cluster or an array.
pub fn parse_saved_clusters(text: &str) -> Result<Vec<SavedCluster>, RecreateError> {
    let document = "the saved Get-AksHciCluster output";
    let value = parse(document, text)?;
    let shape = |message: String| RecreateError::Shape {
        document: document.to_string(),
        message,
    };
    let items = match value {
        PsValue::Array(items) => items,
        obj @ PsValue::Object(_) => vec![obj],
        other => {
            return Err(shape(format!(
                "expected a cluster object or an array of them, found {}",
                kind(&other)
            )));
        }
    };
    let mut clusters = Vec::new();
    for (i, obj) in items.iter().enumerate() {
        let at = if items.len() > 1 { format!("[{i}].") } else { String::new() };
        if !matches!(obj, PsValue::Object(_)) {
            return Err(shape(format!("item [{i}] should be a cluster object, not {}", kind(obj))));
        }
        let pools = match field(obj, "NodePools", &at).map_err(shape)? {
            PsValue::Array(pools) => pools.clone(),
            PsValue::Null => Vec::new(),
            single @ PsValue::Object(_) => vec![single.clone()],
            other => {
                return Err(shape(format!(
                    "the field {at}NodePools should be an array of node pools, not {}",
                    kind(other)
                )));
            }
        };
        let mut node_pools = Vec::new();
        for (j, pool) in pools.iter().enumerate() {
            let path = format!("{at}NodePools[{j}].");
            match pool {
                PsValue::Object(_) => node_pools.push(NodePoolSpec {
                    name: string(pool, "Name", &path).map_err(shape)?,
                    count: number(pool, "Count", &path).map_err(shape)?,
                    vm_size: string(pool, "VmSize", &path).map_err(shape)?,
                    os_type: string(pool, "OsType", &path).map_err(shape)?,
                }),
                PsValue::Str(s) if s.starts_with("@{") => {
                    return Err(shape(format!(
                        "{at}NodePools[{j}] holds {s:?}: ConvertTo-Json cut it at its -Depth; save the output again with ConvertTo-Json -Depth 4"
                    )));
                }
                other => {
                    return Err(shape(format!(
                        "{at}NodePools[{j}] should be a node pool object, not {}",
                        kind(other)
                    )));
                }
            }
        }
        clusters.push(SavedCluster {
            name: string(obj, "Name", &at).map_err(shape)?,
            spec: AksHciClusterSpec {
                kubernetes_version: string(obj, "KubernetesVersion", &at).map_err(shape)?,
                control_plane_node_count: number(obj, "ControlPlaneNodeCount", &at).map_err(shape)?,
                control_plane_vm_size: string(obj, "ControlPlaneVmSize", &at).map_err(shape)?,
                load_balancer_count: number(obj, "LoadBalancerCount", &at).map_err(shape)?,
                load_balancer_vm_size: string(obj, "LoadBalancerVmSize", &at).map_err(shape)?,
                node_pools,
            },
        });
    }
    Ok(clusters)
}

/// A PowerShell single-quoted string.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The lines that recreate `config` (or, without a saved configuration, a default one on a
/// DHCP network of the host's external switch — all that is known without the backup) and then
/// `clusters`, after `Uninstall-AksHci`.
pub fn recreate_script(config: Option<&AksHciConfigSpec>, clusters: &[SavedCluster]) -> Vec<String> {
    let mut lines = Vec::new();
    match config {
        Some(c) => {
            let v = &c.vnet;
            let mut vnet = format!(
                "$vnet = New-AksHciNetworkSetting -name {} -vswitchName {}",
                quote(&v.name),
                quote(&v.vswitch_name)
            );
            for (param, value) in [
                ("ipAddressPrefix", &v.ip_address_prefix),
                ("gateway", &v.gateway),
                ("vipPoolStart", &v.vip_pool_start),
                ("vipPoolEnd", &v.vip_pool_end),
                ("k8sNodeIpPoolStart", &v.k8s_node_ip_pool_start),
                ("k8sNodeIpPoolEnd", &v.k8s_node_ip_pool_end),
            ] {
                if !value.is_empty() {
                    vnet.push_str(&format!(" -{param} {}", quote(value)));
                }
            }
            if !v.dns_servers.is_empty() {
                vnet.push_str(&format!(
                    " -dnsServers {}",
                    v.dns_servers.iter().map(|s| quote(s)).collect::<Vec<_>>().join(",")
                ));
            }
            if v.vlan_id != 0 {
                vnet.push_str(&format!(" -vlanID {}", v.vlan_id));
            }
            lines.push(vnet);
            let mut set = format!(
                "Set-AksHciConfig -imageDir {} -workingDir {} -cloudConfigLocation {} -nodeConfigLocation {} -controlPlaneVmSize {} -version {} -vnet $vnet",
                quote(&c.image_dir),
                quote(&c.working_dir),
                quote(&c.cloud_config_location),
                quote(&c.node_config_location),
                quote(&c.control_plane_vm_size),
                quote(&c.version)
            );
            if !c.cloud_service_cidr.is_empty() {
                set.push_str(&format!(" -cloudServiceCidr {}", quote(&c.cloud_service_cidr)));
            }
            lines.push(set);
        }
        None => {
            lines.push("$vnet = New-AksHciNetworkSetting -name 'akshci-vnet' -vswitchName 'External'".into());
            lines.push("Set-AksHciConfig -vnet $vnet".into());
        }
    }
    lines.push("Install-AksHci".into());
    for cluster in clusters {
        let s = &cluster.spec;
        let mut new = format!(
            "New-AksHciCluster -name {} -kubernetesVersion {} -controlPlaneNodeCount {} -controlPlaneVmSize {} -loadBalancerCount {} -loadBalancerVmSize {}",
            quote(&cluster.name),
            quote(&s.kubernetes_version),
            s.control_plane_node_count,
            quote(&s.control_plane_vm_size),
            s.load_balancer_count,
            quote(&s.load_balancer_vm_size)
        );
        match s.node_pools.first() {
            Some(pool) => new.push_str(&format!(
                " -nodePoolName {} -nodeCount {} -nodeVmSize {} -osType {}",
                quote(&pool.name),
                pool.count,
                quote(&pool.vm_size),
                quote(&pool.os_type)
            )),
            None => new.push_str(" -nodeCount 0"),
        }
        lines.push(new);
        if s.node_pools.is_empty() {
            lines.push(format!(
                "Remove-AksHciNodePool -clusterName {} -name {}",
                quote(&cluster.name),
                quote(&format!("{}-linux", cluster.name))
            ));
        }
        for pool in s.node_pools.iter().skip(1) {
            lines.push(format!(
                "New-AksHciNodePool -clusterName {} -name {} -count {} -vmSize {} -osType {}",
                quote(&cluster.name),
                quote(&pool.name),
                pool.count,
                quote(&pool.vm_size),
                quote(&pool.os_type)
            ));
        }
    }
    lines
}

/// One setting that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The setting, e.g. `vnet.vipPoolStart` or `cluster wc: ControlPlaneNodeCount`.
    pub setting: String,
    /// Its value before the disaster (`-` when absent).
    pub before: String,
    /// Its value after recreation (`-` when absent).
    pub after: String,
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.to_string() }
}

fn flatten_config(c: &AksHciConfigSpec) -> Vec<(&'static str, String)> {
    vec![
        ("version", c.version.clone()),
        ("imageDir", c.image_dir.clone()),
        ("workingDir", c.working_dir.clone()),
        ("cloudConfigLocation", c.cloud_config_location.clone()),
        ("nodeConfigLocation", c.node_config_location.clone()),
        ("controlPlaneVmSize", c.control_plane_vm_size.clone()),
        ("cloudServiceCidr", c.cloud_service_cidr.clone()),
        ("vnet.name", c.vnet.name.clone()),
        ("vnet.vswitchName", c.vnet.vswitch_name.clone()),
        ("vnet.ipAddressPrefix", c.vnet.ip_address_prefix.clone()),
        ("vnet.gateway", c.vnet.gateway.clone()),
        ("vnet.dnsServers", c.vnet.dns_servers.join(",")),
        ("vnet.vipPoolStart", c.vnet.vip_pool_start.clone()),
        ("vnet.vipPoolEnd", c.vnet.vip_pool_end.clone()),
        ("vnet.k8snodeippoolstart", c.vnet.k8s_node_ip_pool_start.clone()),
        ("vnet.k8snodeippoolend", c.vnet.k8s_node_ip_pool_end.clone()),
        ("vnet.vlanID", c.vnet.vlan_id.to_string()),
    ]
}

/// Every configuration setting whose value differs, in `Get-AksHciConfig` order.
pub fn config_differences(before: &AksHciConfigSpec, after: &AksHciConfigSpec) -> Vec<Difference> {
    flatten_config(before)
        .into_iter()
        .zip(flatten_config(after))
        .filter(|((_, b), (_, a))| a != b)
        .map(|((setting, b), (_, a))| Difference {
            setting: setting.to_string(),
            before: or_dash(&b),
            after: or_dash(&a),
        })
        .collect()
}

fn flatten_cluster(c: &AksHciClusterSpec) -> Vec<(String, String)> {
    let mut out = vec![
        ("KubernetesVersion".to_string(), c.kubernetes_version.clone()),
        ("ControlPlaneNodeCount".to_string(), c.control_plane_node_count.to_string()),
        ("ControlPlaneVmSize".to_string(), c.control_plane_vm_size.clone()),
        ("LoadBalancerCount".to_string(), c.load_balancer_count.to_string()),
        ("LoadBalancerVmSize".to_string(), c.load_balancer_vm_size.clone()),
    ];
    for p in &c.node_pools {
        out.push((
            format!("NodePool {}", p.name),
            format!("{} x {} ({})", p.count, p.vm_size, p.os_type),
        ));
    }
    out
}

/// Every cluster setting that differs between the clusters before and after; a cluster missing
/// on one side is one difference.
pub fn cluster_differences(before: &[SavedCluster], after: &[SavedCluster]) -> Vec<Difference> {
    let mut names: Vec<&str> = before.iter().chain(after).map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let b = before.iter().find(|c| c.name == name);
        let a = after.iter().find(|c| c.name == name);
        let describe = |c: &SavedCluster| {
            let s = &c.spec;
            let workers: u32 = s.node_pools.iter().map(|p| p.count).sum();
            format!(
                "{} CP x {}, {} LB x {}, {workers} workers",
                s.control_plane_node_count, s.control_plane_vm_size, s.load_balancer_count, s.load_balancer_vm_size
            )
        };
        match (b, a) {
            (Some(b), None) => out.push(Difference {
                setting: format!("cluster {name}"),
                before: describe(b),
                after: "- (not recreated)".into(),
            }),
            (None, Some(a)) => out.push(Difference {
                setting: format!("cluster {name}"),
                before: "-".into(),
                after: describe(a),
            }),
            (Some(b), Some(a)) => {
                let (fb, fa) = (flatten_cluster(&b.spec), flatten_cluster(&a.spec));
                let mut keys: Vec<&String> = fb.iter().chain(&fa).map(|(k, _)| k).collect();
                keys.dedup();
                let mut seen = std::collections::BTreeSet::new();
                for key in keys {
                    if !seen.insert(key.clone()) {
                        continue;
                    }
                    let get = |f: &[(String, String)]| f.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
                    let (vb, va) = (get(&fb), get(&fa));
                    if vb != va {
                        out.push(Difference {
                            setting: format!("cluster {name}: {key}"),
                            before: or_dash(&vb),
                            after: or_dash(&va),
                        });
                    }
                }
            }
            (None, None) => {}
        }
    }
    out
}

/// The differences as a table (`SETTING  BEFORE  AFTER`), or a line saying there are none.
pub fn render_differences(differences: &[Difference]) -> String {
    if differences.is_empty() {
        return "No differences: the recreated settings match the backup.\n".into();
    }
    let rows: Vec<Vec<String>> = differences
        .iter()
        .map(|d| vec![d.setting.clone(), d.before.clone(), d.after.clone()])
        .collect();
    crate::report::columns(&["SETTING", "BEFORE", "AFTER"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_and_truncated_backups_name_the_problem() {
        let err = parse_saved_config("{\"version\": ").expect_err("malformed").to_string();
        assert!(
            err.starts_with("the saved Get-AksHciConfig output is not valid JSON: EOF while parsing a value at line 1 column 12"),
            "{err}"
        );
        let err = parse_saved_clusters(r#"{"Name": "wc", "NodePools": ["@{Name=p; Count=3}"]}"#)
            .expect_err("truncated")
            .to_string();
        assert!(
            err.contains("NodePools[0] holds \"@{Name=p; Count=3}\": ConvertTo-Json cut it at its -Depth"),
            "{err}"
        );
        let err =
            parse_saved_clusters(r#"[{"Name": "wc", "NodePools": [], "KubernetesVersion": "v1.24.11", "ControlPlaneNodeCount": "3"}]"#)
                .expect_err("wrong type")
                .to_string();
        assert_eq!(
            err,
            "the saved Get-AksHciCluster output: the field ControlPlaneNodeCount should be a number, not the string \"3\""
        );
    }
}
