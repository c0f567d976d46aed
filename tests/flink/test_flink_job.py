"""Kestrel as a Flink job on a local mini cluster (real Flink, real Python
workers in process mode), against `kestrel run` on the same rules and events.

The job needs PyFlink, which lives in its own environment (`.venv-flink`,
made by scripts/flink-setup.sh): without it these tests are skipped, except
in CI, where that is an error.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLINK_PYTHON = Path(os.environ.get("KESTREL_FLINK_PYTHON", REPO / ".venv-flink" / "bin" / "python"))
RULES = [REPO / "rules" / name for name in ("eql", "detection-rules", "wasm_example_rule", "lua_example_rule")]
EVENTS = REPO / "examples" / "events.ndjson"

CROSS_ENTITY_RULE = """sequence by user.name with maxspan=1m
  [process where process.name == "kestrel-first.exe"]
  [process where process.name == "kestrel-second.exe"]
"""

pytestmark = pytest.mark.slow


def _need(present, message):
    """Skip without a part the scale-out tests run for real; in CI, fail."""
    if not present:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _require_flink():
    _need(FLINK_PYTHON.exists(), f"no PyFlink environment at {FLINK_PYTHON} (run scripts/flink-setup.sh)")


def _require_kafka():
    from scaleout import BROKER_JARS, KAFKA_CONNECTOR

    _need(
        KAFKA_CONNECTOR is not None and BROKER_JARS.is_dir(),
        f"no Kafka jars under {BROKER_JARS.parent} (run scripts/flink-setup.sh)",
    )


def _isolated(command):
    """`command` with loopback-only networking when the machine allows it:
    PyFlink's gRPC servers for Python workers listen on every interface."""
    if shutil.which("unshare") and os.geteuid() == 0:
        return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]
    return command


def submit_command(rules, source: str, sink: str, *options: str) -> "list[str]":
    """`kestrel flink submit` in the Flink environment's Python, with `options` (flag, value, ...)."""
    rules = [str(rule) for rule in rules]
    return [
        str(FLINK_PYTHON),
        "-m",
        "kestrel",
        "flink",
        "submit",
        "--rules",
        *rules,
        "--source",
        source,
        "--sink",
        sink,
        *options,
    ]


def _submit(tmp_path, rules, events, *extra):
    out = tmp_path / "flink-alerts"
    command = submit_command(rules, f"file:{events}", f"file:{out}", "--checkpoint-interval", "2000", *extra)
    done = subprocess.run(_isolated(command), capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not any(p.name.startswith(".") for p in files), f"uncommitted output: {files}"
    return [line for p in files for line in p.read_text().splitlines() if line]


def _reference(tmp_path, rules, events):
    out = tmp_path / "reference.ndjson"
    command = [sys.executable, "-m", "kestrel", "run", "--rules", *map(str, rules), "--events", str(events), "--alerts", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out.read_text().splitlines()


def _canonical(lines):
    return sorted(json.dumps(json.loads(line), sort_keys=True) for line in lines)


def _stream(tmp_path):
    """The bundled events, a cross-entity pair (one user on two hosts), and
    at the end an alerting event an hour older than the rest: late."""
    lines = EVENTS.read_text().splitlines()
    docs = [json.loads(line) for line in lines]
    last = max(d["@timestamp"] for d in docs)
    pair = [
        {
            "@timestamp": last,
            "event": {"category": ["process"], "type": ["start"]},
            "host": {"id": f"cross-{n}"},
            "user": {"name": "kestrel-cross"},
            "process": {"name": name, "pid": 7 + n},
        }
        for n, name in enumerate(["kestrel-first.exe", "kestrel-second.exe"])
    ]
    late = dict(pair[0], host={"id": "late-host"}, user={"name": "late-user"}, **{"@timestamp": "2000-01-01T00:00:00.000Z"})
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines + [json.dumps(e) for e in pair + [late]]) + "\n")
    return path


EXPRESSIONS_SCRIPT = """
import json, sys
from pyflink.table import EnvironmentSettings, TableEnvironment
from kestrel.flink.job import JobSpec, event_time_sql, shard_sql
lines = json.loads(sys.stdin.read())
tables = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
tables.get_config().set("table.local-time-zone", "UTC")
values = ", ".join("(" + str(n) + ", '" + line.replace("'", "''") + "')" for n, line in enumerate(lines))
spec = JobSpec(rules="", source="file:x", sink="file:y", shards=4)
query = "SELECT n, CAST(" + event_time_sql() + " AS STRING), " + shard_sql(spec) + " FROM (VALUES " + values + ") AS v(n, line)"
with tables.execute_sql(query).collect() as rows:
    print(json.dumps(sorted([row[0], row[1], row[2]] for row in rows)))
"""


def test_the_jvm_reads_each_records_event_time_and_entity():
    """The SQL that stamps and shards records, evaluated by Flink itself:
    event time to the second, an entity's records in one shard whether its
    key is nested or dotted, and the epoch for a record without a time."""
    _require_flink()
    hosts = [f"host-{n}" for n in range(16)]
    lines = [json.dumps({"@timestamp": "2026-01-05T08:00:07.662Z", "host": {"id": h}}) for h in hosts]
    lines += [
        json.dumps({"@timestamp": "2026-01-05T08:00:09Z", "host.id": "host-3"}),
        json.dumps({"host": {"name": "no-time"}}),
        "not json",
    ]
    done = subprocess.run(
        [str(FLINK_PYTHON), "-c", EXPRESSIONS_SCRIPT], input=json.dumps(lines), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    times = [row[1] for row in rows]
    shards = [row[2] for row in rows]
    assert times[:16] == ["2026-01-05 08:00:07.000"] * 16
    assert times[16:] == ["2026-01-05 08:00:09.000", "1970-01-01 00:00:00.000", "1970-01-01 00:00:00.000"]
    assert len(set(shards[:16])) == 4  # sixteen hosts spread over every shard
    assert shards[16] == shards[3]  # host.id dotted or nested: one entity, one shard
    assert all(0 <= s < 4 for s in shards)


def test_flink_job_raises_the_alerts_of_kestrel_run(tmp_path):
    _require_flink()
    rule = tmp_path / "cross_entity.eql"
    rule.write_text(CROSS_ENTITY_RULE)
    late_rule = tmp_path / "late.eql"
    late_rule.write_text('process where host.id == "late-host"\n')
    rules = RULES + [rule, late_rule]
    events = _stream(tmp_path)
    expected = _canonical(_reference(tmp_path, rules, events))
    found = _canonical(_submit(tmp_path, rules, events, "--shards", "4", "--parallelism", "2"))
    assert any('"kestrel-cross"' in a and '"sequence"' in a for a in expected)
    assert any('"late-host"' in a for a in expected)
    assert len(found) == len(expected)
    assert found == expected
    ids = [json.loads(a)["id"] for a in found]
    assert len(set(ids)) == len(ids)


def test_a_rule_that_does_not_load_stops_the_submission(tmp_path):
    _require_flink()
    bad = tmp_path / "bad.eql"
    bad.write_text("process where\n")
    command = submit_command([bad], f"file:{EVENTS}", f"file:{tmp_path / 'out'}")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "bad.eql" in done.stderr


def test_kafka_in_kafka_out_raises_the_alerts_of_kestrel_run_once_each(tmp_path):
    """Events produced to a Kafka topic, alerts to another through Flink's
    transactional Kafka sink (read back with read_committed): the same
    alerts as `kestrel run`, none lost and none twice."""
    _require_flink()
    _require_kafka()
    from scaleout import KAFKA_CONNECTOR, Kafka, private_network

    events = _stream(tmp_path)
    expected = _canonical(_reference(tmp_path, RULES, events))
    with private_network() as prefix:
        kafka = Kafka(prefix, tmp_path).start()
        try:
            # One partition keeps every host's events in order, as a topic
            # keyed by host would.
            kafka.create_topic("events", partitions=1)
            kafka.create_topic("alerts", partitions=2)
            kafka.produce("events", events.read_text().splitlines())
            options = ["--bounded", "--jars", str(KAFKA_CONNECTOR), "--shards", "4", "--parallelism", "2"]
            command = [
                *prefix,
                *submit_command(
                    RULES,
                    f"kafka://{kafka.bootstrap}/events",
                    f"kafka://{kafka.bootstrap}/alerts",
                    *options,
                    "--checkpoint-interval",
                    "2000",
                ),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            found = kafka.consume("alerts")
        finally:
            kafka.stop()
    assert len(found) == len(expected)
    assert _canonical(found) == expected
