"""`kestrel bench`: time rules per runtime against a budget, compare with eql, diff benchmark runs.

The measuring lives in :mod:`kestrel.bench.command`; this declares the verb.
"""

from __future__ import annotations

import argparse
from typing import Any


def add(subparsers: Any) -> None:
    from kestrel.bench.command import EPILOG, add_arguments, run_bench

    parser = subparsers.add_parser(
        "bench",
        help="time rules per runtime against a budget, compare with eql, diff benchmark runs",
        description="Measure ns/event for every rule (slowest first) and fail over --budget-ns; or compare "
        "Kestrel with the eql package (--compare eql); or diff two pytest-benchmark JSON files (--diff).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_bench)
