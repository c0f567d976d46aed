"""`kestrel bench`: time rules per runtime against a budget, compare with eql, diff benchmark runs.

The measuring lives in :mod:`kestrel.bench.command`; this declares the verb.
"""

from __future__ import annotations

from typing import Any

from kestrel.cli import add_verb


def add(subparsers: Any) -> None:
    from kestrel.bench.command import EPILOG, add_arguments, run_bench

    parser = add_verb(
        subparsers,
        "bench",
        run_bench,
        help="time rules per runtime against a budget, compare with eql, diff benchmark runs",
        description="Measure ns/event for every rule (slowest first) and fail over --budget-ns; or compare "
        "Kestrel with the eql package (--compare eql); or diff two pytest-benchmark JSON files (--diff).",
        epilog=EPILOG,
    )
    add_arguments(parser)
