"""`kestrel compile`: one EQL rule to a Wasm or Lua rule package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG, OK, USAGE


def add(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "compile",
        run_compile,
        help="compile an EQL rule into a rule package",
        description="Compile one EQL rule (.eql file) into a rule package: manifest.json plus rule.wasm "
        "(default) or predicate.lua, and constants.json.",
        epilog="example:\n  kestrel compile rules/eql/certutil_download.eql --backend lua -o build/certutil\n\n" + EPILOG,
    )
    parser.add_argument("rule", metavar="RULE", help="an .eql file")
    parser.add_argument("--backend", choices=("wasm", "lua"), default="wasm")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="package directory to write")
    parser.add_argument("--id", help="rule id (default: the file name)")


def run_compile(args: argparse.Namespace, out: TextIO) -> int:
    from kestrel.compiler import EqlError, compile
    from kestrel.errors import RuleFileError
    from kestrel.files import read_text

    path = Path(args.rule)
    try:
        compiled = compile(read_text(path))
    except RuleFileError as error:
        print(f"kestrel compile: {error}", file=sys.stderr)
        return USAGE
    except EqlError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return USAGE
    rule_id = args.id or path.stem
    if args.backend == "lua":
        from kestrel.compiler.lua import generate_package, write_package

        directory = write_package(generate_package(compiled), args.output, rule_id)
    else:
        from kestrel.compiler.wasm.package import write_package as write_wasm_package

        directory = write_wasm_package(compiled, args.output, rule_id)
    out.write(f"wrote {args.backend} package {rule_id} to {directory}\n")
    return OK
