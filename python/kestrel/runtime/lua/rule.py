"""One Lua rule in its own LuaJIT state: load, init, evaluate batches, quarantine.

Each rule gets a separate lupa runtime, so its memory cap, its JIT mode and
its failures are its own. Evaluating a batch is one Python->Lua call: the
prelude's loop calls ``pred_eval`` for every event and reports matches to the
core through ``match_emit``; ``pred_capture`` then runs, in one more call,
for the matched events only.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable, Dict, List, Optional

from kestrel import EventBatch, Schema
from kestrel.host_abi import c_declaration, table
from kestrel.packages.constants import HostConstants
from kestrel.packages.manifest import FieldTable, RulePackageError
from kestrel.runtime.lua.host_python import python_host
from kestrel.runtime.lua.vm import lua_api_addresses, lua_errors, new_runtime, runtime_info

log = logging.getLogger("kestrel.lua")

#: Names rule code may not touch; reaching one raises a "sandbox:" error.
FORBIDDEN = (
    "io",
    "os.execute",
    "require",
    "package",
    "load",
    "loadstring",
    "loadfile",
    "dofile",
    "debug",
    "ffi",
    "jit",
    "collectgarbage",
    "setfenv",
    "getfenv",
    "coroutine",
    "module",
    "newproxy",
    "python",
    "gcinfo",
)


#: New fields one rule's kestrel.field_id() may add to the shared schema.
MAX_FIELDS_ADDED_PER_RULE = 1024


@dataclass(frozen=True)
class LuaLimits:
    """Per-rule resource limits and failure policy."""

    #: Bytes the rule's Lua state may allocate (lupa's ``max_memory``).
    max_memory: int = 64 << 20
    #: Lua VM instructions one event may take in an untrusted rule on the PUC
    #: Lua fallback (approximate: checked every `hook_every` instructions).
    #: LuaJIT rules are stopped by the core's watchdog at the time budget.
    max_instructions: int = 10_000_000
    hook_every: int = 1000
    #: Wall time one batch (all its filters and pred_capture calls) may take
    #: in an untrusted rule, and loading it (chunk and pred_init); a batch
    #: over it fails.
    max_batch_seconds: float = 1.0
    #: Worst-case steps of a string.find/match/gmatch/gsub call that an
    #: untrusted rule may run in C, where no budget can stop it; costlier
    #: calls run a Lua matcher under the budgets instead.
    pattern_steps: int = 1 << 24
    #: Failed batches (errors, runaway, non-boolean result) before quarantine.
    quarantine_after: int = 3
    #: print() lines kept per batch; the rest are counted and dropped.
    log_max: int = 1000
    #: How deep calls that re-enter Lua from C (string.gsub with a function,
    #: table.sort with a comparator, __tostring) may nest; each level costs C stack.
    max_nesting: int = 64


@dataclass(frozen=True)
class RuleFailure:
    """Why a batch failed for a rule."""

    rule_id: str
    message: str
    event: Optional[int] = None  #: index in the batch, when one event caused it

    def __str__(self) -> str:
        where = f" at event {self.event}" if self.event is not None and self.event >= 0 else ""
        return f"rule {self.rule_id!r}{where}: {self.message}"


@dataclass
class BatchResult:
    """A rule's verdicts on one batch."""

    rule_id: str
    matches: Dict[int, List[int]] = field(default_factory=dict)  #: filter -> matching event indexes
    emitted: List[int] = field(default_factory=list)  #: events passed to kestrel.alert_emit
    captures: Dict[int, Dict[str, Any]] = field(default_factory=dict)  #: event -> pred_capture's fields
    failure: Optional[RuleFailure] = None
    skipped: bool = False  #: the rule is quarantined and was not run

    def events(self, filter: int = 0) -> List[int]:
        """The events that matched `filter`."""
        return self.matches.get(filter, [])


class LuaRuleError(RulePackageError):
    """A Lua rule failed to load or initialise."""


class LuaRule:
    """A compiled, initialised Lua predicate bound to a schema.

    Args:
        rule_id: the id alerts and errors carry.
        source: the text of ``predicate.lua``.
        fields: the package's field table (local id -> path).
        schema: the schema whose FieldIds the batches use.
        constants: literal/glob/regex/set tables for the host calls.
        trusted: run JIT-compiled without the instruction budget. Only for
            code that cannot loop forever (generated code) or that its owner
            vouches for.
        limits: memory, instruction and quarantine limits.
        debug: send ``print`` to stdout as well as to the debug log.
    """

    def __init__(
        self,
        rule_id: str,
        source: str,
        *,
        fields: Optional[FieldTable] = None,
        schema: Optional[Schema] = None,
        constants: Optional[HostConstants] = None,
        trusted: bool = False,
        limits: Optional[LuaLimits] = None,
        debug: bool = False,
        chunkname: str = "predicate.lua",
        evaluator_hook: Optional[Callable[[Any], object]] = None,
        vm: Optional[str] = None,
    ) -> None:
        self.vm = vm
        self.info = runtime_info(vm)
        self.rule_id = rule_id
        self.trusted = trusted
        self.limits = limits or LuaLimits()
        self.debug = debug
        self.schema = schema or Schema.default()
        self._fields_added = 0
        self.fields = fields or FieldTable({})
        self.constants = constants or HostConstants()
        self.context = self.constants.host_context()
        if evaluator_hook is not None:
            evaluator_hook(self.context)
        self.failures: List[RuleFailure] = []
        self._native = _native_host(vm) if not trusted else None
        self._lua = new_runtime(self.limits.max_memory, vm)
        if self._native is not None:
            # The Lua state's C closures point into the host: the state's
            # real globals (which rule code never sees) keep it alive as long.
            self._lua.globals()["kestrel_native_host"] = self._native
        self._entry = self._setup()
        self._load(source, chunkname)

    # ---- loading ----

    def _setup(self) -> Any:
        table()  # checks the core's table header against host_abi's layout
        resolved = self.fields.resolve(self.schema)
        paths = self.fields.paths
        config = {
            "bind": self._lua.execute(_lua_source("host_ffi.lua" if self.info.ffi else "host_python.lua")),
            "field_ids": [x for pair in resolved.items() for x in pair],
            "field_paths": [x for pair in paths.items() for x in pair],
            "next_local_id": self.fields.next_id(),
            "resolve_path": self._resolve_path,
            "max_fields_added": MAX_FIELDS_ADDED_PER_RULE,
            "trusted": self.trusted,
            "max_ticks": max(1, self.limits.max_instructions // self.limits.hook_every),
            "hook_every": self.limits.hook_every,
            "batch_seconds": self.limits.max_batch_seconds,
            "clock": time.monotonic,
            "patterns": self._lua.execute(_lua_source("patterns.lua")),
            "find_memo": self._lua.execute(_lua_source("find_memo.lua")),
            "pattern_steps": self.limits.pattern_steps,
            "log_max": self.limits.log_max,
            "max_nesting": self.limits.max_nesting,
            "forbidden": " ".join(name for name in FORBIDDEN if "." not in name),
        }
        if self.info.ffi:
            config.update(cdef=c_declaration(), api_address=_core_api_address(), ctx_address=self.context._address())
        else:
            config["python_host"] = python_host(self.context)
        if self._native is not None:
            from kestrel import _core

            config.update(native_host=self._native.address(), core_path=_core.__file__)
        setup = self._lua.execute(_lua_source("prelude.lua"))
        return setup(self._lua.table_from(config, recursive=True))

    def _resolve_path(self, path: str) -> int:
        """The path's schema FieldId, or -1 once the rule added too many fields."""
        # Called from kestrel.field_id() while the rule loads, never per event.
        # A path the schema lacks is added to it for good, and the schema is
        # shared by every rule, so one rule may only add so many.
        path = str(path)
        if self.schema.lookup(path) is None:
            if self._fields_added >= MAX_FIELDS_ADDED_PER_RULE:
                return -1  # the prelude turns this into the rule's load error
            self._fields_added += 1
        return self.schema.resolve(path).id

    def _load(self, source: str, chunkname: str) -> None:
        until = time.monotonic() + self.limits.max_batch_seconds
        try:
            ok, message = _padded(self._call(self._entry.load, source, chunkname, until=until), 2)
        except RuleCallError as error:
            raise LuaRuleError(f"rule {self.rule_id!r}: {chunkname} failed to load: {error}") from None
        self._drain_log()
        if not ok:
            raise LuaRuleError(f"rule {self.rule_id!r}: {chunkname} failed to load: {message}")
        if not self._entry.has("pred_eval"):
            raise LuaRuleError(f"rule {self.rule_id!r}: {chunkname} defines no pred_eval(event)")
        try:
            status = self._call(self._entry.init, until=until)
        except RuleCallError as error:
            raise LuaRuleError(f"rule {self.rule_id!r}: pred_init() failed: {error}") from None
        finally:
            self._drain_log()
        if status != 0:
            raise LuaRuleError(f"rule {self.rule_id!r}: pred_init() returned {status!r}, expected 0")
        self.has_capture = bool(self._entry.has("pred_capture"))

    def _call(self, function: Any, *args: Any, until: Optional[float] = None) -> Any:
        """Call into Lua, turning lupa's errors (including out-of-memory) into
        RuleCallError. With `until` (a time.monotonic() deadline), the core's
        watchdog stops the call once it is past."""
        LuaError, LuaMemoryError = lua_errors(self.vm)
        watch = self._native if until is not None else None
        if watch is not None and until is not None:
            watch.watch(until - time.monotonic())
        try:
            return function(*args)
        except LuaMemoryError:
            raise RuleCallError(f"memory limit of {self.limits.max_memory} bytes exceeded") from None
        except LuaError as error:
            raise RuleCallError(self._overtime() or _first_line(str(error))) from None
        finally:
            if watch is not None:
                watch.unwatch()

    def _overtime(self) -> Optional[str]:
        """The failure message when the watchdog stopped the last call."""
        if self._native is None or not self._native.stopped:
            return None
        return f"time budget of {self.limits.max_batch_seconds:g} s per batch exceeded (rule stopped)"

    # ---- evaluation ----

    @property
    def quarantined(self) -> bool:
        """True once the rule has failed `limits.quarantine_after` batches."""
        return len(self.failures) >= self.limits.quarantine_after

    def evaluate(self, batch: EventBatch, filters: tuple = (0,)) -> BatchResult:
        """Run the rule's filters over `batch`: one Python->Lua call per filter."""
        result = BatchResult(self.rule_id)
        if self.quarantined:
            result.skipped = True
            return result
        self.context.take_matches()
        self.context.take_emitted()
        until = time.monotonic() + self.limits.max_batch_seconds
        for filter_index in filters:
            failure = self._run(batch, filter_index, until)
            if failure is not None:
                return self._fail(result, failure)
        pairs = self.context.take_matches()
        if len(filters) == 1:  # the common case, without per-match dict work
            result.matches[filters[0]] = [ev for _, ev in pairs]
        else:
            for filter_index, ev in pairs:
                result.matches.setdefault(filter_index, []).append(ev)
        if self.has_capture and pairs:
            try:
                result.captures = self._capture(batch, sorted({ev for _, ev in pairs}), until)
            except RuleCallError as error:
                return self._fail(result, RuleFailure(self.rule_id, f"pred_capture: {error}"))
        result.emitted = self.context.take_emitted()
        return result

    def _run(self, batch: EventBatch, filter_index: int, until: float) -> Optional[RuleFailure]:
        try:
            ok, value, event = _padded(
                self._call(self._entry.run, batch._address(), len(batch), filter_index, until, until=until), 3
            )
        except RuleCallError as error:
            ok, value, event = False, str(error), None
        finally:
            self._drain_log()
        if ok:
            return None
        return RuleFailure(self.rule_id, self._overtime() or _first_line(str(value)), event)

    def _capture(self, batch: EventBatch, events: List[int], until: float) -> Dict[int, Dict[str, Any]]:
        events_table = self._lua.table_from(events)
        ok, captured = _padded(self._call(self._entry.capture, batch._address(), len(batch), events_table, until, until=until), 2)
        self._drain_log()
        if not ok:
            raise RuleCallError(self._overtime() or str(captured))
        return {int(ev): dict(fields.items()) for ev, fields in captured.items()}

    def _fail(self, result: BatchResult, failure: RuleFailure) -> BatchResult:
        self.context.take_matches()
        self.context.take_emitted()
        self.failures.append(failure)
        result.failure = failure
        log.warning("Lua %s", failure)
        if self.quarantined:
            log.error("Lua rule %r quarantined after %d failed batches", self.rule_id, len(self.failures))
        return result

    def _drain_log(self) -> None:
        lines, dropped = _padded(self._entry.drain_log(), 2)
        for index in sorted(lines.keys()):
            line = lines[index]
            log.debug("[%s] %s", self.rule_id, line)
            if self.debug:
                print(f"[{self.rule_id}] {line}", file=sys.stdout)
        if dropped:
            log.debug("[%s] %d print() lines dropped", self.rule_id, dropped)

    def memory_used(self) -> int:
        """Bytes the rule's Lua state holds now."""
        return int(self._lua.get_memory_used() or 0)


class RuleCallError(Exception):
    """A call into a rule's Lua state raised (internal; reported as a RuleFailure)."""


def _lua_source(name: str) -> str:
    return resources.files("kestrel.runtime.lua").joinpath(name).read_text(encoding="utf-8")


def _native_host(vm: Optional[str]) -> Any:
    """The core's C functions and watchdog for an untrusted rule on LuaJIT
    (`kestrel._core.LuaHost`), or None where lupa runs PUC Lua."""
    addresses = lua_api_addresses(vm)
    if addresses is None:
        return None
    from kestrel import _core

    return _core.LuaHost(addresses)


def _core_api_address() -> int:
    from kestrel import _core

    return _core.host_api_v1_address()


def _padded(values: Any, n: int) -> tuple:
    # lupa returns a single value unwrapped and several as a tuple.
    values = values if isinstance(values, tuple) else (values,)
    return tuple(values) + (None,) * (n - len(values))


def _first_line(message: str) -> str:
    return message.strip().split("\nstack traceback:")[0].strip()
