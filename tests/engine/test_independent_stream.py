"""The independent benchmark stream (benches/independent_stream.py): its promised properties on a small stream.

The rule-derived part is solved from the first rules of the corpus only, to
keep the test short; bench_engine_independent.py checks the alert rate and
the entity count of the full 50,000-event stream with all corpus rules.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from support.shared import CORPUS

REPO = Path(__file__).resolve().parents[2]
N = 3_000
RULES = 80


def _module():
    """benches/independent_stream.py, under the name benches/ import it by (one module in a run of both)."""
    if "independent_stream" in sys.modules:
        return sys.modules["independent_stream"]
    spec = importlib.util.spec_from_file_location("independent_stream", REPO / "benches" / "independent_stream.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stream():
    return _module()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    path = tmp_path_factory.mktemp("independent") / "rules.jsonl"
    path.write_text("".join(CORPUS.read_text(encoding="utf-8").splitlines(keepends=True)[:RULES]), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def data(stream, corpus) -> bytes:
    return stream.generate(N, 7, corpus=corpus)


@pytest.fixture(scope="module")
def docs(data) -> list:
    return [json.loads(line) for line in data.splitlines()]


def test_every_line_is_a_json_object_with_increasing_timestamps(data, docs):
    assert data.endswith(b"\n") and len(docs) == N == data.count(b"\n")
    assert all(isinstance(d, dict) for d in docs)
    stamps = [d["@timestamp"] for d in docs]
    assert all(s.endswith("Z") and len(s) == 24 for s in stamps)
    assert all(a < b for a, b in zip(stamps, stamps[1:]))


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not(stream, corpus, data):
    assert stream.generate(N, 7, corpus=corpus) == data
    assert stream.generate(N, 8, corpus=corpus) != data


def test_events_have_the_ecs_fields_and_diversity(docs):
    def values(path):
        out = []
        for d in docs:
            value = d
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                out.append(json.dumps(value, sort_keys=True))
        return set(out)

    categories = {c for d in docs for c in d["event"]["category"]}
    assert {"process", "network", "file", "registry", "authentication", "library"} <= categories
    assert all(
        d["event"].get("type") and d["event"].get("action") and d["host"].get("id") and d["host"].get("name") for d in docs
    )
    assert {"windows", "linux", "macos"} <= {d["host"]["os"]["type"] for d in docs}
    for path, at_least in (
        ("host.id", 1_500),
        ("user.name", 800),
        ("process.name", 60),
        ("process.command_line", 600),
        ("process.executable", 150),
        ("process.parent.name", 25),
        ("file.path", 300),
        ("file.extension", 10),
        ("registry.path", 100),
        ("registry.data.strings", 100),
        ("dns.question.name", 100),
        ("source.ip", 300),
        ("destination.ip", 300),
        ("destination.port", 8),
        ("network.protocol", 5),
        ("process.args", 600),
        ("process.pid", 1_000),
    ):
        assert len(values(path)) >= at_least, path
    commands = [d["process"]["command_line"] for d in docs if "command_line" in d.get("process", {})]
    assert any(":\\" in c for c in commands) and any(c.startswith("/") for c in commands)
    assert sum(" " in c for c in commands) > len(commands) / 2  # arguments, not bare executables
    assert len({d["event"]["sequence"] for d in docs}) == N  # how the alert rate traces alerts to events


def _matching_share(docs, corpus) -> float:
    """The share of events that some event rule of `corpus` matches, by the reference interpreter."""
    import kestrel
    from kestrel.reference.interpreter import matches

    rules = [kestrel.compile(json.loads(line)["query"]) for line in Path(corpus).read_text(encoding="utf-8").splitlines()]
    rules = [r for r in rules if r.ir.rule.kind == "event"]
    return sum(any(matches(r, d) for r in rules) for d in docs) / len(docs)


def test_part_of_the_stream_comes_from_the_rules(stream, corpus, docs):
    """Rule-derived events match their rules; the background alone seldom does."""
    assert len(stream.templates(7, corpus)) >= RULES * 0.8
    background = [json.loads(line) for line in stream.generate(N, 7, corpus=corpus, derived_share=0.0).splitlines()]
    mixed, plain = _matching_share(docs[:1_000], corpus), _matching_share(background[:1_000], corpus)
    assert mixed >= 0.08 and plain < mixed / 2, (mixed, plain)


def test_a_50k_stream_spans_over_5000_hosts(stream, docs):
    """Cheaply: the hosts of a 50,000-event stream are drawn as `Fleet.pick` draws them."""
    fleet = stream.Fleet(random.Random(7))
    assert {d["host"]["id"] for d in docs} <= {h.doc["id"] for h in fleet.hosts}
    rng = random.Random(1)
    assert len({fleet.pick(rng).doc["id"] for _ in range(50_000)}) >= 5_000
