"""The part of `kestrel.Schema` the compiler relies on (see docs/schema-api.md).

Any object with these members works, which keeps the compiler independent of
the Rust extension's concrete class.
"""

from __future__ import annotations

from typing import Optional, Protocol


class FieldInfoLike(Protocol):
    # Read-only: the core's FieldInfo exposes them as properties.
    @property
    def id(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def array(self) -> bool: ...
    @property
    def auto(self) -> bool: ...


class SchemaLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...

    def lookup(self, path: str) -> Optional[FieldInfoLike]: ...

    def resolve(self, path: str) -> FieldInfoLike: ...


#: Schema types that hold numbers, and those compared as strings.
NUMERIC_TYPES = frozenset({"i64", "u64", "f64"})
STRING_TYPES = frozenset({"string", "ip", "bytes"})
