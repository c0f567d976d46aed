"""The package tables a generated Lua predicate refers to by index.

Generated code names fields by local ids (the manifest's field table) and
constants by indexes into the host context's literal, glob, regex and set
tables. :class:`PackageTables` assigns those ids while the code is written.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from kestrel.packages.constants import HostConstants
from kestrel.packages.manifest import FieldTable


class PackageTables:
    """Interns field paths and host constants for one generated rule."""

    def __init__(self, document: Dict[str, Any]) -> None:
        self._document = document
        self._fields: Dict[str, int] = {}
        self._literals: Dict[str, int] = {}
        # IR glob sets keep their index: the host table is the IR's table.
        self._globs: List[Tuple[Tuple[str, ...], bool]] = [
            (tuple(entry["patterns"]), entry["case_insensitive"]) for entry in document["globs"]
        ]
        # The host matches one regex per entry; an IR regex set becomes several.
        self._regexes: List[Tuple[str, bool]] = []
        self._regex_ids: Dict[int, Tuple[int, ...]] = {}
        self._sets: List[Tuple[Tuple[str, ...], bool]] = []
        self._set_ids: Dict[int, int] = {}

    def field(self, path: str) -> int:
        """The local id of `path` (1, 2, ... in order of first use)."""
        return self._fields.setdefault(path, len(self._fields) + 1)

    def literal(self, text: str) -> int:
        return self._literals.setdefault(text, len(self._literals))

    def regexes(self, ir_index: int) -> Tuple[int, ...]:
        """Host regex ids for the patterns of IR regex set `ir_index`."""
        if ir_index not in self._regex_ids:
            entry = self._document["regexes"][ir_index]
            ids = []
            for pattern in entry["translated"]:
                ids.append(len(self._regexes))
                self._regexes.append((pattern, entry["case_insensitive"]))
            self._regex_ids[ir_index] = tuple(ids)
        return self._regex_ids[ir_index]

    def string_set(self, ir_index: int) -> int:
        """Host set id for IR set `ir_index` (its values must all be strings)."""
        if ir_index not in self._set_ids:
            entry = self._document["sets"][ir_index]
            self._set_ids[ir_index] = len(self._sets)
            self._sets.append((tuple(entry["values"]), entry["case_insensitive"]))
        return self._set_ids[ir_index]

    def field_table(self) -> FieldTable:
        return FieldTable({local: path for path, local in self._fields.items()})

    def constants(self) -> HostConstants:
        return HostConstants(
            literals=tuple(self._literals),
            globs=tuple(self._globs),
            regexes=tuple(self._regexes),
            sets=tuple(self._sets),
        )
