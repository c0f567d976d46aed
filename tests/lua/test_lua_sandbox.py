"""The sandbox: every escape in issue 5's list is refused with a clear error,
and runaway, memory-hungry or misbehaving predicates are stopped and reported
with the rule id while the engine keeps running."""

from __future__ import annotations

import math
import time

import pytest

from kestrel.runtime.lua import LuaLimits, LuaRuleError


def eval_body(body: str) -> str:
    return f"function pred_eval(event)\n{body}\nreturn false\nend\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("local ffi = ffi", "sandbox: 'ffi' is not available"),
        ("io.write('x')", "sandbox: 'io' is not available"),
        ("os.execute('true')", "sandbox: 'os.execute' is not available"),
        ("os.getenv('HOME')", "sandbox: 'os.getenv' is not available"),
        ("require('ffi')", "sandbox: 'require' is not available"),
        ("load('return 1')", "sandbox: 'load' is not available"),
        ("loadstring('return 1')", "sandbox: 'loadstring' is not available"),
        ("dofile('/etc/passwd')", "sandbox: 'dofile' is not available"),
        ("debug.getinfo(1)", "sandbox: 'debug' is not available"),
        ("jit.on()", "sandbox: 'jit' is not available"),
        ("collectgarbage()", "sandbox: 'collectgarbage' is not available"),
        ("setfenv(1, {})", "sandbox: 'setfenv' is not available"),
        ("getfenv(1)", "sandbox: 'getfenv' is not available"),
        ("package.loaded.ffi.cast('int', 1)", "sandbox: 'package' is not available"),
        ("local x = python.eval", "sandbox: 'python' is not available"),
        ("local f = string.dump(pred_eval)", "sandbox: 'string.dump' is not available"),
        ("local f = ('').dump(pred_eval)", "'dump'"),  # "attempt to call ... nil value", worded per VM
        ("getmetatable('').__index.rep = nil", "sandbox: getmetatable is only allowed on tables, not on a string"),
        ("coroutine.create(function() end)", "sandbox: 'coroutine' is not available"),
        ("setmetatable(_G, {})", "cannot change a protected metatable"),
    ],
)
def test_escape_is_refused_at_load(make_rule, body, message):
    # Run the escape attempt at load time so the error surfaces from LuaRule().
    with pytest.raises(LuaRuleError, match="rule 'test_rule': predicate.lua failed to load") as raised:
        make_rule(body + "\nfunction pred_eval(e) return false end")
    assert message in str(raised.value)


def test_escape_in_pred_eval_fails_the_batch(make_rule, batch):
    rule = make_rule(eval_body("os.execute('touch /tmp/kestrel-escape')"))
    result = rule.evaluate(batch)
    assert result.failure is not None
    assert "sandbox: 'os.execute' is not available" in str(result.failure)
    assert "rule 'test_rule' at event 0" in str(result.failure)


def test_only_time_and_clock_remain_in_os(make_rule, batch):
    rule = make_rule("function pred_eval(e) return type(os.time()) == 'number' and type(os.clock()) == 'number' end")
    assert rule.evaluate(batch).events() == [0, 1, 2]


def test_bytecode_is_refused(make_rule):
    with pytest.raises(LuaRuleError, match="precompiled Lua bytecode is not accepted"):
        make_rule("\x1bLJ\x02")


def test_python_objects_are_out_of_reach(make_rule, batch):
    # The field_id resolver (and, on the fallback, every host call) is a Python
    # callable held by the prelude; rule code only ever gets Lua functions.
    source = """
    function pred_eval(e)
      for k, v in pairs(kestrel) do
        if type(v) ~= 'function' then return true end
      end
      return false
    end"""
    assert make_rule(source).evaluate(batch).events() == []


def stop_message(vm: str) -> str:
    """LuaJIT rules are stopped by the core's watchdog at the batch's time
    budget; on the PUC Lua fallback, a count hook stops them sooner."""
    return "time budget of 1 s per batch exceeded" if vm == "lupa.luajit21" else "instruction budget exceeded"


def test_infinite_loop_is_stopped_in_bounded_time(make_rule, batch, vm):
    rule = make_rule(eval_body("local x = 0 while true do x = x + 1 end"))
    start = time.monotonic()
    result = rule.evaluate(batch)
    elapsed = time.monotonic() - start
    assert elapsed < 5, f"the runaway predicate ran {elapsed:.1f}s"
    assert stop_message(vm) in str(result.failure)
    assert "rule 'test_rule' at event 0" in str(result.failure)


@pytest.mark.parametrize(
    "body",
    [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function() while true do end end) end",
        "while true do pcall(error, 'x') end",
    ],
    ids=["pcall", "xpcall_with_a_looping_handler", "pcall_error"],
)
def test_pcall_cannot_swallow_the_stop(make_rule, batch, vm, body):
    rule = make_rule(eval_body(body))
    start = time.monotonic()
    result = rule.evaluate(batch)
    assert time.monotonic() - start < 5
    assert stop_message(vm) in str(result.failure)


def test_a_stopped_load_or_init_is_a_load_error(make_rule, vm):
    for source in ("while true do end", "function pred_init() while true do end end function pred_eval(e) return true end"):
        start = time.monotonic()
        with pytest.raises(LuaRuleError, match="budget"):
            make_rule(source)
        assert time.monotonic() - start < 5


def test_the_time_budget_is_per_batch_and_rearmed_for_each(make_rule, batch, vm):
    # Each batch does a little work; over many batches, far more than one budget.
    rule = make_rule(eval_body("for i = 1, 2000 do end"), limits=LuaLimits(max_batch_seconds=0.2))
    start = time.monotonic()
    while time.monotonic() - start < 0.6:
        assert rule.evaluate(batch).failure is None


def test_a_budget_is_per_event_not_per_batch(make_rule, batch):
    # Each event does a little work; the batch as a whole exceeds one event's budget.
    rule = make_rule(eval_body("for i = 1, 20000 do end"), limits=LuaLimits(max_instructions=200_000))
    assert rule.evaluate(batch).failure is None


def test_memory_bomb_is_capped(make_rule, batch):
    rule = make_rule(
        eval_body("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end"),
        limits=LuaLimits(max_memory=16 << 20, max_instructions=10**12),
    )
    result = rule.evaluate(batch)
    assert "memory" in str(result.failure)
    assert rule.memory_used() <= 16 << 20


def test_string_rep_bomb_is_capped(make_rule, batch):
    rule = make_rule(eval_body("local s = string.rep('x', 2^30)"), limits=LuaLimits(max_memory=16 << 20))
    assert "memory" in str(rule.evaluate(batch).failure)


def test_deep_recursion_is_an_error(make_rule, batch):
    rule = make_rule(eval_body("local function f(n) return 1 + f(n + 1) end f(1)"))
    result = rule.evaluate(batch)
    assert "stack overflow" in str(result.failure)


def test_coroutines_are_not_available(make_rule, batch):
    rule = make_rule(eval_body("local co = coroutine.create(function() coroutine.yield(1) end)"))
    assert "sandbox: 'coroutine' is not available" in str(rule.evaluate(batch).failure)


def test_jit_is_off_for_untrusted_rules_and_on_for_trusted(make_rule, vm):
    # The count hook only fires in the interpreter, so untrusted rules must not be JIT-compiled.
    if vm != "lupa.luajit21":
        pytest.skip("PUC Lua has no JIT")
    source = "function pred_eval(e) return false end"
    assert make_rule(source)._lua.eval("(jit.status())") is False
    assert make_rule(source, trusted=True)._lua.eval("(jit.status())") is True


def test_non_boolean_result_is_reported(make_rule, batch):
    rule = make_rule("function pred_eval(e) return 1 end")
    result = rule.evaluate(batch)
    assert str(result.failure) == "rule 'test_rule' at event 0: pred_eval returned a number (1), expected a boolean"
    rule = make_rule("function pred_eval(e) end")
    assert "pred_eval returned a nil" in str(rule.evaluate(batch).failure)


def test_erroring_predicate_is_reported(make_rule, batch):
    rule = make_rule("function pred_eval(e) if e == 1 then error('boom') end return false end")
    result = rule.evaluate(batch)
    assert result.failure.event == 1
    assert "boom" in str(result.failure) and "test_rule" in str(result.failure)
    assert result.events() == []


def test_quarantine_after_repeated_failures(make_rule, batch):
    rule = make_rule("function pred_eval(e) error('always') end", limits=LuaLimits(quarantine_after=2))
    assert rule.evaluate(batch).failure is not None and not rule.quarantined
    assert rule.evaluate(batch).failure is not None and rule.quarantined
    skipped = rule.evaluate(batch)
    assert skipped.skipped and skipped.failure is None and skipped.events() == []
    assert len(rule.failures) == 2


def test_a_failing_rule_does_not_stop_others(make_rule, batch):
    bad = make_rule("function pred_eval(e) error('bad') end")
    good = make_rule("function pred_eval(e) return kestrel.event_get_i64(e, 1) > 1000 end")
    assert bad.evaluate(batch).failure is not None
    assert good.evaluate(batch).events() == [0]


def test_the_state_survives_a_stopped_batch(make_rule, batch, vm):
    source = "function pred_eval(e) if e == 0 and not done then done = true while true do end end return true end"
    rule = make_rule(source)
    assert stop_message(vm) in str(rule.evaluate(batch).failure)
    assert rule.evaluate(batch).events() == [0, 1, 2]


def test_pred_init_must_return_zero(make_rule):
    with pytest.raises(LuaRuleError, match=r"pred_init\(\) returned 1, expected 0"):
        make_rule("function pred_init() return 1 end function pred_eval(e) return false end")


def test_missing_pred_eval(make_rule):
    with pytest.raises(LuaRuleError, match=r"defines no pred_eval\(event\)"):
        make_rule("x = 1")


def test_syntax_error_names_the_file(make_rule):
    with pytest.raises(LuaRuleError, match=r"predicate.lua:1:"):
        make_rule("function pred_eval(")


def test_print_goes_to_the_debug_log(make_rule, batch, caplog, capsys):
    rule = make_rule("function pred_eval(e) print('Debug: PID = ' .. kestrel.event_get_i64(e, 1)) return false end")
    with caplog.at_level("DEBUG", logger="kestrel.lua"):
        rule.evaluate(batch)
    assert "[test_rule] Debug: PID = 4242" in caplog.text
    assert capsys.readouterr().out == ""


def test_print_reaches_stdout_in_debug_mode(make_rule, batch, capsys):
    make_rule("function pred_eval(e) print('seen', e) return false end", debug=True).evaluate(batch)
    assert "[test_rule] seen\t0" in capsys.readouterr().out


def test_trusted_rules_run_with_the_jit(make_rule, batch):
    source = "function pred_eval(e) return kestrel.event_get_i64(e, 1) > 1000 end"
    assert make_rule(source, trusted=True).evaluate(batch).events() == [0]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # Recursing through C functions that call back into Lua would exhaust
        # the C stack (a crash, not an error) without the nesting cap.
        ("local function f() return (string.gsub('a', 'a', f)) end", "sandbox: string.gsub nested more than 64 deep"),
        ("local function f() return (('a'):gsub('a', f)) end", "sandbox: string.gsub nested more than 64 deep"),
        ("local function f(a, b) table.sort({3, 2, 1}, f) return a < b end", "sandbox: table.sort nested more than 64 deep"),
        (
            "local t = setmetatable({}, {__tostring = function(x) return string.format('%s', x) end})\n"
            "local function f() return tostring(t) end",
            "sandbox: string.format nested more than 64 deep",
        ),
        (
            "local t = setmetatable({}, {__index = function(x, k) return os.time(x) end})\n"
            "local function f() return os.time(t) end",
            "sandbox: os.time nested more than 64 deep",
        ),
        (
            "local mt = {} mt.__index = function(t, k) return setmetatable({}, mt)[k] end\n"
            "local function f() return setmetatable({}, mt).x end",
            "stack overflow",
        ),
    ],
)
@pytest.mark.parametrize("trusted", [False, True], ids=["sandboxed", "trusted"])
def test_recursion_through_c_functions_is_an_error_not_a_crash(make_rule, batch, source, message, trusted):
    rule = make_rule(source + "\nfunction pred_eval(e) f() return false end", trusted=trusted)
    assert message in str(rule.evaluate(batch).failure)


def test_error_objects_are_never_run(make_rule, batch):
    # A table error value whose __tostring loops: the runtime describes it without calling it.
    rule = make_rule("function pred_eval(e) error(setmetatable({}, {__tostring = function() while true do end end})) end")
    assert str(rule.evaluate(batch).failure) == "rule 'test_rule' at event 0: an error object of type table"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("for i = 1, 100 do kestrel.alert_emit(event) end", "kestrel.alert_emit: more calls than events in the batch"),
        ("kestrel.alert_emit(99)", "kestrel.alert_emit: 99 is not an event of the current batch"),
        ("kestrel.alert_emit(-1)", "kestrel.alert_emit: -1 is not an event of the current batch"),
    ],
)
def test_alert_emit_is_bounded(make_rule, batch, body, message):
    # Emitted alerts live in the core, outside the Lua memory cap.
    result = make_rule(eval_body(body)).evaluate(batch)
    assert message in str(result.failure)
    assert result.emitted == []


def test_field_id_cannot_grow_the_shared_schema_without_bound(make_rule):
    import kestrel
    from kestrel.runtime.lua.rule import MAX_FIELDS_ADDED_PER_RULE

    source = "for i = 1, 100000 do kestrel.field_id('junk.f' .. i) end\nfunction pred_eval(ev) return false end\n"
    schema = kestrel.Schema.default()
    before = len(schema)
    with pytest.raises(LuaRuleError, match="no more are allowed"):
        make_rule(source, schema=schema)
    assert len(schema) - before == MAX_FIELDS_ADDED_PER_RULE


def test_an_unbounded_time_budget_is_accepted(make_rule, batch):
    rule = make_rule("function pred_eval(e) return e == 1 end", limits=LuaLimits(max_batch_seconds=math.inf))
    assert rule.evaluate(batch).events() == [1]
