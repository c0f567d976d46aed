"""Run compiled EQL (or hand-written modules) in the core's Wasm runtime.

`WasmPredicate` ties a generated module to the tables its ids refer to and
loads it into `kestrel._core.WasmRule`, which evaluates whole batches inside
the core with the GIL released.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Optional

from kestrel._core import EventBatch, Matches, Schema, WasmRule
from kestrel.compiler.wasm import WasmModuleSource, generate_module

if TYPE_CHECKING:
    from kestrel.compiler.compiled import CompiledRule


class WasmPredicate:
    """A compiled rule loaded as a Wasm instance for one schema."""

    def __init__(self, rule: WasmRule, source: Optional[WasmModuleSource] = None) -> None:
        self.rule = rule
        self.source = source

    @classmethod
    def from_compiled(
        cls,
        compiled: "CompiledRule",
        schema: Schema,
        *,
        rule_id: str = "eql",
        limits: Optional[dict[str, Any]] = None,
    ) -> "WasmPredicate":
        doc = json.loads(compiled.ir_json())
        source = generate_module(compiled)
        rule = WasmRule(
            source.wat.encode(),
            rule_id=rule_id,
            schema=schema,
            fields=[path for path, _ in source.fields],
            literals=source.literals,
            globs=[(g["patterns"], g["case_insensitive"]) for g in doc["globs"]],
            regexes=[(r["translated"], r["case_insensitive"]) for r in doc["regexes"]],
            # Only all-string sets are looked up by the host; the others are
            # evaluated in the core and keep their slot so ids line up.
            sets=[(s["values"] if all(t == "string" for t in s["types"]) else [], s["case_insensitive"]) for s in doc["sets"]],
            categories=source.categories,
            ir_json=compiled.ir_json(),
            **(limits or {}),
        )
        return cls(rule, source)

    def evaluate(self, batch: EventBatch, filter: int = 0) -> Matches:
        """Indices of the events that pass `filter` (0 for event rules)."""
        return self.rule.evaluate(batch, filter)

    def capture(self, batch: EventBatch, index: int) -> dict[str, Any]:
        return self.rule.capture(batch, index)
