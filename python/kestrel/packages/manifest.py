"""Rule package manifests (``manifest.json``): parsing, validation, field table.

The format is documented in ``rules/README.md``. This module knows nothing
about any runtime: the Lua and Wasm loaders both read a :class:`Manifest` and
map its field table onto the running schema with :meth:`FieldTable.resolve`.
Every error names the file and the offending key, so a package author can fix
a manifest without reading this code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from kestrel.errors import KestrelError, RuleFileError
from kestrel.files import read_text

MANIFEST_FILE = "manifest.json"

RUNTIMES = ("wasm", "lua")
KINDS = ("event", "sequence", "sample")

#: Which runtime an entry file implies, when the manifest leaves `runtime` out.
_RUNTIME_OF_ENTRY = {".lua": "lua", ".wasm": "wasm", ".wat": "wasm", ".eql": "wasm"}  # EQL: the default runtime
_DEFAULT_ENTRY = {"lua": "predicate.lua", "wasm": "rule.wasm"}

_KNOWN_KEYS = frozenset(
    {
        "id",
        "name",
        "version",
        "description",
        "runtime",
        "kind",
        "entry",
        "schema",
        "fields",
        "categories",
        "capture",
        "severity",
        "risk_score",
        "tags",
        "threat",
        "trusted",
        "size",
        "max_samples_per_key",
    }
)

#: Result limits a manifest may set, with the least value each takes (see
#: kestrel.engine.pipes): `size` caps the rule's results, `max_samples_per_key`
#: the samples one join key of a sample rule yields.
LIMITS = {"size": 0, "max_samples_per_key": 1}


class RulePackageError(KestrelError):
    """A rule package is malformed or cannot be loaded."""


class FieldTable:
    """A package's field table: local id -> dotted path.

    Compiled code refers to fields by small local ids so that it does not
    depend on the FieldIds of the schema it was built against; the loader
    maps them to the running schema's ids with :meth:`resolve`.
    """

    def __init__(self, paths: Mapping[int, str]) -> None:
        self._paths: Dict[int, str] = dict(sorted(paths.items()))

    @property
    def paths(self) -> Dict[int, str]:
        """Local id -> dotted path, in id order."""
        return dict(self._paths)

    def local_id(self, path: str) -> Optional[int]:
        """The local id declared for `path`, if any."""
        for local, known in self._paths.items():
            if known == path:
                return local
        return None

    def next_id(self) -> int:
        """The first local id above every declared one (for `field_id()` at load)."""
        return max(self._paths, default=0) + 1

    def resolve(self, schema: Any) -> Dict[int, int]:
        """Local id -> schema FieldId; paths the schema lacks are assigned ids."""
        return {local: schema.resolve(path).id for local, path in self._paths.items()}

    def __len__(self) -> int:
        return len(self._paths)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldTable) and other._paths == self._paths

    def __repr__(self) -> str:
        return f"FieldTable({self._paths!r})"


@dataclass(frozen=True)
class Manifest:
    """A validated ``manifest.json``. `source` is the file it came from (for messages)."""

    id: str
    name: str
    version: str
    runtime: str
    kind: str
    entry: str
    fields: FieldTable
    description: str = ""
    schema: Optional[Tuple[str, str]] = None
    categories: Tuple[str, ...] = ()
    capture: Optional[Tuple[str, ...]] = None
    trusted: bool = False
    metadata: Dict[str, Any] = field(default_factory=dict)
    #: `size` and `max_samples_per_key`, when the manifest sets them.
    limits: Dict[str, int] = field(default_factory=dict)
    source: str = MANIFEST_FILE


def package_file(directory: "str | os.PathLike[str]", name: str) -> Path:
    """`name` in package `directory`, refused when it leads outside the directory.

    Packages come from directories others may write; a file that is a link
    to ``/etc/shadow`` or a key under ``~/.ssh`` must not be read, and its
    contents must not reach a load error.

    Raises:
        RulePackageError: `name` is (or passes through) a link, or a
            ``..``, that resolves outside `directory`.
    """
    path = Path(directory) / name
    home, real = os.path.realpath(directory), os.path.realpath(path)
    if os.path.commonpath([home, real]) != home:
        raise RulePackageError(f"{path}: leads outside the package directory (a link or '..'); not read")
    return path


def write_manifest(directory: "str | os.PathLike[str]", document: Dict[str, Any]) -> Path:
    """Write ``manifest.json`` into `directory`; validated first, so no writer
    can produce a manifest the loaders refuse."""
    parse_manifest(document)
    path = Path(directory) / MANIFEST_FILE
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(path: "str | os.PathLike[str]") -> Manifest:
    """Read and validate a manifest: a package directory or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    return parse_manifest(read_package_json(path, "the manifest"), source=str(path))


def read_package_json(path: Path, what: str) -> Any:
    """A package's JSON file, decoded but not yet validated. Every way it can
    be unreadable is a :class:`RulePackageError` naming the file; `what` is
    the file's role in a read error ("the manifest", "constants")."""
    path = package_file(path.parent, path.name)
    try:
        text = read_text(path)
    except RuleFileError as error:
        raise RulePackageError(f"{path}: cannot read {what}: {error.reason}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RulePackageError(f"{path}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise RulePackageError(f"{path}: not valid JSON: nested too deeply to parse") from None


def parse_manifest(document: Any, *, source: str = MANIFEST_FILE) -> Manifest:
    """Validate a decoded manifest document."""
    check = _Checker(source)
    if not isinstance(document, dict):
        raise check.error(None, f"must be a JSON object, not {_json_type(document)}")
    unknown = sorted(set(document) - _KNOWN_KEYS)
    if unknown:
        raise check.error(unknown[0], f"unknown key (known keys: {', '.join(sorted(_KNOWN_KEYS))})")
    rule_id = check.required(document, "id")
    runtime, entry = _runtime_and_entry(document, check)
    kind = check.string(document, "kind") or "event"
    if kind not in KINDS:
        raise check.error("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    metadata = {key: document[key] for key in ("severity", "risk_score", "tags", "threat") if key in document}
    limits = {key: check.integer(document, key, least) for key, least in LIMITS.items() if key in document}
    return Manifest(
        id=rule_id,
        name=check.string(document, "name") or rule_id,
        version=check.required(document, "version"),
        runtime=runtime,
        kind=kind,
        entry=entry,
        fields=_field_table(document.get("fields", {}), check),
        description=check.string(document, "description") or "",
        schema=_schema_identity(document.get("schema"), check),
        categories=check.strings(document, "categories") or (),
        capture=check.strings(document, "capture"),
        trusted=check.boolean(document, "trusted"),
        metadata=metadata,
        limits=limits,
        source=source,
    )


def _runtime_and_entry(document: Dict[str, Any], check: "_Checker") -> Tuple[str, str]:
    runtime = check.string(document, "runtime")
    entry = check.string(document, "entry")
    if runtime is not None and runtime not in RUNTIMES:
        raise check.error("runtime", f"must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if entry is not None and (os.path.isabs(entry) or ".." in Path(entry).parts):
        raise check.error("entry", f"must be a file inside the package, not {entry!r}")
    suffix = Path(entry).suffix if entry else None
    if suffix is not None and suffix not in _RUNTIME_OF_ENTRY:
        raise check.error("entry", f"{entry!r} is not a predicate.lua, rule.wasm, rule.wat or rule.eql file")
    implied = _RUNTIME_OF_ENTRY.get(suffix or "")
    if runtime is None:
        runtime = implied
    if runtime is None:
        raise check.error("runtime", "is required when `entry` is absent")
    # EQL source compiles to either runtime; code files run only where they were written for.
    if suffix not in (None, ".eql") and implied != runtime:
        raise check.error("entry", f"{entry!r} cannot run on the {runtime} runtime")
    return runtime, entry or _DEFAULT_ENTRY[runtime]


#: Local field ids index a table the loader builds densely, so they are
#: kept small: a tiny manifest must not ask for a table of 2**31 entries.
MAX_LOCAL_FIELD_ID = 65_535


def _field_table(raw: Any, check: "_Checker") -> FieldTable:
    if not isinstance(raw, dict):
        raise check.error("fields", f"must be an object of local id -> dotted path, not {_json_type(raw)}")
    paths: Dict[int, str] = {}
    for key, path in raw.items():
        if not (isinstance(key, str) and key.isdigit() and 0 < int(key) <= MAX_LOCAL_FIELD_ID):
            raise check.error(
                f"fields.{key}", f'local ids must be integers from 1 to {MAX_LOCAL_FIELD_ID} written as strings, e.g. "1"'
            )
        if not isinstance(path, str) or not path or path.startswith(".") or path.endswith(".") or ".." in path:
            raise check.error(f"fields.{key}", f"must be a dotted field path, not {path!r}")
        paths[int(key)] = path
    return FieldTable(paths)


def _schema_identity(raw: Any, check: "_Checker") -> Optional[Tuple[str, str]]:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(key), str) for key in ("name", "version")):
        raise check.error("schema", 'must be {"name": string, "version": string}')
    return raw["name"], raw["version"]


class _Checker:
    """Typed reads from a manifest, raising errors that name the file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: Optional[str], message: str) -> RulePackageError:
        where = f"{self.source}: key {key!r}" if key else self.source
        return RulePackageError(f"{where}: {message}")

    def string(self, document: Dict[str, Any], key: str) -> Optional[str]:
        if key not in document:
            return None
        value = document[key]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, not {_json_type(value)}")
        return value

    def required(self, document: Dict[str, Any], key: str) -> str:
        value = self.string(document, key)
        if value is None:
            raise self.error(key, "is required")
        return value

    def strings(self, document: Dict[str, Any], key: str) -> Optional[Tuple[str, ...]]:
        if key not in document:
            return None
        value = document[key]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def integer(self, document: Dict[str, Any], key: str, least: int) -> int:
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.error(key, f"must be a whole number >= {least}, not {json.dumps(value)}")
        return value

    def boolean(self, document: Dict[str, Any], key: str) -> bool:
        value = document.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_json_type(value)}")
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
