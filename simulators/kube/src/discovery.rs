//! Discovery: `/version`, `/api`, `/apis` and per-version resource lists, legacy and aggregated.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::{ApiRequest, Body, bytes_response, json_response};
use crate::resources::{EXTRA_SUBRESOURCES, ResourceDef};
use crate::routes::Route;
use crate::server::Shared;
use crate::store::State;

/// The Kubernetes version the server claims to be.
pub const GIT_VERSION: &str = "v1.32.0";

/// The `/version` document.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// Groups in the order discovery lists them: core first, then built-in groups, then CRD groups.
fn groups(state: &State) -> BTreeMap<(u8, String), Vec<Arc<ResourceDef>>> {
    let mut out: BTreeMap<(u8, String), Vec<Arc<ResourceDef>>> = BTreeMap::new();
    for table in state.tables.values() {
        let rank = if table.def.origin == crate::resources::Origin::Builtin {
            0
        } else {
            1
        };
        out.entry((rank, table.def.group.clone())).or_default().push(table.def.clone());
    }
    out
}

fn versions_of(defs: &[Arc<ResourceDef>]) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for def in defs {
        for v in &def.versions {
            if !versions.contains(&v.name) {
                versions.push(v.name.clone());
            }
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
    versions
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (stage, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (stage, major, minor)
}

fn group_json(group: &str, defs: &[Arc<ResourceDef>]) -> Value {
    let versions = versions_of(defs);
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({
        "name": group,
        "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    })
}

fn resource_entries(def: &ResourceDef, version: &str) -> Vec<Value> {
    let mut out = vec![json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": def.verbs(),
        "shortNames": def.short_names,
        "categories": def.categories,
        "storageVersionHash": format!("{:x}", fnv(&format!("{}/{version}/{}", def.group, def.plural))),
    })];
    for entry in out.iter_mut() {
        let map = entry.as_object_mut().expect("object literal");
        if def.short_names.is_empty() {
            map.remove("shortNames");
        }
        if def.categories.is_empty() {
            map.remove("categories");
        }
    }
    if def.status_subresource {
        out.push(json!({"name": format!("{}/status", def.plural), "singularName": "", "namespaced": def.namespaced, "kind": def.kind, "verbs": ["get", "patch", "update"]}));
    }
    if def.scale.is_some() {
        out.push(json!({"name": format!("{}/scale", def.plural), "singularName": "", "namespaced": def.namespaced, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
    }
    for extra in EXTRA_SUBRESOURCES.iter().filter(|e| e.parent == def.plural && def.group.is_empty()) {
        out.push(json!({"name": format!("{}/{}", def.plural, extra.name), "singularName": "", "namespaced": def.namespaced, "group": extra.group, "version": extra.version, "kind": extra.kind, "verbs": extra.verbs}));
    }
    out
}

fn fnv(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn aggregated_group(group: &str, defs: &[Arc<ResourceDef>]) -> Value {
    let versions = versions_of(defs);
    let version_entries: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut resources: Vec<Value> = defs
                .iter()
                .filter(|d| d.version(v).is_some())
                .map(|d| {
                    let mut subs = Vec::new();
                    if d.status_subresource {
                        subs.push(json!({"subresource": "status", "responseKind": {"group": d.group, "version": v, "kind": d.kind}, "verbs": ["get", "patch", "update"]}));
                    }
                    if d.scale.is_some() {
                        subs.push(json!({"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}));
                    }
                    for extra in EXTRA_SUBRESOURCES.iter().filter(|e| e.parent == d.plural && d.group.is_empty()) {
                        subs.push(json!({"subresource": extra.name, "responseKind": {"group": extra.group, "version": extra.version, "kind": extra.kind}, "verbs": extra.verbs}));
                    }
                    let mut r = json!({
                        "resource": d.plural,
                        "responseKind": {"group": d.group, "version": v, "kind": d.kind},
                        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": d.singular,
                        "verbs": d.verbs(),
                    });
                    if !d.short_names.is_empty() {
                        r["shortNames"] = json!(d.short_names);
                    }
                    if !d.categories.is_empty() {
                        r["categories"] = json!(d.categories);
                    }
                    if !subs.is_empty() {
                        r["subresources"] = json!(subs);
                    }
                    r
                })
                .collect();
            resources.sort_by(|a, b| a["resource"].as_str().cmp(&b["resource"].as_str()));
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": version_entries})
}

fn aggregated(kind_version: &str, items: Vec<Value>) -> Response {
    let doc = json!({"kind": "APIGroupDiscoveryList", "apiVersion": format!("apidiscovery.k8s.io/{kind_version}"), "metadata": {}, "items": items});
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={kind_version};as=APIGroupDiscoveryList");
    bytes_response(StatusCode::OK, &ct, Bytes::from(serde_json::to_vec(&doc).unwrap_or_default()))
}

type Response = http::Response<Body>;

/// Answers a discovery route.
pub fn serve(shared: &Shared, route: &Route, req: &ApiRequest) -> ApiResult<Response> {
    let state = shared.state();
    let all = groups(&state);
    let server_address = json!([{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}]);
    match route {
        Route::CoreVersions => {
            if let Some(v) = req.aggregated {
                let core = all
                    .iter()
                    .filter(|((_, g), _)| g.is_empty())
                    .map(|(_, defs)| aggregated_group("", defs))
                    .collect();
                return Ok(aggregated(v, core));
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": server_address}),
            ))
        }
        Route::Groups => {
            let named = all.iter().filter(|((_, g), _)| !g.is_empty());
            if let Some(v) = req.aggregated {
                return Ok(aggregated(v, named.map(|((_, g), defs)| aggregated_group(g, defs)).collect()));
            }
            let list: Vec<Value> = named.map(|((_, g), defs)| group_json(g, defs)).collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}),
            ))
        }
        Route::Group(g) => {
            let defs = all
                .iter()
                .find(|((_, name), _)| name == g && !g.is_empty())
                .map(|(_, d)| d)
                .ok_or_else(ApiError::no_route)?;
            let mut doc = group_json(g, defs);
            doc["kind"] = json!("APIGroup");
            doc["apiVersion"] = json!("v1");
            Ok(json_response(StatusCode::OK, &doc))
        }
        Route::ResourceList { group, version } => {
            let defs = all
                .iter()
                .find(|((_, name), _)| name == group)
                .map(|(_, d)| d)
                .ok_or_else(ApiError::no_route)?;
            let mut resources: Vec<Value> = defs
                .iter()
                .filter(|d| d.version(version).is_some())
                .flat_map(|d| resource_entries(d, version))
                .collect();
            if resources.is_empty() {
                return Err(ApiError::no_route());
            }
            resources.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            let gv = if group.is_empty() {
                version.clone()
            } else {
                format!("{group}/{version}")
            };
            Ok(json_response(
                StatusCode::OK,
                &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
            ))
        }
        _ => Err(ApiError::no_route()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v1beta1", "v1", "v2beta1", "v1alpha3"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, ["v1", "v2beta1", "v1beta1", "v1alpha3", "v1alpha1"]);
    }
}
