//! Evaluation over decoded batches: the interpreter's semantics, end to end.

mod common;

use common::{batch, event_doc, lit, load};
use kestrel_host::NodeEvaluator;
use kestrel_ir::{Program, Scalar, Val};
use kestrel_schema::Schema;
use serde_json::{json, Value};

/// Evaluate the last node of `nodes` (with `tables`) over each event. Each
/// event gets its own batch and schema, so a field's type is that event's
/// (batches settle an unknown field's type on first sight).
fn run(nodes: Value, tables: Value, events: &[Value]) -> Vec<Option<bool>> {
    let doc = event_doc(nodes, tables).to_string();
    let eval = |event: &Value| {
        let schema = Schema::new("t", "1");
        let program = Program::from_json(&doc, &schema).unwrap();
        let batch = batch(&schema, std::slice::from_ref(event));
        assert_eq!(batch.len(), 1, "{:?}", batch.errors());
        program.eval_step(0, &batch, 0)
    };
    events.iter().map(eval).collect()
}

fn cmp(op: &str, ci: bool) -> Value {
    json!({"op": "Compare", "cmp": op, "left": 0, "right": 1, "case_insensitive": ci})
}

#[test]
fn null_and_arrays_in_comparisons() {
    let nodes = json!([load("a"), lit("string", json!("x")), cmp("eq", false)]);
    let events = [
        json!({"a": "x"}),
        json!({"a": "y"}),
        json!({}),
        json!({"a": null}),
        json!({"a": []}),
        json!({"a": ["y", "x"]}),
        json!({"a": ["y", null]}),
    ];
    assert_eq!(
        run(nodes, json!({}), &events),
        [
            Some(true),
            Some(false),
            None,
            None,
            None,
            Some(true),
            Some(false)
        ]
    );
}

#[test]
fn not_of_an_array_test_holds_when_no_element_matches() {
    let nodes = json!([load("a"), lit("string", json!("x")), cmp("eq", false), {"op": "Not", "operand": 2}]);
    let events = [
        json!({"a": ["y", "x"]}),
        json!({"a": ["y", "z"]}),
        json!({}),
    ];
    assert_eq!(
        run(nodes, json!({}), &events),
        [Some(false), Some(true), None]
    );
}

#[test]
fn kleene_logic() {
    // (a == 1) and / or (b == 1)
    let base = json!([load("a"), lit("i64", json!(1)), cmp("eq", false), load("b"),
        {"op": "Compare", "cmp": "eq", "left": 3, "right": 1, "case_insensitive": false}]);
    let with = |logic: &str| {
        let mut nodes = base.as_array().unwrap().clone();
        nodes.push(json!({"op": "Logical", "logic": logic, "operands": [2, 4]}));
        Value::Array(nodes)
    };
    let events = [
        json!({"a": 2}),
        json!({"a": 1}),
        json!({"a": 1, "b": 1}),
        json!({"b": 2}),
    ];
    assert_eq!(
        run(with("and"), json!({}), &events),
        [Some(false), None, Some(true), Some(false)]
    );
    assert_eq!(
        run(with("or"), json!({}), &events),
        [None, Some(true), Some(true), None]
    );
}

#[test]
fn case_insensitive_and_mixed_type_comparisons() {
    let ci = json!([load("a"), lit("string", json!("CMD.exe")), cmp("eq", true)]);
    assert_eq!(
        run(
            ci,
            json!({}),
            &[json!({"a": "cmd.EXE"}), json!({"a": "cmd"})]
        ),
        [Some(true), Some(false)]
    );
    // "4624" == 4624 compares texts; ordering a string with a number is false.
    let eq = json!([load("a"), lit("i64", json!(4624)), cmp("eq", false)]);
    assert_eq!(
        run(
            eq,
            json!({}),
            &[
                json!({"a": "4624"}),
                json!({"a": 4624.0}),
                json!({"a": true})
            ]
        ),
        [Some(true), Some(true), Some(false)]
    );
    let lt = json!([load("a"), lit("i64", json!(5)), cmp("lt", false)]);
    assert_eq!(
        run(
            lt,
            json!({}),
            &[json!({"a": "1"}), json!({"a": 1}), json!({"a": [9, 1]})]
        ),
        [Some(false), Some(true), Some(true)]
    );
}

#[test]
fn sets_globs_and_regexes() {
    let set = json!([load("a"), {"op": "InSet", "operand": 0, "set": 0, "case_insensitive": true}]);
    let tables = json!({"sets": [{"values": ["Cmd.exe", 80], "types": ["string", "i64"], "case_insensitive": true}]});
    let events = [
        json!({"a": "CMD.EXE"}),
        json!({"a": 80}),
        json!({"a": "80"}),
        json!({"a": ["x", 80]}),
        json!({"a": "x"}),
        json!({}),
    ];
    assert_eq!(
        run(set, tables, &events),
        [
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some(false),
            None
        ]
    );

    let glob = json!([load("a"), {"op": "WildcardMatch", "operand": 0, "glob": 0, "case_insensitive": true}]);
    let tables = json!({"globs": [{"patterns": ["*\\CMD.exe", "12?"], "case_insensitive": true}]});
    let events = [
        json!({"a": "C:\\Windows\\cmd.EXE"}),
        json!({"a": 123}),
        json!({"a": 1234}),
        json!({"a": "x"}),
    ];
    assert_eq!(
        run(glob, tables, &events),
        [Some(true), Some(true), Some(false), Some(false)]
    );

    let regex = json!([load("a"), {"op": "RegexMatch", "operand": 0, "regex": 0, "case_insensitive": false}]);
    let tables = json!({"regexes": [{"patterns": ["a.c"], "translated": ["a.c"], "case_insensitive": false}]});
    let events = [
        json!({"a": "abc"}),
        json!({"a": "a\nc"}),
        json!({"a": "xabc"}),
        json!({"a": ["q", "abc"]}),
    ];
    assert_eq!(
        run(regex, tables, &events),
        [Some(true), Some(true), Some(false), Some(true)]
    );
}

#[test]
fn is_null_of_arrays_and_missing_fields() {
    let nodes = json!([load("a"), {"op": "IsNull", "operand": 0}]);
    let events = [
        json!({}),
        json!({"a": null}),
        json!({"a": []}),
        json!({"a": [null]}),
        json!({"a": [1, 2]}),
        json!({"a": 0}),
    ];
    assert_eq!(
        run(nodes, json!({}), &events),
        [
            Some(true),
            Some(true),
            Some(true),
            Some(true),
            Some(false),
            Some(false)
        ]
    );
}

#[test]
fn functions_map_over_arrays_and_errors_become_null() {
    // length(a) > 3
    let nodes = json!([load("a"), {"op": "FunctionCall", "name": "length", "args": [0], "case_insensitive": false},
        lit("i64", json!(3)), {"op": "Compare", "cmp": "gt", "left": 1, "right": 2, "case_insensitive": false}]);
    let events = [
        json!({"a": "abcd"}),
        json!({"a": ["ab", "abcde"]}),
        json!({"a": ["ab", "c"]}),
        json!({"a": 12345}),
        json!({}),
    ];
    assert_eq!(
        run(nodes, json!({}), &events),
        [Some(true), Some(true), Some(false), None, None]
    );
}

#[test]
fn arithmetic_cross_products() {
    // a + b == 5 over arrays: any combination.
    let nodes = json!([load("a"), load("b"), {"op": "Arithmetic", "arith": "add", "operands": [0, 1]},
        lit("i64", json!(5)), {"op": "Compare", "cmp": "eq", "left": 2, "right": 3, "case_insensitive": false}]);
    let events = [
        json!({"a": [1, 2], "b": [3, 10]}),
        json!({"a": [1, 2], "b": [5, 10]}),
        json!({"a": 1, "b": "x"}),
    ];
    assert_eq!(
        run(nodes, json!({}), &events),
        [Some(true), Some(false), None]
    );
}

#[test]
fn too_many_combinations_give_up() {
    // a == b with 400 x 400 alternatives (> MAX_COMBINATIONS) is false, even if some pair is equal.
    let nodes = json!([load("a"), load("b"), {"op": "Compare", "cmp": "eq", "left": 0, "right": 1, "case_insensitive": false}]);
    let many: Vec<i64> = (0..400).collect();
    assert_eq!(
        run(
            nodes,
            json!({}),
            &[
                json!({"a": many, "b": many}),
                json!({"a": [1, 2], "b": [2, 3]})
            ]
        ),
        [Some(false), Some(true)]
    );
}

#[test]
fn values_and_the_node_evaluator() {
    let schema = Schema::new("t", "1");
    let nodes = json!([load("a"), lit("i64", json!(1)), {"op": "FunctionCall", "name": "substring", "args": [0, 1], "case_insensitive": false},
        lit("string", json!("bc")), {"op": "Compare", "cmp": "eq", "left": 2, "right": 3, "case_insensitive": false}]);
    let program = Program::from_json(&event_doc(nodes, json!({})).to_string(), &schema).unwrap();
    let batch = batch(
        &schema,
        &[json!({"a": "abc"}), json!({"a": ["xbc", "zzz"]}), json!({})],
    );
    match program.eval(&batch, 0, 2) {
        Some(Val::One(Scalar::Str(s))) => assert_eq!(s, "bc"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(program.eval(&batch, 1, 2), Some(Val::Many(v)) if v.len() == 2));
    let evaluator: &dyn NodeEvaluator = &program;
    assert_eq!(
        [0, 1, 2].map(|ev| evaluator.eval_node(&batch, ev, 4)),
        [1, 1, -1]
    );
    assert_eq!(
        evaluator.eval_node(&batch, 0, 1),
        -1,
        "a string value is null in a boolean context"
    );
    assert_eq!(evaluator.eval_node(&batch, 0, 99), -1);
    assert_eq!(evaluator.eval_node(&batch, 99, 4), -1);
}

#[test]
fn step_matches_checks_the_category() {
    let schema = Schema::new("t", "1");
    let mut doc = event_doc(json!([lit("bool", json!(true))]), json!({}));
    doc["rule"]["steps"][0]["category"] = json!("process");
    let program = Program::from_json(&doc.to_string(), &schema).unwrap();
    let events = [
        json!({"event": {"category": "process"}}),
        json!({"event": {"category": ["network", "process"]}}),
        json!({"event": {"category": "file"}}),
        json!({}),
    ];
    let batch = batch(&schema, &events);
    let hits: Vec<bool> = (0..4)
        .map(|ev| program.step_matches(0, &batch, ev))
        .collect();
    assert_eq!(hits, [true, true, false, false]);
    assert!(!program.step_matches(1, &batch, 0));
    assert!(!program.step_matches(0, &batch, 10));
}

#[test]
fn the_deepest_allowed_expression_evaluates_on_a_small_stack() {
    // -(-(-(...a))) nested as deep as validation allows, on a 1 MiB thread.
    let mut nodes = vec![load("a")];
    for i in 0..kestrel_ir::MAX_DEPTH - 3 {
        nodes.push(json!({"op": "Arithmetic", "arith": "neg", "operands": [i]}));
    }
    let top = nodes.len() - 1;
    nodes.push(lit("i64", json!(-5)));
    nodes.push(json!({"op": "Compare", "cmp": "eq", "left": top, "right": top + 1, "case_insensitive": false}));
    let doc = event_doc(Value::Array(nodes), json!({}));
    let expected = if (kestrel_ir::MAX_DEPTH - 3) % 2 == 1 {
        Some(true)
    } else {
        Some(false)
    };
    let result = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || run(doc["nodes"].clone(), json!({}), &[json!({"a": 5})]))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(result, [expected]);
}
