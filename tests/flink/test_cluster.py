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

    def all_running(self, job: str) -> bool:
        """Whether every task of `job` runs (after a restore, some start later than the job)."""
        return all(v["status"] == "RUNNING" for v in self.cluster.rest(f"/jobs/{job}")["vertices"])

    def wait_checkpoints(self, job: str, more: int) -> None:
        """Wait for `more` checkpoints completed from now, every task running."""
        target = self.checkpoints(job)["counts"]["completed"] + more

        def done() -> bool:
            return self.all_running(job) and self.checkpoints(job)["counts"]["completed"] >= target

        self.cluster.wait(done, f"{more} more checkpoints")

    def wait_restore(self, job: str) -> dict:
        """The checkpoint or savepoint the job last restored from, once it has one."""
        self.cluster.wait(lambda: self.checkpoints(job)["latest"].get("restored") is not None, "a restore")
        return self.checkpoints(job)["latest"]["restored"]

    def stop(self, job: str, drain: bool, target: "str | None" = None) -> str:
        """Stop `job` with a savepoint (with `drain`, the final watermark
        settles every shard first); the savepoint's location. A stop that
        fails is asked for again until one is taken."""
        body: dict = {"drain": drain, **({"targetDirectory": target} if target else {})}
        status: dict = {}
        failures = []

        def stopped() -> bool:
            if not status:
                status["trigger"] = self.cluster.rest(f"/jobs/{job}/stop", body)["request-id"]
            answer = self.cluster.rest(f"/jobs/{job}/savepoints/{status['trigger']}")
            if answer["status"]["id"] != "COMPLETED":
                return False
            if "failure-cause" in answer["operation"]:
                failures.append(answer["operation"]["failure-cause"].get("stack-trace", "")[:300])
                status.clear()
                return False
            status["location"] = answer["operation"]["location"]
            return True

        try:
            self.cluster.wait(stopped, "a stop with a savepoint", timeout=300)
        except RuntimeError as error:
            raise RuntimeError(f"{error}; failed stops: {failures}") from None
        self.cluster.wait(lambda: self.state(job) == "FINISHED", "the job to finish", timeout=120)
        return status["location"]

    def drain(self, job: str) -> List[str]:
        """Once the job has read every event (a stop reads no further), stop
        with drain; every committed alert."""
        # The source commits its offsets with each completed checkpoint.
        self.cluster.wait(lambda: self.kafka.lag("kestrel") == 0, "the job to read every event", timeout=300)
        self.stop(job, drain=True)
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
            # As the docs ask: keyed by host, with a partition for each
            # source reader, so event time moves on every reader.
            kafka.create_topic("events", partitions=2)
            kafka.create_topic("alerts", partitions=2)
            cluster.start(taskmanagers=2)
            kafka.produce("events", first, keys=_hosts(first))
            yield Scenario(tmp_path, rules, first, second, expected, prefix, kafka, cluster)
        finally:
            cluster.stop()
            kafka.stop()


def _hosts(lines: List[str]) -> List[str]:
    return [str(json.loads(line).get("host", {}).get("id", "")) for line in lines]


def _assert_same_alerts(found, expected, tmp_path):
    (tmp_path / "found.ndjson").write_text("\n".join(found) + "\n")  # for a diff when this fails
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
        run.kafka.produce("events", run.second, keys=_hosts(run.second))
        restored = run.wait_restore(job)
        run.wait_checkpoints(job, 2)
        found = run.drain(job)
    assert restored["is_savepoint"] is False  # the restore came from the kill
    _assert_same_alerts(found, run.expected, tmp_path)


def test_a_killed_python_worker_loses_no_alert_and_no_partial_sequence(tmp_path):
    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)
        taskmanager = run.cluster.taskmanager_pids()[0]
        workers = _python_workers(taskmanager)
        assert workers, "the TaskManager runs no Python worker"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        run.kafka.produce("events", run.second, keys=_hosts(run.second))
        restored = run.wait_restore(job)
        run.wait_checkpoints(job, 2)
        assert taskmanager in run.cluster.taskmanager_pids()  # only the worker died
        found = run.drain(job)
    assert restored["is_savepoint"] is False
    _assert_same_alerts(found, run.expected, tmp_path)


def test_a_savepoint_taken_at_parallelism_2_resumes_at_parallelism_1(tmp_path):
    with _scenario(tmp_path) as run:
        job = run.submit(2)
        run.wait_checkpoints(job, 3)
        savepoint = run.stop(job, drain=False, target=(tmp_path / "savepoints").as_uri())

        resumed = run.submit(1, "--from-savepoint", savepoint)
        assert run.cluster.rest(f"/jobs/{resumed}")["vertices"][0]["parallelism"] == 1
        run.kafka.produce("events", run.second, keys=_hosts(run.second))
        restored = run.wait_restore(resumed)
        run.wait_checkpoints(resumed, 2)
        found = run.drain(resumed)
    assert restored["is_savepoint"] is True
    _assert_same_alerts(found, run.expected, tmp_path)
