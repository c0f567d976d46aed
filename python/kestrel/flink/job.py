"""The Flink job: NDJSON records in, Kestrel alerts out, state in Flink.

The JVM side does all per-record work. A SQL view reads each record's
event time and entity key, and marks records whose window has already
closed (``CURRENT_WATERMARK``); a one-second event-time window per shard
joins the rest into one NDJSON batch. Late records skip the window and go
on alone, so none is dropped. Python sees one row per shard per window and
makes one native call for it (:mod:`kestrel.flink.shard`). Alert blocks are
split back into one record per alert on the JVM side.

Shards are a fixed number of virtual partitions of the entity key
(``host.id`` by default), computed on the JVM by ``HASH_CODE``: every event
of an entity lands in one shard, whatever the parallelism, so the shard's
keyed state follows it through restores and rescales.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlparse

from kestrel.errors import KestrelError

#: Seconds of event time a shard's batch spans.
WINDOW_SECONDS = 1


@dataclass
class JobSpec:
    """What to run: rules (os.pathsep-separated paths), where events come
    from and alerts go (``file:PATH`` or ``kafka://HOST:PORT/TOPIC``), and
    how the work is cut."""

    rules: str
    source: str
    sink: str
    shards: int = 8
    parallelism: int = 1
    #: How far event time may run behind the newest event before records count as late.
    out_of_orderness_s: int = 5
    #: Seconds without records after which a source reader stops holding the
    #: watermark back; 0 never. See docs/scale-out.md before setting it.
    idle_timeout_s: int = 0
    checkpoint_interval_ms: int = 10_000
    #: Read a Kafka topic only up to the offsets it has when the job starts.
    bounded: bool = False
    entity_field: str = "host.id"
    name: str = "kestrel"
    #: Extra Flink configuration (key -> value).
    flink: Dict[str, str] = field(default_factory=dict)
    #: Connector jars (file URIs), added to those the environment has.
    jars: List[str] = field(default_factory=list)
    python: str = sys.executable
    #: A savepoint or retained checkpoint to resume from, at any parallelism.
    resume_from: Optional[str] = None
    #: Built by a cluster's client (`flink run`), whose configuration says
    #: where checkpoints go; otherwise the job runs in this process.
    on_cluster: bool = False


def _endpoint(uri: str, role: str) -> Dict[str, str]:
    """`uri` as Flink table options, or a KestrelError naming what is wrong with it."""
    if uri.startswith("file:"):
        path = uri[len("file:") :]
        if path.startswith("//"):
            path = urlparse(uri).path
        if not path:
            raise KestrelError(f"{role} {uri!r}: no path")
        return {"connector": "filesystem", "path": path, "format": "raw"}
    if uri.startswith("kafka://"):
        parsed = urlparse(uri)
        topic = parsed.path.strip("/")
        if not parsed.netloc or not topic:
            raise KestrelError(f"{role} {uri!r}: expected kafka://HOST:PORT/TOPIC")
        return {"connector": "kafka", "topic": topic, "properties.bootstrap.servers": parsed.netloc}
    raise KestrelError(f"{role} {uri!r}: expected file:PATH or kafka://HOST:PORT/TOPIC")


def _with(options: Dict[str, str]) -> str:
    return ", ".join(f"'{k}' = '{v}'" for k, v in options.items())


def _json_value(*keys: str) -> str:
    """SQL for the string at `keys` in the record's JSON, or NULL. Flink's
    JSON paths read quoted names only in brackets (``$."@timestamp"`` is
    always NULL), and a quote inside the SQL literal is doubled."""
    if any("'" in key or "\\" in key for key in keys):
        raise KestrelError(f"field {'.'.join(keys)!r}: quotes and backslashes are not supported in Flink JSON paths")
    path = "$" + "".join(f"[''{key}'']" for key in keys)
    return f"JSON_VALUE(line, '{path}')"


def _json_field(field_name: str) -> str:
    """`field_name` nested or as one dotted key."""
    return f"COALESCE({_json_value(*field_name.split('.'))}, {_json_value(field_name)})"


def event_time_sql() -> str:
    """A record's event time in whole seconds, or the epoch when it has none."""
    # Whole seconds are enough: time here only cuts windows and moves the
    # watermark, and the engine reads each event's exact time itself.
    stamp = _json_value("@timestamp")
    return f"COALESCE(TO_TIMESTAMP(REPLACE(SUBSTRING({stamp}, 1, 19), 'T', ' ')), TIMESTAMP '1970-01-01 00:00:00.000')"


def shard_sql(spec: JobSpec) -> str:
    """A record's shard: the entity key's hash modulo the shard count."""
    entity = _json_field(spec.entity_field)
    return f"MOD(MOD(HASH_CODE(COALESCE({entity}, '')), {spec.shards}) + {spec.shards}, {spec.shards})"


def source_sql(spec: JobSpec) -> str:
    options = _endpoint(spec.source, "source")
    if options["connector"] == "kafka":
        options.update({"format": "raw", "scan.startup.mode": "earliest-offset", "properties.group.id": spec.name})
        if spec.bounded:
            options["scan.bounded.mode"] = "latest-offset"
    return f"""
CREATE TABLE kestrel_events (
  line STRING,
  ts AS {event_time_sql()},
  WATERMARK FOR ts AS ts - INTERVAL '{spec.out_of_orderness_s}' SECOND
) WITH ({_with(options)})"""


def sink_sql(spec: JobSpec) -> str:
    options = _endpoint(spec.sink, "sink")
    columns = "alert STRING"
    if options["connector"] == "kafka":
        # Transactions commit with checkpoints; the alert id is the record
        # key, so a consumer that indexes by key stores a replayed alert once.
        columns = "id STRING, alert STRING"
        options.update(
            {
                "key.format": "raw",
                "key.fields": "id",
                "value.format": "raw",
                "value.fields-include": "EXCEPT_KEY",
                "sink.delivery-guarantee": "exactly-once",
                "sink.transactional-id-prefix": f"{spec.name}-alerts",
                "properties.transaction.timeout.ms": "600000",
            }
        )
        options.pop("format", None)
    return f"CREATE TABLE kestrel_alerts ({columns}) WITH ({_with(options)})"


def keyed_sql(spec: JobSpec, cross_entity: bool) -> Tuple[str, str]:
    """The records marked with shard and lateness; then per shard and
    window, the window's events as one NDJSON string with the window's last
    millisecond, and late records one by one (with 0). With `cross_entity`,
    every event also goes to the cross-entity shard."""
    window_end = f"FLOOR(ts TO SECOND) + INTERVAL '{WINDOW_SECONDS}' SECOND"
    marked = f"""
SELECT line, ts, {shard_sql(spec)} AS shard,
  COALESCE({window_end} <= CURRENT_WATERMARK(ts) + INTERVAL '0.001' SECOND, FALSE) AS late
FROM kestrel_events"""
    windows = []
    for shard in ["shard"] + (["-1"] if cross_entity else []):
        windows.append(
            f"""
SELECT {shard} AS shard, ARRAY_JOIN(ARRAY_AGG(line), '\n') AS lines, FALSE AS late,
  CAST(TIMESTAMPDIFF(SECOND, TIMESTAMP '1970-01-01 00:00:00', window_end) AS BIGINT) * 1000 - 1 AS last_ms
FROM TABLE(TUMBLE(TABLE kestrel_marked_on_time, DESCRIPTOR(ts), INTERVAL '{WINDOW_SECONDS}' SECOND))
GROUP BY {"shard, " if shard == "shard" else ""}window_start, window_end"""
        )
        windows.append(
            f"SELECT {shard} AS shard, line AS lines, TRUE AS late, CAST(0 AS BIGINT) AS last_ms FROM kestrel_marked WHERE late"
        )
    return marked, "\nUNION ALL\n".join(windows)


def build(spec: JobSpec, env: Optional[Any] = None) -> Any:
    """The job on a StreamExecutionEnvironment (made from the spec when not
    given); run it with ``env.execute(spec.name)``."""
    from pyflink.common import Configuration, Types
    from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    from kestrel.engine import Engine
    from kestrel.flink.shard import ShardFunction

    if spec.shards < 1 or spec.parallelism < 1:
        raise KestrelError("shards and parallelism must be at least 1")
    with Engine() as probe:  # fail here, on the client, on rules that do not load
        for target in spec.rules.split(os.pathsep):
            probe.load(target)
        if not probe.load_report.ok:
            failure = probe.load_report.failures[0]
            raise KestrelError(f"{failure.location}: {failure.reason}")
        cross_entity = bool(probe.cross_entity_rules())
    if env is None:
        config = Configuration()
        local = {}
        if not spec.on_cluster and "execution.checkpointing.dir" not in spec.flink:
            # Without a directory, a local run keeps checkpoints on the
            # JobManager's heap, which refuses any state over 5 MB: the job
            # would fail and restart for ever once windows back up.
            local["execution.checkpointing.dir"] = Path(tempfile.mkdtemp(prefix="kestrel-flink-")).as_uri()
        for key, value in {
            **local,
            "python.executable": spec.python,
            "python.client.executable": spec.python,
            "python.execution-mode": "process",
            **({"execution.state-recovery.path": spec.resume_from} if spec.resume_from else {}),
            **spec.flink,
        }.items():
            config.set_string(key, value)
        env = StreamExecutionEnvironment.get_execution_environment(config)
    if spec.jars:
        env.add_jars(*spec.jars)
    env.set_parallelism(spec.parallelism)
    env.enable_checkpointing(spec.checkpoint_interval_ms, CheckpointingMode.EXACTLY_ONCE)
    tables = StreamTableEnvironment.create(env)
    tables.get_config().set("table.local-time-zone", "UTC")
    if spec.idle_timeout_s:
        # Records of a partition that was idle may then arrive behind the
        # watermark: they take the late path, so idleness costs no event.
        tables.get_config().set("table.exec.source.idle-timeout", f"{spec.idle_timeout_s} s")
    tables.execute_sql(source_sql(spec))
    tables.execute_sql(sink_sql(spec))
    marked, keyed = keyed_sql(spec, cross_entity)
    tables.create_temporary_view("kestrel_marked", tables.sql_query(marked))
    tables.create_temporary_view(
        "kestrel_marked_on_time", tables.sql_query("SELECT line, ts, shard FROM kestrel_marked WHERE NOT late")
    )
    batches = tables.to_data_stream(tables.sql_query(keyed))
    options = {"batch_size": 1 << 20, "entity_field": spec.entity_field}
    blocks = (
        batches.key_by(lambda row: row[0], key_type=Types.INT())
        .process(ShardFunction(spec.rules, spec.shards, options), output_type=Types.STRING())
        .name("kestrel")
        .uid("kestrel-shards")
    )
    tables.create_temporary_view("kestrel_blocks", tables.from_data_stream(blocks).alias("block"))
    alerts = "SELECT alert FROM kestrel_blocks CROSS JOIN UNNEST(SPLIT(block, '\n')) AS a(alert)"
    if _endpoint(spec.sink, "sink")["connector"] == "kafka":
        alerts = f"SELECT SUBSTRING(alert, CHAR_LENGTH(alert) - 33, 32) AS id, alert FROM ({alerts})"
    tables.create_temporary_view("kestrel_alert_rows", tables.sql_query(alerts))
    statements = tables.create_statement_set()
    statements.add_insert_sql("INSERT INTO kestrel_alerts SELECT * FROM kestrel_alert_rows")
    statements.attach_as_datastream()
    return env
