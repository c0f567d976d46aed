//! Loading: the compiler's documents load; hostile ones are refused with a
//! typed error naming the place, never a panic.

mod common;

use common::{event_doc, lit, load};
use kestrel_ir::{IrError, Program};
use kestrel_schema::Schema;
use serde_json::{json, Value};

/// The compiler's snapshot fixtures: `NAME.ir.json` beside each `NAME.eql`.
fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/compiler/fixtures")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(format!("{name}.ir.json"))).unwrap()
}

fn load_doc(doc: &Value) -> Result<Program, IrError> {
    Program::from_json(&doc.to_string(), &Schema::new("t", "1"))
}

fn error_of(doc: &Value) -> String {
    match load_doc(doc) {
        Ok(_) => panic!("loaded a bad document: {doc}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn golden_documents_load() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().ends_with(".ir.json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let program = Program::from_json(&text, &Schema::new("t", "1"))
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(program.node_count() > 0);
        seen += 1;
    }
    assert!(seen >= 4);
}

#[test]
fn sequence_descriptor_is_kept() {
    let text = fixture("sequence_full");
    let schema = Schema::new("t", "1");
    let p = Program::from_json(&text, &schema).unwrap();
    assert_eq!(p.rule.kind, kestrel_ir::RuleKind::Sequence);
    assert_eq!(p.rule.steps.len(), 3);
    assert_eq!(p.filter_count(), 4);
    assert_eq!(p.rule.steps[0].runs, 2);
    assert!(p.rule.steps[1].missing);
    assert_eq!(p.rule.pipes, vec![kestrel_ir::Pipe::Tail(3)]);
    assert_eq!(p.rule.by[0].field, schema.lookup("host.id").unwrap().id);
}

#[test]
fn fields_bind_by_path_or_by_mapping() {
    let doc = event_doc(
        json!([load("process.name"), json!({"op": "IsNull", "operand": 0})]),
        json!({}),
    );
    let schema = Schema::new("t", "1");
    schema.resolve("unrelated");
    let p = load_doc_with(&doc, &schema);
    match &p.nodes()[0] {
        kestrel_ir::Node::LoadField {
            field, ir_field, ..
        } => {
            assert_eq!(*field, schema.lookup("process.name").unwrap().id);
            assert_eq!(*ir_field, 0);
        }
        other => panic!("{other:?}"),
    }
    let kept = Program::from_json_with(&doc.to_string(), |id, _| id + 7).unwrap();
    assert!(matches!(
        kept.nodes()[0],
        kestrel_ir::Node::LoadField { field: 7, .. }
    ));
}

fn load_doc_with(doc: &Value, schema: &Schema) -> Program {
    Program::from_json(&doc.to_string(), schema).unwrap()
}

#[test]
fn garbage_and_truncation_are_json_errors() {
    let schema = Schema::new("t", "1");
    let good = fixture("sequence_full");
    // Every cut strictly inside the document (not just off its trailing newline).
    let good = good.trim_end();
    for cut in (0..good.len()).step_by(37) {
        assert!(Program::from_json(&good[..cut], &schema).is_err());
    }
    for text in [
        "",
        "null",
        "[]",
        "{",
        "\u{0}",
        "{\"ir_version\": 1}",
        "{\"ir_version\": 1, \"nodes\": 5}",
    ] {
        assert!(Program::from_json(text, &schema).is_err(), "{text:?}");
    }
}

#[test]
fn versions_other_than_1_are_refused() {
    let mut doc = event_doc(json!([lit("bool", json!(true))]), json!({}));
    for v in [json!(2), json!("1"), json!(null), json!(1.5)] {
        doc["ir_version"] = v;
        assert!(matches!(load_doc(&doc), Err(IrError::Version { .. })));
    }
}

#[test]
fn children_must_come_before_parents() {
    let doc = event_doc(json!([{"op": "Not", "operand": 0}]), json!({}));
    assert_eq!(error_of(&doc), "nodes[0].operand: index 0 is out of range (only earlier nodes can be children: nodes before it has 0 entries)");
    let doc = event_doc(
        json!([lit("bool", json!(true)), {"op": "Logical", "logic": "and", "operands": [0, 2]}, lit("bool", json!(true))]),
        json!({}),
    );
    assert!(error_of(&doc).starts_with("nodes[1].operands: index 2"));
}

#[test]
fn out_of_range_tables_and_steps() {
    let glob = event_doc(
        json!([load("a"), {"op": "WildcardMatch", "operand": 0, "glob": 3, "case_insensitive": false}]),
        json!({}),
    );
    assert!(
        error_of(&glob).starts_with("nodes[1].glob: index 3 is out of range (globs has 0 entries)")
    );
    let set = event_doc(
        json!([load("a"), {"op": "InSet", "operand": 0, "set": 0, "case_insensitive": false}]),
        json!({}),
    );
    assert!(error_of(&set).contains("sets has 0 entries"));
    let string = event_doc(
        json!([{"op": "Literal", "type": "string", "value": "x", "string": 9}]),
        json!({}),
    );
    assert!(error_of(&string).starts_with("nodes[0].string"));
    let mut step = event_doc(json!([lit("bool", json!(true))]), json!({}));
    step["rule"]["steps"][0]["predicate"] = json!(5);
    assert!(error_of(&step).starts_with("rule filter 0: predicate"));
    let mut negative = step.clone();
    negative["rule"]["steps"][0]["predicate"] = json!(-1);
    assert!(matches!(load_doc(&negative), Err(IrError::Json(_))));
    let big = event_doc(
        json!([{"op": "Not", "operand": 18446744073709551615u64}]),
        json!({}),
    );
    assert!(error_of(&big).contains("index 18446744073709551615"));
}

#[test]
fn unknown_names_are_refused() {
    let cases = [
        (
            json!([{"op": "Frobnicate"}]),
            "nodes[0].op: unknown node op \"Frobnicate\"",
        ),
        (
            json!([lit("i64", json!(1)), {"op": "Compare", "cmp": "like", "left": 0, "right": 0, "case_insensitive": false}]),
            "nodes[1].cmp: unknown comparison \"like\"",
        ),
        (
            json!([lit("i64", json!(1)), {"op": "Arithmetic", "arith": "pow", "operands": [0, 0]}]),
            "nodes[1].arith: unknown arithmetic operator \"pow\"",
        ),
        (
            json!([lit("i64", json!(1)), {"op": "Logical", "logic": "xor", "operands": [0]}]),
            "nodes[1].logic: unknown logical operator \"xor\"",
        ),
        (
            json!([lit("i64", json!(1)), {"op": "FunctionCall", "name": "eval", "args": [0], "case_insensitive": false}]),
            "nodes[1].name: unknown function \"eval\"",
        ),
        (
            json!([{"op": "LoadField", "field": 0, "path": "a", "type": "tensor", "optional": false}]),
            "nodes[0].path: unknown field type \"tensor\"",
        ),
    ];
    for (nodes, message) in cases {
        assert_eq!(error_of(&event_doc(nodes, json!({}))), message);
    }
    let mut kind = event_doc(json!([lit("bool", json!(true))]), json!({}));
    kind["rule"]["kind"] = json!("stream");
    assert_eq!(error_of(&kind), "rule.kind: unknown rule kind \"stream\"");
}

#[test]
fn arities_are_checked() {
    let one = lit("string", json!("a"));
    let call = |name: &str, n: usize| {
        let mut nodes = vec![one.clone()];
        nodes.push(json!({"op": "FunctionCall", "name": name, "args": vec![0; n], "case_insensitive": false}));
        event_doc(Value::Array(nodes), json!({}))
    };
    assert_eq!(
        error_of(&call("length", 2)),
        "nodes[1].args: length takes 1 argument(s), got 2"
    );
    assert_eq!(
        error_of(&call("substring", 1)),
        "nodes[1].args: substring takes 2 to 3 argument(s), got 1"
    );
    assert_eq!(
        error_of(&call("cidrMatch", 1)),
        "nodes[1].args: cidrMatch takes at least 2 argument(s), got 1"
    );
    assert!(load_doc(&call("cidrMatch", 9)).is_ok());
    assert!(load_doc(&call("concat", 1)).is_ok());
    let neg = event_doc(
        json!([lit("i64", json!(1)), {"op": "Arithmetic", "arith": "neg", "operands": [0, 0]}]),
        json!({}),
    );
    assert!(matches!(load_doc(&neg), Err(IrError::Arity { .. })));
}

#[test]
fn literal_values_must_match_their_types() {
    for (ty, value) in [
        ("i64", json!("1")),
        ("i64", json!(1.5)),
        ("i64", json!(18446744073709551615u64)),
        ("u64", json!(-1)),
        ("bool", json!(1)),
        ("f64", json!("nan")),
        ("string", json!(1)),
        ("null", json!(0)),
        ("date", json!(0)),
    ] {
        let doc = event_doc(json!([lit(ty, value.clone())]), json!({}));
        assert!(
            matches!(load_doc(&doc), Err(IrError::Literal { .. })),
            "{ty} {value}"
        );
    }
    for (ty, value) in [
        ("f64", json!("-Infinity")),
        ("f64", json!(3)),
        ("u64", json!(18446744073709551615u64)),
        ("null", json!(null)),
    ] {
        assert!(load_doc(&event_doc(json!([lit(ty, value)]), json!({}))).is_ok());
    }
    let set = json!({"sets": [{"values": [1, "a"], "types": ["i64"], "case_insensitive": false}]});
    assert!(error_of(&event_doc(json!([lit("bool", json!(true))]), set))
        .starts_with("sets[0]: 2 values but 1 types"));
}

#[test]
fn table_flags_and_regexes() {
    let nodes = json!([load("a"), {"op": "RegexMatch", "operand": 0, "regex": 0, "case_insensitive": true}]);
    let tables =
        json!({"regexes": [{"patterns": ["a"], "translated": ["a"], "case_insensitive": false}]});
    assert!(error_of(&event_doc(nodes.clone(), tables))
        .contains("case_insensitive is true but the table entry says false"));
    let bad = json!({"regexes": [{"patterns": ["("], "translated": ["ok", "("], "case_insensitive": true}]});
    assert!(error_of(&event_doc(nodes, bad)).starts_with("regexes[0]: translated[1]"));
}

#[test]
fn rule_shapes() {
    let mut two = event_doc(json!([lit("bool", json!(true))]), json!({}));
    let step = two["rule"]["steps"][0].clone();
    two["rule"]["steps"] = json!([step.clone(), step.clone()]);
    assert!(error_of(&two).contains("exactly one filter"));
    let mut none = two.clone();
    none["rule"]["steps"] = json!([]);
    assert!(error_of(&none).contains("at least one step"));
    let mut runs = two.clone();
    runs["rule"]["kind"] = json!("sample");
    runs["rule"]["steps"][1]["runs"] = json!(3);
    assert!(error_of(&runs).contains("only sequence steps repeat"));
    let mut missing = two.clone();
    missing["rule"]["kind"] = json!("sequence");
    missing["rule"]["steps"][1]["missing"] = json!(true);
    assert!(error_of(&missing).contains("missing steps need a sequence with maxspan"));
    missing["rule"]["maxspan_ns"] = json!(1000);
    assert!(load_doc(&missing).is_ok());
    let mut zero = missing.clone();
    zero["rule"]["steps"][0]["runs"] = json!(0);
    assert!(error_of(&zero).contains("runs must be from 1"));
    let mut keys = missing.clone();
    keys["rule"]["steps"][0]["by"] =
        json!([{"field": 1, "path": "host.id", "type": "string", "optional": false}]);
    assert!(error_of(&keys).contains("as many join keys"));
    let mut pipe = missing;
    pipe["rule"]["pipes"] = json!([{"op": "sort", "count": 1}]);
    assert_eq!(error_of(&pipe), "rule.pipes: unknown pipe \"sort\"");
}

#[test]
fn nesting_is_bounded() {
    let mut nodes = vec![lit("bool", json!(true))];
    for i in 0..kestrel_ir::MAX_DEPTH {
        nodes.push(json!({"op": "Not", "operand": i}));
    }
    assert!(error_of(&event_doc(Value::Array(nodes.clone()), json!({}))).contains("nests deeper"));
    nodes.pop();
    assert!(load_doc(&event_doc(Value::Array(nodes), json!({}))).is_ok());
}

#[test]
fn shared_nodes_that_expand_exponentially_are_refused() {
    // Each level uses the one below twice: 2^40 nodes once expanded.
    let mut nodes = vec![json!({"op": "Literal", "type": "bool", "value": true})];
    for i in 0..40 {
        nodes.push(json!({"op": "Logical", "logic": "and", "operands": [i, i]}));
    }
    let doc = event_doc(json!(nodes), json!({}));
    let err = Program::from_json_with(&doc.to_string(), |id, _| id).unwrap_err();
    assert!(err.to_string().contains("expands to more than"), "{err}");
}
