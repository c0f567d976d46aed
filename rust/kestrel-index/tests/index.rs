//! Anchor extraction and candidate selection, checked against the IR
//! evaluator: an event the rule matches is always a candidate.

use kestrel_event::EventBatch;
use kestrel_index::RuleIndex;
use kestrel_ir::Program;
use kestrel_schema::Schema;
use serde_json::{json, Value};

/// The IR crate's document and batch helpers, shared rather than copied.
#[path = "../../kestrel-ir/tests/common/mod.rs"]
mod common;

use common::{lit, load};

/// An event-query document (see `common::event_doc`) requiring `category`.
fn event_doc(nodes: Value, tables: Value, category: Option<&str>) -> Value {
    let mut doc = common::event_doc(nodes, tables);
    doc["rule"]["steps"][0]["category"] = json!(category);
    doc
}

fn eq(left: u32, right: u32, ci: bool) -> Value {
    json!({"op": "Compare", "cmp": "eq", "left": left, "right": right, "case_insensitive": ci})
}

fn and(operands: &[u32]) -> Value {
    json!({"op": "Logical", "logic": "and", "operands": operands})
}

fn or(operands: &[u32]) -> Value {
    json!({"op": "Logical", "logic": "or", "operands": operands})
}

fn in_set(operand: u32, set: u32, ci: bool) -> Value {
    json!({"op": "InSet", "operand": operand, "set": set, "case_insensitive": ci})
}

fn set(values: Value, types: &[&str], ci: bool) -> Value {
    json!({"values": values, "types": types, "case_insensitive": ci})
}

fn schema() -> Schema {
    kestrel_schema::ecs_default()
}

fn describe(doc: &Value) -> Option<String> {
    let json = doc.to_string();
    let index = RuleIndex::new(&[Some(&json)], &schema()).expect("valid IR");
    index.anchor(0).map(|a| {
        format!(
            "{a} {:?}",
            a.terms.iter().flat_map(|t| &t.values).collect::<Vec<_>>()
        )
    })
}

fn batch(lines: &[Value]) -> EventBatch {
    common::batch(&schema(), lines)
}

/// Candidates of one rule, after checking that every match is among them.
fn candidates(doc: &Value, events: &[Value]) -> Option<Vec<u32>> {
    let json = doc.to_string();
    let index = RuleIndex::new(&[Some(&json)], &schema()).expect("valid IR");
    let batch = batch(events);
    let found = index.candidates(&batch).remove(0);
    let program = Program::from_json(&json, &schema()).unwrap();
    for ev in 0..batch.len() {
        if program.step_matches(0, &batch, ev) {
            assert!(
                found.as_ref().is_none_or(|c| c.contains(&(ev as u32))),
                "event {ev} matches but is no candidate"
            );
        }
    }
    found
}

/// `process.name in ("CMD.exe", "pwsh.exe") and process.pid == "4"`, ci set.
fn name_rule(ci: bool, category: Option<&str>) -> Value {
    event_doc(
        json!([
            load("process.name"),
            in_set(0, 0, ci),
            load("process.args"),
            lit("string", json!("x")),
            eq(2, 3, false),
            and(&[1, 4])
        ]),
        json!({"sets": [set(json!(["CMD.exe", "pwsh.exe"]), &["string", "string"], ci)]}),
        category,
    )
}

#[test]
fn the_smallest_membership_under_nested_ands_is_the_anchor() {
    assert_eq!(
        describe(&name_rule(true, None)).unwrap(),
        "process.args in 1 value (cs) [\"x\"]"
    );
    // (a and (b and c)): flattened; literal on the left works too.
    let doc = event_doc(
        json!([
            lit("string", json!("v")),
            load("event.action"),
            eq(0, 1, true),
            load("process.name"),
            in_set(3, 0, false),
            and(&[4]),
            and(&[2, 5])
        ]),
        json!({"sets": [set(json!(["a"]), &["string"], false)]}),
        None,
    );
    assert_eq!(
        describe(&doc).unwrap(),
        "event.action in 1 value (ci) [\"v\"]"
    );
}

#[test]
fn the_anchor_on_the_field_with_more_distinct_values_wins() {
    // Both rules need host.os.type == "windows"; their process names differ,
    // so process.name is the more selective anchor (1 of 3 names vs 1 of 1 OS).
    let rule = |name: &str| {
        event_doc(
            json!([
                load("host.os.type"),
                lit("string", json!("windows")),
                eq(0, 1, false),
                load("process.name"),
                lit("string", json!(name)),
                eq(3, 4, true),
                and(&[2, 5])
            ]),
            json!({}),
            None,
        )
        .to_string()
    };
    let (a, b, c) = (rule("a.exe"), rule("b.exe"), rule("c.exe"));
    let index = RuleIndex::new(&[Some(&a), Some(&b), Some(&c)], &schema()).unwrap();
    assert_eq!(
        index.anchor(1).unwrap().to_string(),
        "process.name in 1 value (ci)"
    );
    let events = [json!({"host": {"os": {"type": "windows"}}, "process": {"name": "B.EXE"}})];
    assert_eq!(
        index.candidates(&batch(&events)),
        vec![Some(vec![]), Some(vec![0]), Some(vec![])]
    );
}

#[test]
fn numbers_and_open_ors_are_not_anchors() {
    // `process.name == "a" or process.pid == 4`: the second branch has no anchor.
    let doc = event_doc(
        json!([
            load("process.name"),
            lit("string", json!("a")),
            eq(0, 1, false),
            load("process.pid"),
            lit("i64", json!(4)),
            eq(3, 4, false),
            or(&[2, 5])
        ]),
        json!({}),
        None,
    );
    assert_eq!(describe(&doc), None);
    let numbers = event_doc(
        json!([load("destination.port"), in_set(0, 0, false)]),
        json!({"sets": [set(json!(["80", 443]), &["string", "i64"], false)]}),
        None,
    );
    assert_eq!(describe(&numbers), None);
}

/// `path : patterns` (case-insensitive), negated when `not`.
fn glob_rule(path: &str, patterns: Value, not: bool) -> Value {
    let mut nodes = vec![
        load(path),
        json!({"op": "WildcardMatch", "operand": 0, "glob": 0, "case_insensitive": true}),
    ];
    if not {
        nodes.push(json!({"op": "Not", "operand": 1}));
    }
    event_doc(
        Value::Array(nodes),
        json!({"globs": [{"patterns": patterns, "case_insensitive": true}]}),
        None,
    )
}

#[test]
fn globs_and_negations_are_anchors_tested_per_distinct_text() {
    assert_eq!(
        describe(&glob_rule("file.name", json!(["a.exe", "*.dll"]), false)).unwrap(),
        "file.name like 2 patterns (ci) [\"a.exe\", \"*.dll\"]"
    );
    assert_eq!(
        describe(&glob_rule("file.name", json!(["A.exe", "b.exe"]), false)).unwrap(),
        "file.name in 2 values (ci) [\"A.exe\", \"b.exe\"]"
    );
    assert_eq!(
        describe(&glob_rule("file.name", json!(["A.exe"]), true)).unwrap(),
        "file.name not in 1 value (ci) [\"A.exe\"]"
    );
    let like = glob_rule("file.name", json!(["*.dll", "a?.exe"]), false);
    let events = [
        json!({"file": {"name": "X.DLL"}}),
        json!({"file": {"name": "a.exe"}}),
        json!({"file": {"name": "ab.EXE"}}),
        json!({"file": {"name": ["x.txt", "y.dll"]}}),
        json!({}),
        // Folded two ways by the evaluators: always a candidate.
        json!({"file": {"name": "\u{130}.txt"}}),
    ];
    assert_eq!(candidates(&like, &events), Some(vec![0, 2, 3, 5]));
    let not_like = glob_rule("process.name", json!(["*.exe"]), true);
    let events = [
        json!({"process": {"name": "cmd.EXE"}}),
        json!({"process": {"name": "bash"}}),
        json!({}),
        // Over-approximated: one value fails the glob, the rule wants all to.
        json!({"process": {"name": ["a.exe", "b"]}}),
        json!({"process": {"name": "\u{130}.exe"}}),
    ];
    assert_eq!(candidates(&not_like, &events), Some(vec![1, 3, 4]));
    let not_equal = event_doc(
        json!([load("process.name"), lit("string", json!("bash")), {"op": "Compare", "cmp": "ne", "left": 0, "right": 1, "case_insensitive": false}]),
        json!({}),
        None,
    );
    let events = [
        json!({"process": {"name": "bash"}}),
        json!({"process": {"name": "Bash"}}),
        json!({}),
    ];
    assert_eq!(
        describe(&not_equal).unwrap(),
        "process.name not in 1 value (cs) [\"bash\"]"
    );
    assert_eq!(candidates(&not_equal, &events), Some(vec![1]));
}

/// Glob terms on one field are searched for their literals at once: the
/// candidates must be those each rule gets when indexed alone.
#[test]
fn glob_terms_sharing_a_field_are_screened_together_with_unchanged_candidates() {
    let rules = [
        glob_rule("file.name", json!(["*.dll", "a?.exe"]), false),
        glob_rule("file.name", json!(["*mimikatz*", "*.ps1"]), false),
        glob_rule("file.name", json!(["*.exe"]), true),
        glob_rule("file.name", json!(["x*y*z.txt"]), false),
        // Requires `.exe`, as `a?.exe` and the negation above do.
        glob_rule("file.name", json!(["*.exe"]), false),
    ];
    let events = [
        json!({"file": {"name": "X.DLL"}}),
        json!({"file": {"name": "Mimikatz.EXE"}}),
        json!({"file": {"name": "run.PS1"}}),
        json!({"file": {"name": ["a1.exe", "xAyBz.txt"]}}),
        json!({}),
        json!({"file": {"name": "\u{130}.dll"}}),
    ];
    let texts: Vec<String> = rules.iter().map(Value::to_string).collect();
    let docs: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
    let together = RuleIndex::new(&docs, &schema()).expect("valid IR");
    let found = together.candidates(&batch(&events));
    for (i, rule) in rules.iter().enumerate() {
        assert_eq!(found[i], candidates(rule, &events), "rule {i}");
    }
    assert_eq!(found[0], Some(vec![0, 3, 5]));
    assert_eq!(found[1], Some(vec![1, 2, 5]));
    assert_eq!(found[2], Some(vec![0, 2, 3, 5]));
    assert_eq!(found[3], Some(vec![3, 5]));
    assert_eq!(found[4], Some(vec![1, 3, 5]));
}

#[test]
fn globs_narrow_only_what_membership_leaves_wide() {
    // event.action == "x" and process.name : "*.exe"
    let doc = event_doc(
        json!([
            load("event.action"),
            lit("string", json!("x")),
            eq(0, 1, false),
            load("process.name"),
            {"op": "WildcardMatch", "operand": 3, "glob": 0, "case_insensitive": true},
            and(&[2, 4])
        ]),
        json!({"globs": [{"patterns": ["*.exe"], "case_insensitive": true}]}),
        None,
    );
    let event =
        |action: &str, name: &str| json!({"event": {"action": action}, "process": {"name": name}});
    // Every event has the action: the glob narrows them down.
    let wide: Vec<Value> = (0..64)
        .map(|i| event("x", if i % 8 == 0 { "a.exe" } else { "a" }))
        .collect();
    let expected: Vec<u32> = (0..64).step_by(8).collect();
    assert_eq!(candidates(&doc, &wide), Some(expected));
    // One event has it: below the threshold the glob is not worked out, and
    // the predicate, not the index, turns the event down.
    let mut narrow: Vec<Value> = (0..64).map(|_| event("y", "a.exe")).collect();
    narrow[5] = event("x", "a");
    assert_eq!(candidates(&doc, &narrow), Some(vec![5]));
}

#[test]
fn globs_over_fields_seen_to_be_wide_are_left_to_the_predicate() {
    // event.action == "x" and process.command_line : "*zip*"
    let doc = event_doc(
        json!([
            load("event.action"),
            lit("string", json!("x")),
            eq(0, 1, false),
            load("process.command_line"),
            {"op": "WildcardMatch", "operand": 3, "glob": 0, "case_insensitive": true},
            and(&[2, 4])
        ]),
        json!({"globs": [{"patterns": ["*zip*"], "case_insensitive": true}]}),
        None,
    )
    .to_string();
    let index = RuleIndex::new(&[Some(&doc)], &schema()).unwrap();
    // Every command line differs; one in four mentions zip.
    let events: Vec<Value> = (0..512)
        .map(|i| json!({"event": {"action": "x"}, "process": {"command_line": format!("{} {i}", if i % 4 == 0 { "zip" } else { "tar" })}}))
        .collect();
    let batch = batch(&events);
    let zipped: Vec<u32> = (0..512).step_by(4).collect();
    // The first batch shows the field is wide: its glob still narrows it...
    assert_eq!(index.candidates(&batch), vec![Some(zipped)]);
    // ...but later batches leave the glob to the rule's predicate.
    assert_eq!(index.candidates(&batch), vec![Some((0..512).collect())]);
}

#[test]
fn an_or_of_anchored_branches_is_anchored_on_their_union() {
    // process.name == "a" or (process.args == "b" and process.title == "1")
    let doc = event_doc(
        json!([
            load("process.name"),
            lit("string", json!("a")),
            eq(0, 1, false),
            load("process.args"),
            lit("string", json!("b")),
            eq(3, 4, false),
            load("process.title"),
            lit("string", json!("1")),
            eq(6, 7, false),
            and(&[5, 8]),
            or(&[2, 9])
        ]),
        json!({}),
        None,
    );
    // event.action == "x" or event.action == "y"
    let other = event_doc(
        json!([
            load("event.action"),
            lit("string", json!("x")),
            eq(0, 1, false),
            load("event.action"),
            lit("string", json!("y")),
            eq(3, 4, false),
            or(&[2, 5])
        ]),
        json!({}),
        None,
    );
    let (json, other) = (doc.to_string(), other.to_string());
    let index = RuleIndex::new(&[Some(&json), Some(&other)], &schema()).unwrap();
    assert_eq!(
        index.anchor(0).unwrap().to_string(),
        "process.name in 1 value (cs) or process.args in 1 value (cs)"
    );
    assert_eq!(
        index.anchor(1).unwrap().to_string(),
        "event.action in 1 value (cs) or event.action in 1 value (cs)"
    );
    let events = [
        json!({"event": {"action": "x"}, "process": {"args": ["b"]}}),
        json!({"event": {"action": "y"}, "process": {"name": "a"}}),
        json!({"event": {"action": "x"}, "process": {"name": "b", "args": "a"}}),
        json!({"event": {"action": "x"}, "process": {"name": "a", "args": "b", "title": "1"}}),
    ];
    let batch = batch(&events);
    assert_eq!(
        index.candidates(&batch),
        vec![Some(vec![0, 1, 3]), Some(vec![0, 1, 2, 3])]
    );
}

/// A two-step sequence: `[process where process.name in (..) and
/// process.args == "x"]` then `[network where process.name in (..)]`.
fn two_step_sequence() -> Value {
    let mut doc = name_rule(true, Some("process"));
    doc["rule"]["kind"] = json!("sequence");
    let first = doc["rule"]["steps"][0].clone();
    let mut second = first.clone();
    second["category"] = json!("network");
    second["predicate"] = json!(1);
    doc["rule"]["steps"] = json!([first, second]);
    doc
}

#[test]
fn sequences_are_anchored_on_the_union_of_their_filters() {
    let doc = two_step_sequence();
    assert_eq!(
        describe(&doc).as_deref(),
        Some(
            r#"process.args in 1 value (cs) or process.name in 2 values (ci) ["x", "CMD.exe", "pwsh.exe"]"#
        )
    );
    let json = doc.to_string();
    let index = RuleIndex::new(&[Some(&json)], &schema()).expect("valid IR");
    // Each term keeps its own step's category, and a candidate must pass
    // every anchor of some step: the first needs a name *and* the args.
    let events = [
        json!({"event": {"category": "process"}, "process": {"args": "x"}}),
        json!({"event": {"category": "network"}, "process": {"args": "x"}}),
        json!({"event": {"category": "network"}, "process": {"name": "cmd.EXE"}}),
        json!({"event": {"category": "process"}, "process": {"name": "cmd.exe"}}),
        json!({"event": {"category": "process"}, "process": {"name": "PWSH.exe", "args": ["y", "x"]}}),
    ];
    assert_eq!(index.candidates(&batch(&events)), vec![Some(vec![2, 4])]);
    // Per filter: the first step's (process, name and args), then the second's (network, name).
    assert_eq!(
        index.candidates_by_filter(&batch(&events)),
        vec![Some(vec![vec![4], vec![2]])]
    );
}

#[test]
fn a_filter_without_an_anchor_leaves_its_sequence_unanchored() {
    let mut doc = two_step_sequence();
    let nodes = doc["nodes"].as_array_mut().expect("nodes");
    nodes.push(lit("bool", json!(true)));
    let until = nodes.len() - 1;
    let mut filter = doc["rule"]["steps"][0].clone();
    filter["predicate"] = json!(until);
    doc["rule"]["until"] = filter;
    assert_eq!(describe(&doc), None);
}

#[test]
fn candidates_follow_case_arrays_nulls_and_category() {
    let set_only = |ci: bool, category: Option<&str>| {
        event_doc(
            json!([load("process.name"), in_set(0, 0, ci)]),
            json!({"sets": [set(json!(["CMD.exe", "İx"]), &["string", "string"], ci)]}),
            category,
        )
    };
    let events = [
        json!({"event": {"category": "process"}, "process": {"name": "cmd.EXE"}}),
        json!({"event": {"category": "process"}, "process": {"name": "CMD.exe"}}),
        json!({"event": {"category": "process"}}),
        json!({"event": {"category": "process"}, "process": {"name": null}}),
        json!({"event": {"category": "file"}, "process": {"name": ["a", "CMD.exe"]}}),
        json!({"event": {"category": "process"}, "process": {"name": ["a", null]}}),
        json!({"event": {"category": "process"}, "process": {"name": "Ix"}}),
        json!({"event": {"category": "process"}, "process": {"name": "other"}}),
    ];
    assert_eq!(
        candidates(&set_only(true, None), &events),
        Some(vec![0, 1, 4, 6])
    );
    assert_eq!(
        candidates(&set_only(false, None), &events),
        Some(vec![1, 4])
    );
    assert_eq!(
        candidates(&set_only(true, Some("process")), &events),
        Some(vec![0, 1, 6])
    );
    assert_eq!(
        candidates(&set_only(true, Some("network")), &events),
        Some(vec![])
    );
    // Rules without IR are not restricted.
    let index = RuleIndex::new(&[None], &schema()).unwrap();
    assert_eq!(index.candidates(&batch(&events)), vec![None]);
    assert_eq!(index.anchored(), 0);
}

/// A term's passing texts are kept as a list when few and as a flag per
/// text when many: both must give the same candidates, for a membership and
/// for its negation, whatever the batch holds.
#[test]
fn terms_passing_few_or_many_texts_select_alike() {
    let names: Vec<String> = (0..12).map(|i| format!("N{i}.exe")).collect();
    let rule = |not: bool| {
        let mut nodes = vec![load("process.name"), in_set(0, 0, true)];
        if not {
            nodes.push(json!({"op": "Not", "operand": 1}));
        }
        let types = vec!["string"; names.len()];
        event_doc(
            Value::Array(nodes),
            json!({"sets": [set(json!(names), &types, true)]}),
            None,
        )
    };
    for present in [2, 12] {
        // `present` members, folded differently, among texts that are none.
        let events: Vec<Value> = (0..40)
            .map(|i| {
                let name = if i % 2 == 0 && i / 2 < present {
                    format!("n{}.EXE", i / 2)
                } else {
                    format!("other{i}")
                };
                json!({"process": {"name": name}})
            })
            .collect();
        let members: Vec<u32> = (0..40).filter(|i| i % 2 == 0 && i / 2 < present).collect();
        let others: Vec<u32> = (0..40).filter(|i| !members.contains(i)).collect();
        assert_eq!(
            candidates(&rule(false), &events),
            Some(members),
            "{present} in"
        );
        assert_eq!(
            candidates(&rule(true), &events),
            Some(others),
            "{present} not in"
        );
    }
}

/// A field with few distinct texts is looked up text by text in a table of
/// the rule set's keys, one with many key by key: both find the same
/// members, case-insensitively too.
#[test]
fn membership_looked_up_from_either_side_agrees() {
    let mut values = vec!["CMD.exe".to_string(), "\u{130}x".to_string()];
    values.extend((0..18).map(|i| format!("{i}.exe")));
    let types = ["string"; 20];
    let rule = |ci: bool| {
        event_doc(
            json!([load("process.name"), in_set(0, 0, ci)]),
            json!({"sets": [set(json!(values), &types, ci)]}),
            None,
        )
    };
    // Few distinct texts against the keys: looked up text by text.
    let texts = ["cmd.EXE", "CMD.exe", "Ix", "\u{130}x", "i\u{307}x"];
    let few: Vec<Value> = texts
        .iter()
        .map(|t| json!({"process": {"name": t}}))
        .collect();
    // The same events, then enough other texts to outnumber the keys.
    let mut many = few.clone();
    many.extend((0..20).map(|i| json!({"process": {"name": format!("x{i}")}})));
    for (ci, members) in [(true, vec![0, 1, 2, 3, 4]), (false, vec![1, 3])] {
        let doc = rule(ci);
        assert_eq!(candidates(&doc, &few), Some(members.clone()), "ci {ci}");
        assert_eq!(candidates(&doc, &many), Some(members), "ci {ci}");
    }
}

#[test]
fn non_text_values_stay_candidates() {
    let doc = event_doc(
        json!([
            load("process.args"),
            lit("string", json!("80")),
            eq(0, 1, false)
        ]),
        json!({}),
        None,
    );
    let events = [
        json!({"process": {"args": 80}}),
        json!({"process": {"args": "81"}}),
        json!({"process": {"args": ["80"]}}),
    ];
    assert_eq!(candidates(&doc, &events), Some(vec![0, 2]));
}

/// Selecting on several threads shares the batch's dictionaries and term
/// states between them: every rule must get what one thread gives it.
#[test]
fn candidates_on_several_threads_are_those_of_one() {
    let variants = [
        name_rule(true, None),
        name_rule(false, Some("process")),
        glob_rule("file.name", json!(["*.dll", "a?.exe"]), false),
        glob_rule("file.name", json!(["*mimikatz*", "*.ps1"]), false),
        glob_rule("file.name", json!(["*.exe"]), true),
        glob_rule("process.name", json!(["cmd*"]), false),
    ];
    let texts: Vec<String> = (0..60)
        .map(|i| variants[i % variants.len()].to_string())
        .collect();
    let docs: Vec<Option<&str>> = texts.iter().map(|t| Some(t.as_str())).collect();
    let index = RuleIndex::new(&docs, &schema()).expect("valid IR");
    let events: Vec<Value> = (0..400)
        .map(|i| {
            let category = ["process", "file"][i % 2];
            let name = ["cmd.exe", "CMD.exe", "pwsh.exe", "x"][i % 4];
            let args = ["x", "y"][i % 3 / 2];
            let file = [format!("f{i}.dll"), "Mimikatz.EXE".into(), "a1.exe".into()][i % 3].clone();
            json!({
                "event": {"category": category},
                "process": {"name": name, "args": args},
                "file": {"name": file},
            })
        })
        .collect();
    let batch = batch(&events);
    let one = index.candidates_by_filter(&batch);
    assert!(one.iter().flatten().flatten().any(|list| !list.is_empty()));
    for threads in [2, 3, 8] {
        assert_eq!(
            index.candidates_by_filter_on(&batch, threads),
            one,
            "{threads} threads"
        );
    }
}
