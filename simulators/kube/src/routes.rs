//! Request paths as kube-apiserver lays them out, parsed into what they address.

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList {
        /// API group.
        group: String,
        /// Version.
        version: String,
    },
    /// `/openapi/v2`.
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3Root,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApiV3 {
        /// API group.
        group: String,
        /// Version.
        version: String,
    },
    /// A resource collection, object or subresource.
    Resource(ResourcePath),
}

/// A path under `/api/v1` or `/apis/{group}/{version}` that names a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePath {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub resource: String,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource (`status`, `scale`, `eviction`), if any.
    pub subresource: Option<String>,
}

/// Parses a request path (without query). `None` means 404.
pub fn parse(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let segs: Vec<&str> = if segs == [""] { Vec::new() } else { segs };
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "livez" | "readyz", ..] => Some(Route::Health),
        ["api"] => Some(Route::CoreVersions),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["api", v] => Some(Route::ResourceList {
            group: String::new(),
            version: v.to_string(),
        }),
        ["apis", g, v] => Some(Route::ResourceList {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["openapi", "v2"] => Some(Route::OpenApiV2),
        ["openapi", "v3"] => Some(Route::OpenApiV3Root),
        ["openapi", "v3", "api", v] => Some(Route::OpenApiV3 {
            group: String::new(),
            version: v.to_string(),
        }),
        ["openapi", "v3", "apis", g, v] => Some(Route::OpenApiV3 {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["api", v, rest @ ..] => resource_path("", v, rest),
        ["apis", g, v, rest @ ..] => resource_path(g, v, rest),
        _ => None,
    }
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    let mk = |namespace: Option<&str>, resource: &str, name: Option<&str>, sub: Option<&str>| {
        Some(Route::Resource(ResourcePath {
            group: group.to_string(),
            version: version.to_string(),
            namespace: namespace.map(str::to_string),
            resource: resource.to_string(),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        }))
    };
    if rest.iter().any(|s| s.is_empty()) {
        return None;
    }
    match rest {
        // The namespace object itself, and its subresources.
        ["namespaces", ns] if group.is_empty() => mk(None, "namespaces", Some(ns), None),
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => mk(None, "namespaces", Some(ns), Some(sub)),
        ["namespaces", ns, res] => mk(Some(ns), res, None, None),
        ["namespaces", ns, res, name] => mk(Some(ns), res, Some(name), None),
        ["namespaces", ns, res, name, sub] => mk(Some(ns), res, Some(name), Some(sub)),
        [res] => mk(None, res, None, None),
        [res, name] => mk(None, res, Some(name), None),
        [res, name, sub] => mk(None, res, Some(name), Some(sub)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(route: Option<Route>) -> ResourcePath {
        match route {
            Some(Route::Resource(r)) => r,
            other => panic!("expected a resource path, got {other:?}"),
        }
    }

    #[test]
    fn namespaced_object_and_subresource() {
        let r = res(parse("/apis/apps/v1/namespaces/default/deployments/web/scale"));
        assert_eq!(
            (r.group.as_str(), r.namespace.as_deref(), r.resource.as_str()),
            ("apps", Some("default"), "deployments")
        );
        assert_eq!((r.name.as_deref(), r.subresource.as_deref()), (Some("web"), Some("scale")));
    }

    #[test]
    fn namespace_object_is_not_a_collection() {
        let r = res(parse("/api/v1/namespaces/tkg-system"));
        assert_eq!(
            (r.resource.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("tkg-system"), None)
        );
        let r = res(parse("/api/v1/namespaces/x/status"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = res(parse("/api/v1/namespaces/x/pods"));
        assert_eq!((r.resource.as_str(), r.namespace.as_deref()), ("pods", Some("x")));
    }

    #[test]
    fn discovery_and_openapi_paths() {
        assert_eq!(parse("/apis/cluster.x-k8s.io"), Some(Route::Group("cluster.x-k8s.io".into())));
        assert_eq!(
            parse("/api/v1"),
            Some(Route::ResourceList {
                group: String::new(),
                version: "v1".into()
            })
        );
        assert_eq!(
            parse("/openapi/v3/apis/apps/v1"),
            Some(Route::OpenApiV3 {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(parse("/nope"), None);
        assert_eq!(parse("/api/v1/pods/a/b/c"), None);
    }
}
