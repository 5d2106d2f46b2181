//! `mgmt-cluster-config.yaml`: the TKG configuration file a management cluster is built — and,
//! in Runbook T step 1, rebuilt — from. TKG's format: a flat YAML mapping of upper-case
//! variables (`CLUSTER_NAME: tkg-mgmt-vc`, `VSPHERE_SERVER: …`).
//!
//! Only the variables the simulated world uses are interpreted; the others are kept (a real
//! file has dozens) and reported by [`ManagementConfig::unused`]. Every error names the file,
//! the variable and what was expected, and nothing is built from a file that did not parse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What is wrong with a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read the management cluster configuration: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not YAML, or not a flat mapping.
    #[error("{path}: not a TKG configuration file (a YAML mapping of VARIABLE: value): {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A required variable is missing.
    #[error("{path}: {variable} is required ({what})")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The variable.
        variable: &'static str,
        /// What it means.
        what: &'static str,
    },
    /// A variable has a value of the wrong kind.
    #[error("{path}: {variable}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The variable.
        variable: String,
        /// What was expected and what was found.
        message: String,
    },
}

/// The interpreted configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementConfig {
    /// Where it was read from (or `<inline>`).
    pub path: PathBuf,
    /// `CLUSTER_NAME`: the management cluster's name.
    pub cluster_name: String,
    /// `CLUSTER_PLAN`: `dev` (1 control-plane node) or `prod` (3).
    pub plan: String,
    /// `INFRASTRUCTURE_PROVIDER`: only `vsphere` is simulated.
    pub provider: String,
    /// `VSPHERE_SERVER`: the vCenter the Site stands for.
    pub vsphere_server: String,
    /// `VSPHERE_DATACENTER`.
    pub datacenter: String,
    /// `ENABLE_MHC_WORKER_NODE` (default: `ENABLE_MHC`, default true): a MachineHealthCheck for
    /// each workload cluster's workers.
    pub mhc_worker_nodes: bool,
    /// `ENABLE_MHC_CONTROL_PLANE` (default: `ENABLE_MHC`, default true): one for its control plane.
    pub mhc_control_plane: bool,
    /// `MHC_UNKNOWN_STATUS_TIMEOUT` (default 5m).
    pub mhc_unknown_status_timeout: Duration,
    /// `MHC_FALSE_STATUS_TIMEOUT` (default 12m).
    pub mhc_false_status_timeout: Duration,
    /// `NODE_STARTUP_TIMEOUT` (default 20m).
    pub node_startup_timeout: Duration,
    /// Every variable as written (values as strings).
    pub variables: BTreeMap<String, String>,
}

const USED: &[&str] = &[
    "CLUSTER_NAME",
    "CLUSTER_PLAN",
    "INFRASTRUCTURE_PROVIDER",
    "VSPHERE_SERVER",
    "VSPHERE_DATACENTER",
    "ENABLE_MHC",
    "ENABLE_MHC_WORKER_NODE",
    "ENABLE_MHC_CONTROL_PLANE",
    "MHC_UNKNOWN_STATUS_TIMEOUT",
    "MHC_FALSE_STATUS_TIMEOUT",
    "NODE_STARTUP_TIMEOUT",
];

impl ManagementConfig {
    /// Reads and interprets a configuration file.
    pub fn load(path: &Path) -> Result<ManagementConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        ManagementConfig::parse(&text, path)
    }

    /// Interprets the text of a configuration file read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<ManagementConfig, ConfigError> {
        let path = path.to_path_buf();
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mapping = match value {
            serde_yaml::Value::Mapping(m) => m,
            serde_yaml::Value::Null => serde_yaml::Mapping::new(),
            other => {
                return Err(ConfigError::Syntax {
                    path,
                    message: format!("the document is a {}, not a mapping", yaml_kind(&other)),
                });
            }
        };
        let mut variables = BTreeMap::new();
        for (k, v) in mapping {
            let serde_yaml::Value::String(key) = k else {
                return Err(ConfigError::Syntax {
                    path,
                    message: format!("a key is a {}, not a variable name", yaml_kind(&k)),
                });
            };
            let value = match v {
                serde_yaml::Value::String(s) => s,
                serde_yaml::Value::Bool(b) => b.to_string(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Null => String::new(),
                other => {
                    return Err(ConfigError::Invalid {
                        path,
                        variable: key,
                        message: format!("expected a scalar value, found a {}", yaml_kind(&other)),
                    });
                }
            };
            variables.insert(key, value);
        }
        let get = |k: &str| variables.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let required = |variable: &'static str, what: &'static str| {
            get(variable).map(str::to_string).ok_or_else(|| ConfigError::Missing {
                path: path.clone(),
                variable,
                what,
            })
        };
        let invalid = |variable: &str, message: String| ConfigError::Invalid {
            path: path.clone(),
            variable: variable.to_string(),
            message,
        };
        let cluster_name = required("CLUSTER_NAME", "the management cluster's name")?;
        if !is_dns_label(&cluster_name) {
            return Err(invalid(
                "CLUSTER_NAME",
                format!("{cluster_name:?} is not a valid cluster name (lower-case letters, digits and '-', at most 63)"),
            ));
        }
        let provider = required("INFRASTRUCTURE_PROVIDER", "vsphere")?;
        if provider != "vsphere" {
            return Err(invalid(
                "INFRASTRUCTURE_PROVIDER",
                format!("{provider:?} is not simulated; use \"vsphere\""),
            ));
        }
        let vsphere_server = required("VSPHERE_SERVER", "the vCenter address")?;
        let plan = get("CLUSTER_PLAN").unwrap_or("dev").to_string();
        if plan != "dev" && plan != "prod" {
            return Err(invalid("CLUSTER_PLAN", format!("{plan:?} is not a plan; expected dev or prod")));
        }
        let boolean = |variable: &str, default: bool| match get(variable) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(invalid(variable, format!("expected true or false, found {other:?}"))),
        };
        let enable_mhc = boolean("ENABLE_MHC", true)?;
        let mhc_worker_nodes = boolean("ENABLE_MHC_WORKER_NODE", enable_mhc)?;
        let mhc_control_plane = boolean("ENABLE_MHC_CONTROL_PLANE", enable_mhc)?;
        let duration = |variable: &str, default: Duration| -> Result<Duration, ConfigError> {
            match get(variable) {
                None => Ok(default),
                Some(text) => drdrill_capi_sim::controllers::machinehealthcheck::parse_go_duration(text)
                    .ok_or_else(|| invalid(variable, format!("{text:?} is not a duration such as 5m or 1h30m"))),
            }
        };
        Ok(ManagementConfig {
            cluster_name,
            plan,
            provider,
            vsphere_server,
            datacenter: get("VSPHERE_DATACENTER").unwrap_or("/dc0").to_string(),
            mhc_worker_nodes,
            mhc_control_plane,
            mhc_unknown_status_timeout: duration("MHC_UNKNOWN_STATUS_TIMEOUT", Duration::from_secs(300))?,
            mhc_false_status_timeout: duration("MHC_FALSE_STATUS_TIMEOUT", Duration::from_secs(720))?,
            node_startup_timeout: duration("NODE_STARTUP_TIMEOUT", Duration::from_secs(1200))?,
            variables,
            path,
        })
    }

    /// The configuration of Runbook T's example management cluster.
    pub fn runbook_example(name: &str) -> ManagementConfig {
        let text = format!(
            "CLUSTER_NAME: {name}\nCLUSTER_PLAN: prod\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: vc01.example.com\n\
             VSPHERE_DATACENTER: /dc0\nENABLE_MHC: true\n"
        );
        // The text above is well-formed by construction; a failure here is a bug in this function.
        ManagementConfig::parse(&text, Path::new("mgmt-cluster-config.yaml")).unwrap_or_else(|e| panic!("built-in example: {e}"))
    }

    /// The file's text: every variable, sorted.
    pub fn to_yaml(&self) -> String {
        self.variables
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", serde_yaml::to_string(v).unwrap_or_default().trim_end()))
            .collect()
    }

    /// Variables present in the file that the simulated world does not interpret.
    pub fn unused(&self) -> Vec<&str> {
        self.variables.keys().map(String::as_str).filter(|k| !USED.contains(k)).collect()
    }
}

fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "null",
        serde_yaml::Value::Bool(_) => "boolean",
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::String(_) => "string",
        serde_yaml::Value::Sequence(_) => "list",
        serde_yaml::Value::Mapping(_) => "mapping",
        serde_yaml::Value::Tagged(_) => "tagged value",
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ManagementConfig, ConfigError> {
        ManagementConfig::parse(text, Path::new("mgmt-cluster-config.yaml"))
    }

    #[test]
    fn a_runbook_style_file_is_read() {
        let c = parse(
            "CLUSTER_NAME: tkg-mgmt-vc\nCLUSTER_PLAN: prod\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: 10.0.0.5\n\
             ENABLE_MHC: false\nMHC_UNKNOWN_STATUS_TIMEOUT: 10m\nVSPHERE_USERNAME: administrator@vsphere.local\nVSPHERE_WORKER_DISK_GIB: 40\n",
        )
        .expect("config");
        assert_eq!(c.cluster_name, "tkg-mgmt-vc");
        assert_eq!(c.plan, "prod");
        assert!(!c.mhc_worker_nodes && !c.mhc_control_plane);
        assert_eq!(c.mhc_unknown_status_timeout, Duration::from_secs(600));
        assert_eq!(c.node_startup_timeout, Duration::from_secs(1200));
        assert_eq!(c.unused(), vec!["VSPHERE_USERNAME", "VSPHERE_WORKER_DISK_GIB"]);
        assert_eq!(parse(&c.to_yaml()).expect("round trip"), c);
    }

    #[test]
    fn every_bad_file_names_the_file_and_the_variable() {
        let cases = [
            ("CLUSTER_NAME: [a, b\n", "mgmt-cluster-config.yaml: not a TKG configuration file"),
            ("- CLUSTER_NAME\n", "the document is a list, not a mapping"),
            ("INFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: x\n", "CLUSTER_NAME is required"),
            (
                "CLUSTER_NAME: Mgmt_1\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: x\n",
                "CLUSTER_NAME: \"Mgmt_1\" is not a valid cluster name",
            ),
            (
                "CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: aws\nVSPHERE_SERVER: x\n",
                "INFRASTRUCTURE_PROVIDER: \"aws\" is not simulated",
            ),
            ("CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: vsphere\n", "VSPHERE_SERVER is required"),
            (
                "CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: x\nCLUSTER_PLAN: big\n",
                "CLUSTER_PLAN: \"big\" is not a plan",
            ),
            (
                "CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: x\nENABLE_MHC: maybe\n",
                "ENABLE_MHC: expected true or false",
            ),
            (
                "CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: x\nNODE_STARTUP_TIMEOUT: soon\n",
                "NODE_STARTUP_TIMEOUT: \"soon\" is not a duration",
            ),
            (
                "CLUSTER_NAME: m\nINFRASTRUCTURE_PROVIDER: vsphere\nVSPHERE_SERVER: {a: 1}\n",
                "VSPHERE_SERVER: expected a scalar value, found a mapping",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(err.starts_with("mgmt-cluster-config.yaml: "), "{err}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = ManagementConfig::load(Path::new("/nonexistent/mgmt-cluster-config.yaml")).expect_err("missing");
        assert!(
            err.to_string().starts_with("/nonexistent/mgmt-cluster-config.yaml: cannot read"),
            "{err}"
        );
    }
}
