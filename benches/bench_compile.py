"""Benchmark: compile the whole production corpus (target: under 5 s on one core).

Runs once as a test with `--benchmark-disable`; time it with
`pytest benches/bench_compile.py --benchmark-only`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kestrel.compiler import compile

CORPUS = Path("/work/shared/corpus/elastic_eql_rules.jsonl")
if not CORPUS.exists():
    CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "elastic_eql_rules.jsonl"


@pytest.fixture(scope="module")
def queries():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line)["query"] for line in handle if line.strip()]


def compile_all(queries):
    return [compile(query) for query in queries]


@pytest.mark.benchmark(group="compiler")
def test_compile_corpus(benchmark, queries):
    compiled = benchmark.pedantic(compile_all, args=(queries,), rounds=1, iterations=1)
    benchmark.extra_info["rules"] = len(compiled)
    benchmark.extra_info["correct"] = len(compiled) == 1024 and all(rule.kind in ("event", "sequence", "sample") for rule in compiled)
    assert len(compiled) == 1024


@pytest.mark.benchmark(group="compiler")
def test_compile_corpus_to_json(benchmark, queries):
    documents = benchmark.pedantic(lambda: [compile(q).ir_json() for q in queries], rounds=1, iterations=1)
    benchmark.extra_info["correct"] = len(documents) == 1024
    assert len(documents) == 1024
