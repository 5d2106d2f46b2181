//! What the target cluster serves, read from its discovery documents, and how Velero resolves
//! a resource name such as `cluster.cluster.x-k8s.io` or `pods` against it (the discovery
//! helper's `ResourceFor`).

use kube::Client;
use kube::api::ApiResource;

/// One resource the cluster serves, at its group's preferred version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedResource {
    /// The group (empty for core).
    pub group: String,
    /// The preferred version.
    pub version: String,
    /// The plural name (`clusters`).
    pub plural: String,
    /// The singular name (`cluster`).
    pub singular: String,
    /// The kind (`Cluster`).
    pub kind: String,
    /// kubectl short names.
    pub short_names: Vec<String>,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether it has a status subresource.
    pub status: bool,
}

impl ServedResource {
    /// `<plural>.<group>` (`clusters.cluster.x-k8s.io`), or the plural alone for core.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The dynamic-client resource for objects of `api_version` (the object's own version).
    pub fn api_resource(&self, api_version: &str) -> ApiResource {
        let version = api_version.rsplit('/').next().unwrap_or(api_version).to_string();
        ApiResource {
            group: self.group.clone(),
            version,
            api_version: api_version.to_string(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }

    fn answers_to(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.plural == name || self.singular == name || self.kind.to_ascii_lowercase() == name || self.short_names.contains(&name)
    }
}

/// Every resource the cluster serves, core first, then groups in discovery order.
#[derive(Clone, Debug, Default)]
pub struct ResourceMap {
    resources: Vec<ServedResource>,
}

impl ResourceMap {
    /// Reads `/api/v1` and the preferred version of every group under `/apis`.
    pub async fn discover(client: &Client) -> Result<ResourceMap, kube::Error> {
        let mut resources = Vec::new();
        let core = client.list_core_api_resources("v1").await?;
        collect(&mut resources, "", "v1", &core.resources);
        for group in client.list_api_groups().await?.groups {
            let Some(preferred) = group.preferred_version.as_ref().or(group.versions.first()) else {
                continue;
            };
            let list = client.list_api_group_resources(&preferred.group_version).await?;
            collect(&mut resources, &group.name, &preferred.version, &list.resources);
        }
        Ok(ResourceMap { resources })
    }

    /// Resolves `name` as Velero parses a group-resource: up to the first `.` the resource
    /// (plural, singular, kind or short name), after it the group; without a group, the core
    /// group wins, then the first group serving it.
    pub fn resolve(&self, name: &str) -> Option<&ServedResource> {
        let (resource, group) = name.split_once('.').unwrap_or((name, ""));
        let mut candidates = self.resources.iter().filter(|r| r.answers_to(resource));
        if group.is_empty() {
            let all: Vec<&ServedResource> = candidates.collect();
            all.iter().find(|r| r.group.is_empty()).or(all.first()).copied()
        } else {
            candidates.find(|r| r.group == group)
        }
    }

    /// The fully-qualified `<plural>.<group>` for `name`, or `name` itself when the cluster
    /// does not serve it (Velero keeps unresolvable names as they are).
    pub fn qualify(&self, name: &str) -> String {
        self.resolve(name).map_or_else(|| name.to_string(), ServedResource::group_resource)
    }
}

fn collect(
    out: &mut Vec<ServedResource>,
    group: &str,
    version: &str,
    list: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResource],
) {
    for r in list {
        if r.name.contains('/') {
            continue;
        }
        let status = list.iter().any(|s| s.name == format!("{}/status", r.name));
        out.push(ServedResource {
            group: group.to_string(),
            version: version.to_string(),
            plural: r.name.clone(),
            singular: if r.singular_name.is_empty() {
                r.kind.to_ascii_lowercase()
            } else {
                r.singular_name.clone()
            },
            kind: r.kind.clone(),
            short_names: r.short_names.clone().unwrap_or_default(),
            namespaced: r.namespaced,
            status,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(group: &str, plural: &str, kind: &str, short: &[&str]) -> ServedResource {
        ServedResource {
            group: group.into(),
            version: "v1".into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            kind: kind.into(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
            status: false,
        }
    }

    #[test]
    fn names_resolve_like_velero_discovery() {
        let map = ResourceMap {
            resources: vec![
                served("", "events", "Event", &["ev"]),
                served("", "pods", "Pod", &["po"]),
                served("events.k8s.io", "events", "Event", &["ev"]),
                served("cluster.x-k8s.io", "clusters", "Cluster", &["cl"]),
            ],
        };
        assert_eq!(map.qualify("cluster.cluster.x-k8s.io"), "clusters.cluster.x-k8s.io");
        assert_eq!(map.qualify("clusters.cluster.x-k8s.io"), "clusters.cluster.x-k8s.io");
        assert_eq!(map.qualify("po"), "pods");
        assert_eq!(map.qualify("events"), "events");
        assert_eq!(map.qualify("events.events.k8s.io"), "events.events.k8s.io");
        assert_eq!(map.qualify("widgets.example.io"), "widgets.example.io");
        assert!(map.resolve("clusters.example.io").is_none());
    }
}
