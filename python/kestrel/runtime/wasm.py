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
from kestrel.packages.constants import HostConstants

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
        ir_json = compiled.ir_json()
        source = generate_module(compiled)
        rule = WasmRule(
            source.wat.encode(),
            rule_id=rule_id,
            schema=schema,
            fields=source.field_paths,
            categories=source.categories,
            ir_json=ir_json,
            **HostConstants.from_ir(json.loads(ir_json), source.literals).wasm_tables(),
            **(limits or {}),
        )
        return cls(rule, source)

    def evaluate(self, batch: EventBatch, filter: int = 0, candidates: Optional[Matches] = None) -> Matches:
        """Indices of the events that pass `filter` (0 for event rules), among
        `candidates` when given (the rest are taken not to pass)."""
        return self.rule.evaluate(batch, filter, candidates)

    def capture(self, batch: EventBatch, index: int) -> dict[str, Any]:
        return self.rule.capture(batch, index)
