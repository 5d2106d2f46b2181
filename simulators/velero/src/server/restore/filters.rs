//! What a restore takes and in which order: resource priorities, the resources Velero never
//! restores, include/exclude lists with Velero's glob matching, and label selectors.
//!
//! Facts from Velero v1.18: `pkg/cmd/server/config/config.go` (`defaultRestorePriorities`),
//! `pkg/controller/restore_controller.go` (`nonRestorableResources`, validation),
//! `pkg/restore/restore.go` (`getOrderedResources`) and `pkg/util/collections/includes_excludes.go`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Resources restored first, in this order (Velero's `defaultRestorePriorities.HighPriorities`).
pub const DEFAULT_HIGH_PRIORITIES: [&str; 23] = [
    "customresourcedefinitions",
    "namespaces",
    "storageclasses",
    "volumesnapshotclass.snapshot.storage.k8s.io",
    "volumesnapshotcontents.snapshot.storage.k8s.io",
    "volumesnapshots.snapshot.storage.k8s.io",
    "datauploads.velero.io",
    "persistentvolumes",
    "persistentvolumeclaims",
    "clusterroles",
    "roles",
    "serviceaccounts",
    "clusterrolebindings",
    "rolebindings",
    "secrets",
    "configmaps",
    "limitranges",
    "priorityclasses",
    "pods",
    "replicasets.apps",
    "clusterclasses.cluster.x-k8s.io",
    "endpoints",
    "services",
];

/// Resources restored last, in this order (Velero's `defaultRestorePriorities.LowPriorities`).
pub const DEFAULT_LOW_PRIORITIES: [&str; 5] = [
    "clusterbootstraps.run.tanzu.vmware.com",
    "clusters.cluster.x-k8s.io",
    "clusterresourcesets.addons.cluster.x-k8s.io",
    "apps.kappctrl.k14s.io",
    "packageinstalls.packaging.carvel.dev",
];

/// Resources Velero adds to every restore's `excludedResources` and refuses in
/// `includedResources` (`nonRestorableResources`).
pub const NON_RESTORABLE_RESOURCES: [&str; 9] = [
    "nodes",
    "events",
    "events.events.k8s.io",
    "backups.velero.io",
    "restores.velero.io",
    "resticrepositories.velero.io",
    "csinodes.storage.k8s.io",
    "volumeattachments.storage.k8s.io",
    "backuprepositories.velero.io",
];

/// The order of resources in a restore (`velero server --restore-resource-priorities`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priorities {
    /// Restored first, in this order.
    pub high: Vec<String>,
    /// Restored last, in this order, after every resource in neither list (alphabetical).
    pub low: Vec<String>,
}

impl Default for Priorities {
    fn default() -> Self {
        Priorities {
            high: DEFAULT_HIGH_PRIORITIES.iter().map(|s| s.to_string()).collect(),
            low: DEFAULT_LOW_PRIORITIES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Priorities {
    /// The high priorities, then the backup's other resources alphabetically, then the low
    /// priorities (`getOrderedResources`). Entries may name resources the backup lacks.
    pub fn ordered<'a>(&self, backup_resources: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let listed: BTreeSet<&str> = self.high.iter().chain(&self.low).map(String::as_str).collect();
        let middle: BTreeSet<&String> = backup_resources.into_iter().filter(|r| !listed.contains(r.as_str())).collect();
        self.high
            .iter()
            .cloned()
            .chain(middle.into_iter().cloned())
            .chain(self.low.iter().cloned())
            .collect()
    }
}

/// Velero's `ValidateIncludesExcludes`: the messages of what is wrong with a pair of lists.
pub fn validate_includes_excludes(includes: &[String], excludes: &[String]) -> Vec<String> {
    let inc: BTreeSet<&str> = includes.iter().map(String::as_str).collect();
    let exc: BTreeSet<&str> = excludes.iter().map(String::as_str).collect();
    let mut errors = Vec::new();
    if inc.len() > 1 && inc.contains("*") {
        errors.push("includes list must either contain '*' only, or a non-empty list of items".to_string());
    }
    if exc.contains("*") {
        errors.push("excludes list cannot contain '*'".to_string());
    }
    for item in &exc {
        if inc.contains(item) {
            errors.push(format!("excludes list cannot contain an item in the includes list: {item}"));
        }
    }
    errors
}

/// An include list and an exclude list of glob patterns (`IncludesExcludes`): everything
/// included (all when the include list is empty or `*`) except what is excluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncludesExcludes {
    includes: BTreeSet<String>,
    excludes: BTreeSet<String>,
}

impl IncludesExcludes {
    /// Lists as given; `map` resolves each entry (e.g. to a fully-qualified resource); `*` is kept
    /// in the include list and dropped from the exclude list, as Velero does.
    pub fn new(includes: &[String], excludes: &[String], map: impl Fn(&str) -> String) -> Self {
        IncludesExcludes {
            includes: includes.iter().map(|i| if i == "*" { i.clone() } else { map(i) }).collect(),
            excludes: excludes.iter().filter(|e| *e != "*").map(|e| map(e)).collect(),
        }
    }

    /// Whether `item` passes.
    pub fn should_include(&self, item: &str) -> bool {
        if self.excludes.iter().any(|p| glob_match(p, item)) {
            return false;
        }
        self.includes.is_empty() || self.includes.contains("*") || self.includes.iter().any(|p| glob_match(p, item))
    }

    /// Whether nothing is filtered out (`IncludeEverything`).
    pub fn include_everything(&self) -> bool {
        self.excludes.is_empty() && (self.includes.is_empty() || (self.includes.len() == 1 && self.includes.contains("*")))
    }
}

/// Glob matching as gobwas/glob does without separators: `*` any run, `?` one character,
/// `[abc]` / `[a-z]` / `[!a]` a class; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

fn glob_at(p: &[char], t: &[char]) -> bool {
    match p.first() {
        None => t.is_empty(),
        Some('*') => (0..=t.len()).any(|skip| glob_at(&p[1..], &t[skip..])),
        Some('?') => !t.is_empty() && glob_at(&p[1..], &t[1..]),
        Some('[') => match (class_end(p), t.first()) {
            (Some(end), Some(c)) => class_matches(&p[1..end], *c) && glob_at(&p[end + 1..], &t[1..]),
            (Some(_), None) => false,
            (None, _) => t.first() == Some(&'[') && glob_at(&p[1..], &t[1..]),
        },
        Some(c) => t.first() == Some(c) && glob_at(&p[1..], &t[1..]),
    }
}

fn class_end(p: &[char]) -> Option<usize> {
    p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2)
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negated, class) = match class.first() {
        Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut hit = false;
    while i < class.len() {
        if i + 2 < class.len() && class[i + 1] == '-' {
            hit |= class[i] <= c && c <= class[i + 2];
            i += 3;
        } else {
            hit |= class[i] == c;
            i += 1;
        }
    }
    hit != negated
}

/// Whether `labels` satisfy a Kubernetes label selector (matchLabels and matchExpressions with
/// In, NotIn, Exists, DoesNotExist). An unknown operator matches nothing.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .as_ref()
        .is_none_or(|want| want.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let exprs_ok = selector.match_expressions.as_ref().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
    });
    labels_ok && exprs_ok
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn order_is_high_then_alphabetical_then_low() {
        let backup = strings(&[
            "clusters.cluster.x-k8s.io",
            "secrets",
            "machines.cluster.x-k8s.io",
            "configmaps",
            "apps.example.io",
        ]);
        let ordered = Priorities::default().ordered(&backup);
        let pos = |r: &str| ordered.iter().position(|x| x == r).expect(r);
        assert!(pos("namespaces") < pos("secrets"));
        assert!(pos("secrets") < pos("configmaps"));
        assert!(pos("services") < pos("apps.example.io"));
        assert!(pos("apps.example.io") < pos("machines.cluster.x-k8s.io"));
        assert!(pos("machines.cluster.x-k8s.io") < pos("clusterbootstraps.run.tanzu.vmware.com"));
        assert!(pos("clusterbootstraps.run.tanzu.vmware.com") < pos("clusters.cluster.x-k8s.io"));
        assert!(pos("clusters.cluster.x-k8s.io") < pos("clusterresourcesets.addons.cluster.x-k8s.io"));
        assert_eq!(ordered.iter().filter(|r| *r == "clusters.cluster.x-k8s.io").count(), 1);
        assert_eq!(ordered.len(), 23 + 2 + 5);
    }

    #[test]
    fn includes_excludes_validate_like_velero() {
        assert!(validate_includes_excludes(&strings(&["*"]), &[]).is_empty());
        assert_eq!(
            validate_includes_excludes(&strings(&["*", "a"]), &strings(&["*", "a"])),
            [
                "includes list must either contain '*' only, or a non-empty list of items",
                "excludes list cannot contain '*'",
                "excludes list cannot contain an item in the includes list: *",
                "excludes list cannot contain an item in the includes list: a",
            ]
        );
    }

    #[test]
    fn includes_excludes_filter_with_globs() {
        let all = IncludesExcludes::new(&[], &[], str::to_string);
        assert!(all.should_include("anything") && all.include_everything());
        let some = IncludesExcludes::new(&strings(&["tkg-*", "default"]), &strings(&["tkg-system", "*"]), str::to_string);
        assert!(some.should_include("tkg-prod"));
        assert!(some.should_include("default"));
        assert!(!some.should_include("tkg-system"));
        assert!(!some.should_include("kube-system"));
        assert!(!some.include_everything());
        let mapped = IncludesExcludes::new(&strings(&["cluster.cluster.x-k8s.io"]), &[], |s| {
            s.replace("cluster.cluster", "clusters.cluster")
        });
        assert!(mapped.should_include("clusters.cluster.x-k8s.io"));
        assert!(!mapped.should_include("machines.cluster.x-k8s.io"));
    }

    #[test]
    fn globs_match_like_gobwas() {
        assert!(glob_match("ns-?", "ns-1"));
        assert!(!glob_match("ns-?", "ns-12"));
        assert!(glob_match("ns-[0-9]", "ns-7"));
        assert!(!glob_match("ns-[!0-9]", "ns-7"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYc"));
        assert!(!glob_match("a*b*c", "aXXbY"));
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels: BTreeMap<String, String> = [("app".to_string(), "web".to_string())].into();
        let mut sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            ..Default::default()
        };
        assert!(selector_matches(&sel, &labels));
        sel.match_expressions = Some(vec![LabelSelectorRequirement {
            key: "tier".into(),
            operator: "Exists".into(),
            values: None,
        }]);
        assert!(!selector_matches(&sel, &labels));
        sel.match_expressions = Some(vec![LabelSelectorRequirement {
            key: "app".into(),
            operator: "NotIn".into(),
            values: Some(vec!["db".into()]),
        }]);
        assert!(selector_matches(&sel, &labels));
    }
}
