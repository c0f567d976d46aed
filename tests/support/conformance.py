"""Elasticsearch's EQL QA cases and the data they run over, loaded once for every backend's tests.

See ../shared/conformance/README.md: the Endgame events use `event_type` as the
category, `timestamp` (Windows FILETIME) as the timestamp and
`serial_event_id` as the id and tiebreaker. Events are put in Elasticsearch's
order (timestamp, then tiebreaker) before decoding.
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from typing import Any, Iterable

import pytest

import kestrel
from kestrel.compiler import CompileOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from support.shared import CONFORMANCE

ENDGAME_OPTIONS = CompileOptions(
    category_field="event_type",
    timestamp_field="timestamp",
    timestamp_unit="filetime",
    tiebreaker_field="serial_event_id",
)


@lru_cache(maxsize=None)
def es_queries() -> tuple[dict[str, Any], ...]:
    with open(CONFORMANCE / "es_test_queries.toml", "rb") as handle:
        return tuple(tomllib.load(handle)["queries"])


def event_cases() -> list[dict[str, Any]]:
    """The event-query cases (not sequences or samples)."""
    return [case for case in es_queries() if not case["query"].lstrip().startswith(("sequence", "sample"))]


def endgame_events() -> list[dict[str, Any]]:
    events = json.loads((CONFORMANCE / "endgame_test_data.json").read_text(encoding="utf-8"))
    events.sort(key=lambda event: (event["timestamp"], event["serial_event_id"]))
    return events


def endgame_batch(schema: kestrel.Schema) -> tuple[kestrel.EventBatch, list[int]]:
    """The Endgame events decoded with the suite's field settings, and their ids in batch order."""
    events = endgame_events()
    batch = kestrel.EventBatch.from_dicts(
        events, schema=schema, category_field="event_type", timestamp_field="timestamp", timestamp_unit="filetime"
    )
    assert len(batch) == len(events)
    return batch, [event["serial_event_id"] for event in events]


@pytest.fixture(scope="module", name="endgame")
def endgame_fixture() -> tuple[kestrel.Schema, kestrel.EventBatch, list[int]]:
    """The `endgame` fixture, for the test modules that import it: an empty
    schema of the module's own (its rules add their fields to it), the
    Endgame events decoded with it, and their ids."""
    schema = kestrel.Schema.empty()
    batch, ids = endgame_batch(schema)
    return schema, batch, ids


def has_pipes(case: dict[str, Any]) -> bool:
    """Whether a case's query ends in `| head` / `| tail`. Pipes select among
    a rule's results, which is the engine's work: predicate-level tests run
    the cases without pipes, tests/engine/test_engine_conformance.py runs them all."""
    return bool(kestrel.parse(case["query"]).pipes)


def unpiped(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cases whose query has no pipes."""
    return [case for case in cases if not has_pipes(case)]


#: `kestrel.Engine` options for the Endgame data (ENDGAME_OPTIONS, as the engine names them).
ENDGAME_ENGINE = {
    "category_field": "event_type",
    "timestamp_field": "timestamp",
    "timestamp_unit": "filetime",
    "tiebreaker_field": "serial_event_id",
}


def endgame_file_events() -> list[dict[str, Any]]:
    """The Endgame events as the file holds them (one pair is out of time order)."""
    return json.loads((CONFORMANCE / "endgame_test_data.json").read_text(encoding="utf-8"))


def run_engine(query: str, events: Any, **options: Any) -> list[dict[str, Any]]:
    """`query` run by a `kestrel.Engine` as a user runs one: load, process
    `events` (dicts or NDJSON), flush; the alert dicts in the order emitted."""
    with kestrel.Engine(**options) as engine:
        engine.load(query, strict=True)
        return engine.process(events) + engine.flush()


def alert_ids(alerts: list[dict[str, Any]], id_field: str) -> list[int]:
    """The ids of the alerts' evidence events, flattened in order, -1 where
    a sequence's evidence holds a missing step's placeholder."""
    return [-1 if event.get("missing") else event[id_field] for alert in alerts for event in alert["events"]]


def sequence_cases() -> list[dict[str, Any]]:
    """The sequence cases of es_test_queries.toml."""
    return [case for case in es_queries() if case["query"].lstrip().startswith("sequence")]


MISSING_OPTIONS = CompileOptions(
    category_field="event_type", timestamp_field="@timestamp", timestamp_unit="ms", tiebreaker_field="sequence"
)
#: `kestrel.Engine` options for es_missing_events_data.jsonl (MISSING_OPTIONS, as the engine names them).
MISSING_ENGINE = {
    "category_field": "event_type",
    "timestamp_field": "@timestamp",
    "timestamp_unit": "ms",
    "tiebreaker_field": "sequence",
}


def missing_events_data() -> bytes:
    """es_missing_events_data.jsonl as NDJSON bytes."""
    return (CONFORMANCE / "es_missing_events_data.jsonl").read_bytes()


@lru_cache(maxsize=None)
def missing_event_cases() -> tuple[dict[str, Any], ...]:
    with open(CONFORMANCE / "es_test_missing_events.toml", "rb") as handle:
        return tuple(tomllib.load(handle)["queries"])


def missing_events_batch(schema: kestrel.Schema) -> kestrel.EventBatch:
    """es_missing_events_data.jsonl as the suite reads it: `@timestamp` is epoch
    milliseconds (as a string) or ISO-8601, the category is `event_type`. Every
    query filters on one `event_type`, whose events are already in order."""
    data = missing_events_data()
    batch = kestrel.EventBatch.from_ndjson(
        data, schema=schema, category_field="event_type", timestamp_field="@timestamp", timestamp_unit="ms"
    )
    assert not batch.errors and len(batch) == 48
    return batch


def flattened_ids(matches: list[Any], id_field: str) -> list[int]:
    """Matched sequences as the suite writes them: ids in order, -1 for a missing step."""
    return [-1 if event.get("missing") else event[id_field] for match in matches for event in match.events]
