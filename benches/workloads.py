"""Workloads shared by the benchmark suites: the predicates of the issues' tables and their events."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from typing import Any

import kestrel
from kestrel.bench import compare
from kestrel.synth import process_events

from support.shared_paths import CORPUS, require

N_EVENTS = 65_536

#: 20 wildcard patterns over the command line (kept with `kestrel bench --compare eql`'s workload).
COMMAND_LINE_PATTERNS = compare.COMMAND_LINE_PATTERNS

#: (a)-(c) of the Wasm issue's table.
PREDICATES = {
    "a_pid_gt_1000": "process where process.pid > 1000",
    "b_name_ci_eq": 'process where process.name : "cmd.exe"',
    "c_cmdline_20_wildcards": "process where process.command_line : ("
    + ", ".join(json.dumps(p) for p in COMMAND_LINE_PATTERNS)
    + ")",
}


@lru_cache(maxsize=None)
def process_dicts(n: int = N_EVENTS) -> tuple[dict[str, Any], ...]:
    return tuple(process_events(n))


#: Events of the independent stream scanned for process events (about a third are).
INDEPENDENT_EVENTS = 60_000


@lru_cache(maxsize=None)
def independent_process_dicts() -> tuple[dict[str, Any], ...]:
    """The process events of a stream this project's generator did not make
    (benches/independent_stream.py, background activity only): real-looking,
    mostly distinct command lines, where the bundled stream repeats a few."""
    import independent_stream

    return tuple(
        e
        for e in independent_stream.events(INDEPENDENT_EVENTS, derived_share=0.0)
        if "process" in (e.get("event", {}).get("category") or [])
    )


def process_batch(schema: kestrel.Schema, n: int = N_EVENTS) -> kestrel.EventBatch:
    return kestrel.EventBatch.from_dicts(list(process_dicts(n)), schema=schema)


def _conditions(document: dict[str, Any]) -> int:
    leaves = {"Compare", "InSet", "WildcardMatch", "RegexMatch", "IsNull", "FunctionCall"}
    return sum(1 for node in document["nodes"] if node["op"] in leaves)


@lru_cache(maxsize=None)
def most_conditions_rule(max_chars: int = 40_000) -> tuple[str, str]:
    """(name, query) of the corpus event rule with the most conditions, leaving out the 46,906-character outlier."""
    best = ("", "", -1)
    for line in require(CORPUS).read_text().splitlines():
        rule = json.loads(line)
        if rule["query_kind"] != "event" or len(rule["query"]) > max_chars:
            continue
        count = _conditions(kestrel.compile(rule["query"]).ir_dict())
        if count > best[2]:
            best = (rule["name"], rule["query"], count)
    return best[0], best[1]


#: Events of the batch checked against a reference (the Python interpreter is slow).
CHECK_SAMPLE = 2_048


def agrees_with_interpreter(compiled, matches, n: int = CHECK_SAMPLE, events=None) -> bool:
    """Whether `matches` (event indices) equal the Python interpreter's on the
    first `n` of `events` (the bundled process events by default)."""
    from kestrel.reference.interpreter import matches as interpreter_matches

    events = (process_dicts() if events is None else events)[:n]
    expected = [i for i, e in enumerate(events) if interpreter_matches(compiled, e)]
    return [i for i in matches if i < n] == expected


def eql_engine_ns_per_event(query: str, events: list[dict[str, Any]]) -> tuple[float, int]:
    """The `eql` package's PythonEngine on the same query and events: (ns/event, matches)."""
    from kestrel.bench import eql_engine

    seconds, found = eql_engine.one_pass(query, events)
    return seconds / max(len(events), 1) * 1e9, len(found)


def time_per_event(before: dict, after: dict) -> dict:
    """Where the time between two ``Engine.stats()`` went, in ns per event
    received: decode, Lua, and the pipeline's stages (summed over its threads)."""
    events = after["received"] - before["received"]
    return {stage: round((ms - before["time_ms"][stage]) * 1e6 / max(events, 1)) for stage, ms in after["time_ms"].items()}


def compare_workers(benchmark, budget, rules, events, n: int, folder) -> None:
    """Two workers beside one engine in the caller's thread, both with
    `rules`, over the `n` events of `events`: passes alternate (best of
    five), and the two engines' alerts must be the same multiset."""
    engines = {}
    for workers in (0, 2):
        engine = kestrel.Engine(batch_size=8192, workers=workers, sinks=[folder / f"alerts-{workers}.ndjson"])
        engine.load(rules)
        engines[workers] = engine
    try:
        counts = {w: e.process_file(events) for w, e in engines.items()}  # also the warm-up
        best = {w: float("inf") for w in engines}

        def passes():
            for _ in range(1 if benchmark.disabled else 5):
                for workers, engine in engines.items():
                    started = time.perf_counter()
                    engine.process_file(events)
                    best[workers] = min(best[workers], time.perf_counter() - started)

        benchmark.pedantic(passes, rounds=1, iterations=1)
        same = sorted((folder / "alerts-0.ndjson").read_bytes().splitlines()) == sorted(
            (folder / "alerts-2.ndjson").read_bytes().splitlines()
        )
        ratio = best[0] / best[2]
        budget(
            best[2] / n * 1e9,
            matches=counts[2],
            agrees_with_reference=same,
            reference="workers=0",
            events=n,
            rules=len(engines[2].rules()),
            workers=2,
            one_worker_ns_per_event=round(best[0] / n * 1e9, 1),
            speedup=round(ratio, 2),
        )
        print(f"\n2 workers: {n / best[2]:,.0f} events/s, {ratio:.2f}x the caller's thread ({n / best[0]:,.0f})")
        assert same and counts[0] == counts[2] > 0
    finally:
        for engine in engines.values():
            engine.close()
