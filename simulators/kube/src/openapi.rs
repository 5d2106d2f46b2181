//! `/openapi/v3`: enough of the published API description for kubectl's apply and validation.
//! Every operation declares the `fieldValidation` parameter, so kubectl leaves validation to
//! the server; CRDs publish their `openAPIV3Schema`.

use serde_json::{Map, Value, json};

use crate::resources::{Origin, ResourceDef};
use crate::store::State;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn defs_for<'a>(state: &'a State, group: &'a str, version: &'a str) -> impl Iterator<Item = &'a ResourceDef> + 'a {
    state
        .tables
        .values()
        .map(|t| t.def.as_ref())
        .filter(move |d| d.group == group && d.version(version).is_some())
}

/// A schema name like kube-openapi's (`io.x-k8s.cluster.v1beta1.Cluster`).
fn schema_name(def: &ResourceDef, version: &str) -> String {
    let reversed: Vec<&str> = def.group.split('.').rev().collect();
    let group = if def.group.is_empty() {
        "io.k8s.api.core".to_string()
    } else {
        reversed.join(".")
    };
    format!("{group}.{version}.{}", def.kind)
}

/// The `/openapi/v3` index of group-versions.
pub fn root(state: &State) -> Value {
    let mut paths = Map::new();
    for def in state.tables.values().map(|t| &t.def) {
        for v in &def.versions {
            let key = gv_path(&def.group, &v.name);
            let hash = format!("{:016X}", state.rv.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ key.len() as u64);
            paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={hash}")}));
        }
    }
    json!({"paths": paths})
}

/// The OpenAPI document of one group-version, or `None` when nothing is served there.
pub fn group_version(state: &State, group: &str, version: &str) -> Option<Value> {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for def in defs_for(state, group, version) {
        let gvk = json!([{"group": def.group, "version": version, "kind": def.kind}]);
        let name = schema_name(def, version);
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        let op = |verb: &str, params: Vec<Value>| {
            json!({
                "operationId": format!("{verb}{}", def.kind),
                "parameters": params,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}},
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk[0],
            })
        };
        let field_validation = json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let dry_run = json!({"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let field_manager = json!({"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let writes = || vec![dry_run.clone(), field_manager.clone(), field_validation.clone()];
        let base = format!("/{}", gv_path(&def.group, version));
        let collection = if def.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", def.plural)
        } else {
            format!("{base}/{}", def.plural)
        };
        paths.insert(collection.clone(), json!({"get": op("list", vec![]), "post": op("post", writes())}));
        paths.insert(
            format!("{collection}/{{name}}"),
            json!({"get": op("get", vec![]), "put": op("put", writes()), "patch": op("patch", writes()), "delete": op("delete", vec![dry_run.clone()])}),
        );
        if def.status_subresource {
            paths.insert(
                format!("{collection}/{{name}}/status"),
                json!({"get": op("get", vec![]), "put": op("put", writes()), "patch": op("patch", writes())}),
            );
        }
        let schema = def
            .version(version)
            .and_then(|v| v.raw_schema.clone())
            .filter(|_| def.origin == Origin::Crd)
            .map(|mut s| {
                s["x-kubernetes-group-version-kind"] = gvk.clone();
                s
            });
        if let Some(schema) = schema {
            schemas.insert(name, schema);
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::discovery::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
