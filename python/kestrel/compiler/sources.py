"""Finding EQL rules in files: `.eql`, detection-rules `.toml`, `.jsonl` corpora."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons need tomli
    import tomli as tomllib  # type: ignore[no-redef,import-not-found]

RULE_SUFFIXES = (".eql", ".toml", ".jsonl")


@dataclass(frozen=True)
class RuleSource:
    """One rule's query and where it came from.

    `first_line` is the file line on which the query text starts, so a query
    error at line L is at file line `first_line + L - 1`; it is None when the
    query is escaped inside the file (JSON lines) and positions are relative
    to the query.  `problem` is set (and `query` empty) when the file could
    not be read as a rule; `skipped` says why a readable rule is not EQL.
    """

    location: str
    query: str
    first_line: Optional[int] = 1
    problem: Optional[str] = None
    skipped: Optional[str] = None


def discover(paths: Iterable[str]) -> Iterator[RuleSource]:
    """Yield the rules in `paths`; directories are walked in sorted order."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(RULE_SUFFIXES):
                        yield from read_rules(Path(root) / name)
        elif path.exists():
            yield from read_rules(path)
        else:
            yield RuleSource(str(path), "", problem="no such file or directory")


def read_rules(path: Path) -> Iterator[RuleSource]:
    """The rules of one file; a file that cannot be read is one `problem` source."""
    from kestrel.errors import RuleFileError
    from kestrel.files import read_text

    try:
        text = read_text(path)
    except RuleFileError as exc:
        yield RuleSource(str(path), "", problem=f"cannot read: {exc.reason}")
        return
    yield from rules_from_text(path, text)


def rules_from_text(path: Path, text: str) -> Iterator[RuleSource]:
    """The rules of file `path` whose text is `text` (read by the caller)."""
    if path.suffix == ".toml":
        yield _from_toml(path, text)
    elif path.suffix == ".jsonl":
        yield from _from_jsonl(path, text)
    else:
        yield RuleSource(str(path), text)


def _from_toml(path: Path, text: str) -> RuleSource:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return RuleSource(str(path), "", problem=f"invalid TOML: {exc}")
    except RecursionError:
        return RuleSource(str(path), "", problem="invalid TOML: nested too deeply to parse")
    rule = document.get("rule", {})
    if not isinstance(rule, dict):
        return RuleSource(str(path), "", problem="`rule` must be a table")
    language = rule.get("language") or rule.get("type")
    if language != "eql":
        # The engine skips these too (kestrel.engine.sources.toml).
        return RuleSource(str(path), "", skipped=f"language = {language!r}, not eql")
    query = document.get("rule", {}).get("query")
    if not isinstance(query, str):
        return RuleSource(str(path), "", problem="no [rule] query")
    # Literal ('''...''') strings keep the query verbatim, so it can be found.
    offset = text.find(query)
    first_line = text.count("\n", 0, offset) + 1 if offset >= 0 else 1
    return RuleSource(str(path), query, first_line)


def _from_jsonl(path: Path, text: str) -> Iterator[RuleSource]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RuleSource(location, "", number, problem=f"invalid JSON: {exc}")
            continue
        except RecursionError:
            yield RuleSource(location, "", number, problem="invalid JSON: nested too deeply to parse")
            continue
        query = record.get("query") if isinstance(record, dict) else None
        if not isinstance(query, str):
            yield RuleSource(location, "", number, problem="no `query` field")
            continue
        name = record.get("name") or record.get("rule_id")
        yield RuleSource(f"{location} ({name})" if name else location, query, None)
