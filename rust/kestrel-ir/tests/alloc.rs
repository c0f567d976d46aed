//! The common predicate shapes (field against literal, wildcards, sets,
//! regexes, string functions on fields) evaluate without touching the heap.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{batch, event_doc, lit, load};
use kestrel_ir::Program;
use kestrel_schema::Schema;
use serde_json::json;

/// Counts every allocation of the process (this binary holds one test).
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn common_predicates_do_not_allocate() {
    let call = |name: &str, args: [usize; 2], ci: bool| json!({"op": "FunctionCall", "name": name, "args": args, "case_insensitive": ci});
    let nodes = json!([
        load("process.name"),                                                                      // 0
        {"op": "WildcardMatch", "operand": 0, "glob": 0, "case_insensitive": true},                // 1
        {"op": "InSet", "operand": 0, "set": 0, "case_insensitive": true},                         // 2
        lit("string", json!("cmd.exe")),                                                           // 3
        {"op": "Compare", "cmp": "eq", "left": 0, "right": 3, "case_insensitive": true},           // 4
        load("process.args"),                                                                      // 5
        {"op": "WildcardMatch", "operand": 5, "glob": 1, "case_insensitive": false},               // 6
        {"op": "Not", "operand": 6},                                                               // 7
        {"op": "RegexMatch", "operand": 0, "regex": 0, "case_insensitive": true},                  // 8
        lit("string", json!("MD")),                                                                // 9
        call("stringContains", [0, 9], true),                                                      // 10
        load("process.pid"),                                                                       // 11
        lit("i64", json!(4)),                                                                      // 12
        {"op": "Compare", "cmp": "ge", "left": 11, "right": 12, "case_insensitive": false},        // 13
        lit("string", json!("C")),                                                                 // 14
        call("startsWith", [0, 14], false),                                                        // 15
        {"op": "IsNull", "operand": 5},                                                            // 16
        {"op": "Not", "operand": 16},                                                              // 17
        {"op": "Logical", "logic": "and", "operands": [1, 2, 4, 7, 8, 10, 13, 15, 17]}
    ]);
    let tables = json!({
        "sets": [{"values": ["CMD.EXE", "powershell.exe"], "types": ["string", "string"], "case_insensitive": true}],
        "globs": [{"patterns": ["*cmd*", "x?y"], "case_insensitive": true}, {"patterns": ["*-enc*"], "case_insensitive": false}],
        "regexes": [{"patterns": ["c.d\\.exe"], "translated": ["c.d\\.exe"], "case_insensitive": true}]
    });
    let schema = Schema::new("t", "1");
    let program = Program::from_json(&event_doc(nodes, tables).to_string(), &schema).unwrap();
    let events = [
        json!({"process": {"name": "CMD.EXE", "args": ["/c", "dir"], "pid": 4}}),
        json!({"process": {"name": "Cmd.exe", "args": ["-enc", "x"], "pid": 9}}),
        json!({"process": {"name": "notepad.exe", "pid": 1}}),
    ];
    let batch = batch(&schema, &events);
    let run = || {
        (0..batch.len())
            .map(|ev| program.eval_step(0, &batch, ev))
            .fold(0, |n, r| n + r.map_or(0, |b| b as i32 + 1))
    };
    let expected = run(); // warm up: per-thread matcher caches fill here
    assert_eq!(
        expected,
        2 + 1 + 1,
        "scores: true 2, false 1; the events are true, false, false"
    );
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100 {
        assert_eq!(run(), expected);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    // The counter does count.
    let probe = std::hint::black_box(vec![1u8; 8]);
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > before && probe.len() == 8);
}
