"""Kestrel's Flink job on a real standalone cluster (a JobManager and two
TaskManagers from the apache-flink wheel's scripts) fed from a real Kafka
broker. Each scenario breaks the run halfway through the stream: a
TaskManager killed with SIGKILL and replaced, only a Python worker killed,
or a stop with a savepoint at parallelism 2 and a resume at parallelism 1.
A sequence has its first event before the break and its second after it,
so its partial match must come through. The alerts, read with
read_committed, are those of `kestrel run` over the whole stream: none
lost, none twice."""

import json
import os
import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, List

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


@dataclass
class Scenario:
    """A broken run's parts: the stream's halves, the reference alerts, and
    the broker and cluster (running) in their private network."""

    tmp_path: "os.PathLike[str]"
    rules: list
    first: List[str]
    second: List[str]
    expected: List[str]
    prefix: List[str]
    kafka: Kafka
    cluster: FlinkCluster

    def submit(self, parallelism: int, *options: str) -> str:
        """Submit the job (detached) from Kafka to Kafka; its job id."""
        command = [
            *self.prefix,
            *submit_command(
                self.rules,
                f"kafka://{self.kafka.bootstrap}/events",
                f"kafka://{self.kafka.bootstrap}/alerts",
                *("--jars", str(KAFKA_CONNECTOR), "--shards", "4", "--parallelism", str(parallelism)),
                *("--checkpoint-interval", "2000", "--jobmanager", f"localhost:{self.cluster.rest_port}", "--detach"),
                *options,
            ),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=self.tmp_path)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        job = done.stdout.split()[-1]
        self.cluster.wait(lambda: self.state(job) == "RUNNING", "the job to run")
        return job

    def state(self, job: str) -> str:
        return self.cluster.rest(f"/jobs/{job}")["state"]

    def checkpoints(self, job: str) -> dict:
        return self.cluster.rest(f"/jobs/{job}/checkpoints")

    def wait_checkpoints(self, job: str, count: int) -> None:
        self.cluster.wait(
            lambda: self.state(job) == "RUNNING" and self.checkpoints(job)["counts"]["completed"] >= count,
            f"{count} completed checkpoints",
        )

    def wait_restore(self, job: str) -> dict:
        """The checkpoint or savepoint the job last restored from, once it has one."""
        self.cluster.wait(lambda: self.checkpoints(job)["latest"].get("restored") is not None, "a restore")
        return self.checkpoints(job)["latest"]["restored"]

    def drain(self, job: str) -> List[str]:
        """Stop with drain (the final watermark settles every shard, and a
        savepoint commits the last alerts); every committed alert."""
        self.cluster.rest(f"/jobs/{job}/stop", {"drain": True})
        self.cluster.wait(lambda: self.state(job) == "FINISHED", "the job to finish", timeout=300)
        return self.kafka.consume("alerts")


@contextmanager
def _scenario(tmp_path) -> Iterator[Scenario]:
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
        (tmp_path / "kafka").mkdir()
        kafka = Kafka(prefix, tmp_path / "kafka")
        cluster = FlinkCluster(prefix, tmp_path / "flink", FLINK_PYTHON)
        try:
            kafka.start()
            kafka.create_topic("events", partitions=1)
            kafka.create_topic("alerts", partitions=2)
            cluster.start(taskmanagers=2)
            kafka.produce("events", first)
            yield Scenario(tmp_path, rules, first, second, expected, prefix, kafka, cluster)
        finally:
            cluster.stop()
            kafka.stop()


def _assert_same_alerts(found, expected):
    assert len(found) == len(expected)
    assert _canonical(found) == expected


def _python_workers(parent: int) -> List[int]:
    """The Python processes started, directly or not, by process `parent`."""
    table = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=True).stdout
    children: dict = {}
    commands = {}
    for row in table.splitlines():
        pid, ppid, args = row.split(None, 2)
        children.setdefault(int(ppid), []).append(int(pid))
        commands[int(pid)] = args
    found, todo = [], list(children.get(parent, []))
    while todo:
        pid = todo.pop()
        if "pyflink" in commands[pid] and "python" in commands[pid]:
            found.append(pid)
        todo += children.get(pid, [])
    return found


@pytest.fixture(autouse=True)
def _flink_and_kafka():
    _require_flink()
    _require_kafka()


def test_a_killed_taskmanager_loses_no_alert_and_no_partial_sequence(tmp_path):
    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)  # the first half is in a checkpoint
        os.kill(run.cluster.taskmanager_pids()[0], signal.SIGKILL)
        run.cluster.add_taskmanager()
        run.kafka.produce("events", run.second)
        restored = run.wait_restore(job)
        run.wait_checkpoints(job, 6)
        found = run.drain(job)
    assert restored["is_savepoint"] is False  # the restore came from the kill
    _assert_same_alerts(found, run.expected)


def test_a_killed_python_worker_loses_no_alert_and_no_partial_sequence(tmp_path):
    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)
        taskmanager = run.cluster.taskmanager_pids()[0]
        workers = _python_workers(taskmanager)
        assert workers, "the TaskManager runs no Python worker"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        run.kafka.produce("events", run.second)
        restored = run.wait_restore(job)
        run.wait_checkpoints(job, 6)
        assert taskmanager in run.cluster.taskmanager_pids()  # only the worker died
        found = run.drain(job)
    assert restored["is_savepoint"] is False
    _assert_same_alerts(found, run.expected)


def test_a_savepoint_taken_at_parallelism_2_resumes_at_parallelism_1(tmp_path):
    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)
        target = (tmp_path / "savepoints").as_uri()
        trigger = run.cluster.rest(f"/jobs/{job}/stop", {"drain": False, "targetDirectory": target})["request-id"]
        status: dict = {}

        def saved():
            status.update(run.cluster.rest(f"/jobs/{job}/savepoints/{trigger}"))
            return status["status"]["id"] == "COMPLETED"

        run.cluster.wait(saved, "the savepoint", timeout=300)
        assert "failure-cause" not in status["operation"], status["operation"]
        savepoint = status["operation"]["location"]
        run.cluster.wait(lambda: run.state(job) == "FINISHED", "the job to stop")

        resumed = run.submit(1, "--from-savepoint", savepoint)
        assert run.cluster.rest(f"/jobs/{resumed}")["vertices"][0]["parallelism"] == 1
        run.kafka.produce("events", run.second)
        restored = run.wait_restore(resumed)
        run.wait_checkpoints(resumed, 3)
        found = run.drain(resumed)
    assert restored["is_savepoint"] is True
    _assert_same_alerts(found, run.expected)
