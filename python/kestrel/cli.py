"""The `kestrel` command line.

Each verb is a function registered in :data:`COMMANDS` with its own argparse
sub-parser, so new verbs only add an entry:

    kestrel check PATH...
    kestrel run --rules PATH... --events FILE|- [--alerts FILE] [--config FILE]
    kestrel list PATH...
    kestrel test PATH...
    kestrel compile RULE --backend wasm|lua -o DIR
    kestrel flink submit --rules PATH... --source URI --sink URI

`check` compiles every EQL rule found in the paths and prints each error with
its caret excerpt, loads rule packages and Sigma files as the engine would,
then prints a summary; the exit status is 1 if any rule failed. The
engine's verbs (`run`, `list`, `test`) live in :mod:`kestrel.engine.commands`,
which documents the exit codes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, TextIO, Union

from kestrel.compiler.sources import RuleSource, discover
from kestrel.engine.commands import EXIT_CODES, add_list, add_run, add_test

CommandHandler = Callable[[argparse.Namespace, TextIO], int]


def _add_check(subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check rules of every source: EQL, detection-rules TOML, corpora, packages, Sigma",
        description="Compile EQL rules from .eql files, detection-rules .toml files and "
        ".jsonl corpora (one JSON object with a `query` field per line), and load rule packages "
        "(manifest.json + rule.wasm | rule.wat | predicate.lua | rule.eql) and Sigma .yml/.yaml files "
        "as the engine would. Directories are searched recursively.",
        epilog="examples:\n  kestrel check rules/\n  kestrel check --strict my_rule.eql corpus.jsonl\n\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--strict", action="store_true", help="reject fields the schema does not declare")
    parser.add_argument("--schema", metavar="FILE", help="schema file (.json/.yaml); default ECS 9.5.0")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    parser.set_defaults(handler=run_check)


def _add_compile(subparsers) -> None:
    parser = subparsers.add_parser(
        "compile",
        help="compile an EQL rule into a rule package",
        description="Compile one EQL rule (.eql file) into a rule package: manifest.json plus rule.wasm "
        "(default) or predicate.lua, and constants.json.",
        epilog="example: kestrel compile rules/eql/certutil_download.eql --backend lua -o build/certutil",
    )
    parser.add_argument("rule", metavar="RULE", help="an .eql file")
    parser.add_argument("--backend", choices=("wasm", "lua"), default="wasm")
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="package directory to write")
    parser.add_argument("--id", help="rule id (default: the file name)")
    parser.set_defaults(handler=run_compile)


def _add_bench(subparsers) -> None:
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


def _add_flink(subparsers) -> None:
    from kestrel.flink.command import add_flink

    add_flink(subparsers)


#: verb -> function adding its sub-parser.
COMMANDS: Dict[str, Callable] = {
    "check": _add_check,
    "run": add_run,
    "list": add_list,
    "test": add_test,
    "compile": _add_compile,
    "bench": _add_bench,
    "flink": _add_flink,
}


def run_compile(args: argparse.Namespace, out: TextIO) -> int:
    from pathlib import Path

    from kestrel.compiler import EqlError, compile
    from kestrel.errors import RuleFileError
    from kestrel.files import read_text

    path = Path(args.rule)
    try:
        compiled = compile(read_text(path))
    except RuleFileError as error:
        print(f"kestrel compile: {error}", file=sys.stderr)
        return 2
    except EqlError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 2
    rule_id = args.id or path.stem
    if args.backend == "lua":
        from kestrel.compiler.lua import generate_package, write_package

        directory = write_package(generate_package(compiled), args.output, rule_id)
    else:
        from kestrel.compiler.wasm.package import write_package as write_wasm_package

        directory = write_wasm_package(compiled, args.output, rule_id)
    out.write(f"wrote {args.backend} package {rule_id} to {directory}\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kestrel", description="Kestrel detection engine")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in COMMANDS.values():
        add(subparsers)
    return parser


def run_check(args: argparse.Namespace, out: TextIO) -> int:
    """Check every rule under `args.paths`; return the exit status.

    EQL sources (.eql, detection-rules .toml, .jsonl) are compiled and each
    error is printed with its caret excerpt. Rule packages and Sigma files
    are loaded as the engine loads them (manifest, module or Lua script,
    the Sigma conversion), so what `check` passes, `run` can load.
    """
    from kestrel.compiler import CompileOptions, EqlError, compile

    options = CompileOptions(strict=args.strict)
    schema_factory = _schema_factory(args.schema)
    checked = failed = 0
    for item in _check_targets(args.paths):
        if isinstance(item, RuleSource) and item.skipped is not None:
            if not args.quiet:
                print(f"skipped {item.location}: {item.skipped}", file=out)
            continue
        if isinstance(item, RuleSource):
            checked += 1
            if item.problem is not None:
                failed += 1
                print(f"{item.location}: {item.problem}", file=out)
                continue
            try:
                compile(item.query, schema=schema_factory(), options=options)
            except EqlError as exc:
                failed += 1
                if not args.quiet:
                    _report(out, item, exc)
            continue
        report = _load_as_engine(item, schema_factory())
        checked += len(report.rules) + len(report.failures)
        failed += len(report.failures)
        if not args.quiet:
            for failure in report.failures:
                print(str(failure), file=out)
            for skipped in report.skipped:
                print(f"skipped {skipped}", file=out)
    passed = checked - failed
    print(f"{checked} rule{'s' if checked != 1 else ''} checked: {passed} ok, {failed} failed", file=out)
    return 1 if failed else 0


def _check_targets(paths: List[str]) -> Iterator[Union[RuleSource, Path]]:
    """EQL rules as `RuleSource`s; package directories and Sigma files as paths."""
    from kestrel.engine.sources import rule_files
    from kestrel.engine.sources.sigma import SIGMA_SUFFIXES

    for raw in paths:
        path = Path(raw)
        for item in rule_files(path) if path.is_dir() and not (path / "manifest.json").exists() else [path]:
            if item.is_dir() or item.suffix in SIGMA_SUFFIXES or item.name == "manifest.json":
                yield item
            else:
                yield from discover([str(item)])


def _load_as_engine(path: Path, schema) -> Any:
    from kestrel.engine.config import EngineConfig
    from kestrel.engine.sources import LoadContext, load_target

    return load_target(path, LoadContext(schema, EngineConfig()))


def _report(out: TextIO, source: RuleSource, error) -> None:
    if source.first_line is None:
        where = f"{source.location}: query line {error.line}, column {error.column}"
    else:
        where = f"{source.location}:{source.first_line + max(error.line, 1) - 1}:{error.column}"
    print(f"{where}: {error.code} {error.message}", file=out)
    if error.excerpt:
        print(error.excerpt, file=out)


def _schema_factory(path: Optional[str]):
    import kestrel

    if path is None:
        return kestrel.Schema.default
    return lambda: kestrel.Schema.load(path)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the `kestrel` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: CommandHandler = args.handler
    return handler(args, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
