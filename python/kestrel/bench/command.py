"""The `kestrel bench` verb: its arguments and its handler.

Three modes, one per job:

* `--rules PATH...` -- time every rule, per runtime, on `--events` or generated
  events; exit 1 if any exceeds `--budget-ns`;
* `--compare eql` -- Kestrel beside the `eql` package's PythonEngine; exit 1
  if any case's matches differ;
* `--diff OLD.json NEW.json` -- regressions between two pytest-benchmark
  runs beyond `--threshold` percent; exit 1 if any.

Exit status: 0 fine, 1 over budget / results differ / regressions, 2 rules
that failed to load or usage errors, 3 unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

EPILOG = """examples:
  kestrel bench --rules rules/ --budget-ns 1000
  kestrel bench --rules rules/ --events events.ndjson --runtime wasm --json
  kestrel bench --compare eql --events-count 5000
  kestrel bench --diff .benchmarks/old.json .benchmarks/new.json --threshold 10
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rules", nargs="+", metavar="PATH", help="rule files or directories to time")
    mode.add_argument("--compare", choices=("eql",), help="compare with the eql package's PythonEngine")
    mode.add_argument("--diff", nargs=2, metavar=("OLD", "NEW"), help="two pytest-benchmark JSON files")
    parser.add_argument("--events", metavar="FILE", help="NDJSON events (default: generated ECS events)")
    parser.add_argument(
        "--events-count",
        type=int,
        metavar="N",
        help="generate N events (default 20000; 2000 for --compare), or read the first N of --events",
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated events")
    parser.add_argument("--runtime", choices=("wasm", "lua", "all"), default="all", help="runtimes to time (--rules)")
    parser.add_argument("--budget-ns", type=float, metavar="N", help="maximum ns/event for every rule (--rules)")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes; the fastest counts (default 5)")
    parser.add_argument(
        "--cases", default="predicates,sequence,corpus", help="comma-separated --compare cases: predicates, sequence, corpus"
    )
    parser.add_argument("--corpus", metavar="FILE", help="the .jsonl corpus for --compare's corpus case")
    parser.add_argument("--corpus-limit", type=int, metavar="N", help="compare only the first N comparable corpus rules")
    parser.add_argument("--threshold", type=float, default=10.0, metavar="PCT", help="--diff: regression threshold in percent")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _events(args: argparse.Namespace, schema, *, dicts: bool, default_count: int, entities: int = 500):
    from kestrel.bench import events

    if args.events:
        return events.load(args.events, schema, limit=args.events_count, dicts=dicts)
    return events.generate(args.events_count or default_count, schema, seed=args.seed, dicts=dicts, entities=entities)


def run_bench(args: argparse.Namespace, out: TextIO) -> int:
    try:
        if args.diff:
            return _diff(args, out)
        if args.compare:
            return _compare(args, out)
        return _rules(args, out)
    except OSError as error:
        print(f"kestrel bench: {error}", file=sys.stderr)
        return 3


def _rules(args: argparse.Namespace, out: TextIO) -> int:
    import kestrel
    from kestrel.bench import rules, targets

    schema = kestrel.Schema.default()
    runtimes = targets.RUNTIMES if args.runtime == "all" else (args.runtime,)
    loaded = targets.load(args.rules, schema, runtimes)  # before decoding: compiling may add fields
    events = _events(args, schema, dicts=False, default_count=20_000)
    results = rules.run(loaded, events, budget_ns=args.budget_ns, repeats=args.repeats)
    if args.json:
        out.write(json.dumps(rules.as_json(results, loaded, events, args.budget_ns), indent=2) + "\n")
    else:
        out.write(rules.report(results, loaded, events, args.budget_ns))
    if any(r.over_budget for r in results):
        return 1
    return 2 if loaded.failed or any(r.error for r in results) or not loaded.targets else 0


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    import kestrel
    from kestrel.bench import compare, eql_engine

    if not eql_engine.available():
        print("kestrel bench --compare eql: the eql package is not installed (pip install 'kestrel[compare]')", file=sys.stderr)
        return 2
    cases = tuple(c.strip() for c in args.cases.split(",") if c.strip())
    unknown = set(cases) - set(compare.CASES)
    if unknown:
        print(
            f"kestrel bench: unknown --cases {', '.join(sorted(unknown))}; choose from {', '.join(compare.CASES)}",
            file=sys.stderr,
        )
        return 2
    schema = kestrel.Schema.default()
    corpus = Path(args.corpus) if args.corpus else compare.default_corpus()
    try:
        plan = compare.plan(schema, cases, corpus, args.corpus_limit)
    except kestrel.KestrelError as error:
        print(f"kestrel bench --compare eql: {error}", file=sys.stderr)
        return 2
    events = _events(args, schema, dicts=True, default_count=2_000, entities=compare.ENTITIES)
    results = compare.run(plan, events, schema, repeats=args.repeats)
    if args.json:
        out.write(json.dumps(compare.as_json(results, events, plan), indent=2) + "\n")
    else:
        out.write(compare.report(results, events, plan))
    if any(r.agrees is False for r in results):
        print("RESULTS DIFFER: a speedup on wrong answers is not a speedup", file=sys.stderr)
        return 1
    return 0


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.bench import history

    old, new = args.diff
    try:
        text, regressions, changes = history.diff(old, new, args.threshold)
    except (ValueError, KeyError) as error:
        print(f"kestrel bench --diff: not a pytest-benchmark JSON file: {error}", file=sys.stderr)
        return 3
    if args.json:
        out.write(
            json.dumps(
                {
                    "threshold": args.threshold,
                    "changes": [
                        {"name": c.name, "metric": c.metric, "old": c.old, "new": c.new, "percent": c.percent}
                        for c in changes or []
                    ],
                    "regressions": regressions,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        out.write(text)
    return 1 if regressions else 0
