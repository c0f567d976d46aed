"""A package's ``constants.json``: the host tables behind literal, glob, regex and
set ids, and, for a compiled EQL rule, its IR and the category of each filter.

Host API calls name their constants by index (``str_eq(ev, field, lit, ci)``,
``glob_match_field(ev, field, glob)``...). The tables live in the core's
:class:`kestrel.HostContext` (Lua) or :class:`kestrel._core.WasmRule`; this
module holds them in a runtime-neutral form. It is the one reader, checker
and writer of ``constants.json`` for both runtimes::

    {"literals": ["cmd.exe", ...],
     "globs":    [{"patterns": ["*\\\\cmd.exe"], "case_insensitive": true}, ...],
     "regexes":  [{"pattern": "cmd\\\\.exe", "case_insensitive": false}, ...],
     "sets":     [{"values": ["bash", "sh"], "case_insensitive": false}, ...],
     "filter_categories": ["process", null, ...],
     "ir": {...}}

Every key is optional, except that a Wasm package's constants must carry the
IR (only ``kestrel compile`` writes them). Regexes use the ``regex`` crate's
syntax and are anchored at both ends by the core. ``filter_categories``
holds one category per filter of a compiled rule (null: any); the core then
offers each filter only its category's events.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Tuple

from kestrel import HostContext
from kestrel.packages.manifest import RulePackageError, read_package_json

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

    @classmethod
    def from_ir(cls, document: dict, literals: "list[str]") -> "HostConstants":
        """The tables a compiled rule's code indexes: `literals` from its code
        generator, the others from its IR document."""
        return cls(
            literals=tuple(literals),
            globs=tuple((tuple(g["patterns"]), g["case_insensitive"]) for g in document["globs"]),
            regexes=tuple((r["translated"], r["case_insensitive"]) for r in document["regexes"]),
            # Only all-string sets are looked up by the host; the others are
            # evaluated in the core and keep their slot so ids line up.
            sets=tuple(
                (tuple(s["values"]) if all(t == "string" for t in s["types"]) else (), s["case_insensitive"])
                for s in document["sets"]
            ),
        )

    def wasm_tables(self) -> dict:
        """The tables as keyword arguments of ``kestrel._core.WasmRule``."""
        return {
            "literals": list(self.literals),
            "globs": [(list(patterns), ci) for patterns, ci in self.globs],
            "regexes": list(self.regexes),
            "sets": [(list(values), ci) for values, ci in self.sets],
        }


@dataclass(frozen=True)
class PackageConstants:
    """A checked ``constants.json``."""

    tables: HostConstants = HostConstants()
    #: The compiled rule's IR document (its pipes, and the subtrees its code
    #: hands to the core's evaluator), or None for a hand-written package.
    ir: Optional[dict] = None
    #: One category per filter of a compiled rule (None: any), or None.
    filter_categories: Optional[Tuple[Optional[str], ...]] = None

    def to_dict(self) -> dict:
        """The ``constants.json`` document."""
        document = self.tables.to_dict()
        if self.filter_categories is not None:
            document["filter_categories"] = list(self.filter_categories)
        if self.ir is not None:
            document["ir"] = self.ir
        return document

    def pipes(self) -> "list[Tuple[str, int]]":
        """The compiled rule's ``| head``/``| tail`` stages, as (op, count)."""
        return [(pipe["op"], pipe["count"]) for pipe in (self.ir or {}).get("rule", {}).get("pipes", [])]


def read_constants(package_dir: "str | os.PathLike[str]", runtime: str) -> PackageConstants:
    """The package's ``constants.json``, checked; empty tables when it has none.

    Raises:
        RulePackageError: the file cannot be read, is not JSON, or a key is
            missing or of the wrong shape (the message names the file and key).
    """
    path = Path(package_dir) / CONSTANTS_FILE
    if not path.exists() and not path.is_symlink():
        return PackageConstants()
    return parse_constants(read_constants_document(path), str(path), runtime=runtime)


def write_constants(package_dir: "str | os.PathLike[str]", constants: PackageConstants) -> Path:
    """Write ``constants.json`` into `package_dir`; checked first, so no writer
    can produce a file the loaders refuse."""
    document = constants.to_dict()
    parse_constants(document, CONSTANTS_FILE, runtime="wasm" if constants.ir is not None else "lua")
    path = Path(package_dir) / CONSTANTS_FILE
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_constants_document(path: Path) -> Any:
    """A ``constants.json`` decoded, not yet validated (see :func:`read_package_json`)."""
    return read_package_json(path, "constants")


def parse_constants(document: Any, source: str = CONSTANTS_FILE, *, runtime: str = "lua") -> PackageConstants:
    """Validate a decoded ``constants.json`` of a package of `runtime`."""

    def fail(key: str, message: str) -> RulePackageError:
        return RulePackageError(f"{source}: key {key!r}: {message}")

    if not isinstance(document, dict):
        raise RulePackageError(f"{source}: must be a JSON object")
    unknown = sorted(set(document) - {"literals", "globs", "regexes", "sets", "ir", "filter_categories"})
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

    tables = HostConstants(
        literals=strings(document.get("literals", []), "literals"),
        globs=entries("globs", "patterns", single=False),
        regexes=entries("regexes", "pattern", single=True),
        sets=entries("sets", "values", single=False),
    )
    if runtime == "wasm" and "ir" not in document:
        raise fail("ir", "is required: a Wasm package's constants.json is written by `kestrel compile`, with the rule's IR")
    ir = document.get("ir")
    if ir is not None:
        rule = ir.get("rule") if isinstance(ir, dict) else None
        if not isinstance(rule, dict):
            raise fail("ir", "must be an IR document (an object with a `rule` object)")
        pipes = rule.get("pipes", [])
        if not isinstance(pipes, list) or not all(
            isinstance(p, dict) and p.get("op") in ("head", "tail") and _whole(p.get("count"), 1) for p in pipes
        ):
            raise fail("ir.rule.pipes", 'must be a list of {"op": "head" or "tail", "count": a whole number >= 1}')
    categories = document.get("filter_categories")
    if categories is not None and (
        not isinstance(categories, list) or not all(c is None or isinstance(c, str) for c in categories)
    ):
        raise fail("filter_categories", "must be a list of category names (or null for any)")
    return PackageConstants(tables, ir, None if categories is None else tuple(categories))


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least
