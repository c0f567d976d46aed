"""`Engine.load(kestrel.compile(query))`: a compiled rule loads when it was
compiled for the engine's event fields, and is refused, naming each option
that differs, when it was not."""

import pytest
from engine_support import event

import kestrel
from kestrel.compiler import CompileOptions

CERTUTIL = 'process where process.name : "certutil.exe"'


def test_a_rule_compiled_with_the_default_options_loads_into_a_default_engine(certutil, bad_dns):
    engine = kestrel.Engine()
    report = engine.load(kestrel.compile(CERTUTIL))
    assert report.ok and [r["id"] for r in engine.rules()] == ["rule-1"]
    alerts = engine.process([bad_dns, certutil])
    assert [(a["rule"]["id"], a["events"][0]["process"]["name"]) for a in alerts] == [("rule-1", "certutil.exe")]


def test_its_pipes_rule_id_and_fields_unknown_to_the_engines_schema_come_along():
    options = CompileOptions(category_field="event_type", timestamp_field="ts", timestamp_unit="s", tiebreaker_field="serial")
    # `serial` and `flavour` are not ECS: compiling gave them ids in another schema than the engine's.
    compiled = kestrel.compile('process where flavour == "x" | tail 2', options=options)
    engine = kestrel.Engine(category_field="event_type", timestamp_field="ts", timestamp_unit="s", tiebreaker_field="serial")
    engine.load(compiled, rule_id="flavoured", strict=True)
    events = [{"event_type": "process", "ts": 100, "serial": n, "flavour": "xy"[n % 2]} for n in range(7)]
    assert engine.process(events) == []
    assert [a["events"][0]["serial"] for a in engine.flush()] == [4, 6]
    assert engine.reload().unchanged == ["flavoured"]


def test_a_rule_compiled_for_other_event_fields_is_refused_naming_each_option():
    engine = kestrel.Engine(category_field="event_type", tiebreaker_field="serial")
    with pytest.raises(kestrel.RuleLoadError) as raised:
        engine.load(kestrel.compile(CERTUTIL), rule_id="certutil")
    message = str(raised.value)
    assert "<certutil>: compiled for other event fields than the engine's" in message
    assert "category_field: the rule was compiled with 'event.category', the engine uses 'event_type'" in message
    assert "tiebreaker_field: the rule was compiled with None, the engine uses 'serial'" in message
    assert "timestamp_field" not in message and "timestamp_unit" not in message
    assert [f.location for f in raised.value.failures] == ["<certutil>"]
    assert engine.rules() == [] and engine.reload().ok


def test_a_timestamp_unit_mismatch_is_refused_too():
    compiled = kestrel.compile(CERTUTIL, options=CompileOptions(timestamp_unit="filetime"))
    with pytest.raises(
        kestrel.RuleLoadError, match="timestamp_unit: the rule was compiled with 'filetime', the engine uses 'ms'"
    ):
        kestrel.Engine().load(compiled)
    engine = kestrel.Engine(timestamp_unit="filetime")
    assert engine.load(compiled).ok
    assert len(engine.process([event("process", process={"name": "CertUtil.exe"})])) == 1
