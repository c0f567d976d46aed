"""Benchmark: compile the whole production corpus (target: under 5 s on one core).

Runs once as a test with `--benchmark-disable`; time it with
`pytest benches/bench_compile.py --benchmark-only`.
"""

from __future__ import annotations

import json

import pytest

from kestrel.compiler import compile

from support.shared import CORPUS


@pytest.fixture(scope="module")
def queries():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line)["query"] for line in handle if line.strip()]


def compile_all(queries):
    return [compile(query) for query in queries]


# Compiling has no per-event figure: `ns_per_event` is None, `matches` the
# rules compiled, `agrees_with_reference` whether the corpus compiled whole.


@pytest.mark.benchmark(group="compile")
def test_compile_corpus(benchmark, budget, queries):
    compiled = benchmark.pedantic(compile_all, args=(queries,), rounds=1, iterations=1)
    whole = len(compiled) == 1024 and all(rule.kind in ("event", "sequence", "sample") for rule in compiled)
    budget(None, matches=len(compiled), agrees_with_reference=whole, rules=len(compiled))
    assert whole


@pytest.mark.benchmark(group="compile")
def test_compile_corpus_to_json(benchmark, budget, queries):
    documents = benchmark.pedantic(lambda: [compile(q).ir_json() for q in queries], rounds=1, iterations=1)
    budget(None, matches=len(documents), agrees_with_reference=len(documents) == 1024, rules=len(documents))
    assert len(documents) == 1024
