"""Benchmarks: end-to-end engine throughput, NDJSON file -> alerts.

`kestrel.Engine.process_file` over the bundled example events
(examples/events.ndjson, 5,000 process/file/network/registry/dns events,
repeated to 20,000), alerts written to a JSON-lines file as `kestrel run
--alerts` writes them, with (i) the bundled rules and (ii) all 1,024 corpus
rules loaded (../shared/corpus/elastic_eql_rules.jsonl, or the copy named
by $KESTREL_CORPUS), each with rule indexing on and off. `extra_info` records ns/event and
events/s (one thread, so per core), event-rule alerts, and whether the alerts
were identical with indexing on and off. `test_engine_vs_eql_from_the_same_file`
runs the corpus's event rules from one file through Kestrel's engine and
eql's PythonEngine side by side.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from workloads import compare_workers, time_per_event

import kestrel

from support.shared import CORPUS

REPO = Path(__file__).resolve().parents[1]
REPEAT = 4


@pytest.fixture(scope="module")
def events_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "events.ndjson"
    path.write_bytes((REPO / "examples" / "events.ndjson").read_bytes() * REPEAT)
    return path


def _engine(rules: Path, alerts: Path) -> kestrel.Engine:
    engine = kestrel.Engine(batch_size=8192, sinks=[alerts])
    engine.load(rules)
    assert engine.load_report.ok, engine.load_report.failures[:3]
    return engine


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> kestrel.Engine:
    engine = _engine(REPO / "rules", tmp_path_factory.mktemp("bundled") / "alerts.ndjson")
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> kestrel.Engine:
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    engine = _engine(CORPUS, tmp_path_factory.mktemp("corpus") / "alerts.ndjson")
    yield engine
    engine.close()


def _event_alerts(engine: kestrel.Engine) -> int:
    return sum(r["alerts"] for r in engine.stats()["rules"].values() if r["kind"] == "event")


def _run(engine: kestrel.Engine, events: Path) -> tuple[float, int]:
    """(seconds, event-rule alerts) of one pass. Sequence rules keep their state
    from pass to pass (the same events again arrive late), so only event-rule
    alerts are compared between passes."""
    before = _event_alerts(engine)
    started = time.perf_counter()
    engine.process_file(events)
    return time.perf_counter() - started, _event_alerts(engine) - before


def _measure(benchmark, budget, engine: kestrel.Engine, events: Path, indexing: bool) -> None:
    engine.set_indexing(not indexing)
    _, other = _run(engine, events)
    engine.set_indexing(indexing)
    _, alerts = benchmark.pedantic(lambda: _run(engine, events), rounds=1, iterations=1)
    # Best of several passes: one pass is at the mercy of whatever else the machine runs.
    before = engine.stats()
    passes = 2 if benchmark.disabled else 5
    seconds, again = min(_run(engine, events) for _ in range(passes))
    n = 5000 * REPEAT
    where = time_per_event(before, engine.stats())
    # The reference is the same engine with indexing flipped: the index may
    # only skip work, never change an alert.
    budget(
        seconds / n * 1e9,
        matches=again,
        agrees_with_reference=alerts == again == other,
        reference=f"indexing {'off' if indexing else 'on'}",
        events=n,
        rules=len(engine.rules()),
        indexing=indexing,
        ns_per_event_by_stage=where,
    )
    print(
        f"\n{len(engine.rules())} rules, indexing {'on' if indexing else 'off'}: {n / seconds:,.0f} events/s; ns/event by stage {where}"
    )
    assert alerts == again == other > 0


@pytest.mark.benchmark(group="engine")
def test_engine_corpus_rules_on_two_workers(benchmark, budget, tmp_path_factory, events_file):
    """All 1,024 corpus rules on two workers beside one engine in the
    caller's thread, passes alternating, with the same alerts."""
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    compare_workers(benchmark, budget, CORPUS, events_file, 5000 * REPEAT, tmp_path_factory.mktemp("workers"))


@pytest.mark.benchmark(group="engine")
@pytest.mark.parametrize("indexing", [True, False], ids=["indexed", "unindexed"])
def test_engine_bundled_rules(benchmark, budget, bundled, events_file, indexing):
    _measure(benchmark, budget, bundled, events_file, indexing)


@pytest.mark.benchmark(group="engine")
@pytest.mark.parametrize("indexing", [True, False], ids=["indexed", "unindexed"])
def test_engine_corpus_rules(benchmark, budget, corpus, events_file, indexing):
    _measure(benchmark, budget, corpus, events_file, indexing)


@pytest.mark.benchmark(group="engine")
def test_engine_vs_eql_from_the_same_file(benchmark, budget, tmp_path_factory, request):
    """The issue's side by side: from one NDJSON file to matches, Kestrel's
    Engine (indexed, alerts written to a file) beside the `eql` package's
    PythonEngine (each line parsed, then every rule's engine streamed), in
    one run, with the corpus's event rules that both engines run on these
    events. The file is the comparison's generated stream
    (kestrel.bench.compare), whose fields hold single values where eql and
    Elasticsearch would read a list differently, so each rule's match count
    must agree, the semantic differences compare lists aside. `kestrel bench
    --compare eql` and bench_compare.py compare the predicates alone,
    without the index."""
    eql_engine = pytest.importorskip("kestrel.bench.eql_engine")
    pytest.importorskip("eql")
    from kestrel.bench import timing
    from kestrel.bench.compare import ENTITIES, divergence
    from kestrel.bench.events import generate as generated

    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    timed = not benchmark.disabled
    count = 2_000 if timed else 1_000
    folder = tmp_path_factory.mktemp("versus")
    documents = generated(count, kestrel.Schema.default(), dicts=True, entities=ENTITIES).dicts
    events_path = folder / "events.ndjson"
    events_path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents), encoding="utf-8")

    # The rules eql parses and runs on these events, the same for both engines.
    eql_events, index = eql_engine.prepare(documents)
    records, runs = [], []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("query_kind") != "event":
            continue
        try:
            run = eql_engine.QueryRun(eql_engine.parse(record["query"]), index)
        except Exception:  # eql's parse errors share no base class worth naming
            continue
        if eql_engine.matches([run], eql_events) == [None]:
            records.append(record)
            runs.append(run)
    if not timed:  # a quick check that still sees matches: 40 rules that match, 20 that do not
        chosen = [i for i, r in enumerate(runs) if r.found][:40] + [i for i, r in enumerate(runs) if not r.found][:20]
        records, runs = [records[i] for i in sorted(chosen)], [runs[i] for i in sorted(chosen)]
    rules_path = folder / "rules.jsonl"
    rules_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    engine = kestrel.Engine(batch_size=8192, sinks=[folder / "alerts.ndjson"])
    request.addfinalizer(engine.close)
    engine.load(rules_path)
    assert engine.load_report.ok and len(engine.rules()) == len(records), engine.load_report.failures[:3]

    engine.process_file(events_path)  # also the warm-up
    ours = {rule_id: row["matches"] for rule_id, row in engine.stats()["rules"].items()}

    def eql_pass(engines):
        prepared, _ = eql_engine.prepare([json.loads(line) for line in events_path.read_bytes().splitlines()])
        for one in engines:
            one.stream_events(prepared, finalize=True)

    def both():
        kestrel_seconds = timing.best_seconds(lambda: engine.process_file(events_path), repeats=5 if timed else 1)
        eql_seconds = timing.best_seconds(
            eql_pass, repeats=2 if timed else 1, max_seconds=60, setup=lambda: [r.engine() for r in runs]
        )
        return kestrel_seconds, eql_seconds

    kestrel_seconds, eql_seconds = benchmark.pedantic(both, rounds=1, iterations=1)
    list_fields = frozenset(eql_engine.list_fields(documents))
    differing = [
        r["rule_id"]
        for r, run in zip(records, runs)
        if ours[r["rule_id"]] != len(run.found) and divergence(r["query"], list_fields) is None
    ]
    ratio = eql_seconds / kestrel_seconds
    budget(
        kestrel_seconds / count * 1e9,
        matches=sum(ours.values()),
        agrees_with_reference=not differing,
        reference="eql PythonEngine",
        events=count,
        rules=len(records),
        eql_ns_per_event=round(eql_seconds / count * 1e9, 1),
        eql_matches=sum(len(r.found) for r in runs),
        ratio=round(ratio, 1),
    )
    assert not differing, f"RESULTS DIFFER for {differing[:10]}"
    assert sum(ours.values()) > 0 and ratio > 1
