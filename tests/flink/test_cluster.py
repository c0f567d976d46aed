"""Kestrel's Flink job on a real standalone cluster (a JobManager and two
TaskManagers from the apache-flink wheel's scripts) fed from a real Kafka
broker: a TaskManager killed with SIGKILL mid-stream and replaced, and a
sequence whose first event came before the kill and second after it. The
alerts, read with read_committed, are those of `kestrel run` over the whole
stream: none lost, none twice."""

import json
import os
import signal
import subprocess

import pytest
from test_flink_job import FLINK_PYTHON, RULES, _canonical, _reference, _require_flink, _require_kafka, _stream, submit_command

from scaleout import KAFKA_CONNECTOR, FlinkCluster, Kafka, private_network

pytestmark = pytest.mark.slow

SPANNING_RULE = """sequence by host.id with maxspan=1h
  [process where process.name == "span-one.exe"]
  [process where process.name == "span-two.exe"]
"""


def _span_event(name, timestamp):
    return json.dumps(
        {
            "@timestamp": timestamp,
            "event": {"category": ["process"], "type": ["start"]},
            "host": {"id": "span-host"},
            "process": {"name": name},
        }
    )


def test_a_killed_taskmanager_loses_no_alert_and_no_partial_sequence(tmp_path):
    _require_flink()
    _require_kafka()
    lines = _stream(tmp_path).read_text().splitlines()
    half = len(lines) // 2
    stamp = json.loads(lines[half])["@timestamp"]
    first = lines[:half] + [_span_event("span-one.exe", stamp)]
    second = [_span_event("span-two.exe", stamp)] + lines[half:]
    events = tmp_path / "all.ndjson"
    events.write_text("\n".join(first + second) + "\n")
    rule = tmp_path / "spanning.eql"
    rule.write_text(SPANNING_RULE)
    rules = RULES + [rule]
    expected = _canonical(_reference(tmp_path, rules, events))
    assert any('"span-host"' in a and '"sequence"' in a for a in expected)

    with private_network() as prefix:
        kafka = Kafka(prefix, tmp_path / "kafka")
        (tmp_path / "kafka").mkdir()
        cluster = FlinkCluster(prefix, tmp_path / "flink", FLINK_PYTHON)
        try:
            kafka.start()
            kafka.create_topic("events", partitions=1)
            kafka.create_topic("alerts", partitions=2)
            cluster.start(taskmanagers=2)
            kafka.produce("events", first)
            options = ["--jars", str(KAFKA_CONNECTOR), "--shards", "4", "--parallelism", "2", "--checkpoint-interval", "2000"]
            command = [
                *prefix,
                *submit_command(
                    rules,
                    f"kafka://{kafka.bootstrap}/events",
                    f"kafka://{kafka.bootstrap}/alerts",
                    *options,
                    "--jobmanager",
                    f"localhost:{cluster.rest_port}",
                    "--detach",
                ),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            job = done.stdout.split()[-1]

            def checkpoints():
                return cluster.rest(f"/jobs/{job}/checkpoints")["counts"]["completed"]

            # The first half is in a checkpoint before anything is killed.
            cluster.wait(lambda: cluster.rest(f"/jobs/{job}")["state"] == "RUNNING", "the job to run")
            cluster.wait(lambda: checkpoints() >= 3, "three checkpoints")
            restored = cluster.rest(f"/jobs/{job}/checkpoints")["latest"].get("restored")
            victim = cluster.taskmanager_pids()[0]
            os.kill(victim, signal.SIGKILL)
            cluster.add_taskmanager()
            kafka.produce("events", second)
            cluster.wait(
                lambda: cluster.rest(f"/jobs/{job}/checkpoints")["latest"].get("restored") is not None,
                "a restore from a checkpoint",
            )
            cluster.wait(
                lambda: cluster.rest(f"/jobs/{job}")["state"] == "RUNNING" and checkpoints() >= 6, "the job to run again"
            )
            # Stop with drain: the final watermark settles every shard, then a
            # savepoint commits the last alerts.
            cluster.rest(f"/jobs/{job}/stop", {"drain": True})
            cluster.wait(lambda: cluster.rest(f"/jobs/{job}")["state"] == "FINISHED", "the job to finish", timeout=300)
            found = kafka.consume("alerts")
        finally:
            cluster.stop()
            kafka.stop()
    assert len(found) == len(expected)
    assert _canonical(found) == expected
    assert restored is None  # the restore came from the kill
