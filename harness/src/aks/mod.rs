//! The AksHci PowerShell module as Runbook A uses it, against the simulated AKS-HCI platform:
//! `Set-AksHciConfig` / `New-AksHciNetworkSetting`, `Install-AksHci`, `Uninstall-AksHci`,
//! `New-/Get-/Set-/Update-/Remove-AksHciCluster`, `New-/Get-/Set-/Remove-AksHciNodePool`,
//! `Get-AksHciConfig`, `Get-AksHciCredential`, piped into `ConvertTo-Json [-Depth N] [-Compress]`
//! or `Format-List`, with `$variables` (`$vnet = New-AksHciNetworkSetting …`).
//!
//! Parameter names, defaults and output property names follow Microsoft's AksHci PowerShell
//! reference. One deliberate simplification: `New-AksHciCluster -loadBalancerCount` sets the
//! number of HAProxy VMs directly (the module takes it from a load-balancer settings object).
//!
//! Every cluster operation goes through the management cluster's Kubernetes API. While the
//! management VM is down, those cmdlets fail with [`AksCliError::ManagementUnavailable`] naming
//! the VM and its host's state; workload clusters keep serving. Arguments are bound and checked
//! before anything is changed, so a rejected line changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use drdrill_akshci_sim::apis::{AksHciConfig, CONFIG_NAME, VirtualNetwork};
use drdrill_akshci_sim::platform::KUBECONFIG_NAMESPACE;
use drdrill_akshci_sim::{AksHciCluster, AksHciClusterSpec, AksHciConfigSpec, AksHciPlatform, NodePoolSpec, PlatformError};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};

pub mod contents;
pub mod drill;
pub mod parse;
pub mod psobject;
pub mod recreate;
pub mod site;
pub mod workloads;

use parse::{Bound, Kind, Param, bind, parse_line};
use psobject::{PsValue, format_list, object, to_json, truncation_warning};
pub use recreate::{
    Difference, RecreateError, SavedCluster, cluster_differences, config_differences, parse_saved_clusters, parse_saved_config,
    recreate_script, render_differences,
};

/// The AKS-HCI version `Set-AksHciConfig` installs when `-version` is not given.
pub const DEFAULT_AKSHCI_VERSION: &str = "1.0.17.10310";
/// Kubernetes versions that version offers, oldest first.
pub const KUBERNETES_VERSIONS: &[&str] = &["v1.23.12", "v1.23.15", "v1.24.9", "v1.24.11", "v1.25.5", "v1.25.6"];
/// The Kubernetes version new clusters get by default.
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.24.11";
/// Default size of control-plane, load-balancer and management VMs.
pub const DEFAULT_CONTROL_PLANE_VM_SIZE: &str = "Standard_A4_v2";
/// Default size of worker VMs.
pub const DEFAULT_NODE_VM_SIZE: &str = "Standard_K8S3_v1";
/// The VM sizes `Get-AksHciVmSize` lists.
pub const VM_SIZES: &[&str] = &[
    "Standard_A2_v2",
    "Standard_A4_v2",
    "Standard_D2s_v3",
    "Standard_D4s_v3",
    "Standard_D8s_v3",
    "Standard_D16s_v3",
    "Standard_D32s_v3",
    "Standard_DS2_v2",
    "Standard_DS3_v2",
    "Standard_DS4_v2",
    "Standard_DS5_v2",
    "Standard_DS13_v2",
    "Standard_K8S_v1",
    "Standard_K8S2_v1",
    "Standard_K8S3_v1",
    "Standard_K8S4_v1",
    "Standard_K8S5_v1",
    "Standard_NK6",
    "Standard_NK12",
];
/// Passes the blocking cmdlets wait for the platform to settle.
const SETTLE_PASSES: usize = 40;

/// Why a line failed. Messages follow PowerShell's wording where PowerShell has one.
#[derive(Debug, thiserror::Error)]
pub enum AksCliError {
    /// A line PowerShell cannot parse.
    #[error("At line:1 char:1\n+ {line}\n{message}")]
    Syntax {
        /// The line.
        line: String,
        /// What is wrong.
        message: String,
    },
    /// No such command.
    #[error(
        "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
    )]
    UnknownCmdlet(String),
    /// No such parameter.
    #[error("{cmdlet} : A parameter cannot be found that matches parameter name '{parameter}'.")]
    UnknownParameter {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter as typed.
        parameter: String,
    },
    /// A prefix matching several parameters.
    #[error(
        "{cmdlet} : Parameter cannot be processed because the parameter name '{parameter}' is ambiguous. Possible matches include: {candidates}."
    )]
    AmbiguousParameter {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter as typed.
        parameter: String,
        /// Matching parameters.
        candidates: String,
    },
    /// The same parameter twice.
    #[error("{cmdlet} : Cannot bind parameter because parameter '{parameter}' is specified more than once.")]
    DuplicateParameter {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        parameter: String,
    },
    /// A parameter without its value.
    #[error("{cmdlet} : Missing an argument for parameter '{parameter}'. Specify a parameter of type '{type_name}' and try again.")]
    MissingArgument {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        parameter: String,
        /// Its .NET type.
        type_name: &'static str,
    },
    /// A value of the wrong type or out of range.
    #[error(
        "{cmdlet} : Cannot process argument transformation on parameter '{parameter}'. Cannot convert value \"{value}\" to type \"{type_name}\". Error: \"{reason}\""
    )]
    BadArgument {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        parameter: String,
        /// The value given.
        value: String,
        /// The expected type.
        type_name: &'static str,
        /// Why it does not fit.
        reason: String,
    },
    /// A value PowerShell accepts but the AksHci module refuses.
    #[error("{cmdlet} : {message}")]
    Invalid {
        /// The cmdlet.
        cmdlet: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A value without a parameter name.
    #[error("{cmdlet} : A positional parameter cannot be found that accepts argument '{argument}'.")]
    Positional {
        /// The cmdlet.
        cmdlet: String,
        /// The argument.
        argument: String,
    },
    /// Mandatory parameters not given.
    #[error("{cmdlet} : Cannot process command because of one or more missing mandatory parameters: {parameters}.")]
    MissingMandatory {
        /// The cmdlet.
        cmdlet: String,
        /// The missing parameters.
        parameters: String,
    },
    /// `$name` never assigned.
    #[error("The variable '${0}' cannot be retrieved because it has not been set.")]
    UndefinedVariable(String),
    /// No workload cluster of that name.
    #[error("{cmdlet} : A workload cluster with the name '{name}' was not found.")]
    ClusterNotFound {
        /// The cmdlet.
        cmdlet: String,
        /// The name asked for.
        name: String,
    },
    /// No node pool of that name.
    #[error("{cmdlet} : A node pool with the name '{pool}' was not found in cluster '{cluster}'.")]
    NodePoolNotFound {
        /// The cmdlet.
        cmdlet: String,
        /// The cluster.
        cluster: String,
        /// The pool asked for.
        pool: String,
    },
    /// Creating something that exists.
    #[error("{cmdlet} : {what} with the name '{name}' already exists.")]
    AlreadyExists {
        /// The cmdlet.
        cmdlet: String,
        /// `A workload cluster` or `A node pool`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The management cluster does not answer: day-2 operations wait for it.
    #[error(
        "{cmdlet} : management cluster unavailable: its VM '{vm}' is {vm_state} on host '{host}' (host {host_state}). Day-2 operations (creating clusters, creating or scaling node pools, Kubernetes upgrades) are impossible until failover or a restore brings it back; workload clusters keep running."
    )]
    ManagementUnavailable {
        /// The cmdlet.
        cmdlet: String,
        /// The management VM.
        vm: String,
        /// Its state (`Failed`, `Off`).
        vm_state: String,
        /// Its host.
        host: String,
        /// The host's state (`Up`, `Down`).
        host_state: String,
    },
    /// AKS-HCI is not installed (or was uninstalled).
    #[error("{cmdlet} : AKS on Azure Stack HCI is not installed on this host cluster; run Set-AksHciConfig and Install-AksHci first.")]
    NotInstalled {
        /// The cmdlet.
        cmdlet: String,
    },
    /// The platform refused.
    #[error("{cmdlet} : {source}")]
    Platform {
        /// The cmdlet.
        cmdlet: String,
        /// Why.
        #[source]
        source: PlatformError,
    },
    /// A request to the management cluster failed for another reason.
    #[error("{cmdlet} : {action}: {source}")]
    Kube {
        /// The cmdlet.
        cmdlet: String,
        /// What it was doing.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Writing a file failed.
    #[error("{cmdlet} : cannot write {path}: {source}")]
    Io {
        /// The cmdlet.
        cmdlet: String,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What a line printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOutput {
    /// The success stream as the console shows it.
    pub stdout: String,
    /// Warning-stream messages (without the `WARNING: ` prefix).
    pub warnings: Vec<String>,
}

/// What the emulated module works against: the platform (the PowerShell session runs on a
/// host of its host cluster), a home folder for kubeconfig files, and the session's variables.
pub struct AksEnv {
    /// The AKS-HCI platform.
    pub platform: AksHciPlatform,
    /// Stand-in for `$HOME`: `Get-AksHciCredential` writes `<workdir>/.kube/config` by default.
    pub workdir: PathBuf,
    vars: Mutex<BTreeMap<String, PsValue>>,
}

impl AksEnv {
    /// A session on `platform`.
    pub fn new(platform: AksHciPlatform, workdir: PathBuf) -> Self {
        AksEnv {
            platform,
            workdir,
            vars: Mutex::new(BTreeMap::new()),
        }
    }

    /// A session variable (`$name`), if set.
    pub fn variable(&self, name: &str) -> Option<PsValue> {
        self.vars()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn vars(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PsValue>> {
        self.vars.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const fn p(name: &'static str, kind: Kind, mandatory: bool) -> Param {
    Param { name, kind, mandatory }
}

/// The cmdlets, with their documented parameters.
const CMDLETS: &[(&str, &[Param])] = &[
    (
        "New-AksHciNetworkSetting",
        &[
            p("name", Kind::Str, true),
            p("vswitchName", Kind::Str, true),
            p("ipAddressPrefix", Kind::Str, false),
            p("gateway", Kind::Str, false),
            p("dnsServers", Kind::StrArray, false),
            p("vipPoolStart", Kind::Str, false),
            p("vipPoolEnd", Kind::Str, false),
            p("k8sNodeIpPoolStart", Kind::Str, false),
            p("k8sNodeIpPoolEnd", Kind::Str, false),
            p("vlanID", Kind::Int, false),
        ],
    ),
    (
        "Set-AksHciConfig",
        &[
            p("imageDir", Kind::Str, false),
            p("workingDir", Kind::Str, false),
            p("cloudConfigLocation", Kind::Str, false),
            p("nodeConfigLocation", Kind::Str, false),
            p("vnet", Kind::Object, true),
            p("controlPlaneVmSize", Kind::Str, false),
            p("version", Kind::Str, false),
            p("cloudServiceCidr", Kind::Str, false),
        ],
    ),
    ("Install-AksHci", &[]),
    ("Uninstall-AksHci", &[p("SkipConfigCleanup", Kind::Switch, false)]),
    ("Get-AksHciConfig", &[]),
    (
        "New-AksHciCluster",
        &[
            p("name", Kind::Str, true),
            p("kubernetesVersion", Kind::Str, false),
            p("controlPlaneNodeCount", Kind::Int, false),
            p("controlPlaneVmSize", Kind::Str, false),
            p("loadBalancerVmSize", Kind::Str, false),
            p("loadBalancerCount", Kind::Int, false),
            p("nodePoolName", Kind::Str, false),
            p("nodeCount", Kind::Int, false),
            p("nodeVmSize", Kind::Str, false),
            p("osType", Kind::Str, false),
        ],
    ),
    ("Get-AksHciCluster", &[p("name", Kind::Str, false)]),
    (
        "Set-AksHciCluster",
        &[
            p("name", Kind::Str, true),
            p("controlPlaneNodeCount", Kind::Int, false),
            p("controlPlaneVmSize", Kind::Str, false),
        ],
    ),
    (
        "Update-AksHciCluster",
        &[p("name", Kind::Str, true), p("kubernetesVersion", Kind::Str, false)],
    ),
    ("Remove-AksHciCluster", &[p("name", Kind::Str, true)]),
    (
        "New-AksHciNodePool",
        &[
            p("clusterName", Kind::Str, true),
            p("name", Kind::Str, true),
            p("count", Kind::Int, false),
            p("osType", Kind::Str, false),
            p("vmSize", Kind::Str, false),
        ],
    ),
    (
        "Get-AksHciNodePool",
        &[p("clusterName", Kind::Str, false), p("name", Kind::Str, false)],
    ),
    (
        "Set-AksHciNodePool",
        &[
            p("clusterName", Kind::Str, true),
            p("name", Kind::Str, true),
            p("count", Kind::Int, false),
            p("vmSize", Kind::Str, false),
        ],
    ),
    (
        "Remove-AksHciNodePool",
        &[p("clusterName", Kind::Str, true), p("name", Kind::Str, true)],
    ),
    (
        "Get-AksHciCredential",
        &[p("name", Kind::Str, true), p("configPath", Kind::Str, false)],
    ),
    (
        "ConvertTo-Json",
        &[p("Depth", Kind::Int, false), p("Compress", Kind::Switch, false)],
    ),
    ("Format-List", &[]),
];

/// Producers are the AksHci cmdlets; formatters only take pipeline input.
const FORMATTERS: &[&str] = &["ConvertTo-Json", "Format-List"];

fn lookup(typed: &str) -> Result<(&'static str, &'static [Param]), AksCliError> {
    CMDLETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(typed))
        .map(|(name, params)| (*name, *params))
        .ok_or_else(|| AksCliError::UnknownCmdlet(typed.to_string()))
}

/// Runs one PowerShell line against `env`.
pub async fn run(line: &str, env: &AksEnv) -> Result<RunOutput, AksCliError> {
    let pipeline = parse_line(line)?;
    // Bind every stage before running any, as PowerShell does: a bad stage changes nothing.
    let mut stages = Vec::new();
    for (i, stage) in pipeline.stages.iter().enumerate() {
        let (name, params) = lookup(&stage.cmdlet)?;
        let is_formatter = FORMATTERS.contains(&name);
        if i == 0 && is_formatter {
            return Err(AksCliError::Invalid {
                cmdlet: name.to_string(),
                message: "this emulation takes its input from a pipeline: put an AksHci cmdlet before it".into(),
            });
        }
        if i > 0 && !is_formatter {
            return Err(AksCliError::Invalid {
                cmdlet: name.to_string(),
                message: "The input object cannot be bound to any parameters for the command either because the command does not take pipeline input or the input and its properties do not match any of the parameters that take pipeline input.".into(),
            });
        }
        let bound = bind(name, params, &stage.tokens, &env.vars())?;
        if let Some(depth) = bound.int("Depth").filter(|d| !(0..=100).contains(d)) {
            return Err(invalid(
                name,
                format!(
                    "Cannot validate argument on parameter 'Depth'. The {depth} argument is greater than the maximum allowed range of 100 or less than 0. Supply an argument that is less than or equal to 100 and then try the command again."
                ),
            ));
        }
        stages.push((name, bound));
    }
    let (first, first_args) = &stages[0];
    let produced = produce(first, first_args, env).await?;
    let mut objects = produced.objects;
    let mut output = RunOutput::default();
    for (name, args) in &stages[1..] {
        match *name {
            "ConvertTo-Json" => {
                let depth = args.int("Depth").unwrap_or(2);
                if objects.is_empty() {
                    continue;
                }
                let (json, truncated) = to_json(&objects, depth as usize, args.flag("Compress"));
                if truncated {
                    output.warnings.push(truncation_warning(depth as usize));
                }
                objects = vec![PsValue::Str(json)];
            }
            _ => objects = vec![PsValue::Str(format_list(&objects))],
        }
    }
    if let Some(var) = &pipeline.assign {
        let value = match objects.len() {
            0 => PsValue::Null,
            1 => objects.remove(0),
            _ => PsValue::Array(objects),
        };
        env.vars().insert(var.clone(), value);
        output.stdout = produced.messages;
        return Ok(output);
    }
    output.stdout = produced.messages;
    let (texts, objs): (Vec<PsValue>, Vec<PsValue>) = objects.into_iter().partition(|o| matches!(o, PsValue::Str(_)));
    if !objs.is_empty() {
        output.stdout.push_str(&format_list(&objs));
    }
    for text in texts {
        let text = text.display();
        output.stdout.push_str(&text);
        if !text.ends_with('\n') {
            output.stdout.push('\n');
        }
    }
    Ok(output)
}

/// A script line that failed.
#[derive(Debug, thiserror::Error)]
#[error("line {number} ({line}): {source}")]
pub struct ScriptError {
    /// 1-based line number.
    pub number: usize,
    /// The line.
    pub line: String,
    /// Why it failed.
    #[source]
    pub source: AksCliError,
    /// What the lines before it printed.
    pub output: String,
}

/// Runs lines one after another (blank lines and `#` comments skipped), stopping at the first
/// failure; returns everything printed, warnings as `WARNING: …` lines.
pub async fn run_script(script: &str, env: &AksEnv) -> Result<String, ScriptError> {
    let mut out = String::new();
    for (i, line) in script.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match run(trimmed, env).await {
            Ok(result) => {
                for w in result.warnings {
                    out.push_str(&format!("WARNING: {w}\n"));
                }
                out.push_str(&result.stdout);
            }
            Err(source) => {
                return Err(ScriptError {
                    number: i + 1,
                    line: trimmed.to_string(),
                    source,
                    output: out,
                });
            }
        }
    }
    Ok(out)
}

struct Produced {
    objects: Vec<PsValue>,
    messages: String,
}

impl Produced {
    fn objects(objects: Vec<PsValue>) -> Self {
        Produced {
            objects,
            messages: String::new(),
        }
    }
}

fn invalid(cmdlet: &str, message: impl Into<String>) -> AksCliError {
    AksCliError::Invalid {
        cmdlet: cmdlet.to_string(),
        message: message.into(),
    }
}

/// A VM size as `[VmSize]` binds it: case-insensitive, canonical spelling out.
fn vm_size(cmdlet: &str, parameter: &str, value: Option<String>, default: &str) -> Result<String, AksCliError> {
    let Some(value) = value else { return Ok(default.to_string()) };
    VM_SIZES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(&value))
        .map(|s| s.to_string())
        .ok_or_else(|| AksCliError::BadArgument {
            cmdlet: cmdlet.to_string(),
            parameter: parameter.to_string(),
            value: value.clone(),
            type_name: "VmSize",
            reason: format!("Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following enumerator names and try again: {}", VM_SIZES.join(", ")),
        })
}

fn os_type(cmdlet: &str, value: Option<String>) -> Result<String, AksCliError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("linux") => Ok("Linux".into()),
        Some("windows") => Ok("Windows".into()),
        Some(_) => Err(invalid(
            cmdlet,
            format!(
                "Cannot validate argument on parameter 'osType'. The argument \"{}\" does not belong to the set \"Linux,Windows\".",
                value.unwrap_or_default()
            ),
        )),
    }
}

fn count(cmdlet: &str, parameter: &str, value: Option<i64>, default: u32, min: u32, max: u32) -> Result<u32, AksCliError> {
    let n = value.unwrap_or(i64::from(default));
    if n < i64::from(min) || n > i64::from(max) {
        return Err(invalid(
            cmdlet,
            format!("Cannot validate argument on parameter '{parameter}'. The argument {n} is outside the range {min} to {max}."),
        ));
    }
    Ok(n as u32)
}

/// Cluster and node-pool names: lowercase letters, digits and hyphens, starting with a letter.
fn resource_name(cmdlet: &str, parameter: &str, name: &str) -> Result<(), AksCliError> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(invalid(
            cmdlet,
            format!(
                "'{name}' is not a valid {parameter}: use 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
            ),
        ));
    }
    if parameter != "name" && ["control-plane", "load-balancer"].contains(&name) {
        return Err(invalid(
            cmdlet,
            format!("'{name}' is reserved for the cluster's own VMs; choose another node pool name."),
        ));
    }
    Ok(())
}

fn kubernetes_version(cmdlet: &str, value: &str) -> Result<String, AksCliError> {
    KUBERNETES_VERSIONS
        .iter()
        .find(|v| v.eq_ignore_ascii_case(value) || v.trim_start_matches('v') == value)
        .map(|v| v.to_string())
        .ok_or_else(|| {
            invalid(
                cmdlet,
                format!(
                    "Kubernetes version '{value}' is not available; available versions: {}.",
                    KUBERNETES_VERSIONS.join(", ")
                ),
            )
        })
}

/// The object `New-AksHciNetworkSetting` returns and `Get-AksHciConfig` shows as `vnet`.
pub fn vnet_object(vnet: &VirtualNetwork) -> PsValue {
    object([
        ("name", vnet.name.clone().into()),
        ("vswitchName", vnet.vswitch_name.clone().into()),
        ("ipAddressPrefix", vnet.ip_address_prefix.clone().into()),
        ("gateway", vnet.gateway.clone().into()),
        (
            "dnsServers",
            PsValue::Array(vnet.dns_servers.iter().map(|s| s.clone().into()).collect()),
        ),
        ("vipPoolStart", vnet.vip_pool_start.clone().into()),
        ("vipPoolEnd", vnet.vip_pool_end.clone().into()),
        ("k8snodeippoolstart", vnet.k8s_node_ip_pool_start.clone().into()),
        ("k8snodeippoolend", vnet.k8s_node_ip_pool_end.clone().into()),
        ("vlanID", vnet.vlan_id.into()),
    ])
}

/// The object `Get-AksHciConfig` returns.
pub fn config_object(config: &AksHciConfigSpec) -> PsValue {
    object([
        ("version", config.version.clone().into()),
        ("imageDir", config.image_dir.clone().into()),
        ("workingDir", config.working_dir.clone().into()),
        ("cloudConfigLocation", config.cloud_config_location.clone().into()),
        ("nodeConfigLocation", config.node_config_location.clone().into()),
        ("controlPlaneVmSize", config.control_plane_vm_size.clone().into()),
        ("cloudServiceCidr", config.cloud_service_cidr.clone().into()),
        ("vnet", vnet_object(&config.vnet)),
    ])
}

/// The object `Get-AksHciCluster` returns (property names as the AksHci reference shows them,
/// plus the load-balancer count and size and the node pools' counts and sizes).
pub fn cluster_object(cluster: &AksHciCluster) -> PsValue {
    let spec = &cluster.spec;
    let nodes_of = |os: &str| spec.node_pools.iter().filter(|p| p.os_type == os).map(|p| p.count).sum::<u32>();
    let state = cluster
        .status
        .as_ref()
        .map(|s| s.provisioning_state.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "provisioning".into());
    object([
        ("ProvisioningState", state.into()),
        ("KubernetesVersion", spec.kubernetes_version.clone().into()),
        (
            "NodePools",
            PsValue::Array(
                spec.node_pools
                    .iter()
                    .map(|p| {
                        object([
                            ("Name", p.name.clone().into()),
                            ("Count", p.count.into()),
                            ("VmSize", p.vm_size.clone().into()),
                            ("OsType", p.os_type.clone().into()),
                        ])
                    })
                    .collect(),
            ),
        ),
        ("WindowsNodeCount", nodes_of("Windows").into()),
        ("LinuxNodeCount", nodes_of("Linux").into()),
        ("ControlPlaneNodeCount", spec.control_plane_node_count.into()),
        ("ControlPlaneVmSize", spec.control_plane_vm_size.clone().into()),
        ("LoadBalancerCount", spec.load_balancer_count.into()),
        ("LoadBalancerVmSize", spec.load_balancer_vm_size.clone().into()),
        ("AutoScalerEnabled", false.into()),
        ("Name", cluster.name_any().into()),
    ])
}

/// The object `Get-AksHciNodePool` returns.
pub fn node_pool_object(cluster: &AksHciCluster, pool: &NodePoolSpec) -> PsValue {
    let phase = cluster
        .status
        .as_ref()
        .and_then(|s| s.node_pools.iter().find(|p| p.name == pool.name))
        .map(|p| p.phase.clone())
        .unwrap_or_else(|| "Deploying".into());
    object([
        ("ClusterName", cluster.name_any().into()),
        ("NodePoolName", pool.name.clone().into()),
        ("Version", cluster.spec.kubernetes_version.clone().into()),
        ("OsType", pool.os_type.clone().into()),
        ("NodeCount", pool.count.into()),
        ("VmSize", pool.vm_size.clone().into()),
        ("Phase", phase.into()),
        ("AutoScalerEnabled", false.into()),
    ])
}

/// The platform's view of the management VM, for the day-2 gating error.
fn unavailable(env: &AksEnv, cmdlet: &str) -> Option<AksCliError> {
    let vm = env.platform.management_vm()?;
    if vm.is_running() {
        return None;
    }
    let host_state = env
        .platform
        .hosts()
        .host_state(&vm.host)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into());
    Some(AksCliError::ManagementUnavailable {
        cmdlet: cmdlet.to_string(),
        vm: vm.spec.name.clone(),
        vm_state: vm.state.label().to_string(),
        host: vm.host,
        host_state,
    })
}

/// Maps a failed management-cluster request: a transport failure while the management VM is
/// down is the day-2 gate; anything else is reported with what the cmdlet was doing.
fn api_err<'a>(env: &'a AksEnv, cmdlet: &'a str, action: impl Into<String>) -> impl FnOnce(kube::Error) -> AksCliError + 'a {
    let action = action.into();
    move |source| {
        if !matches!(source, kube::Error::Api(_))
            && let Some(gate) = unavailable(env, cmdlet)
        {
            return gate;
        }
        AksCliError::Kube {
            cmdlet: cmdlet.to_string(),
            action,
            source,
        }
    }
}

fn platform_err(cmdlet: &str) -> impl FnOnce(PlatformError) -> AksCliError + '_ {
    move |source| match source {
        PlatformError::NotInstalled(_) => AksCliError::NotInstalled {
            cmdlet: cmdlet.to_string(),
        },
        source => AksCliError::Platform {
            cmdlet: cmdlet.to_string(),
            source,
        },
    }
}

/// The management cluster's client, after the world has caught up.
async fn management(env: &AksEnv, cmdlet: &str) -> Result<Client, AksCliError> {
    if env.platform.is_installed().await {
        env.platform.sync().await.map_err(platform_err(cmdlet))?;
    }
    env.platform.management_client().await.map_err(platform_err(cmdlet))
}

async fn get_cluster(env: &AksEnv, client: &Client, cmdlet: &str, name: &str) -> Result<AksHciCluster, AksCliError> {
    Api::<AksHciCluster>::all(client.clone())
        .get_opt(name)
        .await
        .map_err(api_err(env, cmdlet, format!("reading cluster {name}")))?
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .ok_or_else(|| AksCliError::ClusterNotFound {
            cmdlet: cmdlet.to_string(),
            name: name.to_string(),
        })
}

async fn settle(env: &AksEnv, cmdlet: &str) -> Result<(), AksCliError> {
    env.platform.settle(SETTLE_PASSES).await.map(|_| ()).map_err(platform_err(cmdlet))
}

async fn replace_spec(env: &AksEnv, client: &Client, cmdlet: &str, cluster: &AksHciCluster) -> Result<AksHciCluster, AksCliError> {
    let name = cluster.name_any();
    let api: Api<AksHciCluster> = Api::all(client.clone());
    api.replace(&name, &PostParams::default(), cluster)
        .await
        .map_err(api_err(env, cmdlet, format!("updating cluster {name}")))?;
    settle(env, cmdlet).await?;
    get_cluster(env, client, cmdlet, &name).await
}

fn pool_index(cmdlet: &str, cluster: &AksHciCluster, pool: &str) -> Result<usize, AksCliError> {
    cluster
        .spec
        .node_pools
        .iter()
        .position(|p| p.name == pool)
        .ok_or_else(|| AksCliError::NodePoolNotFound {
            cmdlet: cmdlet.to_string(),
            cluster: cluster.name_any(),
            pool: pool.to_string(),
        })
}

fn required(args: &Bound, name: &str) -> String {
    args.str(name).unwrap_or_default()
}

async fn produce(cmdlet: &str, args: &Bound, env: &AksEnv) -> Result<Produced, AksCliError> {
    match cmdlet {
        "New-AksHciNetworkSetting" => {
            let vnet = VirtualNetwork {
                name: required(args, "name"),
                vswitch_name: required(args, "vswitchName"),
                ip_address_prefix: args.str("ipAddressPrefix").unwrap_or_default(),
                gateway: args.str("gateway").unwrap_or_default(),
                dns_servers: match args.value("dnsServers") {
                    Some(PsValue::Array(items)) => items.iter().map(PsValue::display).collect(),
                    _ => Vec::new(),
                },
                vip_pool_start: args.str("vipPoolStart").unwrap_or_default(),
                vip_pool_end: args.str("vipPoolEnd").unwrap_or_default(),
                k8s_node_ip_pool_start: args.str("k8sNodeIpPoolStart").unwrap_or_default(),
                k8s_node_ip_pool_end: args.str("k8sNodeIpPoolEnd").unwrap_or_default(),
                vlan_id: count(cmdlet, "vlanID", args.int("vlanID"), 0, 0, 4094)?,
            };
            if vnet.vip_pool_start.is_empty() != vnet.vip_pool_end.is_empty() {
                return Err(invalid(cmdlet, "-vipPoolStart and -vipPoolEnd go together: give both or neither."));
            }
            Ok(Produced::objects(vec![vnet_object(&vnet)]))
        }
        "Set-AksHciConfig" => {
            if env.platform.is_installed().await {
                return Err(invalid(
                    cmdlet,
                    "AKS on Azure Stack HCI is already installed; the configuration can only be set before Install-AksHci (run Uninstall-AksHci first).",
                ));
            }
            let vnet_value = args.value("vnet").cloned().unwrap_or(PsValue::Null);
            let vnet = recreate::vnet_from_object(&vnet_value).map_err(|e| invalid(cmdlet, format!("-vnet: {e}")))?;
            let config = AksHciConfigSpec {
                version: args.str("version").unwrap_or_else(|| DEFAULT_AKSHCI_VERSION.into()),
                image_dir: args.str("imageDir").unwrap_or_else(|| r"C:\AksHciImageStore".into()),
                working_dir: args.str("workingDir").unwrap_or_else(|| r"C:\AksHci".into()),
                cloud_config_location: args.str("cloudConfigLocation").unwrap_or_else(|| r"C:\wssdcloudagent".into()),
                node_config_location: args.str("nodeConfigLocation").unwrap_or_else(|| r"C:\wssdagent".into()),
                control_plane_vm_size: vm_size(
                    cmdlet,
                    "controlPlaneVmSize",
                    args.str("controlPlaneVmSize"),
                    DEFAULT_CONTROL_PLANE_VM_SIZE,
                )?,
                cloud_service_cidr: args.str("cloudServiceCidr").unwrap_or_default(),
                vnet,
            };
            env.platform.stage_config(config).await;
            Ok(Produced::objects(Vec::new()))
        }
        "Install-AksHci" => {
            let vm = env.platform.install().await.map_err(platform_err(cmdlet))?;
            settle(env, cmdlet).await?;
            Ok(Produced {
                objects: Vec::new(),
                messages: format!(
                    "AKS on Azure Stack HCI is installed: management cluster VM {} ({}) on host {}.\n",
                    vm.spec.name, vm.spec.vm_size, vm.host
                ),
            })
        }
        "Uninstall-AksHci" => {
            let keep = if args.flag("SkipConfigCleanup") {
                env.platform.staged_config().await
            } else {
                None
            };
            let removed = env.platform.uninstall().await.map_err(platform_err(cmdlet))?;
            if let Some(config) = keep {
                env.platform.stage_config(config).await;
            }
            Ok(Produced {
                objects: Vec::new(),
                messages: format!(
                    "AKS on Azure Stack HCI is uninstalled: removed {} VMs{}.\n",
                    removed.len(),
                    if args.flag("SkipConfigCleanup") {
                        "; the configuration is kept"
                    } else {
                        " and the configuration"
                    }
                ),
            })
        }
        "Get-AksHciConfig" => {
            let client = management(env, cmdlet).await?;
            let config = Api::<AksHciConfig>::all(client).get(CONFIG_NAME).await.map_err(api_err(
                env,
                cmdlet,
                "reading the AKS-HCI configuration",
            ))?;
            Ok(Produced::objects(vec![config_object(&config.spec)]))
        }
        "New-AksHciCluster" => {
            let name = required(args, "name");
            resource_name(cmdlet, "name", &name)?;
            let pool_name = args.str("nodePoolName").unwrap_or_else(|| format!("{name}-linux"));
            resource_name(cmdlet, "nodePoolName", &pool_name)?;
            let spec = AksHciClusterSpec {
                kubernetes_version: kubernetes_version(
                    cmdlet,
                    &args.str("kubernetesVersion").unwrap_or_else(|| DEFAULT_KUBERNETES_VERSION.into()),
                )?,
                control_plane_node_count: {
                    let n = count(cmdlet, "controlPlaneNodeCount", args.int("controlPlaneNodeCount"), 1, 1, 5)?;
                    if n % 2 == 0 {
                        return Err(invalid(
                            cmdlet,
                            format!("-controlPlaneNodeCount must be 1, 3 or 5 (etcd needs an odd count), not {n}."),
                        ));
                    }
                    n
                },
                control_plane_vm_size: vm_size(
                    cmdlet,
                    "controlPlaneVmSize",
                    args.str("controlPlaneVmSize"),
                    DEFAULT_CONTROL_PLANE_VM_SIZE,
                )?,
                load_balancer_count: count(cmdlet, "loadBalancerCount", args.int("loadBalancerCount"), 1, 0, 10)?,
                load_balancer_vm_size: vm_size(
                    cmdlet,
                    "loadBalancerVmSize",
                    args.str("loadBalancerVmSize"),
                    DEFAULT_CONTROL_PLANE_VM_SIZE,
                )?,
                node_pools: vec![NodePoolSpec {
                    name: pool_name,
                    count: count(cmdlet, "nodeCount", args.int("nodeCount"), 1, 0, 250)?,
                    vm_size: vm_size(cmdlet, "nodeVmSize", args.str("nodeVmSize"), DEFAULT_NODE_VM_SIZE)?,
                    os_type: os_type(cmdlet, args.str("osType"))?,
                }],
            };
            let client = management(env, cmdlet).await?;
            let api: Api<AksHciCluster> = Api::all(client.clone());
            match api.create(&PostParams::default(), &AksHciCluster::new(&name, spec)).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    return Err(AksCliError::AlreadyExists {
                        cmdlet: cmdlet.to_string(),
                        what: "A workload cluster",
                        name,
                    });
                }
                Err(e) => return Err(api_err(env, cmdlet, format!("creating cluster {name}"))(e)),
            }
            settle(env, cmdlet).await?;
            let cluster = get_cluster(env, &client, cmdlet, &name).await?;
            Ok(Produced::objects(vec![cluster_object(&cluster)]))
        }
        "Get-AksHciCluster" => {
            let client = management(env, cmdlet).await?;
            let clusters = match args.str("name") {
                Some(name) => vec![get_cluster(env, &client, cmdlet, &name).await?],
                None => Api::<AksHciCluster>::all(client)
                    .list(&ListParams::default())
                    .await
                    .map_err(api_err(env, cmdlet, "listing clusters"))?
                    .items
                    .into_iter()
                    .filter(|c| c.metadata.deletion_timestamp.is_none())
                    .collect(),
            };
            Ok(Produced::objects(clusters.iter().map(cluster_object).collect()))
        }
        "Set-AksHciCluster" => {
            let name = required(args, "name");
            if args.value("controlPlaneNodeCount").is_none() && args.value("controlPlaneVmSize").is_none() {
                return Err(invalid(
                    cmdlet,
                    "give -controlPlaneNodeCount or -controlPlaneVmSize (nothing to change).",
                ));
            }
            let new_count = match args.int("controlPlaneNodeCount") {
                Some(n) => {
                    let n = count(cmdlet, "controlPlaneNodeCount", Some(n), 1, 1, 5)?;
                    if n % 2 == 0 {
                        return Err(invalid(
                            cmdlet,
                            format!("-controlPlaneNodeCount must be 1, 3 or 5 (etcd needs an odd count), not {n}."),
                        ));
                    }
                    Some(n)
                }
                None => None,
            };
            let new_size = match args.str("controlPlaneVmSize") {
                Some(s) => Some(vm_size(cmdlet, "controlPlaneVmSize", Some(s), DEFAULT_CONTROL_PLANE_VM_SIZE)?),
                None => None,
            };
            let client = management(env, cmdlet).await?;
            let mut cluster = get_cluster(env, &client, cmdlet, &name).await?;
            if let Some(n) = new_count {
                cluster.spec.control_plane_node_count = n;
            }
            if let Some(s) = new_size {
                cluster.spec.control_plane_vm_size = s;
            }
            let cluster = replace_spec(env, &client, cmdlet, &cluster).await?;
            Ok(Produced::objects(vec![cluster_object(&cluster)]))
        }
        "Update-AksHciCluster" => {
            let name = required(args, "name");
            let wanted = match args.str("kubernetesVersion") {
                Some(v) => Some(kubernetes_version(cmdlet, &v)?),
                None => None,
            };
            let client = management(env, cmdlet).await?;
            let mut cluster = get_cluster(env, &client, cmdlet, &name).await?;
            let current = KUBERNETES_VERSIONS.iter().position(|v| *v == cluster.spec.kubernetes_version);
            let target = match wanted {
                Some(v) => v,
                None => match current.and_then(|i| KUBERNETES_VERSIONS.get(i + 1)) {
                    Some(next) => next.to_string(),
                    None => {
                        return Err(invalid(
                            cmdlet,
                            format!(
                                "cluster '{name}' already runs {}, the newest Kubernetes version available.",
                                cluster.spec.kubernetes_version
                            ),
                        ));
                    }
                },
            };
            let target_index = KUBERNETES_VERSIONS.iter().position(|v| *v == target);
            if target_index <= current {
                return Err(invalid(
                    cmdlet,
                    format!(
                        "cluster '{name}' runs {}; Update-AksHciCluster only upgrades, and {target} is not newer.",
                        cluster.spec.kubernetes_version
                    ),
                ));
            }
            cluster.spec.kubernetes_version = target;
            let cluster = replace_spec(env, &client, cmdlet, &cluster).await?;
            Ok(Produced::objects(vec![cluster_object(&cluster)]))
        }
        "Remove-AksHciCluster" => {
            let name = required(args, "name");
            let client = management(env, cmdlet).await?;
            get_cluster(env, &client, cmdlet, &name).await?;
            Api::<AksHciCluster>::all(client)
                .delete(&name, &DeleteParams::default())
                .await
                .map_err(api_err(env, cmdlet, format!("removing cluster {name}")))?;
            settle(env, cmdlet).await?;
            Ok(Produced::objects(Vec::new()))
        }
        "New-AksHciNodePool" => {
            let (cluster_name, pool) = (required(args, "clusterName"), required(args, "name"));
            resource_name(cmdlet, "name of the node pool", &pool)?;
            let spec = NodePoolSpec {
                name: pool.clone(),
                count: count(cmdlet, "count", args.int("count"), 1, 0, 250)?,
                vm_size: vm_size(cmdlet, "vmSize", args.str("vmSize"), DEFAULT_NODE_VM_SIZE)?,
                os_type: os_type(cmdlet, args.str("osType"))?,
            };
            let client = management(env, cmdlet).await?;
            let mut cluster = get_cluster(env, &client, cmdlet, &cluster_name).await?;
            if cluster.spec.node_pools.iter().any(|p| p.name == pool) {
                return Err(AksCliError::AlreadyExists {
                    cmdlet: cmdlet.to_string(),
                    what: "A node pool",
                    name: pool,
                });
            }
            cluster.spec.node_pools.push(spec.clone());
            let cluster = replace_spec(env, &client, cmdlet, &cluster).await?;
            Ok(Produced::objects(vec![node_pool_object(&cluster, &spec)]))
        }
        "Get-AksHciNodePool" => {
            let client = management(env, cmdlet).await?;
            let clusters = match args.str("clusterName") {
                Some(name) => vec![get_cluster(env, &client, cmdlet, &name).await?],
                None => {
                    Api::<AksHciCluster>::all(client)
                        .list(&ListParams::default())
                        .await
                        .map_err(api_err(env, cmdlet, "listing clusters"))?
                        .items
                }
            };
            let mut objects = Vec::new();
            for cluster in &clusters {
                if let Some(pool) = args.str("name") {
                    let i = pool_index(cmdlet, cluster, &pool)?;
                    objects.push(node_pool_object(cluster, &cluster.spec.node_pools[i]));
                } else {
                    objects.extend(cluster.spec.node_pools.iter().map(|p| node_pool_object(cluster, p)));
                }
            }
            Ok(Produced::objects(objects))
        }
        "Set-AksHciNodePool" => {
            let (cluster_name, pool) = (required(args, "clusterName"), required(args, "name"));
            if args.value("count").is_none() && args.value("vmSize").is_none() {
                return Err(invalid(cmdlet, "give -count or -vmSize (nothing to change)."));
            }
            let new_count = match args.int("count") {
                Some(n) => Some(count(cmdlet, "count", Some(n), 1, 0, 250)?),
                None => None,
            };
            let new_size = match args.str("vmSize") {
                Some(s) => Some(vm_size(cmdlet, "vmSize", Some(s), DEFAULT_NODE_VM_SIZE)?),
                None => None,
            };
            let client = management(env, cmdlet).await?;
            let mut cluster = get_cluster(env, &client, cmdlet, &cluster_name).await?;
            let i = pool_index(cmdlet, &cluster, &pool)?;
            if let Some(n) = new_count {
                cluster.spec.node_pools[i].count = n;
            }
            if let Some(s) = new_size {
                cluster.spec.node_pools[i].vm_size = s;
            }
            let cluster = replace_spec(env, &client, cmdlet, &cluster).await?;
            let i = pool_index(cmdlet, &cluster, &pool)?;
            Ok(Produced::objects(vec![node_pool_object(&cluster, &cluster.spec.node_pools[i])]))
        }
        "Remove-AksHciNodePool" => {
            let (cluster_name, pool) = (required(args, "clusterName"), required(args, "name"));
            let client = management(env, cmdlet).await?;
            let mut cluster = get_cluster(env, &client, cmdlet, &cluster_name).await?;
            let i = pool_index(cmdlet, &cluster, &pool)?;
            cluster.spec.node_pools.remove(i);
            replace_spec(env, &client, cmdlet, &cluster).await?;
            Ok(Produced::objects(Vec::new()))
        }
        "Get-AksHciCredential" => {
            let name = required(args, "name");
            let client = management(env, cmdlet).await?;
            get_cluster(env, &client, cmdlet, &name).await?;
            let secret = Api::<Secret>::namespaced(client, KUBECONFIG_NAMESPACE)
                .get(&format!("{name}-kubeconfig"))
                .await
                .map_err(api_err(env, cmdlet, format!("reading the kubeconfig of {name}")))?;
            let bytes = secret
                .data
                .and_then(|d| d.get("value").map(|v| v.0.clone()))
                .ok_or_else(|| invalid(cmdlet, format!("the kubeconfig Secret of cluster '{name}' has no 'value' key")))?;
            let path = match args.str("configPath") {
                Some(p) => env.workdir.join(p),
                None => env.workdir.join(".kube").join("config"),
            };
            let io = |source| AksCliError::Io {
                cmdlet: cmdlet.to_string(),
                path: path.clone(),
                source,
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            std::fs::write(&path, bytes).map_err(io)?;
            Ok(Produced::objects(Vec::new()))
        }
        other => Err(AksCliError::UnknownCmdlet(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cmdlet_is_known_and_unknown_ones_use_powershell_wording() {
        assert_eq!(lookup("get-akshcicluster").expect("case-insensitive").0, "Get-AksHciCluster");
        let err = lookup("Get-AksHciClusters").expect_err("unknown");
        assert!(
            err.to_string()
                .starts_with("The term 'Get-AksHciClusters' is not recognized as the name of a cmdlet")
        );
        assert_eq!(
            vm_size("X", "vmSize", Some("standard_a2_V2".into()), "d").expect("size"),
            "Standard_A2_v2"
        );
        assert!(vm_size("X", "vmSize", Some("Standard_Huge".into()), "d").is_err());
        assert_eq!(kubernetes_version("X", "1.25.6").expect("version"), "v1.25.6");
        assert!(resource_name("X", "name", "Bad_Name").is_err());
        assert!(resource_name("X", "nodePoolName", "control-plane").is_err());
    }
}
