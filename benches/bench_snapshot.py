"""Engine checkpoints at scale: `Engine.snapshot()` and `restore()` with 1M
pending partial matches (one per host of a two-step sequence whose second
step never comes), their size, and the time of each."""

from __future__ import annotations

import time

import pytest

import kestrel

QUERY = 'sequence by host.id with maxspan=1h [process where process.name == "a.exe"] [process where process.name == "b.exe"]'


def _events(count: int) -> bytes:
    line = '{"@timestamp":"2026-01-05T08:00:00.000Z","event":{"category":["process"]},"host":{"id":"h%d"},"process":{"name":"a.exe"}}\n'
    return "".join(line % n for n in range(count)).encode()


def _engine() -> kestrel.Engine:
    engine = kestrel.Engine(batch_size=65536)
    engine.load(QUERY, rule_id="a_then_b")
    return engine


@pytest.mark.benchmark(group="engine")
def test_snapshot_of_a_million_pending_partials(benchmark, budget, tmp_path):
    count = 100_000 if benchmark.disabled else 1_000_000
    path = tmp_path / "events.ndjson"
    path.write_bytes(_events(count))
    with _engine() as source:
        source.process_file(path)
        assert source.stats()["partials"] == count
        started = time.perf_counter()
        blob = benchmark.pedantic(source.snapshot, rounds=1, iterations=1)
        snapshot_s = time.perf_counter() - started
    with _engine() as target:
        started = time.perf_counter()
        target.restore(blob)
        restore_s = time.perf_counter() - started
        assert target.stats()["partials"] == count
    budget(
        snapshot_s / count * 1e9,
        matches=count,
        agrees_with_reference=None,
        partials=count,
        snapshot_bytes=len(blob),
        bytes_per_partial=round(len(blob) / count, 1),
        snapshot_s=round(snapshot_s, 3),
        restore_s=round(restore_s, 3),
    )
    print(
        f"\n{count:,} partials: snapshot {len(blob) / 1e6:.1f} MB ({len(blob) / count:.0f} B each) "
        f"in {snapshot_s:.2f} s, restored in {restore_s:.2f} s"
    )
