"""`kestrel flink submit`: run the Flink job locally or on a cluster (the job itself is kestrel.flink)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG as EXIT_CODES_EPILOG
from kestrel.cli.exit_codes import FOUND, OK, USAGE
from kestrel.errors import KestrelError

EPILOG = (
    """examples:
  kestrel flink submit --rules rules/eql --source file:events.ndjson --sink file:alerts/
  kestrel flink submit --rules rules/ --source kafka://localhost:9092/ecs --sink kafka://localhost:9092/alerts \\
      --jobmanager localhost:8081 --jars flink-sql-connector-kafka-4.0.1-2.0.jar --shards 16 --parallelism 4

Without --jobmanager the job runs in this process on a local mini cluster;
with --detach, 0 means the cluster accepted the job.

"""
    + EXIT_CODES_EPILOG
)


def add(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "flink",
        help="run Kestrel as an Apache Flink job (needs the flink extra)",
        description="Kestrel on Apache Flink: events keyed by entity into virtual shards, each shard's "
        "state in Flink's checkpointed keyed state. See docs/scale-out.md.",
    )
    verbs = parser.add_subparsers(dest="flink_verb", required=True)
    submit = add_verb(
        verbs,
        "submit",
        run_flink,
        help="build the job and run it",
        description="Build the Kestrel job for a source and a sink and run it.",
        epilog=EPILOG,
    )
    submit.add_argument("--rules", nargs="+", required=True, metavar="PATH", help="rule files or directories")
    submit.add_argument("--source", required=True, metavar="URI", help="file:PATH or kafka://HOST:PORT/TOPIC")
    submit.add_argument("--sink", required=True, metavar="URI", help="file:DIR or kafka://HOST:PORT/TOPIC")
    submit.add_argument("--shards", type=int, default=8, help="virtual shards of the entity key (default 8)")
    submit.add_argument("--parallelism", type=int, default=1, help="task slots the job uses (default 1)")
    submit.add_argument("--jobmanager", metavar="HOST:PORT", help="a cluster's REST endpoint (default: run locally)")
    submit.add_argument("--jars", nargs="+", default=[], metavar="JAR", help="connector jars (the Kafka SQL connector)")
    submit.add_argument("--checkpoint-interval", type=int, default=10_000, metavar="MS", help="default 10000")
    submit.add_argument(
        "--out-of-orderness",
        type=int,
        default=5,
        metavar="S",
        help="seconds events may arrive late before they take the late path (default 5)",
    )
    submit.add_argument(
        "--idle-timeout",
        type=int,
        default=0,
        metavar="S",
        help="seconds after which a source reader without records stops holding event time back "
        "(default 0: never; see docs/scale-out.md)",
    )
    submit.add_argument("--bounded", action="store_true", help="read a Kafka topic up to its offsets at start, then finish")
    submit.add_argument("--name", default="kestrel", help="job name; also the Kafka group and transaction prefix")
    submit.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Flink configuration")
    submit.add_argument(
        "--from-savepoint",
        metavar="PATH",
        help="resume from a savepoint or retained checkpoint, at this or another parallelism",
    )
    # Set by _submit_to_cluster on the command that `flink run` runs.
    submit.add_argument("--on-cluster", action="store_true", help=argparse.SUPPRESS)
    submit.add_argument("--detach", action="store_true", help="return once the cluster accepted the job")


def run_flink(args: argparse.Namespace, out: TextIO) -> int:
    try:
        from kestrel.flink.job import JobSpec, build
    except ImportError as error:  # pragma: no cover - depends on the install
        print(f"kestrel flink: {error}: install the flink extra (pip install 'kestrel[flink]')", file=sys.stderr)
        return USAGE
    flink = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"kestrel flink: --conf {item!r}: expected KEY=VALUE", file=sys.stderr)
            return USAGE
        flink[key] = value
    if args.jobmanager:
        return _submit_to_cluster(args, out)
    if args.jars:
        missing = [jar for jar in args.jars if not Path(jar).is_file()]
        if missing:
            print(f"kestrel flink: no such jar: {missing[0]}", file=sys.stderr)
            return USAGE
    spec = JobSpec(
        rules=os.pathsep.join(str(Path(path).resolve()) for path in args.rules),
        source=args.source,
        sink=args.sink,
        shards=args.shards,
        parallelism=args.parallelism,
        out_of_orderness_s=args.out_of_orderness,
        idle_timeout_s=args.idle_timeout,
        checkpoint_interval_ms=args.checkpoint_interval,
        bounded=args.bounded,
        name=args.name,
        flink=flink,
        jars=[Path(jar).resolve().as_uri() for jar in args.jars],
        resume_from=args.from_savepoint,
        on_cluster=args.on_cluster,
    )
    try:
        env = build(spec)
    except KestrelError as error:
        print(f"kestrel flink: {error}", file=sys.stderr)
        return USAGE
    try:
        if args.detach:
            client = env.execute_async(spec.name)
            out.write(f"submitted job {client.get_job_id()}\n")
        else:
            result = env.execute(spec.name)
            out.write(f"job {result.get_job_id()} finished\n")
    except Exception as error:  # a Flink job failure arrives as a py4j error with the Java trace
        print(f"kestrel flink: the job failed: {_root_cause(error)}", file=sys.stderr)
        return FOUND
    return OK


def _submit_to_cluster(args: argparse.Namespace, out: TextIO) -> int:
    """Hand the job to Flink's own client (`flink run`), which runs this same
    command, minus --jobmanager, in a driver whose environment is the
    cluster's."""
    import subprocess

    import pyflink

    host, _, port = args.jobmanager.rpartition(":")
    client = Path(pyflink.__file__).parent / "bin" / "flink"
    command = [
        "bash",
        str(client),
        "run",
        "-t",
        "remote",
        f"-Drest.address={host or 'localhost'}",
        f"-Drest.port={port}",
        "-pyclientexec",
        sys.executable,
        "-pyexec",
        sys.executable,
    ]
    if args.detach:
        command.append("--detached")
    if args.from_savepoint:
        command += ["--fromSavepoint", args.from_savepoint]
    command += [
        "-pym",
        "kestrel",
        "flink",
        "submit",
        "--rules",
        *(str(Path(p).resolve()) for p in args.rules),
        "--source",
        args.source,
        "--sink",
        args.sink,
        "--shards",
        str(args.shards),
        "--parallelism",
        str(args.parallelism),
        "--checkpoint-interval",
        str(args.checkpoint_interval),
        "--out-of-orderness",
        str(args.out_of_orderness),
        "--idle-timeout",
        str(args.idle_timeout),
        "--name",
        args.name,
        "--on-cluster",
    ]
    command += ["--bounded"] * args.bounded + ["--detach"] * args.detach
    if args.jars:
        command += ["--jars", *(str(Path(jar).resolve()) for jar in args.jars)]
    for item in args.conf:
        command += ["--conf", item]
    done = subprocess.run(command, capture_output=True, text=True)
    for line in done.stdout.splitlines():
        if "JobID" in line or line.startswith(("submitted job", "job ")):
            out.write(line.replace("Job has been submitted with JobID", "submitted job").strip() + "\n")
    if done.returncode != 0:
        print(f"kestrel flink: flink run failed: {_root_cause(done.stdout + done.stderr)}", file=sys.stderr)
        return FOUND
    return OK


def _root_cause(error: "BaseException | str") -> str:
    """The innermost cause in a Java stack trace that py4j passed on, or the error itself."""
    text = str(error)
    causes = [line.strip()[len("Caused by: ") :] for line in text.splitlines() if line.strip().startswith("Caused by: ")]
    return causes[-1] if causes else (text.splitlines()[0] if text else repr(error))
