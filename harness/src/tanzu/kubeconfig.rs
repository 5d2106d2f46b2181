//! `tanzu cluster kubeconfig get NAME --admin [-n NS] [--export-file F]` (tanzu-framework
//! `tkg/tkgctl/get_credentials.go`, `tkg/client/workload_cluster.go`, `MergeKubeConfigWithoutSwitchContext`):
//! reads the admin kubeconfig Cluster API keeps in the `<cluster>-kubeconfig` Secret (key `value`)
//! and merges it into F — by default the `~/.kube/config` stand-in `<workdir>/.kube/config`. A new
//! file gets the kubeconfig as is (its current context included); an existing one gets its
//! clusters, users and contexts added or replaced by name and keeps its current context. The
//! context is the kubeconfig's own (`NAME-admin@NAME` as Cluster API writes it).

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::Api;
use serde_json::Value;

use super::{TanzuCliError, kube_ctx};

/// Why `cluster kubeconfig get` failed.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// Without `--admin` tanzu builds a Pinniped kubeconfig, which drdrill does not emulate.
    #[error(
        "only 'tanzu cluster kubeconfig get {cluster} --admin' is emulated: Pinniped kubeconfigs are not (after a management-cluster rebuild Pinniped authentication does not work anyway, a known limitation in Runbook T)"
    )]
    PinnipedNotEmulated {
        /// The cluster.
        cluster: String,
    },
    /// The Secret does not exist.
    #[error("unable to get cluster kubeconfig: Secret {namespace}/{secret} not found. Make sure the cluster name and namespace is correct")]
    SecretMissing {
        /// `<cluster>-kubeconfig`.
        secret: String,
        /// Its namespace.
        namespace: String,
    },
    /// The Secret exists but does not hold a usable kubeconfig.
    #[error("unable to get cluster kubeconfig: Secret {namespace}/{secret} key 'value' does not hold a usable kubeconfig: {reason}")]
    SecretBroken {
        /// `<cluster>-kubeconfig`.
        secret: String,
        /// Its namespace.
        namespace: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The file to merge into exists but is not a kubeconfig.
    #[error("unable to merge cluster kubeconfig into {path}: {reason}")]
    TargetBroken {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file could not be read or written.
    #[error("unable to merge cluster kubeconfig into {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The kubeconfig file `kubeconfig get` merges into when no `--export-file` is given.
pub fn default_kubeconfig_path(workdir: &Path) -> PathBuf {
    workdir.join(".kube").join("config")
}

/// Checks a kubeconfig text and returns it as a JSON value with its current context.
fn parse_kubeconfig(text: &str) -> Result<(Value, String), String> {
    kube::config::Kubeconfig::from_yaml(text).map_err(|e| e.to_string())?;
    let doc: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if !doc.is_object() {
        return Err("not a YAML mapping".into());
    }
    let context = doc.get("current-context").and_then(Value::as_str).unwrap_or_default().to_string();
    if context.is_empty() {
        return Err("it has no current-context".into());
    }
    let named = |list: &str, name: &str| {
        doc.get(list)
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().any(|i| i.get("name").and_then(Value::as_str) == Some(name)))
    };
    if !named("contexts", &context) {
        return Err(format!("its current-context {context} is not among its contexts"));
    }
    let ctx = doc
        .get("contexts")
        .and_then(Value::as_array)
        .and_then(|items| {
            items
                .iter()
                .find(|i| i.get("name").and_then(Value::as_str) == Some(context.as_str()))
        })
        .and_then(|i| i.get("context"))
        .cloned()
        .unwrap_or_default();
    for (field, list) in [("cluster", "clusters"), ("user", "users")] {
        let target = ctx.get(field).and_then(Value::as_str).unwrap_or_default();
        if !named(list, target) {
            return Err(format!("context {context} names {field} '{target}', which is not among its {list}"));
        }
    }
    Ok((doc, context))
}

/// Adds or replaces `new`'s clusters, users and contexts in `dest` by name; keeps `dest`'s current context.
fn merge(dest: &mut Value, new: &Value) {
    for list in ["clusters", "users", "contexts"] {
        let incoming = new.get(list).and_then(Value::as_array).cloned().unwrap_or_default();
        let Some(map) = dest.as_object_mut() else { return };
        let items = map.entry(list).or_insert_with(|| Value::Array(Vec::new()));
        if !items.is_array() {
            *items = Value::Array(Vec::new());
        }
        if let Some(items) = items.as_array_mut() {
            for item in incoming {
                let name = item.get("name").cloned();
                match items.iter_mut().find(|i| i.get("name") == name.as_ref()) {
                    Some(existing) => *existing = item,
                    None => items.push(item),
                }
            }
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), KubeconfigError> {
    let io = |source| KubeconfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

/// Fetches the admin kubeconfig of `name` and merges it into `export_file` (or the default file
/// under `workdir`); returns tanzu's two lines.
pub async fn kubeconfig_get(
    client: &Client,
    namespace: &str,
    name: &str,
    export_file: Option<&Path>,
    workdir: &Path,
) -> Result<String, TanzuCliError> {
    let secret_name = format!("{name}-kubeconfig");
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&secret_name)
        .await
        .map_err(kube_ctx(format!("get Secret {namespace}/{secret_name}")))?
        .ok_or_else(|| KubeconfigError::SecretMissing {
            secret: secret_name.clone(),
            namespace: namespace.to_string(),
        })?;
    let broken = |reason: String| KubeconfigError::SecretBroken {
        secret: secret_name.clone(),
        namespace: namespace.to_string(),
        reason,
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get("value"))
        .map(|b| b.0.clone())
        .ok_or_else(|| broken("the key is missing".into()))?;
    let text = String::from_utf8(bytes).map_err(|_| broken("it is not UTF-8 text".into()))?;
    let (new, context) = parse_kubeconfig(&text).map_err(broken)?;

    let path = export_file.map_or_else(|| default_kubeconfig_path(workdir), Path::to_path_buf);
    let merged = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new,
        Err(source) => return Err(KubeconfigError::Io { path, source }.into()),
        Ok(existing) => {
            let mut dest: Value = serde_yaml::from_str(&existing).map_err(|e| KubeconfigError::TargetBroken {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            if dest.is_null() {
                dest = serde_json::json!({"apiVersion": "v1", "kind": "Config"});
            }
            if !dest.is_object() {
                return Err(KubeconfigError::TargetBroken {
                    path,
                    reason: "not a YAML mapping".into(),
                }
                .into());
            }
            merge(&mut dest, &new);
            dest
        }
    };
    let yaml = serde_yaml::to_string(&merged).map_err(|e| KubeconfigError::TargetBroken {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    write_private(&path, &yaml)?;
    let access = match export_file {
        None => format!("You can now access the cluster by running 'kubectl config use-context {context}'"),
        Some(f) => format!(
            "You can now access the cluster by running 'kubectl config use-context {context}' under path '{}'",
            f.display()
        ),
    };
    Ok(format!("Credentials of cluster '{name}' have been saved\n{access}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: wc\n  cluster:\n    server: https://127.0.0.1:6443\nusers:\n- name: wc-admin\n  user:\n    token: t\ncontexts:\n- name: wc-admin@wc\n  context:\n    cluster: wc\n    user: wc-admin\ncurrent-context: wc-admin@wc\n";

    #[test]
    fn broken_kubeconfigs_say_what_is_wrong() {
        assert!(parse_kubeconfig(KUBECONFIG).is_ok());
        let no_context = KUBECONFIG.replace("current-context: wc-admin@wc\n", "");
        assert_eq!(parse_kubeconfig(&no_context).err().as_deref(), Some("it has no current-context"));
        let dangling = KUBECONFIG.replace("    user: wc-admin\n", "    user: nobody\n");
        assert_eq!(
            parse_kubeconfig(&dangling).err().as_deref(),
            Some("context wc-admin@wc names user 'nobody', which is not among its users")
        );
        assert!(parse_kubeconfig("clusters: [").is_err());
    }

    #[test]
    fn merge_replaces_by_name_and_keeps_the_rest() {
        let mut dest: Value = serde_yaml::from_str(
            "clusters:\n- name: wc\n  cluster: {server: old}\n- name: mgmt\n  cluster: {server: m}\ncurrent-context: mgmt-admin@mgmt\n",
        )
        .expect("yaml");
        let (new, _) = parse_kubeconfig(KUBECONFIG).expect("valid");
        merge(&mut dest, &new);
        let clusters = dest["clusters"].as_array().expect("clusters");
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0]["cluster"]["server"], "https://127.0.0.1:6443");
        assert_eq!(dest["current-context"], "mgmt-admin@mgmt");
        assert_eq!(dest["contexts"][0]["name"], "wc-admin@wc");
    }
}
