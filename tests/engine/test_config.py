"""Engine configuration: keyword options, TOML and YAML files, validation."""

import pytest
from engine_support import RULES, event

import kestrel
from kestrel.engine import EngineConfig


def test_options_with_units_and_validation():
    config = EngineConfig(max_out_of_order="2s", state_memory_budget="64MB", dedup_window="1m")
    assert (config.max_out_of_order, config.state_memory_budget, config.dedup_window) == (2000, 64 << 20, 60_000)
    with pytest.raises(kestrel.EngineError, match="'overflow'"):
        kestrel.Engine(overflow="spill")
    with pytest.raises(kestrel.EngineError, match="not a duration"):
        EngineConfig(max_out_of_order="soon")


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "engine.toml",
            '[engine]\nshards = 4\nmax_out_of_order = "5s"\nindexing = false\nrules = ["rules/whoami_discovery.eql"]\n',
        ),
        ("engine.yaml", "shards: 4\nmax_out_of_order: 5s\nindexing: false\nrules: [rules/whoami_discovery.eql]\n"),
    ],
)
def test_from_config_reads_toml_and_yaml_and_loads_the_listed_rules(tmp_path, name, text):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "whoami_discovery.eql").write_text((RULES / "eql" / "whoami_discovery.eql").read_text())
    (tmp_path / name).write_text(text)
    engine = kestrel.Engine.from_config(tmp_path / name)
    assert (engine.config.shards, engine.config.max_out_of_order, engine.config.indexing) == (4, 5000, False)
    assert [r["id"] for r in engine.rules()] == ["whoami_discovery"]


def test_unknown_config_keys_name_the_file(tmp_path):
    path = tmp_path / "engine.toml"
    path.write_text("shardz = 2\n")
    with pytest.raises(kestrel.EngineError, match=r"engine.toml: unknown key 'shardz'"):
        kestrel.Engine.from_config(path)


def test_the_tiebreaker_field_orders_events_with_equal_timestamps():
    # b.exe arrives before a.exe at the same instant; event.sequence says a.exe came first.
    rule = 'sequence by host.id [process where process.name == "a.exe"] [process where process.name == "b.exe"]'
    b = event("process", process={"name": "b.exe"}, event={"category": ["process"], "sequence": 2})
    a = event("process", process={"name": "a.exe"}, event={"category": ["process"], "sequence": 1})

    def alerts(**options):
        engine = kestrel.Engine(max_out_of_order=1000, **options)
        engine.load(rule, rule_id="a_then_b")
        return [x["rule"]["id"] for x in engine.process([b, a]) + engine.flush()]

    assert alerts() == []
    assert alerts(tiebreaker_field="event.sequence") == ["a_then_b"]


#: 2026-01-05T08:00:00Z as a Windows FILETIME: 100 ns ticks since 1601-01-01.
FILETIME = (1_767_600_000 + 11_644_473_600) * 10_000_000


def test_filetime_timestamps(tmp_path):
    def at(ticks, name):
        return {"ts": ticks, "event": {"category": ["process"]}, "host": {"id": "h1"}, "process": {"name": name}}

    engine = kestrel.Engine(timestamp_field="ts", timestamp_unit="filetime")
    assert engine.config.timestamp_unit == "filetime"
    engine.load('process where process.name == "a.exe"', rule_id="a")
    # maxspan=1s: a second b.exe 0.5 s after a.exe completes it; one 2 s after does not.
    engine.load(
        'sequence with maxspan=1s [process where process.name == "a.exe"] [process where process.name == "b.exe"]',
        rule_id="a_then_b",
    )
    alerts = engine.process([at(FILETIME, "a.exe"), at(FILETIME + 5_000_000, "b.exe")])
    assert [(a["rule"]["id"], a["@timestamp"]) for a in alerts] == [
        ("a", "2026-01-05T08:00:00.000Z"),
        ("a_then_b", "2026-01-05T08:00:00.500Z"),
    ]
    later = FILETIME + 100_000_000
    assert [a["rule"]["id"] for a in engine.process([at(later, "a.exe"), at(later + 20_000_000, "b.exe")]) + engine.flush()] == [
        "a"
    ]
    path = tmp_path / "engine.toml"
    path.write_text('timestamp_field = "ts"\ntimestamp_unit = "filetime"\n')
    assert EngineConfig.load(path).timestamp_unit == "filetime"
    with pytest.raises(kestrel.EngineError, match=r"'timestamp_unit': must be ns, us, ms, s or filetime, not 'ticks'"):
        kestrel.Engine(timestamp_unit="ticks")
