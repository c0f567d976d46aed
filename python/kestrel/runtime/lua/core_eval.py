"""Attaching the core's IR evaluator to a rule's HostContext, for ``kestrel.eval_node``.

Generated Lua hands functions, arithmetic and comparisons whose types are
only known per event to the core: ``eval_node(ctx, batch, ev, node)``
evaluates IR node `node` with the evaluator attached to `ctx`. The evaluator (``kestrel._core.IrProgram``) is the Rust IR
evaluator; this is the one place that knows how to attach it.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from kestrel import HostContext, Schema, _core


def attach_core_evaluator(context: HostContext, ir: Dict[str, Any], schema: Schema) -> None:
    """Make `context` evaluate the nodes of `ir` (compiled against `schema`)."""
    _core.IrProgram(json.dumps(ir), schema).attach(context)
