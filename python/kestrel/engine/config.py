"""The engine's configuration: one explicit, validated options object.

`EngineConfig` holds every knob of :class:`kestrel.Engine`; the engine takes
the same names as keyword arguments, and :meth:`EngineConfig.load` reads them
from a TOML or YAML file (top level, or under an ``[engine]`` table)::

    [engine]
    shards = 4
    max_out_of_order = "2s"
    state_memory_budget = "256MB"
    workers = 2
    rules = ["rules/"]

Durations take ``ms``/``s``/``m``/``h`` suffixes (a bare number is
milliseconds); sizes take ``KB``/``MB``/``GB`` (a bare number is bytes).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from kestrel.compiler.options import TIMESTAMP_UNITS
from kestrel.errors import EngineError, RuleFileError
from kestrel.files import read_text

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons need tomli
    import tomli as tomllib  # type: ignore[no-redef,import-not-found]

_DURATION = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZE = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}


@dataclass
class EngineConfig:
    """Options of :class:`kestrel.Engine` (see the module docstring for the file form)."""

    #: A :class:`kestrel.Schema`, a schema file path, or None for ECS 9.5.0.
    schema: Any = None
    #: An Elasticsearch index mapping (a dict, or a JSON file's path) whose
    #: field types (date, date_nanos, ip, version, aliases, multi-fields)
    #: are laid over the schema, so rules compare as Elasticsearch would.
    mapping: Any = None
    category_field: str = "event.category"
    timestamp_field: str = "@timestamp"
    #: Unit of numeric timestamps: "s", "ms", "us", "ns", or "filetime"
    #: (Windows FILETIME: 100 ns ticks since 1601).
    timestamp_unit: str = "ms"
    #: Orders events with equal timestamps in sequences (then arrival order).
    tiebreaker_field: Optional[str] = None
    #: The field events are partitioned by across workers, so sequence state stays local.
    entity_field: str = "host.id"
    #: Shards of each sequence rule's state store.
    shards: int = 1
    #: How far (ms) events may arrive out of timestamp order before they count as late.
    max_out_of_order: int = 0
    #: Bytes of pending sequence state per rule before eviction (None: unbounded).
    state_memory_budget: Optional[int] = None
    #: Pending-sequence quotas of each sequence rule: {"rule": N} partial matches in all,
    #: {"entity": M} per join key (see kestrel.runtime.sequence.SequenceRule).
    quotas: Optional[Dict[str, Any]] = None
    #: NDJSON lines decoded and evaluated together.
    batch_size: int = 8192
    #: Threads that evaluate (each batch split by entity, see docs/engine.md) and decode
    #: files ahead; 0 does everything in the caller's thread, the cheapest on one core.
    workers: int = 0
    #: Batches waiting for the evaluating thread before producers block (or drop).
    queue_size: int = 4
    #: "block" (backpressure, the default) or "drop" (counted).
    overflow: str = "block"
    #: Identical alerts within this many ms (event time) are suppressed and counted; 0 is off.
    dedup_window: int = 0
    #: Offer a batch only to rules whose categories occur in it.
    indexing: bool = True
    #: Decode into columns only the fields the loaded rules read (the rest
    #: stay in each event's original JSON, which alerts carry whole). Off
    #: when a Lua rule is loaded: it may look any field up by name.
    project_fields: bool = True
    #: Wasm limits per rule: wall time per batch, failures before quarantine, memory.
    rule_time_limit_ms: int = 1000
    quarantine_after: int = 3
    rule_memory_limit: int = 16 << 20
    #: Directories whose Lua packages may run trusted: JIT-compiled, without
    #: the per-event instruction watchdog. Only a package whose manifest asks
    #: for it (``"trusted": true``) and that lies under one of these runs so;
    #: a package cannot trust itself. Each must be an existing directory.
    trusted_paths: Tuple[str, ...] = ()
    #: Longest input line, in bytes: a longer one is cut while it is read
    #: and reported as ``line_too_long`` (sizes take KB/MB/GB).
    max_line_bytes: int = 16 << 20
    #: Longest string value stored; a longer one is left out of the event's
    #: fields (its original JSON keeps it) and reported as ``string_too_long``.
    max_string_bytes: int = 1 << 20
    #: Seconds a sink may take to write one batch before the engine gives up
    #: on it (a reader that never reads); None waits for ever.
    sink_timeout: Optional[float] = 60.0
    #: Times a failing sink's write of a batch is tried again (after 50 ms,
    #: 100 ms, ...) before the engine stops taking input with a SinkError.
    sink_retries: int = 2
    #: Rule paths a config file asks :meth:`Engine.from_config` to load.
    rules: Tuple[str, ...] = ()
    #: Where `from_config` found these settings (for messages).
    source: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.max_out_of_order = parse_duration(self.max_out_of_order, "max_out_of_order")
        self.dedup_window = parse_duration(self.dedup_window, "dedup_window")
        if self.state_memory_budget is not None:
            self.state_memory_budget = parse_size(self.state_memory_budget, "state_memory_budget")
        self.rule_memory_limit = parse_size(self.rule_memory_limit, "rule_memory_limit")
        self.max_line_bytes = parse_size(self.max_line_bytes, "max_line_bytes")
        self.max_string_bytes = parse_size(self.max_string_bytes, "max_string_bytes")
        if self.sink_timeout is not None and (
            isinstance(self.sink_timeout, bool) or not isinstance(self.sink_timeout, (int, float)) or self.sink_timeout <= 0
        ):
            raise EngineError(
                f"{self._where('sink_timeout')}: must be a positive number of seconds or None, not {self.sink_timeout!r}"
            )
        self.rules = tuple(self.rules)
        self.trusted_paths = self._paths("trusted_paths")
        for name in (
            "shards",
            "batch_size",
            "queue_size",
            "quarantine_after",
            "rule_time_limit_ms",
            "max_line_bytes",
            "max_string_bytes",
        ):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise EngineError(f"{self._where(name)}: must be a positive integer, not {getattr(self, name)!r}")
        if not isinstance(self.sink_retries, int) or self.sink_retries < 0:
            raise EngineError(f"{self._where('sink_retries')}: must be 0 or more, not {self.sink_retries!r}")
        if not isinstance(self.workers, int) or self.workers < 0:
            raise EngineError(f"{self._where('workers')}: must be 0 or more, not {self.workers!r}")
        if self.overflow not in ("block", "drop"):
            raise EngineError(f'{self._where("overflow")}: must be "block" or "drop", not {self.overflow!r}')
        if self.timestamp_unit not in TIMESTAMP_UNITS:
            units = ", ".join(TIMESTAMP_UNITS[:-1]) + " or " + TIMESTAMP_UNITS[-1]
            raise EngineError(f"{self._where('timestamp_unit')}: must be {units}, not {self.timestamp_unit!r}")

    def _paths(self, name: str) -> Tuple[str, ...]:
        value = getattr(self, name)
        items = [value] if isinstance(value, (str, os.PathLike)) else value
        try:
            paths = tuple(os.fspath(item) for item in items)
        except TypeError:
            raise EngineError(f"{self._where(name)}: must be a list of directories, not {value!r}") from None
        for path in paths:
            if not os.path.isdir(path):
                raise EngineError(f"{self._where(name)}: {path!r} is not a directory")
        return paths

    def trusts(self, directory: "str | os.PathLike[str]") -> bool:
        """Whether `directory` lies under one of :attr:`trusted_paths` (symlinks resolved)."""
        target = os.path.realpath(directory)
        for root in self.trusted_paths:
            root = os.path.realpath(root)
            if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
                return True
        return False

    def _where(self, key: str) -> str:
        return f"{self.source}: key {key!r}" if self.source else f"engine option {key!r}"

    @classmethod
    def from_dict(cls, document: Dict[str, Any], source: Optional[str] = None) -> "EngineConfig":
        """Validate a decoded config document; unknown keys are errors naming the file."""
        if isinstance(document.get("engine"), dict):
            document = document["engine"]
        known = {f.name for f in dataclasses.fields(cls)} - {"source"}
        unknown = sorted(set(document) - known)
        if unknown:
            where = f"{source}: " if source else ""
            raise EngineError(f"{where}unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        return cls(**document, source=source)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> "EngineConfig":
        """Read a ``.toml``, ``.yaml`` or ``.yml`` config file."""
        path = Path(path)
        try:
            text = read_text(path)
        except RuleFileError as error:
            raise EngineError(f"{path}: cannot read the config: {error.reason}") from None
        if path.suffix == ".toml":
            try:
                document = tomllib.loads(text)
            except tomllib.TOMLDecodeError as error:
                raise EngineError(f"{path}: invalid TOML: {error}") from None
            except RecursionError:
                raise EngineError(f"{path}: invalid TOML: nested too deeply to parse") from None
        elif path.suffix in (".yaml", ".yml"):
            document = _yaml(text, path)
        else:
            raise EngineError(f"{path}: config files are .toml, .yaml or .yml")
        if not isinstance(document, dict):
            raise EngineError(f"{path}: the config must be a table of options")
        table = document["engine"] if isinstance(document.get("engine"), dict) else document
        trusted = table.get("trusted_paths")
        if isinstance(trusted, str):
            trusted = [trusted]
        if isinstance(trusted, list):  # relative to the config file, checked as such
            table["trusted_paths"] = [str(path.parent / p) if isinstance(p, str) else p for p in trusted]
        config = cls.from_dict(document, source=str(path))
        # Relative rule paths are relative to the config file, not the working directory.
        config.rules = tuple(str(path.parent / r) for r in config.rules)
        for name in ("mapping",):
            value = getattr(config, name)
            if isinstance(value, str) and not value.lstrip().startswith("{"):
                setattr(config, name, str(path.parent / value))
        return config


def _yaml(text: str, path: Path) -> Any:
    try:
        import yaml
    except ModuleNotFoundError:
        raise EngineError(f"{path}: YAML configs need PyYAML (pip install pyyaml); TOML needs nothing") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise EngineError(f"{path}: invalid YAML: {error}") from None
    except RecursionError:
        raise EngineError(f"{path}: invalid YAML: nested too deeply to parse") from None


def _parse_unit(value: Any, name: str, units: Dict[str, int], what: str) -> int:
    if isinstance(value, bool):
        raise EngineError(f"engine option {name!r}: must be a {what}, not {value!r}")
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(value))
    unit = match.group(2).lower() if match else None
    if match is None or (unit and unit not in units):
        raise EngineError(f"engine option {name!r}: {value!r} is not a {what} ({', '.join(units)})")
    return int(match.group(1)) * units[unit or next(iter(units))]


def parse_duration(value: Any, name: str = "duration") -> int:
    """Milliseconds from 250, "250ms", "5s", "2m"..."""
    return _parse_unit(value, name, _DURATION, "duration")


def parse_size(value: Any, name: str = "size") -> int:
    """Bytes from 1024, "64KB", "256MB"..."""
    return _parse_unit(value, name, _SIZE, "size")
