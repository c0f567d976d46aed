"""Benchmarks: the Flink job's throughput per task slot, against one engine;
and on a standalone cluster, the time to recover from a killed TaskManager
and the size of a checkpoint.

All 1,024 corpus rules (../shared/corpus, or $KESTREL_CORPUS) over the
bundled example events, repeated, in file order and re-timed to 5,000
events per second of event time: the dense stream a cluster is for (the
bundled stream has 5,000 events in an hour, which would make every
one-second window a batch of one or two events). The job runs on a local mini cluster with
one task slot (parallelism 1, 2 shards, files in and out), and
single-process Kestrel (`Engine.process_file`, one core) runs the same file
in the same benchmark.

A job's wall time includes starting the JVM, the Python workers and loading
the rules. So the job runs on SMALL and LARGE copies of the stream, and its
throughput is the difference: (LARGE - SMALL events) / (LARGE - SMALL
seconds). One run each: these take minutes, not milliseconds.
`extra_info` has both rates, their ratio, the fixed start-up cost, and
whether the job's alerts on the large stream equal the engine's.
"""

from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import kestrel

from support.shared import CORPUS

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "flink"))
from test_flink_job import _canonical, _isolated, _require_flink, _require_kafka, submit_command  # noqa: E402

SMALL, LARGE = 2, 24
RATE = 5_000


def _stream(path: Path, copies: int) -> int:
    """`copies` of the bundled events, re-timed to RATE events per second."""
    docs = [json.loads(line) for line in (REPO / "examples" / "events.ndjson").read_text().splitlines()]
    start = calendar.timegm((2026, 1, 5, 8, 0, 0, 0, 0, 0)) * 1_000_000
    with path.open("w") as out:
        for n in range(copies * len(docs)):
            us = start + n * 1_000_000 // RATE
            moved = dict(docs[n % len(docs)])
            moved["@timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(us // 1_000_000)) + f".{us % 1_000_000:06d}Z"
            out.write(json.dumps(moved) + "\n")
    return copies * len(docs)


def _job(tmp_path: Path, events: Path, name: str) -> "tuple[float, list[str]]":
    out = tmp_path / f"alerts-{name}"
    options = ["--shards", "2", "--parallelism", "1", "--checkpoint-interval", "10000"]
    command = submit_command([CORPUS], f"file:{events}", f"file:{out}", *options)
    started = time.perf_counter()
    done = subprocess.run(_isolated(command), capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return seconds, [line for p in out.rglob("*") if p.is_file() for line in p.read_text().splitlines() if line]


@pytest.mark.slow
@pytest.mark.benchmark(group="flink")
def test_flink_job_per_slot_vs_one_engine(benchmark, budget, tmp_path):
    _require_flink()
    if not CORPUS.exists():
        pytest.skip(f"no rule corpus at {CORPUS}")
    small, large = tmp_path / "small.ndjson", tmp_path / "large.ndjson"
    n_small, n_large = _stream(small, SMALL), _stream(large, LARGE)

    def run():
        return _job(tmp_path, small, "small"), _job(tmp_path, large, "large")

    (t_small, _), (t_large, flink_alerts) = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    reference = tmp_path / "reference.ndjson"
    with kestrel.Engine(workers=0, batch_size=8192, sinks=[reference]) as engine:
        engine.load(CORPUS)
        started = time.perf_counter()
        engine.process_file(large)
        engine.flush()
        t_engine = time.perf_counter() - started
    same = _canonical(flink_alerts) == _canonical(reference.read_text().splitlines())
    per_slot = (n_large - n_small) / max(t_large - t_small, 1e-9)
    engine_rate = n_large / t_engine
    budget(
        1e9 / per_slot,
        matches=len(flink_alerts),
        agrees_with_reference=same,
        reference="kestrel.Engine, one core",
        flink_events_per_s_per_slot=round(per_slot),
        engine_events_per_s=round(engine_rate),
        flink_vs_engine=round(per_slot / engine_rate, 3),
        job_fixed_cost_s=round(t_small - n_small / per_slot, 1),
        events=[n_small, n_large],
        cpus=os.cpu_count(),
    )
    assert same


def _checkpoint_sizes(run, job: str) -> "dict[str, int]":
    """Bytes in the job's latest completed checkpoint: all of it, and the
    Kestrel operator's share (the shards' engine state)."""
    latest = run.checkpoints(job)["latest"]["completed"]
    details = run.cluster.rest(f"/jobs/{job}/checkpoints/details/{latest['id']}")
    names = {v["id"]: v["name"] for v in run.cluster.rest(f"/jobs/{job}")["vertices"]}
    kestrel_bytes = sum(t["state_size"] for vid, t in details["tasks"].items() if names[vid].startswith("kestrel"))
    return {"checkpoint_bytes": latest["state_size"], "kestrel_state_bytes": kestrel_bytes}


@pytest.mark.slow
@pytest.mark.benchmark(group="flink")
def test_flink_recovery_after_a_taskmanager_kill(benchmark, budget, tmp_path):
    """Seconds from SIGKILL of a TaskManager (a replacement started at once)
    to the job running again from its checkpoint, and to its next completed
    checkpoint; the checkpoint's size before the kill. The alerts after the
    recovery must still be those of `kestrel run`."""
    _require_flink()
    _require_kafka()
    from test_cluster import _hosts, _scenario

    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)
        sizes = _checkpoint_sizes(run, job)
        times = {}

        def recover() -> None:
            victim = run.cluster.taskmanager_pids()[0]
            killed = time.perf_counter()
            os.kill(victim, 9)
            run.cluster.add_taskmanager()
            run.wait_restore(job)
            run.cluster.wait(lambda: run.all_running(job), "every task to run from the checkpoint", timeout=300)
            times["to_running_s"] = round(time.perf_counter() - killed, 1)
            run.wait_checkpoints(job, 1)
            times["to_next_checkpoint_s"] = round(time.perf_counter() - killed, 1)

        benchmark.pedantic(recover, rounds=1, iterations=1, warmup_rounds=0)
        run.kafka.produce("events", run.second, keys=_hosts(run.second))
        found = run.drain(job)
    same = _canonical(found) == run.expected
    budget(
        None,
        matches=len(found),
        agrees_with_reference=same,
        recovery_s=times["to_running_s"],
        recovery_to_checkpoint_s=times["to_next_checkpoint_s"],
        heartbeat_timeout_s=30,
        events=len(run.first) + len(run.second),
        shards=4,
        **sizes,
    )
    assert same
