"""What every rule source shares: the load context, the report, and EQL -> EngineRule."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from kestrel.engine.config import EngineConfig
from kestrel.engine.pipes import pipe_stages
from kestrel.engine.rule import EngineRule, SequenceEvaluator, WasmEvaluator
from kestrel.errors import KestrelError
from kestrel.packages.manifest import LIMITS


@dataclass(frozen=True)
class LoadFailure:
    """A rule that did not load: where (file, 1-based line and column when known) and why."""

    location: str
    line: Optional[int]
    column: Optional[int]
    reason: str

    def __str__(self) -> str:
        where = self.location
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Skipped:
    """A rule left out on purpose (another query language, a missing optional runtime)."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass(frozen=True)
class RuleSource:
    """One rule as its file holds it, before it is compiled.

    `first_line` is the file line on which the query starts, so a query
    error at line L is at file line ``first_line + L - 1``; None when the
    query is escaped inside the file (a JSON line) and positions are the
    query's own. `problem` is set (and `query` empty) when the file, or this
    entry of it, cannot be read as a rule, at `line`/`column` of `file` when
    known; `skipped` says why a readable rule is not EQL.
    """

    location: str
    query: str
    first_line: Optional[int] = 1
    problem: Optional[str] = None
    skipped: Optional[str] = None
    file: str = ""
    line: Optional[int] = None
    column: Optional[int] = None
    rule_id: str = ""
    name: str = ""
    metadata: Dict[str, Any] = field(default_factory=dict)
    version: str = "1"
    limits: Dict[str, Any] = field(default_factory=dict)
    #: "eql", "toml" or "jsonl": the rule's `source` in the engine.
    kind: str = "eql"

    @property
    def label(self) -> str:
        """Where the rule is, for people: a corpus line carries its rule's name."""
        if self.kind == "jsonl" and self.name and self.name != self.rule_id:
            return f"{self.location} ({self.name})"
        return self.location

    def failure(self) -> LoadFailure:
        return LoadFailure(self.file or self.location, self.line, self.column, self.problem or "")


@dataclass
class LoadReport:
    rules: List[EngineRule] = field(default_factory=list)
    failures: List[LoadFailure] = field(default_factory=list)
    skipped: List[Skipped] = field(default_factory=list)

    def extend(self, other: "LoadReport") -> None:
        self.rules += other.rules
        self.failures += other.failures
        self.skipped += other.skipped

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class LoadContext:
    """The schema and options rules are built for, plus rules that may be reused.

    `reuse` maps fingerprints to rules of the running set: a reload hands an
    unchanged rule over as it is (no recompilation, sequence state kept).
    """

    schema: Any
    config: EngineConfig
    reuse: Dict[str, EngineRule] = field(default_factory=dict)
    #: `size` / `max_samples_per_key` given to ``Engine.load``: they override
    #: a rule file's own (see :func:`limit_problem`).
    limits: Dict[str, int] = field(default_factory=dict)

    def compile_options(self) -> Any:
        """The compiler's view of the engine's event fields: which field holds
        the category, the timestamp (and its unit) and the tiebreaker."""
        from kestrel.compiler import CompileOptions

        c = self.config
        return CompileOptions(
            category_field=c.category_field,
            timestamp_field=c.timestamp_field,
            timestamp_unit=c.timestamp_unit,
            tiebreaker_field=c.tiebreaker_field,
        )

    def wasm_limits(self) -> Dict[str, Any]:
        return {
            "time_limit_ms": self.config.rule_time_limit_ms,
            "quarantine_after": self.config.quarantine_after,
            "memory_limit": self.config.rule_memory_limit,
        }


def limit_problem(key: str, value: Any) -> Optional[str]:
    """Why `value` is not a valid `size` or `max_samples_per_key`, or None.

    `size` is Elasticsearch's: the most results the rule returns (0 or
    more); `max_samples_per_key` the samples one join key of a sample rule
    yields (1 or more)."""
    least = LIMITS.get(key)
    if least is None:
        return f"unknown limit {key!r} (known: {', '.join(LIMITS)})"
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        return f"`{key}` must be a whole number >= {least}, not {value!r}"
    return None


def existing_path(target: Any) -> Optional[Path]:
    """`target` as a Path if it names a file or directory that exists, else None.

    A target may also be EQL text: text too long for a file name, or holding
    a NUL, makes the OS raise instead of answering "no", which means "not a path".
    """
    if not isinstance(target, (str, os.PathLike)):
        return None
    try:
        path = Path(target)
        return path if path.exists() else None
    except (OSError, ValueError):
        return None


def is_eql_text(target: Any) -> bool:
    """Whether a load target is EQL text rather than a path: a string that
    names nothing on disk and reads like a query (``... where ...``, or
    several lines)."""
    return isinstance(target, str) and existing_path(target) is None and (" where " in target or "\n" in target)


def fingerprint(*parts: Any) -> str:
    """A digest of what a rule is built from (text, bytes or JSON-able data)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def eql_failure(location: str, first_line: Optional[int], error: Any) -> LoadFailure:
    """A compile error placed in its file: query line L starts at file line `first_line`."""
    line, column = getattr(error, "line", None), getattr(error, "column", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error)
    reason = f"{code} {message}" if code else message
    if first_line is None or line is None:  # escaped inside the file (JSON): positions are the query's
        if line is not None:
            reason += f" (query line {line}, column {column})"
        return LoadFailure(location, first_line, None, reason)
    return LoadFailure(location, first_line + max(line, 1) - 1, column, reason)


def rule_from_query(
    context: LoadContext,
    report: LoadReport,
    *,
    rule_id: str,
    name: str,
    query: str,
    location: str,
    first_line: Optional[int] = 1,
    metadata: Optional[Dict[str, Any]] = None,
    version: str = "1",
    source: str = "eql",
    limits: Optional[Dict[str, Any]] = None,
    options: Any = None,
) -> None:
    """Compile EQL into an EngineRule (Wasm for event rules, the sequence engine otherwise).

    `limits` are the rule file's `size` / `max_samples_per_key`; those given
    to ``Engine.load`` (``context.limits``) win over them. `options` are
    compile options to use instead of the engine's (a loaded CompiledRule's).
    """
    import kestrel

    metadata = metadata or {}
    own = dict(limits or {})
    for key, value in own.items():
        problem = limit_problem(key, value)
        if problem is not None:
            report.failures.append(LoadFailure(location, first_line, None, problem))
            return
    limits = {**own, **context.limits}
    options = options or context.compile_options()
    digest = fingerprint("eql", rule_id, name, version, metadata, query, limits, _options_key(options))
    reused = context.reuse.get(digest)
    if reused is not None:
        report.rules.append(reused)
        return
    try:
        compiled = kestrel.compile(query, schema=context.schema, options=options)
    except KestrelError as error:
        report.failures.append(eql_failure(location, first_line, error))
        return
    except RecursionError:
        # The compiler refuses queries past its size limits first; this
        # keeps one rule that slips past them from aborting the whole load.
        report.failures.append(LoadFailure(location, first_line, None, "the query nests too deeply to compile"))
        return
    if "max_samples_per_key" in own and compiled.kind != "sample":
        reason = f"`max_samples_per_key` applies to sample rules only, not to a {compiled.kind} rule"
        report.failures.append(LoadFailure(location, first_line, None, reason))
        return
    try:
        evaluator = _evaluator(compiled, context, rule_id, limits.get("max_samples_per_key", 1))
    except KestrelError as error:
        report.failures.append(LoadFailure(location, first_line, None, f"cannot load: {error}"))
        return
    categories = () if compiled.metadata.any_category else tuple(compiled.categories)
    pipes = pipe_stages(((pipe.op, pipe.count) for pipe in compiled.ir.rule.pipes), limits.get("size"))
    report.rules.append(
        EngineRule(rule_id, name, compiled.kind, location, evaluator, categories, version, metadata, digest, source, pipes=pipes)
    )


def _options_key(options: Any) -> List[Any]:
    """What of the compile options changes a compiled rule, in a stable form."""
    return [
        options.category_field,
        options.timestamp_field,
        options.timestamp_unit,
        options.tiebreaker_field,
        options.strict,
        options.optimize,
        sorted(options.categories),
    ]


def _evaluator(compiled: Any, context: LoadContext, rule_id: str, max_samples_per_key: int = 1) -> Any:
    if compiled.kind == "event":
        from kestrel.runtime.wasm import WasmPredicate

        predicate = WasmPredicate.from_compiled(compiled, context.schema, rule_id=rule_id, limits=context.wasm_limits())
        return WasmEvaluator(predicate.rule, compiled.ir_json())
    from kestrel.runtime.sequence import SequenceRule

    config = context.config
    compiled = compiled.without_syntax_tree()  # kept for as long as the rule is loaded
    return SequenceEvaluator(
        SequenceRule(
            compiled,
            context.schema,
            rule_id=rule_id,
            shards=config.shards,
            max_out_of_order_ms=config.max_out_of_order,
            memory_budget=config.state_memory_budget,
            quotas=config.quotas,
            max_samples_per_key=max_samples_per_key,
        ),
        compiled.ir_json(),
    )
