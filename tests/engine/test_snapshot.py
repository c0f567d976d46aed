"""Engine checkpoints: `snapshot()` / `restore()` carry a process's state to
another one, which goes on exactly where the first stopped."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from engine_support import EVENTS, RULES

import kestrel

RULE_DIRS = [RULES / "eql", RULES / "detection-rules"]


def _engine(**options):
    engine = kestrel.Engine(batch_size=256, **options)
    for target in RULE_DIRS:
        engine.load(target)
    return engine


SCRIPT = textwrap.dedent(
    """
    import sys, time
    import kestrel
    rules, events, alerts, snapshot, mode, workers = sys.argv[1:7]
    engine = kestrel.Engine(batch_size=256, workers=int(workers), sinks=[alerts])
    for target in rules.split(","):
        engine.load(target)
    if mode == "first":
        engine.process_file(events)
        blob = engine.snapshot()
        with open(snapshot + ".tmp", "wb") as f:
            f.write(blob)
        import os
        os.replace(snapshot + ".tmp", snapshot)
        print("ready", flush=True)
        time.sleep(600)  # killed here
    else:
        with open(snapshot, "rb") as f:
            engine.restore(f.read())
        engine.process_file(events)
        engine.flush()
        print(engine.stats()["received"], flush=True)
    """
)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_killed_process_is_continued_from_its_snapshot(tmp_path, workers):
    lines = EVENTS.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    first.write_bytes(b"".join(lines[:half]))
    second.write_bytes(b"".join(lines[half:]))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    rules = ",".join(str(r) for r in RULE_DIRS)
    split_alerts, blob = tmp_path / "split.ndjson", tmp_path / "engine.snapshot"

    args = [sys.executable, str(script), rules]
    with subprocess.Popen(
        [*args, str(first), str(split_alerts), str(blob), "first", str(workers)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout.readline().strip() == "ready"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    done = subprocess.run(
        [*args, str(second), str(split_alerts), str(blob), "second", str(workers)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(lines)  # the ingest counters went on too

    whole = tmp_path / "whole.ndjson"
    with kestrel.Engine(batch_size=256, workers=workers, sinks=[whole]) as engine:
        for target in RULE_DIRS:
            engine.load(target)
        engine.process_file(first)
        engine.process_file(second)
        engine.flush()
    expected = sorted(whole.read_bytes().splitlines())
    assert any(b'"kind":"sequence"' in line for line in expected)
    assert sorted(split_alerts.read_bytes().splitlines()) == expected


def test_a_snapshot_keeps_pending_sequences_pipes_and_dedup(tmp_path):
    query = 'sequence by host.id [process where process.name == "a"] [process where process.name == "b"] | head 1'
    event = '{{"@timestamp":"2026-01-05T08:00:0{n}.000Z","event":{{"category":["process"]}},"host":{{"id":"h"}},"process":{{"name":"{name}"}}}}\n'
    with kestrel.Engine() as source:
        source.load(query, rule_id="ab")
        assert source.process(event.format(n=1, name="a")) == []
        blob = source.snapshot()
    with kestrel.Engine() as target:
        target.load(query, rule_id="ab")
        target.restore(blob)
        assert target.stats()["partials"] == 1
        alerts = target.process(event.format(n=2, name="b"))
        assert [a["rule"]["id"] for a in alerts] == ["ab"]
        # `| head 1` is full: a second match would not come out.
        assert target.process(event.format(n=3, name="a") + event.format(n=4, name="b")) == []


def test_a_snapshot_of_other_rules_or_workers_or_damaged_is_refused(tmp_path):
    with _engine() as engine:
        engine.process_file(EVENTS)
        blob = engine.snapshot()
    with kestrel.Engine() as other:
        other.load(RULES / "eql")
        with pytest.raises(kestrel.SnapshotError, match="rule"):
            other.restore(blob)
    with _engine(workers=2) as wider:
        with pytest.raises(kestrel.SnapshotError, match="partition"):
            wider.restore(blob)
    damaged = bytearray(blob)
    damaged[len(damaged) // 2] ^= 0xFF
    with _engine() as engine:
        with pytest.raises(kestrel.SnapshotError, match="damaged"):
            engine.restore(bytes(damaged))
        with pytest.raises(kestrel.SnapshotError, match="not a Kestrel engine snapshot"):
            engine.restore(b"garbage")
        with pytest.raises(kestrel.SnapshotError, match="truncated|damaged"):
            engine.restore(blob[:-40] + blob[-32:])
        assert engine.stats()["received"] == 0  # nothing was restored


def _ab_event(n, name, host="h"):
    return (
        f'{{"@timestamp":"2026-01-05T08:00:{n:02d}.000Z","event":{{"category":["process"]}},'
        f'"host":{{"id":"{host}"}},"process":{{"name":"{name}"}}}}\n'
    )


def test_one_partition_is_snapshotted_restored_advanced_and_flushed():
    # A trailing missing step settles when event time passes the window,
    # without another event in its partition.
    query = 'sequence by host.id with maxspan=5s [process where process.name == "a"] ![process where process.name == "b"]'
    with kestrel.Engine(workers=2) as engine:
        engine.load(query, rule_id="a_without_b")
        assert engine.process(_ab_event(1, "a")) == []
        partition = next(p for p in range(2) if engine.next_deadline(p) is not None)
        deadline = engine.next_deadline(partition)
        blob = engine.snapshot_partition(partition)
        assert engine.advance(partition, deadline - 1) == []
        alerts = engine.advance(partition, deadline + 1)
        assert [a["rule"]["id"] for a in alerts] == ["a_without_b"] and alerts[0]["events"][1] == {"missing": True}
        assert engine.next_deadline(partition) is None
    with kestrel.Engine(workers=2) as restored:
        restored.load(query, rule_id="a_without_b")
        restored.restore_partition(partition, blob)
        assert restored.next_deadline(partition) == deadline
        assert [a["rule"]["id"] for a in restored.flush_partition(partition)] == ["a_without_b"]
        with pytest.raises(kestrel.SnapshotError, match="partition"):
            restored.restore_partition(1 - partition, blob)
        with pytest.raises(IndexError, match="partition 2 out of range"):
            restored.next_deadline(2)
