"""The engine's verbs of the ``kestrel`` command line: ``run``, ``list`` and ``test``.

Exit codes (all verbs):

====  ======================================================================================
0     ok
1     ``run --fail-on-alert`` raised alerts; ``test``: a package's alerts differ
2     usage error, a rule (or config) failed to load, or the alerts file cannot be opened
3     the events could not be read to their end (missing, a directory, a truncated or
      corrupt ``.gz``/``.zst``: what was read before is evaluated), or input errors
      exceeded ``--max-input-errors``
====  ======================================================================================
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, TextIO

EXIT_CODES = """exit codes:
  0  ok
  1  alerts were raised and --fail-on-alert was given (test: a package's alerts differ)
  2  usage error, a rule or the config failed to load, or the alerts file cannot be opened
  3  the events could not be read to their end (a truncated or corrupt .gz/.zst: what was
     read before it is evaluated), or input errors exceeded --max-input-errors"""

RUN_EXAMPLES = """examples:
  kestrel run --rules rules/ --events examples/events.ndjson
  kestrel run --rules rules/ my.toml sigma/ --events day.ndjson.gz --alerts alerts.ndjson
  zcat day.ndjson.gz | kestrel run --rules rules/ --events - --json > stats.json
  kestrel run --config engine.toml --events events.ndjson --alerts alerts.bulk   # Elasticsearch _bulk format
  kestrel run --rules rules/ --events events.ndjson --fail-on-alert --max-input-errors 100
  tail -F /var/log/ecs.ndjson | kestrel run --rules rules/ --events - --watch   # reload rules as they change
  kestrel run --rules rules/ --trust rules/lua_example_rule --events events.ndjson   # a reviewed Lua package runs JIT-compiled

"""

LIST_EXAMPLES = """examples:
  kestrel list rules/
  kestrel list rules/detection-rules/ --json

"""

TEST_EXAMPLES = """examples:
  kestrel test rules/
  kestrel test rules/lua_example_rule

A package's tests/ holds events.ndjson and expected.json:
  {"alerts": [{"event": 0, "captures": {...}}, ...]}     (event = line index, from 0)

"""


def add_run(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="evaluate rules over events and write alerts",
        description="Load rules (rule packages, .eql, detection-rules .toml, .jsonl corpora, Sigma .yml) and "
        "evaluate them over NDJSON events (.gz/.zst too, or - for stdin). Alerts are JSON lines (stdout, or "
        "--alerts FILE; a .bulk file gets Elasticsearch _bulk format); the summary table goes to stderr.",
        epilog=RUN_EXAMPLES + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.set_defaults(handler=run_run)


def add_list(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "list",
        help="show the rules found in paths",
        description="Load the rules under PATHs and show each one's id, name, kind, runtime, categories and "
        "status, then the rules skipped and the failures.",
        epilog=LIST_EXAMPLES + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    parser.add_argument("--json", action="store_true", help="print the rules as JSON")
    parser.set_defaults(handler=run_list)


def add_test(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run rule packages' tests",
        description="For every rule package under PATHs that has a tests/ directory, run the package over "
        "tests/events.ndjson and compare its alerts with tests/expected.json.",
        epilog=TEST_EXAMPLES + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="packages or directories holding packages")
    parser.set_defaults(handler=run_test)


# -- run ------------------------------------------------------------------------


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
        return 2
    targets = list(config.rules if config else ()) + list(args.rules)
    if not targets:
        print("kestrel run: no rules: give --rules PATH... or a --config that lists rules", file=err)
        return 2
    for target in targets:
        engine.load(target)
    report = engine.load_report
    if args.strict and report.failures:
        for failure in report.failures:
            print(f"FAILED  {failure}", file=err)
        return 2
    sink = out if not (args.alerts or args.json) else None
    try:
        if args.alerts:
            engine.add_sink(args.alerts)
        elif sink is not None:
            engine.add_sink(sink)
    except EngineError as error:
        print(f"kestrel run: {error}", file=err)
        engine.close()
        return 2
    if args.watch is not None and args.watch <= 0:
        print("kestrel run: --watch needs a positive number of seconds", file=err)
        return 2
    if args.watch is not None:
        engine.watch(args.watch, on_reload=lambda result: print(_reload_line(result), file=err, flush=True))
        print(
            f"kestrel run: watching {len(engine.rule_paths())} rule path(s) for changes every {args.watch:g} s",
            file=err,
            flush=True,
        )
    progress = _progress(err, args.events) if err.isatty() and args.events != "-" else None
    status = 0
    try:
        try:
            engine.process_file(args.events, progress=progress)
        except (EngineError, OSError) as error:
            print(f"kestrel run: {error}", file=err)
            status = 3
        # Input that broke off has still ended: settle what it held.
        engine.flush()
    except (EngineError, OSError) as error:
        print(f"kestrel run: {error}", file=err)
        status = 3
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
        return 2
    if status or (args.max_input_errors is not None and stats["malformed"] > args.max_input_errors):
        return 3
    return 1 if args.fail_on_alert and stats["alerts"] else 0


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


# -- list -----------------------------------------------------------------------


def run_list(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.engine import Engine

    engine = Engine()
    for path in args.paths:
        engine.load(path)
    report = engine.load_report
    if args.json:
        document = {
            "rules": engine.rules(),
            "skipped": [str(s) for s in report.skipped],
            "failed": [str(f) for f in report.failures],
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        out.write(f"{'id':38} {'name':44} {'kind':8} {'runtime':8} categories\n")
        for rule in engine.rules():
            out.write(
                f"{rule['id'][:38]:38} {rule['name'][:44]:44} {rule['kind']:8} {rule['runtime']:8} {','.join(rule['categories'])}\n"
            )
        for skipped in report.skipped:
            out.write(f"skipped {skipped}\n")
        for failure in report.failures:
            out.write(f"FAILED  {failure}\n")
        out.write(f"{len(engine.rules())} rules, {len(report.skipped)} skipped, {len(report.failures)} failed\n")
    return 2 if report.failures else 0


# -- test -----------------------------------------------------------------------


def run_test(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.engine.sources import rule_files

    packages: List[Path] = []
    for raw in args.paths:
        path = Path(raw)
        found = (
            [path] if (path / "manifest.json").exists() else [p for p in rule_files(path) if p.is_dir()] if path.is_dir() else []
        )
        packages += [p for p in found if (p / "tests" / "events.ndjson").exists()]
    if not packages:
        print("kestrel test: no rule packages with tests/events.ndjson under " + " ".join(args.paths), file=sys.stderr)
        return 2
    status = 0
    for package in packages:
        verdict, detail = test_package(package)
        out.write(f"{verdict:5} {package}{': ' + detail if detail else ''}\n")
        status = max(status, {"PASS": 0, "FAIL": 1, "ERROR": 2}[verdict])
    return status


def test_package(package: Path) -> "tuple[str, str]":
    """("PASS" | "FAIL" | "ERROR", detail) for one package's tests/ directory."""
    from kestrel.engine import Engine
    from kestrel.errors import KestrelError
    from kestrel.files import read_bytes, read_text

    tests = package / "tests"
    expected_file = tests / "expected.json"
    engine = Engine()
    try:
        events_data = read_bytes(tests / "events.ndjson")
        expected = json.loads(read_text(expected_file)).get("alerts", []) if expected_file.exists() else []
        engine.load(package, strict=True)
        alerts = engine.process(events_data) + engine.flush()
    except KestrelError as error:
        return "ERROR", str(error)
    except json.JSONDecodeError as error:
        return "ERROR", f"{expected_file}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except RecursionError:
        return "ERROR", f"{expected_file}: not valid JSON: nested too deeply to parse"
    positions = _event_positions(events_data)
    got = sorted((_normalise(alert, positions) for alert in alerts), key=_order)
    want = sorted((_normalise_expected(entry) for entry in expected), key=_order)
    if got == want:
        return "PASS", f"{len(got)} alert(s) as expected"
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    return "FAIL", f"missing {json.dumps(missing)}; unexpected {json.dumps(extra)}"


def _event_positions(data: bytes) -> Dict[str, int]:
    """Each test event's position among the file's non-blank lines, keyed by its canonical JSON.

    A line the engine could not decode has a position but no key: the
    engine reported it as an input error, and no alert can point at it.
    """
    positions: Dict[str, int] = {}
    for position, line in enumerate(line for line in data.splitlines() if line.strip()):
        try:
            positions.setdefault(_canonical(json.loads(line)), position)
        except (ValueError, RecursionError):
            continue
    return positions


def _canonical(event: Any) -> str:
    return json.dumps(event, sort_keys=True)


def _normalise(alert: Dict[str, Any], positions: Dict[str, int]) -> Dict[str, Any]:
    found = [positions.get(_canonical(e)) for e in alert["events"] if not e.get("missing")]
    if alert["kind"] == "event":
        return {"event": found[0], "captures": alert["captures"]}
    return {"events": found}


def _normalise_expected(entry: Dict[str, Any]) -> Dict[str, Any]:
    if "events" in entry:
        return {"events": entry["events"]}
    return {"event": entry["event"], "captures": entry.get("captures", {})}


def _order(item: Dict[str, Any]) -> Any:
    return json.dumps(item, sort_keys=True)
