"""A package's host-side constants: the tables behind literal, glob, regex and set ids.

Host API calls name their constants by index (``str_eq(ev, field, lit, ci)``,
``glob_match_field(ev, field, glob)``...). The tables live in the core's
:class:`kestrel.HostContext`; this module holds them in a runtime-neutral
form, reads them from a package's ``constants.json`` and builds the context.

``constants.json``::

    {"literals": ["cmd.exe", ...],
     "globs":    [{"patterns": ["*\\\\cmd.exe"], "case_insensitive": true}, ...],
     "regexes":  [{"pattern": "cmd\\\\.exe", "case_insensitive": false}, ...],
     "sets":     [{"values": ["bash", "sh"], "case_insensitive": false}, ...]}

Every key is optional. Regexes use the ``regex`` crate's syntax and are
anchored at both ends by the core.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Tuple

from kestrel import HostContext
from kestrel.errors import RuleFileError
from kestrel.files import read_text
from kestrel.packages.manifest import RulePackageError, package_file

CONSTANTS_FILE = "constants.json"


@dataclass(frozen=True)
class HostConstants:
    """Literal, glob-set, regex and string-set tables, indexed by position."""

    literals: Tuple[str, ...] = ()
    globs: Tuple[Tuple[Tuple[str, ...], bool], ...] = ()
    regexes: Tuple[Tuple[str, bool], ...] = ()
    sets: Tuple[Tuple[Tuple[str, ...], bool], ...] = ()

    def host_context(self) -> HostContext:
        """A fresh core context holding these tables (patterns compiled once, here)."""
        return HostContext(
            literals=list(self.literals),
            globs=[(list(patterns), ci) for patterns, ci in self.globs],
            regexes=list(self.regexes),
            sets=[(list(values), ci) for values, ci in self.sets],
        )

    def to_dict(self) -> dict:
        """The ``constants.json`` document."""
        return {
            "literals": list(self.literals),
            "globs": [{"patterns": list(p), "case_insensitive": ci} for p, ci in self.globs],
            "regexes": [{"pattern": p, "case_insensitive": ci} for p, ci in self.regexes],
            "sets": [{"values": list(v), "case_insensitive": ci} for v, ci in self.sets],
        }


def load_constants(package_dir: Path) -> HostConstants:
    """The package's ``constants.json``, or empty tables when it has none."""
    path = Path(package_dir) / CONSTANTS_FILE
    if not path.exists():
        return HostConstants()
    return parse_constants(read_constants_document(path), str(path))


def read_constants_document(path: Path) -> Any:
    """A ``constants.json`` decoded, not yet validated; every way it can be
    unreadable is a :class:`RulePackageError` naming the file."""
    path = package_file(path.parent, path.name)
    try:
        return json.loads(read_text(path))
    except RuleFileError as error:
        raise RulePackageError(f"{path}: cannot read constants: {error.reason}") from None
    except json.JSONDecodeError as error:
        raise RulePackageError(f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise RulePackageError(f"{path}: not valid JSON: nested too deeply to parse") from None


def parse_constants(document: Any, source: str = CONSTANTS_FILE) -> HostConstants:
    """Validate a decoded ``constants.json``."""

    def fail(key: str, message: str) -> RulePackageError:
        return RulePackageError(f"{source}: key {key!r}: {message}")

    if not isinstance(document, dict):
        raise RulePackageError(f"{source}: must be a JSON object")
    unknown = sorted(set(document) - {"literals", "globs", "regexes", "sets", "ir"})
    if unknown:
        raise fail(unknown[0], "unknown key")

    def strings(value: Any, key: str) -> Tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise fail(key, "must be a list of strings")
        return tuple(value)

    def entries(key: str, items_key: str, single: bool) -> tuple:
        table = document.get(key, [])
        if not isinstance(table, list):
            raise fail(key, "must be a list")
        out = []
        for index, entry in enumerate(table):
            where = f"{key}[{index}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("case_insensitive", False), bool):
                raise fail(where, f'must be {{"{items_key}": ..., "case_insensitive": bool}}')
            raw = entry.get(items_key)
            if single and not isinstance(raw, str):
                raise fail(f"{where}.{items_key}", "must be a string")
            out.append((raw if single else strings(raw, f"{where}.{items_key}"), entry.get("case_insensitive", False)))
        return tuple(out)

    return HostConstants(
        literals=strings(document.get("literals", []), "literals"),
        globs=entries("globs", "patterns", single=False),
        regexes=entries("regexes", "pattern", single=True),
        sets=entries("sets", "values", single=False),
    )
