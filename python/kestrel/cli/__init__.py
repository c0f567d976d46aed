"""The `kestrel` command line: one module per verb, one parser, exit codes defined once.

    kestrel check PATH...
    kestrel run --rules PATH... --events FILE|- [--alerts FILE] [--config FILE]
    kestrel list PATH...
    kestrel test PATH...
    kestrel compile RULE --backend wasm|lua -o DIR
    kestrel bench [PATH...] [--compare eql] [--diff OLD NEW]
    kestrel flink submit --rules PATH... --source URI --sink URI

Each verb's module has ``add(subparsers)``, which declares the verb and its
handler ``(args, out) -> exit code`` with :func:`add_verb`, then its
arguments; a new verb is a new module and an entry in :data:`COMMANDS`. The
exit codes are in :mod:`kestrel.cli.exit_codes`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Callable, Dict, List, Optional, TextIO

CommandHandler = Callable[[argparse.Namespace, TextIO], int]

#: verb -> the module that declares it. Modules are imported when the
#: parser is built, and each imports what its verb needs only when it runs.
COMMANDS: Dict[str, str] = {
    "check": "kestrel.cli.check",
    "run": "kestrel.cli.run",
    "list": "kestrel.cli.list",
    "test": "kestrel.cli.test",
    "compile": "kestrel.cli.compile",
    "bench": "kestrel.cli.bench",
    "flink": "kestrel.cli.flink",
}


def add_verb(
    subparsers: Any, name: str, handler: CommandHandler, *, help: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """The parser of verb `name`, whose handler is `handler`; its epilog
    (examples, exit codes) is shown with the line breaks it is written with."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kestrel", description="Kestrel detection engine")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module in COMMANDS.values():
        importlib.import_module(module).add(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `kestrel` console script."""
    args = build_parser().parse_args(argv)
    handler: CommandHandler = args.handler
    return handler(args, sys.stdout)
