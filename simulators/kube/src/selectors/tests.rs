use super::*;
use serde_json::json;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn sel(s: &str) -> LabelSelector {
    LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

#[test]
fn empty_selector_matches_everything() {
    let s = sel("");
    assert!(s.is_empty());
    assert!(s.matches(None));
    assert!(s.matches(Some(&labels(json!({"a": "b"})))));
    assert_eq!(s, LabelSelector::default());
    assert!(sel("   ").is_empty());
}

#[test]
fn equality_operators() {
    let l = labels(json!({"app": "web", "tier": "fe"}));
    assert!(sel("app=web").matches(Some(&l)));
    assert!(sel("app==web").matches(Some(&l)));
    assert!(!sel("app=db").matches(Some(&l)));
    assert!(sel("app!=db").matches(Some(&l)));
    assert!(!sel("app!=web").matches(Some(&l)));
    assert!(sel("missing!=x").matches(Some(&l)), "!= matches when the label is absent");
    assert!(sel(" app = web , tier == fe ").matches(Some(&l)));
    assert!(!sel("app=web,tier=be").matches(Some(&l)));
    assert!(sel("app=").matches(Some(&labels(json!({"app": ""})))));
}

#[test]
fn set_and_existence_operators() {
    let l = labels(json!({"env": "prod", "app": "web"}));
    assert!(sel("env in (prod, staging)").matches(Some(&l)));
    assert!(!sel("env in (dev)").matches(Some(&l)));
    assert!(sel("env notin (dev,qa)").matches(Some(&l)));
    assert!(!sel("env notin (prod)").matches(Some(&l)));
    assert!(sel("zone notin (a)").matches(Some(&l)));
    assert!(sel("app").matches(Some(&l)));
    assert!(!sel("zone").matches(Some(&l)));
    assert!(sel("!zone").matches(Some(&l)));
    assert!(!sel("!app").matches(Some(&l)));
    assert!(sel("!app").matches(None));
    assert!(sel("in in (in)").matches(Some(&labels(json!({"in": "in"})))));
}

#[test]
fn greater_and_less_than() {
    let l = labels(json!({"replicas": "5"}));
    assert!(sel("replicas>3").matches(Some(&l)));
    assert!(!sel("replicas<3").matches(Some(&l)));
    assert!(LabelSelector::parse("replicas>abc").is_err());
}

#[test]
fn canonical_string_is_sorted() {
    assert_eq!(sel("z=1,a in (y,x),!b,c").to_string(), "a in (x,y),!b,c,z=1");
    assert_eq!(sel("a==b,c!=d,e notin (f)").to_string(), "a==b,c!=d,e notin (f)");
    assert_eq!(sel("a in (x,,y)").to_string(), "a in (,x,y)");
    assert_eq!(sel("").to_string(), "");
}

#[test]
fn syntax_errors() {
    for bad in ["a=b,", ",a", "a in x", "a in (x", "a in (x y)", "=a", "a b", "a=b=c", "a!", "(a)"] {
        let err = LabelSelector::parse(bad).expect_err(bad);
        assert!(matches!(err, SelectorError::Syntax { .. }), "{bad:?} gave {err}");
    }
    let err = LabelSelector::parse("a in x").expect_err("needs parens");
    assert_eq!(err.to_string(), "unable to parse requirement: found 'x', expected: '('");
}

#[test]
fn key_and_value_validation() {
    let err = LabelSelector::parse("-bad=x").expect_err("bad key");
    assert!(matches!(&err, SelectorError::InvalidKey { key, .. } if key == "-bad"), "{err}");
    assert!(LabelSelector::parse("example.com/app=x").is_ok());
    assert!(LabelSelector::parse("Example.com/app=x").is_err(), "prefix must be lowercase DNS");
    assert!(LabelSelector::parse("a/b/c=x").is_err());
    assert!(LabelSelector::parse(&format!("{}=x", "k".repeat(64))).is_err());
    let err = LabelSelector::parse("app=bad!value").expect_err("bad value");
    assert!(matches!(err, SelectorError::Syntax { .. } | SelectorError::InvalidValue { .. }));
    let err = LabelSelector::parse("app=-x").expect_err("bad value");
    assert!(matches!(&err, SelectorError::InvalidValue { value, .. } if value == "-x"), "{err}");
    assert!(LabelSelector::parse(&format!("app={}", "v".repeat(64))).is_err());
}

#[test]
fn from_object_builds_requirements() {
    let s = LabelSelector::from_object(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "dev"]},
            {"key": "zone", "operator": "DoesNotExist"}
        ]
    }))
    .expect("valid selector");
    assert_eq!(s.to_string(), "app=web,env in (dev,prod),!zone");
    assert!(s.matches(Some(&labels(json!({"app": "web", "env": "dev"})))));
    assert!(!s.matches(Some(&labels(json!({"app": "web", "env": "dev", "zone": "a"})))));
    assert!(LabelSelector::from_object(&json!({})).expect("empty").is_empty());
    let nothing = LabelSelector::from_object(&Value::Null).expect("null");
    assert!(!nothing.matches(None) && !nothing.is_empty());
}

#[test]
fn from_object_errors() {
    let err = LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "Gt"}]})).expect_err("Gt not allowed");
    assert_eq!(
        err.to_string(),
        "matchExpressions[0].operator: \"Gt\" is not a valid label selector operator"
    );
    let err = LabelSelector::from_object(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]})).expect_err("In needs values");
    assert!(matches!(err, SelectorError::ValueCount { .. }), "{err}");
    let err = LabelSelector::from_object(&json!({"matchLabels": {"a": 1}})).expect_err("number label");
    assert!(
        matches!(&err, SelectorError::ObjectShape { path, .. } if path == "matchLabels.a"),
        "{err}"
    );
    assert!(LabelSelector::from_object(&json!("a=b")).is_err());
}

#[test]
fn field_selector_parse_and_match() {
    let pod = json!({"metadata": {"name": "p1", "namespace": "ns"}, "spec": {"nodeName": "n1", "hostNetwork": true},
                     "status": {"phase": "Running"}});
    let fs = FieldSelector::parse("metadata.name=p1,spec.nodeName==n1,status.phase!=Pending").expect("valid");
    assert_eq!(fs.fields(), vec!["metadata.name", "spec.nodeName", "status.phase"]);
    assert!(fs.matches(&pod));
    assert!(!FieldSelector::parse("metadata.name=p2").expect("valid").matches(&pod));
    assert!(
        FieldSelector::parse("spec.schedulerName=").expect("valid").matches(&pod),
        "missing is \"\""
    );
    assert!(FieldSelector::parse("spec.hostNetwork=true").expect("valid").matches(&pod));
    assert!(FieldSelector::parse("").expect("empty").matches(&pod));
    assert!(
        FieldSelector::parse("metadata.name=a\\,b")
            .expect("escaped")
            .matches(&json!({"metadata": {"name": "a,b"}}))
    );
}

#[test]
fn field_selector_errors() {
    let err = FieldSelector::parse("metadata.name").expect_err("no operator");
    assert_eq!(
        err.to_string(),
        "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
    );
    assert!(matches!(FieldSelector::parse("a=b\\n"), Err(SelectorError::FieldEscape { .. })));
    assert!(matches!(
        FieldSelector::parse("a=b=c"),
        Err(SelectorError::FieldUnescaped { character: '=' })
    ));
    assert!(matches!(FieldSelector::parse("a=b\\"), Err(SelectorError::FieldEscape { .. })));
}
