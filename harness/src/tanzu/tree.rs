//! The condition tree of `tanzu cluster get` (its `Details:`), built as clusterctl's
//! `describe cluster` discovery builds it and printed as the tanzu cluster plugin prints it.
//!
//! Discovery (cluster-api v1.2 `cmd/clusterctl/client/tree`, with the options the tanzu CLI passes
//! by default: no echo, no grouping, no MachineSets): the Cluster; its infrastructure as
//! `ClusterInfrastructure`; its control plane as `ControlPlane` with the control-plane Machines
//! under it; a virtual `Workers` node when there are Machines other than control-plane ones, with
//! each MachineDeployment and the Machines of the MachineSets it controls, and a virtual `Other`
//! node for Machines no MachineSet controls. A Machine's infrastructure and bootstrap objects
//! appear only when their Ready condition is not True and differs from the Machine's.
//!
//! Printing (tanzu-framework `cmd/cli/plugin/cluster/get.go`): children sorted by their printed
//! name, box-drawing prefixes, columns NAME READY SEVERITY REASON SINCE MESSAGE separated by two
//! spaces (uitable), READY/SEVERITY/REASON from the Ready condition, SINCE its
//! lastTransitionTime humanized against the clock, messages cut at 100 characters. The root
//! Cluster prints as `/name`: the tanzu CLI reads it with a typed client that leaves its kind
//! empty. Colours are off (output is not a terminal); trailing blanks are trimmed.

use drdrill_apis::capi::{CONTROL_PLANE_LABEL, Condition, Machine, MachineDeployment, MachineSet};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Client, Resource, ResourceExt};

/// One row of the tree and its children.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// The printed name, e.g. `ControlPlane - KubeadmControlPlane/wc-x` or `Workers`.
    pub name: String,
    /// The object's Ready condition, if it has one (virtual nodes have none).
    pub ready: Option<Condition>,
    /// Whether the object has a deletionTimestamp.
    pub deleted: bool,
    /// The children, in any order (printing sorts them by name).
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    fn object(meta_name: Option<&str>, kind: &str, name: &str, conditions: &[Condition], deleted: bool) -> Self {
        let object = format!("{kind}/{name}");
        TreeNode {
            name: meta_name.map_or(object.clone(), |m| format!("{m} - {object}")),
            ready: conditions.iter().find(|c| c.type_ == "Ready").cloned(),
            deleted,
            children: Vec::new(),
        }
    }

    fn virtual_node(name: &str) -> Self {
        TreeNode {
            name: name.to_string(),
            ready: None,
            deleted: false,
            children: Vec::new(),
        }
    }
}

/// An object fetched through a reference (clusterctl's `external.Get`): its name, deletion and conditions.
struct External {
    kind: String,
    name: String,
    deleted: bool,
    conditions: Vec<Condition>,
}

async fn get_external(client: &Client, reference: Option<&ObjectReference>, namespace: &str) -> Option<External> {
    let reference = reference?;
    let (kind, name) = (reference.kind.clone()?, reference.name.clone()?);
    let api_version = reference.api_version.clone()?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &kind));
    let ns = reference.namespace.clone().unwrap_or_else(|| namespace.to_string());
    // As clusterctl: an object that cannot be read is left out of the tree.
    let obj = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &resource)
        .get(&name)
        .await
        .ok()?;
    let conditions = obj
        .data
        .pointer("/status/conditions")
        .cloned()
        .and_then(|v| serde_json::from_value::<Vec<Condition>>(v).ok())
        .unwrap_or_default();
    Some(External {
        kind,
        name,
        deleted: obj.metadata.deletion_timestamp.is_some(),
        conditions,
    })
}

fn controlled_by(meta: &kube::api::ObjectMeta, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| {
        meta.owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true) && r.uid == uid)
    })
}

fn same_ready(a: Option<&Condition>, b: Option<&Condition>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.status == b.status && a.severity == b.severity && a.reason == b.reason,
        _ => false,
    }
}

/// Builds the tree of the Cluster `name` in `namespace`; `None` when there is no such Cluster.
pub async fn discover(client: &Client, namespace: &str, name: &str) -> Result<Option<TreeNode>, kube::Error> {
    let Some(cluster) = Api::<drdrill_apis::capi::Cluster>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?
    else {
        return Ok(None);
    };
    let status = cluster.status.clone().unwrap_or_default();
    let mut root = TreeNode {
        name: format!("/{name}"),
        ready: status.conditions.iter().find(|c| c.type_ == "Ready").cloned(),
        deleted: cluster.meta().deletion_timestamp.is_some(),
        children: Vec::new(),
    };
    if let Some(infra) = get_external(client, cluster.spec.infrastructure_ref.as_ref(), namespace).await {
        root.children.push(TreeNode::object(
            Some("ClusterInfrastructure"),
            &infra.kind,
            &infra.name,
            &infra.conditions,
            infra.deleted,
        ));
    }
    let selector = ListParams::default().labels(&format!("{}={name}", drdrill_apis::capi::CLUSTER_NAME_LABEL));
    let machines = Api::<Machine>::namespaced(client.clone(), namespace).list(&selector).await?.items;
    let mut placed: Vec<String> = Vec::new();

    let control_plane = get_external(client, cluster.spec.control_plane_ref.as_ref(), namespace).await;
    let cp_machines: Vec<&Machine> = machines.iter().filter(|m| m.labels().contains_key(CONTROL_PLANE_LABEL)).collect();
    if let Some(cp) = control_plane {
        let mut node = TreeNode::object(Some("ControlPlane"), &cp.kind, &cp.name, &cp.conditions, cp.deleted);
        for m in &cp_machines {
            node.children.push(machine_node(client, m, namespace).await);
            placed.push(m.name_any());
        }
        root.children.push(node);
    }

    if machines.len() != cp_machines.len() {
        let mut workers = TreeNode::virtual_node("Workers");
        let mds = Api::<MachineDeployment>::namespaced(client.clone(), namespace)
            .list(&selector)
            .await?
            .items;
        let sets = Api::<MachineSet>::namespaced(client.clone(), namespace)
            .list(&selector)
            .await?
            .items;
        for md in &mds {
            let md_status = md.status.clone().unwrap_or_default();
            let mut node = TreeNode::object(
                None,
                "MachineDeployment",
                &md.name_any(),
                &md_status.conditions,
                md.meta().deletion_timestamp.is_some(),
            );
            for ms in sets.iter().filter(|s| controlled_by(s.meta(), md.uid().as_deref())) {
                for m in machines.iter().filter(|m| controlled_by(m.meta(), ms.uid().as_deref())) {
                    node.children.push(machine_node(client, m, namespace).await);
                    placed.push(m.name_any());
                }
            }
            workers.children.push(node);
        }
        let orphans: Vec<&Machine> = machines.iter().filter(|m| !placed.contains(&m.name_any())).collect();
        if !orphans.is_empty() {
            let mut other = TreeNode::virtual_node("Other");
            for m in orphans {
                other.children.push(machine_node(client, m, namespace).await);
            }
            workers.children.push(other);
        }
        root.children.push(workers);
    }
    Ok(Some(root))
}

/// A Machine with its infrastructure and bootstrap objects when they are worth showing
/// (clusterctl's NoEcho: hidden when Ready is True or echoes the Machine's own Ready).
async fn machine_node(client: &Client, machine: &Machine, namespace: &str) -> TreeNode {
    let status = machine.status.clone().unwrap_or_default();
    let mut node = TreeNode::object(
        None,
        "Machine",
        &machine.name_any(),
        &status.conditions,
        machine.meta().deletion_timestamp.is_some(),
    );
    let refs = [
        ("MachineInfrastructure", Some(&machine.spec.infrastructure_ref)),
        ("BootstrapConfig", machine.spec.bootstrap.config_ref.as_ref()),
    ];
    for (meta_name, reference) in refs {
        let Some(obj) = get_external(client, reference, namespace).await else {
            continue;
        };
        let child = TreeNode::object(Some(meta_name), &obj.kind, &obj.name, &obj.conditions, obj.deleted);
        let ready_true = child.ready.as_ref().is_some_and(Condition::is_true);
        if !ready_true && !same_ready(node.ready.as_ref(), child.ready.as_ref()) {
            node.children.push(child);
        }
    }
    node
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`: the SINCE column.
pub fn human_duration(d: jiff::SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

const FIRST: &str = "├─";
const LAST: &str = "└─";
const PIPE: &str = "│ ";
const BLANK: &str = "  ";

/// Replaces the first `n` occurrences of `from` (Go's `strings.Replace` with a count).
fn replace_n(s: &str, from: &str, to: &str, n: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    for _ in 0..n {
        let Some(i) = rest.find(from) else { break };
        out.push_str(&rest[..i]);
        out.push_str(to);
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The printed prefix for a path of `├─`/`└─` markers: only the last marker stays, earlier
/// `├─` become `│ ` and earlier `└─` become blanks (tanzu's `printPrefix`).
fn print_prefix(p: &str) -> String {
    let firsts = p.matches(FIRST).count();
    let p = if p.ends_with(FIRST) {
        replace_n(p, FIRST, PIPE, firsts.saturating_sub(1))
    } else {
        p.replace(FIRST, PIPE)
    };
    let lasts = p.matches(LAST).count();
    if p.ends_with(LAST) {
        replace_n(&p, LAST, BLANK, lasts.saturating_sub(1))
    } else {
        p.replace(LAST, BLANK)
    }
}

const MAX_MESSAGE: usize = 100;

fn rows(node: &TreeNode, prefix: &str, now: Timestamp, out: &mut Vec<[String; 6]>) {
    let (status, severity, reason, since, message) = match &node.ready {
        None => Default::default(),
        Some(c) => {
            let since = c
                .last_transition_time
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(|t| human_duration(now.duration_since(t)))
                .unwrap_or_default();
            let mut message = c.message.clone().unwrap_or_default();
            if message.len() > MAX_MESSAGE {
                let mut cut = MAX_MESSAGE;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message = format!("{} ...", &message[..cut]);
            }
            (
                c.status.clone(),
                c.severity.clone().unwrap_or_default(),
                c.reason.clone().unwrap_or_default(),
                since,
                message,
            )
        }
    };
    let name = if node.deleted {
        format!("!! DELETED !! {}", node.name)
    } else {
        node.name.clone()
    };
    out.push([format!("{}{name}", print_prefix(prefix)), status, severity, reason, since, message]);
    let mut children: Vec<&TreeNode> = node.children.iter().collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    for (i, child) in children.iter().enumerate() {
        let marker = if i + 1 == children.len() { LAST } else { FIRST };
        rows(child, &format!("{prefix}{marker}"), now, out);
    }
}

/// Prints the tree with its header, columns padded to their widest cell and separated by two spaces.
pub fn render(root: &TreeNode, now: Timestamp) -> String {
    let mut table: Vec<[String; 6]> = vec![["NAME", "READY", "SEVERITY", "REASON", "SINCE", "MESSAGE"].map(String::from)];
    rows(root, "", now, &mut table);
    let mut widths = [0usize; 6];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubectl() {
        let d = |s: i64| human_duration(jiff::SignedDuration::from_secs(s));
        assert_eq!(d(-5), "<invalid>");
        assert_eq!(d(-1), "0s");
        assert_eq!(d(119), "119s");
        assert_eq!(d(125), "2m5s");
        assert_eq!(d(600), "10m");
        assert_eq!(d(13 * 60 + 59), "13m");
        assert_eq!(d(4 * 3600 + 14 * 60 + 30), "4h14m");
        assert_eq!(d(5 * 3600), "5h");
        assert_eq!(d(26 * 3600), "26h");
        assert_eq!(d(3 * 86400 + 3600), "3d1h");
        assert_eq!(d(30 * 86400), "30d");
        assert_eq!(d(3 * 365 * 86400 + 86400), "3y1d");
    }

    #[test]
    fn prefixes_keep_only_the_last_marker() {
        assert_eq!(print_prefix(""), "");
        assert_eq!(print_prefix("├─"), "├─");
        assert_eq!(print_prefix("├─└─"), "│ └─");
        assert_eq!(print_prefix("└─├─"), "  ├─");
        assert_eq!(print_prefix("└─├─└─"), "  │ └─");
        assert_eq!(print_prefix("├─├─"), "│ ├─");
        assert_eq!(print_prefix("└─└─"), "  └─");
    }

    fn ready(status: &str, since: &str) -> Option<Condition> {
        Some(Condition {
            type_: "Ready".into(),
            status: status.into(),
            last_transition_time: Some(since.into()),
            ..Default::default()
        })
    }

    #[test]
    fn renders_sorted_children_and_long_messages() {
        let now: Timestamp = "2022-12-08T10:00:00Z".parse().expect("time");
        let mut warn = ready("False", "2022-12-08T09:59:00Z");
        if let Some(c) = warn.as_mut() {
            c.severity = Some("Warning".into());
            c.reason = Some("WaitingForInfrastructure".into());
            c.message = Some("x".repeat(120));
        }
        let root = TreeNode {
            name: "/c".into(),
            ready: ready("True", "2022-12-08T09:00:00Z"),
            deleted: false,
            children: vec![
                TreeNode::virtual_node("Workers"),
                TreeNode {
                    name: "Machine/m".into(),
                    ready: warn,
                    deleted: true,
                    children: vec![],
                },
            ],
        };
        let out = render(&root, now);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME                       READY  SEVERITY  REASON                    SINCE  MESSAGE"
        );
        assert_eq!(
            lines[1],
            "/c                         True                                       60m"
        );
        assert_eq!(
            lines[2],
            format!(
                "├─!! DELETED !! Machine/m  False  Warning   WaitingForInfrastructure  60s    {} ...",
                "x".repeat(100)
            )
        );
        assert_eq!(lines[3], "└─Workers");
    }
}
