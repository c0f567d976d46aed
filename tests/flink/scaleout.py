"""Real parts for the scale-out tests: a private loopback-only network, and
an Apache Kafka broker (single node, KRaft) from Maven Central's jars,
fetched by scripts/flink-setup.sh. Everything started here is stopped here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

JARS = Path(os.environ.get("KESTREL_SCALEOUT_JARS", Path.home() / ".cache" / "kestrel" / "scaleout"))
BROKER_JARS = JARS / "broker"
KAFKA_CONNECTOR = (
    next(iter(sorted((JARS / "connector").glob("flink-sql-connector-kafka-*.jar"))), None)
    if (JARS / "connector").is_dir()
    else None
)


@contextmanager
def private_network() -> Iterator[List[str]]:
    """A command prefix that runs a program in a network namespace with only
    loopback (PyFlink's gRPC servers listen on every interface), shared by
    every program started with it; an empty prefix where namespaces are not
    available (not root)."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        yield []
        return
    name = f"kestrel-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def _java(prefix: List[str], main: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [*prefix, "java", "-Xmx256m", "-cp", f"{BROKER_JARS}/*", main, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=kwargs.pop("timeout", 120), **kwargs)


def _cluster_id() -> str:
    """A random KRaft cluster id. One that begins with `-` would be read by
    the storage tool's argument parser as an option, so draw again, as Kafka's
    own `Uuid.randomUuid` does."""
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster.startswith("-"):
            return cluster


class Kafka:
    """A broker at localhost:`port` inside `prefix`'s network."""

    def __init__(self, prefix: List[str], workdir: Path, port: int = 19092) -> None:
        self.prefix, self.workdir, self.port = prefix, workdir, port
        self.bootstrap = f"localhost:{port}"
        self.process: "subprocess.Popen[bytes] | None" = None

    def start(self) -> "Kafka":
        config = self.workdir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@localhost:{self.port + 1}",
                    f"listeners=PLAINTEXT://localhost:{self.port},CONTROLLER://localhost:{self.port + 1}",
                    f"advertised.listeners=PLAINTEXT://localhost:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.workdir / 'data'}",
                    "num.partitions=4",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                ]
            )
            + "\n"
        )
        done = _java(self.prefix, "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(config))
        if done.returncode != 0:
            raise RuntimeError(f"formatting Kafka storage failed: {done.stdout}{done.stderr}")
        command = [*self.prefix, "java", "-Xmx512m", "-cp", f"{BROKER_JARS}/*", "kafka.Kafka", str(config)]
        with open(self.workdir / "broker.log", "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Kafka exited: {(self.workdir / 'broker.log').read_text()[-2000:]}")
            if self.topics().returncode == 0:
                return self
            time.sleep(1)
        raise RuntimeError("Kafka did not start within 90 s")

    def topics(self, *args: str) -> subprocess.CompletedProcess:
        return _java(
            self.prefix, "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", self.bootstrap, *(args or ("--list",))
        )

    def create_topic(self, topic: str, partitions: int = 4) -> None:
        done = self.topics("--create", "--topic", topic, "--partitions", str(partitions), "--replication-factor", "1")
        if done.returncode != 0:
            raise RuntimeError(done.stderr)

    def produce(self, topic: str, lines: List[str], keys: "List[str] | None" = None) -> None:
        """`lines` as records of `topic`, with `keys` as their record keys
        when given (the broker's partitioner keeps one key in one partition)."""
        if keys is not None:
            lines = [f"{key}\t{line}" for key, line in zip(keys, lines)]
            options = ["--property", "parse.key=true", "--property", "key.separator=\t"]
        else:
            options = []
        command = [
            *self.prefix,
            "java",
            "-Xmx256m",
            "-cp",
            f"{BROKER_JARS}/*",
            "org.apache.kafka.tools.ConsoleProducer",
            "--bootstrap-server",
            self.bootstrap,
            "--topic",
            topic,
            *options,
        ]
        done = subprocess.run(command, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)

    def lag(self, group: str) -> "int | None":
        """Records in `group`'s partitions past its committed offsets; None
        until it has committed an offset for each."""
        done = _java(
            self.prefix,
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            self.bootstrap,
            "--describe",
            "--group",
            group,
        )
        lags = []
        for row in done.stdout.splitlines():
            columns = row.split()
            if len(columns) >= 6 and columns[0] == group:
                lags.append(None if columns[5] == "-" else int(columns[5]))
        return None if not lags or None in lags else sum(lags)  # type: ignore[arg-type]

    def consume(self, topic: str, idle_ms: int = 15000) -> List[str]:
        """Every committed record of `topic` (transactions aborted by a
        restart are not read), until none arrives for `idle_ms`."""
        done = _java(
            self.prefix,
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "--bootstrap-server",
            self.bootstrap,
            "--topic",
            topic,
            "--from-beginning",
            "--timeout-ms",
            str(idle_ms),
            "--isolation-level",
            "read_committed",
            timeout=600,
        )
        return [line for line in done.stdout.splitlines() if line.startswith("{")]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


class FlinkCluster:
    """A standalone Flink cluster on localhost from the apache-flink wheel's
    own scripts: one JobManager (REST on `rest_port`) and TaskManagers of
    one slot each, checkpointing to `workdir`, restarting with exponential
    delay."""

    def __init__(self, prefix: List[str], workdir: Path, python: Path, rest_port: int = 18081) -> None:
        done = subprocess.run(
            [str(python), "-c", "import pyflink, os; print(os.path.dirname(pyflink.__file__))"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.home = Path(done.stdout.strip())
        self.prefix, self.workdir, self.rest_port = prefix, workdir, rest_port
        self.conf = workdir / "conf"
        self.conf.mkdir(parents=True, exist_ok=True)
        java_opts = ""
        for line in (self.home / "conf" / "config.yaml").read_text().splitlines():
            if line.strip().startswith("all: --add-exports"):
                java_opts = line.strip()[len("all: ") :]
        settings = {
            "env.java.opts.all": java_opts,
            "jobmanager.rpc.address": "localhost",
            "jobmanager.bind-host": "localhost",
            "taskmanager.bind-host": "localhost",
            "taskmanager.host": "localhost",
            "rest.address": "localhost",
            "rest.bind-address": "localhost",
            "rest.port": str(rest_port),
            "jobmanager.memory.process.size": "1024m",
            "taskmanager.memory.process.size": "1600m",
            "taskmanager.numberOfTaskSlots": "1",
            "execution.checkpointing.dir": (workdir / "checkpoints").as_uri(),
            "execution.checkpointing.savepoint-dir": (workdir / "savepoints").as_uri(),
            "restart-strategy.type": "exponential-delay",
            "python.executable": str(python),
            # A loaded two-core machine can miss a few heartbeats; a killed
            # TaskManager is found sooner by its peers' broken connections.
            "heartbeat.timeout": "30000",
        }
        (self.conf / "config.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
        for name in ("log4j.properties", "log4j-console.properties", "log4j-cli.properties"):
            shutil.copy(self.home / "conf" / name, self.conf / name)
        (workdir / "log").mkdir(exist_ok=True)
        self.env = dict(
            os.environ, FLINK_CONF_DIR=str(self.conf), FLINK_LOG_DIR=str(workdir / "log"), FLINK_PID_DIR=str(workdir / "pids")
        )

    def _daemon(self, script: str, action: str) -> None:
        subprocess.run(
            [*self.prefix, "bash", str(self.home / "bin" / script), action],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self, taskmanagers: int) -> "FlinkCluster":
        self._daemon("jobmanager.sh", "start")
        for _ in range(taskmanagers):
            self.add_taskmanager()
        self.wait(lambda: self.rest("/taskmanagers")["taskmanagers"].__len__() >= taskmanagers, "TaskManagers to register")
        return self

    def add_taskmanager(self) -> None:
        self._daemon("taskmanager.sh", "start")

    def taskmanager_pids(self) -> List[int]:
        found = (self.workdir / "pids").glob("flink-*-taskexecutor.pid")
        return [int(x) for p in found for x in p.read_text().split()]

    def rest(self, path: str, body: "dict | None" = None) -> dict:
        command = [*self.prefix, "curl", "-sf", f"http://localhost:{self.rest_port}{path}"]
        if body is not None:
            command += ["-X", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(body)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"REST {path}: curl exit {done.returncode}")
        return json.loads(done.stdout or "{}")

    def wait(self, condition, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (RuntimeError, KeyError, ValueError, subprocess.TimeoutExpired):
                pass
            time.sleep(1)
        raise RuntimeError(f"timed out waiting for {what}; logs in {self.workdir / 'log'}")

    def stop(self) -> None:
        for pid in self.taskmanager_pids():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        subprocess.run(
            [*self.prefix, "bash", str(self.home / "bin" / "jobmanager.sh"), "stop"],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(["pkill", "-9", "-f", str(self.conf)], capture_output=True)
