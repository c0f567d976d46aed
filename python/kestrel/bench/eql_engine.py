"""Driving the `eql` package's PythonEngine (the optional `kestrel[compare]` extra).

eql takes `eql.Event`s: the category comes from `event_type` (set here from
the ECS `event.category`) and the time from `timestamp` (set here to the
`@timestamp` in milliseconds, with the engine's `time_unit` at 1,000 ticks
per second). Events are prepared before any timing starts. Each query gets
its own engine so its matches can be told apart; matches come back as event
indices (tuples of indices for sequences), the way Kestrel reports them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from kestrel.bench import timing

TIME_UNIT = 1000  #: ticks per second: timestamps in milliseconds


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("eql") is not None


def parse(query: str) -> Any:
    """The parsed query, in Elasticsearch syntax. Raises eql's errors."""
    import eql

    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        return eql.parse_query(query)


def _millis(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return 0
    return 0


def prepare(documents: list[dict[str, Any]]) -> tuple[list[Any], dict[int, int]]:
    """(eql events, id(event data) -> index in `documents`)."""
    import eql

    events = []
    index: dict[int, int] = {}
    for i, document in enumerate(documents):
        category = (document.get("event") or {}).get("category")
        if isinstance(category, list):
            category = category[0] if category else None
        data = dict(document, event_type=category or "any", timestamp=_millis(document.get("@timestamp")))
        index[id(data)] = i
        events.append(eql.Event.from_data(data))
    return events, index


def list_fields(documents: list[dict[str, Any]], sample: int = 2_000) -> set[str]:
    """Paths that hold a list in the first `sample` documents.

    eql compares such a field's whole list (or fails on it), where
    Elasticsearch, and Kestrel, test each element: rules reading these
    fields mean different things to the two engines.
    """
    found: set[str] = set()

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{prefix}{key}." if isinstance(inner, dict) else f"{prefix}{key}")
        elif isinstance(value, list):
            found.add(prefix.rstrip("."))

    for document in documents[:sample]:
        walk(document, "")
    return found


class QueryRun:
    """One query on a fresh engine per run."""

    def __init__(self, parsed: Any, index: dict[int, int]) -> None:
        self.parsed = parsed
        self.index = index
        self.outputs: list[Any] = []
        self.found: set = set()

    def engine(self) -> Any:
        import eql

        self.outputs = []
        engine = eql.PythonEngine({"time_unit": TIME_UNIT})
        engine.add_query(self.parsed)
        engine.add_output_hook(self.outputs.append)
        return engine

    def matches(self) -> set:
        found = set()
        for output in self.outputs:
            ids = tuple(self.index[id(event.data)] for event in output.events)
            found.add(ids[0] if len(ids) == 1 else ids)
        return found


def matches(runs: list[QueryRun], events: list[Any]) -> list[Optional[str]]:
    """One untimed pass per query: fills each run's matches; the error per query (None: it ran)."""
    errors: list[Optional[str]] = []
    for r in runs:
        try:
            r.engine().stream_events(events, finalize=True)
        except Exception as error:  # eql raises plain Python errors at run time (missing functions, types)
            errors.append(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        else:
            errors.append(None)
            r.found = r.matches()
    return errors


def best_seconds(runs: list[QueryRun], events: list[Any], *, repeats: int = 3, max_seconds: float = 2.0) -> float:
    """Best seconds for streaming `events` through every query's engine.

    Engines are built outside the timed region; `finalize` (eql's flush) is
    inside it, as Kestrel's sequence engine must flush too.
    """

    def stream(engines: list[Any]) -> None:
        for engine in engines:
            engine.stream_events(events, finalize=True)

    return timing.best_seconds(stream, repeats=repeats, max_seconds=max_seconds, setup=lambda: [r.engine() for r in runs])


def one_pass(query: str, documents: list[dict[str, Any]]) -> tuple[float, set]:
    """(seconds, matches) of one query streamed once over `documents`,
    finalize included; the events are prepared before the clock starts."""
    events, index = prepare(documents)
    run = QueryRun(parse(query), index)
    engine = run.engine()
    seconds = timing.best_seconds(lambda: engine.stream_events(events, finalize=True), repeats=1)
    return seconds, run.matches()
