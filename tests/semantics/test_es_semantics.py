"""Mapping-typed fields, multi-valued join keys, optional fields and samples,
as Elasticsearch gives them, run through `kestrel.Engine` as a user would
(es_semantics_cases.toml), and the typed comparisons diffed across the
three runtimes: Wasm, generated Lua and the Python IR interpreter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import kestrel
from kestrel.compiler import compile
from kestrel.compiler.lua import generate_package
from kestrel.reference.interpreter import step_matches
from kestrel.runtime.lua import load_generated

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES_FILE = Path(__file__).with_name("es_semantics_cases.toml")
TABLE = tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))
CASES = TABLE["cases"]


def _events(data: str) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in TABLE["data"][data]["events"].splitlines() if line.strip()]


def _mapping(data: str) -> Any:
    text = TABLE["data"][data].get("mapping")
    return json.loads(text) if text else None


def _engine_ids(case: Dict[str, Any]) -> List[int]:
    engine = kestrel.Engine(mapping=_mapping(case["data"]))
    engine.load(case["query"], strict=True)
    ndjson = "".join(json.dumps(event) + "\n" for event in _events(case["data"]))
    alerts = engine.process(ndjson) + engine.flush()
    engine.close()
    return [-1 if event.get("missing") else event["id"] for alert in alerts for event in alert["events"]]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case_through_the_engine(case: Dict[str, Any]) -> None:
    assert _engine_ids(case) == case["expected"]


EVENT_CASES = [case for case in CASES if not case["query"].startswith(("sequence", "sample"))]


@pytest.mark.parametrize("case", EVENT_CASES, ids=[case["name"] for case in EVENT_CASES])
def test_runtimes_agree(case: Dict[str, Any]) -> None:
    """Wasm, Lua and the reference interpreter give the expected ids."""
    mapping = _mapping(case["data"])
    events = _events(case["data"])
    results = {}
    for runtime in ("wasm", "lua", "interpreter"):
        schema = kestrel.Schema.from_elasticsearch_mapping(mapping) if mapping else kestrel.Schema.default()
        compiled = compile(case["query"], schema=schema)
        batch = kestrel.EventBatch.from_dicts(events, schema=schema)
        if runtime == "wasm":
            hits = list(compiled.evaluate(batch))
        elif runtime == "lua":
            generated = generate_package(compiled)
            result = load_generated(generated, "case", schema=schema).evaluate(batch, filters=(0,))
            assert result.failure is None
            hits = sorted(result.events())
        else:
            step = compiled.ir.rule.steps[0]
            category = compiled.ir.event_fields.category.path
            hits = [i for i, event in enumerate(batch.to_dicts()) if step_matches(step, event, category)]
        results[runtime] = [events[i]["id"] for i in hits]
    assert results == {runtime: case["expected"] for runtime in results}


def test_a_mapping_from_a_file_and_the_cli_option(tmp_path: Path) -> None:
    mapping = {"logs-endpoint": {"mappings": {"properties": {"source": {"properties": {"ip": {"type": "ip"}}}}}}}
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    schema = kestrel.Schema.from_elasticsearch_mapping(path)
    assert schema.lookup("source.ip").type == "ip"
    rules = tmp_path / "r.eql"
    rules.write_text('network where source.ip == "::ffff:192.0.2.1"\n', encoding="utf-8")
    events = tmp_path / "e.ndjson"
    events.write_text(
        '{"@timestamp": "2026-01-01T00:00:00Z", "event": {"category": ["network"]}, "source": {"ip": "192.0.2.1"}}\n',
        encoding="utf-8",
    )
    alerts = tmp_path / "alerts.ndjson"
    from kestrel.cli import main

    assert main(["run", "--rules", str(rules), "--events", str(events), "--alerts", str(alerts), "--mapping", str(path)]) == 0
    assert len(alerts.read_text(encoding="utf-8").splitlines()) == 1


def test_mapping_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(kestrel.KestrelError, match="properties"):
        kestrel.Schema.from_elasticsearch_mapping({"settings": {}})
    with pytest.raises(kestrel.KestrelError, match="not a regular file"):
        kestrel.Schema.from_elasticsearch_mapping(str(tmp_path))
    with pytest.raises(kestrel.KestrelError, match="alias"):
        kestrel.Schema.from_elasticsearch_mapping({"properties": {"a": {"type": "alias"}}})


def test_text_fields_need_a_keyword_multi_field() -> None:
    mapping = {"properties": {"message": {"type": "text"}, "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}}}}
    schema = kestrel.Schema.from_elasticsearch_mapping(mapping)
    with pytest.raises(kestrel.EqlError, match="E057"):
        compile('any where message : "boom"', schema=schema)
    rule = compile('any where title == "Boom" and title.keyword == "Boom"', schema=schema)
    batch = kestrel.EventBatch.from_dicts([{"title": "Boom"}, {"title": "boom"}], schema=schema)
    assert list(rule.evaluate(batch)) == [0]
