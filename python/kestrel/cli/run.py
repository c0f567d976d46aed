"""`kestrel run`: evaluate rules over events and write alerts, then a summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, TextIO

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG, FOUND, INPUT, OK, USAGE

RUN_EXAMPLES = """examples:
  kestrel run --rules rules/ --events examples/events.ndjson
  kestrel run --rules rules/ my.toml sigma/ --events day.ndjson.gz --alerts alerts.ndjson
  zcat day.ndjson.gz | kestrel run --rules rules/ --events - --json > stats.json
  kestrel run --config engine.toml --events events.ndjson --alerts alerts.bulk   # Elasticsearch _bulk format
  kestrel run --rules rules/ --events events.ndjson --fail-on-alert --max-input-errors 100
  tail -F /var/log/ecs.ndjson | kestrel run --rules rules/ --events - --watch   # reload rules as they change
  kestrel run --rules rules/ --trust rules/lua_example_rule --events events.ndjson   # a reviewed Lua package runs JIT-compiled

"""


def add(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "run",
        run_run,
        help="evaluate rules over events and write alerts",
        description="Load rules (rule packages, .eql, detection-rules .toml, .jsonl corpora, Sigma .yml) and "
        "evaluate them over NDJSON events (.gz/.zst too, or - for stdin). Alerts are JSON lines (stdout, or "
        "--alerts FILE; a .bulk file gets Elasticsearch _bulk format); the summary table goes to stderr.",
        epilog=RUN_EXAMPLES + EPILOG,
    )
    parser.add_argument("--rules", nargs="+", default=[], metavar="PATH", help="rule files or directories")
    parser.add_argument("--events", required=True, metavar="FILE", help="NDJSON events, or - for stdin")
    parser.add_argument("--alerts", metavar="FILE", help="append alerts here instead of writing them to stdout")
    parser.add_argument("--config", metavar="FILE", help="engine options (.toml/.yaml); may list rules too")
    parser.add_argument(
        "--mapping",
        metavar="FILE",
        help="an Elasticsearch index mapping (GET index/_mapping or a template, as JSON): field types as Elasticsearch has them",
    )
    parser.add_argument("--json", action="store_true", help="print the run's statistics as JSON on stdout")
    parser.add_argument("--fail-on-alert", action="store_true", help="exit 1 when any alert was raised")
    parser.add_argument("--max-input-errors", type=int, metavar="N", help="exit 3 when more input lines than N are malformed")
    parser.add_argument("--strict", action="store_true", help="refuse to run if any rule fails to load")
    parser.add_argument("--workers", type=int, metavar="N", help="worker threads (default: config, else 0 = none)")
    parser.add_argument("--no-index", action="store_true", help="offer every batch to every rule (for measurement)")
    parser.add_argument(
        "--trust",
        action="extend",
        nargs="+",
        default=[],
        metavar="DIR",
        help='let the Lua packages under DIR that ask for it ("trusted": true in their manifest) run '
        "JIT-compiled without the instruction watchdog; a package cannot trust itself",
    )
    parser.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=2.0,
        metavar="SECONDS",
        help="reload the rules when their files change, checking every SECONDS (default 2); "
        "a broken change keeps the running rules",
    )


def run_run(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.engine import Engine, EngineConfig
    from kestrel.errors import EngineError, KestrelError

    err = sys.stderr
    options: Dict[str, Any] = {}
    if args.workers is not None:
        options["workers"] = args.workers
    if args.no_index:
        options["indexing"] = False
    if args.mapping:
        options["mapping"] = args.mapping
    try:
        config = EngineConfig.load(args.config) if args.config else None
        if args.trust:
            options["trusted_paths"] = list(config.trusted_paths if config else ()) + args.trust
        engine = Engine(config, **options)
    except KestrelError as error:
        print(f"kestrel run: {error}", file=err)
        return USAGE
    targets = list(config.rules if config else ()) + list(args.rules)
    if not targets:
        print("kestrel run: no rules: give --rules PATH... or a --config that lists rules", file=err)
        return USAGE
    for target in targets:
        engine.load(target)
    report = engine.load_report
    if args.strict and report.failures:
        for failure in report.failures:
            print(f"FAILED  {failure}", file=err)
        return USAGE
    sink = out if not (args.alerts or args.json) else None
    try:
        if args.alerts:
            engine.add_sink(args.alerts)
        elif sink is not None:
            engine.add_sink(sink)
    except EngineError as error:
        print(f"kestrel run: {error}", file=err)
        engine.close()
        return USAGE
    if args.watch is not None and args.watch <= 0:
        print("kestrel run: --watch needs a positive number of seconds", file=err)
        return USAGE
    if args.watch is not None:
        engine.watch(args.watch, on_reload=lambda result: print(_reload_line(result), file=err, flush=True))
        print(
            f"kestrel run: watching {len(engine.rule_paths())} rule path(s) for changes every {args.watch:g} s",
            file=err,
            flush=True,
        )
    progress = _progress(err, args.events) if err.isatty() and args.events != "-" else None
    status = OK
    try:
        try:
            engine.process_file(args.events, progress=progress)
        except (EngineError, OSError) as error:
            print(f"kestrel run: {error}", file=err)
            status = INPUT
        # Input that broke off has still ended: settle what it held.
        engine.flush()
    except (EngineError, OSError) as error:
        print(f"kestrel run: {error}", file=err)
        status = INPUT
    finally:
        if progress is not None:
            err.write("\n")
        engine.close()
    stats = engine.stats()
    write_summary(err, engine, stats)
    if args.json:
        stats["failed"] = [str(f) for f in report.failures]
        stats["skipped"] = [str(s) for s in report.skipped]
        stats["problems"] = engine.problems
        out.write(json.dumps(stats, indent=2, default=str) + "\n")
    if report.failures:
        return USAGE
    if status or (args.max_input_errors is not None and stats["malformed"] > args.max_input_errors):
        return INPUT
    return FOUND if args.fail_on_alert and stats["alerts"] else OK


def _reload_line(result: Any) -> str:
    """One stderr line per watched reload."""
    if not result.ok:
        first = result.failures[0] if result.failures else "unknown failure"
        return f"kestrel run: rules changed but did not load ({len(result.failures)} failed, first: {first}); the previous rules keep running"
    return (
        f"kestrel run: rules reloaded: {len(result.added)} added, {len(result.removed)} removed, "
        f"{len(result.changed)} changed, {len(result.unchanged)} unchanged"
    )


def _progress(err: TextIO, path: str) -> Any:
    """A progress line on a terminal: bytes, events/s, alerts (at most 5 updates a second)."""
    started = time.monotonic()
    total = os.path.getsize(path) if os.path.exists(path) else 0
    last = [0.0]

    def show(done: int, events: int, alerts: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2:
            return
        last[0] = now
        share = f" ({done / total:.0%})" if total and not path.endswith((".gz", ".zst")) else ""
        elapsed = max(now - started, 1e-9)
        err.write(
            f"\r{done / 1e6:8.1f} MB{share} {done / elapsed / 1e6:6.1f} MB/s  {events / elapsed:9,.0f} events/s  {alerts} alerts"
        )
        err.flush()

    return show


def write_summary(out: TextIO, engine: Any, stats: Dict[str, Any]) -> None:
    """The table `kestrel run` ends with: per-rule alerts, errors, time; then what did not load."""
    rules = stats["rules"]
    out.write(f"{'rule':44} {'kind':8} {'runtime':8} {'alerts':>7} {'errors':>7} {'ms':>9}  status\n")
    for rule_id, row in sorted(rules.items(), key=lambda kv: (-kv[1]["alerts"], kv[0])):
        out.write(
            f"{rule_id[:44]:44} {row['kind']:8} {row['runtime']:8} {row['alerts']:7d} {row['errors']:7d} "
            f"{row['time_ms']:9.1f}  {row['status']}\n"
        )
        if row["last_error"]:
            out.write(f"  last error: {row['last_error']}\n")
    report = engine.load_report
    for skipped in report.skipped:
        out.write(f"skipped {skipped}\n")
    for failure in report.failures:
        out.write(f"FAILED  {failure}\n")
    for line in engine.problems[:20]:
        out.write(f"input   {line}\n")
    if stats["input_errors"] > 20:
        out.write(f"input   ... {stats['input_errors'] - 20} more problems\n")
    out.write(
        f"{stats['processed']} events, {stats['malformed']} malformed, {stats['dropped']} dropped, {stats['late']} late, "
        f"{stats['input_errors']} input problems; {stats['rules_loaded']} rules loaded, {stats['rules_skipped']} skipped, "
        f"{stats['rules_failed']} failed; {stats['alerts']} alerts, {stats['deduplicated']} deduplicated\n"
    )
    for sink in stats["sinks"]:
        if sink["failed"]:
            out.write(
                f"sink    {sink['sink']}: {sink['delivered']} alerts delivered, {sink['failed']} not delivered "
                f"({sink['last_error']})\n"
            )
