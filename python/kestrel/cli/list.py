"""`kestrel list`: the rules found in paths, and what did not load."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG, OK, USAGE

LIST_EXAMPLES = """examples:
  kestrel list rules/
  kestrel list rules/detection-rules/ --json

"""


def add(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "list",
        run_list,
        help="show the rules found in paths",
        description="Load the rules under PATHs and show each one's id, name, kind, runtime, categories and "
        "status, then the rules skipped and the failures.",
        epilog=LIST_EXAMPLES + EPILOG,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    parser.add_argument("--json", action="store_true", help="print the rules as JSON")


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
    return USAGE if report.failures else OK
