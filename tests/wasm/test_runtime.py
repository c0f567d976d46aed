"""The Wasm runtime with hand-written modules: the ABI, limits, failures and the AOT cache."""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kestrel
from kestrel import EventBatch, Schema
from kestrel._core import WasmRule, WasmRuleError

from support.lying_modules import EMIT_FLOOD, EMIT_OUT_OF_RANGE, LIST_OUT_OF_RANGE

REPO = Path(__file__).resolve().parents[2]

EVENTS = [
    {"event": {"category": "process"}, "process": {"pid": 4242, "name": "cmd.exe"}},
    {"event": {"category": "process"}, "process": {"pid": 7, "name": "init"}},
    {"event": {"category": "file"}, "file": {"path": "/tmp/x"}},
]


@pytest.fixture
def schema():
    return Schema.default()


@pytest.fixture
def batch(schema):
    return EventBatch.from_dicts(EVENTS, schema=schema)


def load(wat: str, schema, tmp_path, **kw):
    kw.setdefault("cache_dir", tmp_path / "cache")
    return WasmRule(wat.encode(), rule_id=kw.pop("rule_id", "test"), schema=schema, **kw)


PID_RULE = """
(module
  (import "kestrel" "cmp_i64" (func $cmp (param i32 i32 i32 i64) (result i32)))
  (func (export "pred_eval") (param $ev i32) (result i32)
    (i32.eq (call $cmp (local.get $ev) (i32.const 0) (i32.const 4) (i64.const 1000)) (i32.const 1))))
"""


def test_seed_example_package_runs_unmodified(schema, tmp_path):
    pkg = REPO / "rules" / "wasm_example_rule"
    manifest = json.loads((pkg / "manifest.json").read_text())
    table = {int(k): v for k, v in manifest["fields"].items()}
    fields = [table.get(i, "") for i in range(max(table) + 1)]
    rule = load((pkg / manifest["entry"]).read_text(), schema, tmp_path, rule_id=manifest["id"], fields=fields)
    events = EventBatch.from_ndjson(pkg / "tests" / "events.ndjson", schema=schema)
    expected = json.loads((pkg / "tests" / "expected.json").read_text())["alerts"]
    matches = rule.evaluate(events)
    assert matches == [a["event"] for a in expected]
    assert [rule.capture(events, i) for i in matches] == [a["captures"] for a in expected]


def test_binary_and_text_modules_load_alike(schema, batch, tmp_path):
    binary = kestrel._core.wat_to_wasm(PID_RULE)
    assert binary[:4] == b"\0asm"
    for module in (PID_RULE.encode(), binary):
        rule = WasmRule(module, rule_id="pid", schema=schema, fields=["process.pid"], cache_dir=tmp_path)
        assert rule.evaluate(batch) == [0]


def test_category_and_string_imports(schema, batch, tmp_path):
    wat = """
    (module
      (import "kestrel" "category_is" (func $cat (param i32 i32) (result i32)))
      (import "kestrel" "str_eq" (func $eq (param i32 i32 i32 i32) (result i32)))
      (import "kestrel" "glob_match_field" (func $glob (param i32 i32 i32) (result i32)))
      (func (export "pred_eval") (param $ev i32) (result i32)
        (i32.and (call $cat (local.get $ev) (i32.const 0))
                 (i32.eq (call $eq (local.get $ev) (i32.const 0) (i32.const 1) (i32.const 1)) (i32.const 1))))
      (func (export "pred_eval_1") (param $ev i32) (result i32)
        (i32.eq (call $glob (local.get $ev) (i32.const 0) (i32.const 0)) (i32.const 1))))
    """
    rule = load(wat, schema, tmp_path, fields=["process.name"], literals=["process", "CMD.EXE"], globs=[(["i*"], False)])
    assert rule.filters == 2
    assert rule.evaluate(batch) == [0]
    assert rule.evaluate(batch, 1) == [1]
    with pytest.raises(WasmRuleError, match="no filter 2"):
        rule.evaluate(batch, 2)


def test_field_id_and_event_get_str_use_linear_memory(schema, batch, tmp_path):
    wat = """
    (module
      (import "kestrel" "field_id" (func $field_id (param i32 i32) (result i32)))
      (import "kestrel" "event_get_str" (func $get_str (param i32 i32 i32 i32) (result i32)))
      (import "kestrel" "glob_match" (func $glob (param i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "process.name")
      (global $name (mut i32) (i32.const -1))
      (func (export "pred_init") (result i32)
        (global.set $name (call $field_id (i32.const 0) (i32.const 12)))
        (i32.lt_s (global.get $name) (i32.const 0)))
      (func (export "pred_eval") (param $ev i32) (result i32) (local $n i32)
        (local.set $n (call $get_str (local.get $ev) (global.get $name) (i32.const 64) (i32.const 256)))
        (if (result i32) (i32.lt_s (local.get $n) (i32.const 0))
          (then (i32.const 0))
          (else (i32.eq (call $glob (i32.const 0) (i32.const 64) (local.get $n)) (i32.const 1))))))
    """
    rule = load(wat, schema, tmp_path, fields=["process.name"], globs=[(["*.exe"], False)])
    assert rule.evaluate(batch) == [0]


def test_alert_emit_adds_to_the_matches(schema, batch, tmp_path):
    wat = """
    (module
      (import "kestrel" "alert_emit" (func $emit (param i32) (result i32)))
      (func (export "pred_eval") (param $ev i32) (result i32)
        (if (i32.eq (local.get $ev) (i32.const 2)) (then (drop (call $emit (local.get $ev)))))
        (i32.const 0)))
    """
    assert load(wat, schema, tmp_path).evaluate(batch) == [2]


@pytest.mark.parametrize(
    ("wat", "message"),
    [
        ("(module)", "pred_eval"),
        ('(module (func (export "pred_eval") (param i32) (result i64) (i64.const 1)))', "pred_eval"),
        (
            '(module (import "kestrel" "no_such_import" (func)) (func (export "pred_eval") (param i32) (result i32) (i32.const 0)))',
            "no_such_import",
        ),
        ("(module (func", "invalid module"),
        (
            '(module (func (export "pred_init") (result i32) (i32.const 7)) (func (export "pred_eval") (param i32) (result i32) (i32.const 0)))',
            "pred_init returned 7",
        ),
        ('(module (memory 1000) (func (export "pred_eval") (param i32) (result i32) (i32.const 0)))', "instantiate"),
    ],
)
def test_broken_modules_are_refused_with_a_reason(schema, tmp_path, wat, message):
    with pytest.raises(WasmRuleError, match=message):
        load(wat, schema, tmp_path, rule_id="broken")
    assert issubclass(WasmRuleError, kestrel.KestrelError)


def test_garbage_bytes_are_refused(schema, tmp_path):
    with pytest.raises(WasmRuleError, match="invalid module"):
        WasmRule(b"\0asm\x01\0\0\0\xff\xff\xff", rule_id="junk", schema=schema, cache_dir=tmp_path)


TRAP = '(module (func (export "pred_eval") (param i32) (result i32) unreachable))'
LOOP = '(module (func (export "pred_eval") (param i32) (result i32) (loop $l (br $l)) (i32.const 0)))'
BOMB = """(module (memory 1)
  (func (export "pred_eval") (param i32) (result i32)
    (loop $l (br_if $l (i32.ge_s (memory.grow (i32.const 16)) (i32.const 0))))
    unreachable))"""


def test_a_trapping_rule_is_reported_and_quarantined(schema, batch, tmp_path):
    rule = load(TRAP, schema, tmp_path, rule_id="trapper", quarantine_after=2)
    for _ in range(2):
        with pytest.raises(WasmRuleError, match="rule trapper: rule trapped"):
            rule.evaluate(batch)
    assert rule.quarantined
    with pytest.raises(WasmRuleError, match="quarantined after 2 failures"):
        rule.evaluate(batch)
    assert rule.stats()["failures"] == 2
    rule.release()
    assert not rule.quarantined


def test_a_trap_survives_signal_handlers_reinstalled_by_the_host(tmp_path):
    # faulthandler.disable() puts back the handlers from before its enable(),
    # dropping any a library installed in between; pytest does this for every
    # in-process run. Traps must not depend on those handlers. A subprocess,
    # because the failure mode is the death of the process.
    script = textwrap.dedent(f"""
        import faulthandler
        from kestrel import EventBatch, Schema
        from kestrel._core import WasmRule, WasmRuleError
        faulthandler.enable()
        schema = Schema.default()
        batch = EventBatch.from_dicts({EVENTS!r}, schema=schema)
        rule = WasmRule({TRAP!r}.encode(), rule_id="trapper", schema=schema, cache_dir={str(tmp_path)!r})
        faulthandler.disable()
        faulthandler.enable()
        try:
            rule.evaluate(batch)
        except WasmRuleError as e:
            print("refused:", e)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "refused: rule trapper: rule trapped" in done.stdout


def test_an_infinite_loop_is_interrupted_in_bounded_time(schema, batch, tmp_path):
    rule = load(LOOP, schema, tmp_path, rule_id="spinner", time_limit_ms=50)
    started = time.monotonic()
    with pytest.raises(WasmRuleError, match="time limit of 50 ms"):
        rule.evaluate(batch)
    assert time.monotonic() - started < 5


def test_a_memory_bomb_hits_the_per_instance_cap(schema, batch, tmp_path):
    rule = load(BOMB, schema, tmp_path, rule_id="bomb", memory_limit=2 << 20)
    with pytest.raises(WasmRuleError, match="unreachable"):
        rule.evaluate(batch)


def test_other_rules_keep_running_beside_a_failing_one(schema, batch, tmp_path):
    bad = load(TRAP, schema, tmp_path, rule_id="bad", quarantine_after=1)
    good = load(PID_RULE, schema, tmp_path, rule_id="good", fields=["process.pid"])
    with pytest.raises(WasmRuleError):
        bad.evaluate(batch)
    assert bad.quarantined
    assert good.evaluate(batch) == [0]


def test_aot_cache_skips_compilation_and_rebuilds_corrupt_entries(schema, batch, tmp_path):
    cache = tmp_path / "aot"
    first = load(PID_RULE, schema, tmp_path, fields=["process.pid"], cache_dir=cache)
    assert first.stats()["cache"] == "stored"
    second = load(PID_RULE, schema, tmp_path, fields=["process.pid"], cache_dir=cache)
    assert second.stats()["cache"] == "hit"
    [entry] = list(cache.iterdir())
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    third = load(PID_RULE, schema, tmp_path, fields=["process.pid"], cache_dir=cache)
    assert third.stats()["cache"] == "rebuilt"
    assert third.evaluate(batch) == [0]
    entry.write_bytes(b"truncated")
    assert load(PID_RULE, schema, tmp_path, fields=["process.pid"], cache_dir=cache).stats()["cache"] == "rebuilt"


def test_runtime_info():
    info = WasmRule.runtime_info()
    assert info["allocator"] == "on-demand"
    assert info["epoch_tick_ms"] >= 1


@pytest.mark.parametrize(
    ("wat", "message"),
    [
        (LIST_OUT_OF_RANGE, "not offered"),
        (EMIT_OUT_OF_RANGE, "outside the batch"),
        (EMIT_FLOOD, "more results than the batch"),
    ],
    ids=["list-index-out-of-range", "emit-out-of-range", "emit-flood"],
)
def test_a_module_s_results_are_checked_and_a_bad_one_is_its_own_error(schema, batch, tmp_path, wat, message):
    rule = load(wat, schema, tmp_path, rule_id="liar", quarantine_after=2)
    for _ in range(2):
        with pytest.raises(WasmRuleError, match=f"rule liar: rule returned a bad result: .*{message}"):
            rule.evaluate(batch)
    assert rule.quarantined
