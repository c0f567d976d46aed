"""Leaves the core evaluates ahead of a module's list loop (rust/kestrel-wasm/src/leaves.rs).

A compiled module declares its field-against-constant leaves; the core
answers each filter's first test for the whole batch and the module reads a
byte. The answers must be the imports' answers on every shape a field takes
(missing, null, arrays, mixed types, non-ASCII text, repeated values), and a
table that makes no sense must leave the module working on host calls.
"""

from __future__ import annotations

import pytest

import kestrel
from kestrel import EventBatch, Schema
from kestrel._core import WasmRule
from kestrel.reference.interpreter import matches as reference_matches
from kestrel.runtime.wasm import WasmPredicate

NAMES = ["cmd.exe", "CMD.EXE", "powershell.exe", "Ärger.exe", "cmd.exe", "cmd.exe", "svchost.exe"]


def _events() -> list[dict]:
    events = []
    for i in range(300):
        process: dict = {"name": NAMES[i % len(NAMES)], "command_line": f"run {i} -enc {'x' * (i % 5)}"}
        shape = i % 9
        if shape == 0:
            process["pid"] = None
        elif shape == 1:
            process["pid"] = [5, 5000]
        elif shape == 2:
            process["pid"] = 2.5e3
        elif shape == 3:
            process["name"] = ["svchost.exe", "cmd.exe"]
        elif shape == 4:
            del process["name"]
        elif shape == 5:
            process["pid"] = 999
        else:
            process["pid"] = 1000 + i
        events.append({"event": {"category": "process"}, "process": process})
    return events


QUERIES = {
    "cmp_i64": "process where process.pid > 1000",
    "cmp_i64 ne": "process where process.pid != 999",
    "cmp_f64": "process where process.pid <= 2500.5",
    "is_null": "process where process.pid == null",
    "not null": "process where process.name != null",
    "str_eq ci": 'process where process.name : "cmd.exe"',
    "str_eq": 'process where process.name == "cmd.exe"',
    "str_eq non-ascii": 'process where process.name : "ärger.exe"',
    "starts_with": 'process where startsWith(process.name, "cmd")',
    "ends_with ci": 'process where endsWith~(process.name, ".EXE")',
    "contains": 'process where stringContains(process.command_line, "-enc")',
    "glob": 'process where process.name : ("*shell*", "svc*")',
    "regex": 'process where process.name regex~ "CMD\\\\.exe"',
    "set": 'process where process.name in~ ("CMD.exe", "svchost.exe")',
    "combined": 'process where process.pid > 1000 and not process.name : "cmd.exe" or process.pid == null',
}


@pytest.fixture(scope="module")
def schema():
    return Schema.default()


@pytest.fixture(scope="module")
def events():
    return _events()


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_leaves_evaluated_ahead_give_the_imports_answers(query, schema, events, tmp_path):
    compiled = kestrel.compile(query, schema=schema)
    predicate = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path})
    batch = EventBatch.from_dicts(events, schema=schema)
    got = list(predicate.evaluate(batch))
    expected = [i for i, e in enumerate(events) if reference_matches(compiled, e)]
    assert got == expected
    stats = predicate.rule.stats()
    assert stats["leaves_declared"] >= 1
    assert stats["leaves_ahead"] == 1


def test_only_the_first_test_is_evaluated_ahead(schema, events, tmp_path):
    query = 'process where process.pid > 1000 and process.name : ("*shell*", "svc*") and process.name != "x"'
    compiled = kestrel.compile(query, schema=schema)
    predicate = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path})
    batch = EventBatch.from_dicts(events, schema=schema)
    assert list(predicate.evaluate(batch)) == [i for i, e in enumerate(events) if reference_matches(compiled, e)]
    stats = predicate.rule.stats()
    assert (stats["leaves_declared"], stats["leaves_ahead"]) == (3, 1)


def test_a_filter_evaluates_only_its_own_leaves(schema, tmp_path):
    query = "sequence [process where process.pid > 1000] [file where file.size > 10]"
    compiled = kestrel.compile(query, schema=schema)
    predicate = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path})
    events = [
        {"event": {"category": "process"}, "process": {"pid": 4000}},
        {"event": {"category": "file"}, "file": {"size": 50}},
    ]
    batch = EventBatch.from_dicts(events, schema=schema)
    assert list(predicate.evaluate(batch, 0)) == [0]
    assert predicate.rule.stats()["leaves_ahead"] == 1
    assert list(predicate.evaluate(batch, 1)) == [1]
    assert predicate.rule.stats()["leaves_ahead"] == 2


def test_results_survive_a_memory_limit_too_small_for_the_leaf_bytes(schema, tmp_path):
    query = "process where process.pid > 1000 and process.pid < 50000 and process.pid != 1234"
    compiled = kestrel.compile(query, schema=schema)
    events = [{"event": {"category": "process"}, "process": {"pid": i}} for i in range(60_000)]
    batch = EventBatch.from_dicts(events, schema=schema)
    # Past the first 64 KiB, the lists (8 bytes per event) fit in 9 pages; the
    # first test's byte per event more does not.
    small = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path, "memory_limit": 9 * 65536})
    roomy = WasmPredicate.from_compiled(compiled, schema, limits={"cache_dir": tmp_path})
    assert list(small.evaluate(batch)) == list(roomy.evaluate(batch)) == [i for i in range(1001, 50000) if i != 1234]
    assert small.rule.stats()["leaves_ahead"] == 0
    assert roomy.rule.stats()["leaves_ahead"] == 1


def _module(table: str, leaves_at: int) -> str:
    """A pid > 1000 rule that declares `table` at `leaves_at` and reads slot 16."""
    return f"""
(module
  (import "kestrel" "cmp_i64" (func $cmp (param i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (global (export "pred_leaves") i32 (i32.const {leaves_at}))
  (global (export "pred_scratch") i32 (i32.const 4096))
  (data (i32.const 32) "{table}")
  (func $f (param $ev i32) (result i32) (local $r i32)
    (i32.eq
      (if (result i32) (local.tee $r (i32.load (i32.const 16)))
        (then (i32.load8_s (i32.add (local.get $r) (local.get $ev))))
        (else (call $cmp (local.get $ev) (i32.const 0) (i32.const 4) (i64.const 1000))))
      (i32.const 1)))
  (func (export "pred_eval") (param $ev i32) (result i32) (call $f (local.get $ev)))
  (func (export "pred_eval_list") (param $filter i32) (param $in i32) (param $count i32) (param $out i32) (result i32)
    (local $i i32) (local $n i32) (local $ev i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $ev (i32.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))
      (if (call $f (local.get $ev))
        (then (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))) (local.get $ev))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $n)))
"""


def _bytes(*words: int, rhs: int = 1000) -> str:
    data = b"".join(w.to_bytes(4, "little", signed=w < 0) for w in words) + rhs.to_bytes(8, "little")
    return "".join(f"\\{b:02x}" for b in data)


# count 1, slots at 16, then one cmp_i64 entry: kind 1, filter 0, field 0,
# op 4 (>), b 0, flags 1 (the filter's first test).
GOOD = "\\01\\00\\00\\00\\10\\00\\00\\00" + _bytes(1, 0, 0, 4, 0, 1)
HOSTILE = {
    "unknown kind": "\\01\\00\\00\\00\\10\\00\\00\\00" + _bytes(77, 0, 0, 4, 0, 1),
    "slots outside the memory": "\\01\\00\\00\\00\\00\\00\\ff\\7f" + _bytes(1, 0, 0, 4, 0, 1),
    "count past the memory": "\\00\\00\\01\\00\\10\\00\\00\\00" + _bytes(1, 0, 0, 4, 0, 1),
    "field the module does not have": "\\01\\00\\00\\00\\10\\00\\00\\00" + _bytes(1, 0, 9, 4, 0, 1),
}


def _load(wat: str, schema, tmp_path) -> WasmRule:
    return WasmRule(wat.encode(), rule_id="leaves", schema=schema, fields=["process.pid"], cache_dir=tmp_path)


def test_a_hand_written_table_is_honoured(schema, tmp_path):
    events = [{"event": {"category": "process"}, "process": {"pid": p}} for p in (5, 5000, 1000, 1001)]
    rule = _load(_module(GOOD, 32), schema, tmp_path)
    assert list(rule.evaluate(EventBatch.from_dicts(events, schema=schema))) == [1, 3]
    assert (rule.stats()["leaves_declared"], rule.stats()["leaves_ahead"]) == (1, 1)


@pytest.mark.parametrize("table", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_table_that_makes_no_sense_leaves_the_module_on_host_calls(table, schema, tmp_path):
    events = [{"event": {"category": "process"}, "process": {"pid": p}} for p in (5, 5000, 1000, 1001)]
    rule = _load(_module(table, 32), schema, tmp_path)
    assert list(rule.evaluate(EventBatch.from_dicts(events, schema=schema))) == [1, 3]
    assert rule.stats()["leaves_ahead"] == 0


def test_a_table_address_outside_the_memory_is_ignored(schema, tmp_path):
    events = [{"event": {"category": "process"}, "process": {"pid": p}} for p in (5, 5000)]
    rule = _load(_module(GOOD, 1 << 30), schema, tmp_path)
    assert list(rule.evaluate(EventBatch.from_dicts(events, schema=schema))) == [1]
    assert rule.stats()["leaves_declared"] == 0
