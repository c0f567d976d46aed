"""Benchmarks: NDJSON → EventBatch decoding, side by side with `json.loads` over the same lines.

The input is 20,000 synthetic ECS process-start events of about 1.2 KB each
(`kestrel.synth.process_events`), the shape Elastic Agent sends. `extra_info`
records MB/s and events/s for both, best of 3, and ns/event for the decoder;
`matches` is the number of events decoded and `agrees_with_reference` whether
every one decoded to the same process fields json.loads reads. The target is
300 MB/s per core for the decoder.
"""

from __future__ import annotations

import json

import pytest

import kestrel
from kestrel.bench.timing import best_seconds
from kestrel.synth import ndjson, process_events

N = 20_000


@pytest.fixture(scope="module")
def payload() -> bytes:
    return ndjson(iter(process_events(N)))


@pytest.mark.benchmark(group="ingest")
def test_ingest_ndjson_decode(benchmark, budget, payload):
    schema = kestrel.Schema.default()
    batch = benchmark(kestrel.EventBatch.from_ndjson, payload, schema=schema)
    assert len(batch) == N and batch.errors == []
    ours = best_seconds(lambda: kestrel.EventBatch.from_ndjson(payload, schema=schema), repeats=3)
    lines = payload.splitlines()
    theirs = best_seconds(lambda: [json.loads(line) for line in lines], repeats=3)
    mb = len(payload) / 1e6
    documents = [json.loads(line) for line in lines]
    columns = ("process.pid", "process.name")
    agrees = len(batch) == len(documents) and all(
        batch.get(i, path) == documents[i]["process"][path.split(".")[1]] for path in columns for i in range(0, N, 97)
    )
    budget(ours / N * 1e9, matches=len(batch), agrees_with_reference=agrees, reference="json.loads")
    benchmark.extra_info.update(
        events=N,
        bytes_per_event=round(len(payload) / N),
        kestrel_mb_per_s=round(mb / ours, 1),
        kestrel_events_per_s=round(N / ours),
        json_loads_mb_per_s=round(mb / theirs, 1),
        json_loads_events_per_s=round(N / theirs),
        ratio=round(theirs / ours, 1),
    )
    assert agrees
