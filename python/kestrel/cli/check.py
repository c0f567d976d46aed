"""`kestrel check`: compile every EQL rule in the paths and load every package and Sigma file as the engine would."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterator, List, Optional, TextIO, Union

from kestrel.cli import add_verb
from kestrel.cli.exit_codes import EPILOG, FOUND, OK
from kestrel.engine.sources import RuleSource, discover
from kestrel.packages.manifest import MANIFEST_FILE


def add(subparsers: Any) -> None:
    parser = add_verb(
        subparsers,
        "check",
        run_check,
        help="check rules of every source: EQL, detection-rules TOML, corpora, packages, Sigma",
        description="Compile EQL rules from .eql files, detection-rules .toml files and "
        ".jsonl corpora (one JSON object with a `query` field per line), and load rule packages "
        "(manifest.json + rule.wasm | rule.wat | predicate.lua | rule.eql) and Sigma .yml/.yaml files "
        "as the engine would. Directories are searched recursively.",
        epilog="examples:\n  kestrel check rules/\n  kestrel check --strict my_rule.eql corpus.jsonl\n\n" + EPILOG,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--strict", action="store_true", help="reject fields the schema does not declare")
    parser.add_argument("--schema", metavar="FILE", help="schema file (.json/.yaml); default ECS 9.5.0")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


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
                print(f"skipped {item.label}: {item.skipped}", file=out)
            continue
        if isinstance(item, RuleSource):
            checked += 1
            if item.problem is not None:
                failed += 1
                print(str(item.failure()), file=out)
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
    return FOUND if failed else OK


def _check_targets(paths: List[str]) -> Iterator[Union[RuleSource, Path]]:
    """EQL rules as `RuleSource`s; package directories and Sigma files as paths."""
    from kestrel.engine.sources import rule_files
    from kestrel.engine.sources.sigma import SIGMA_SUFFIXES

    for raw in paths:
        path = Path(raw)
        for item in rule_files(path) if path.is_dir() and not (path / MANIFEST_FILE).exists() else [path]:
            if item.is_dir() or item.suffix in SIGMA_SUFFIXES or item.name == MANIFEST_FILE:
                yield item
            else:
                yield from discover([str(item)])


def _load_as_engine(path: Path, schema) -> Any:
    from kestrel.engine.config import EngineConfig
    from kestrel.engine.sources import LoadContext, load_target

    return load_target(path, LoadContext(schema, EngineConfig()))


def _report(out: TextIO, source: RuleSource, error) -> None:
    if source.first_line is None:
        where = f"{source.label}: query line {error.line}, column {error.column}"
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
