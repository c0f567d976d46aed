"""The part of `kestrel.Schema` the compiler relies on (see docs/schema-api.md).

Any object with these members works, which keeps the compiler independent of
the Rust extension's concrete class.
"""

from __future__ import annotations

from typing import Optional, Protocol


class FieldInfoLike(Protocol):
    id: int
    path: str
    type: str
    array: bool
    auto: bool


class SchemaLike(Protocol):
    name: str
    version: str

    def lookup(self, path: str) -> Optional[FieldInfoLike]: ...

    def resolve(self, path: str) -> FieldInfoLike: ...


#: Schema types that hold numbers, and those compared as strings.
NUMERIC_TYPES = frozenset({"i64", "u64", "f64"})
STRING_TYPES = frozenset({"string", "ip", "bytes"})
