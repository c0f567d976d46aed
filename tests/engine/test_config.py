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


@pytest.mark.parametrize("name, text", [
    ("engine.toml", '[engine]\nshards = 4\nmax_out_of_order = "5s"\nindexing = false\nrules = ["rules/whoami_discovery.eql"]\n'),
    ("engine.yaml", "shards: 4\nmax_out_of_order: 5s\nindexing: false\nrules: [rules/whoami_discovery.eql]\n"),
])
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
