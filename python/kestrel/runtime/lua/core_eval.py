"""Attaching the core's IR evaluator to a rule's HostContext, for ``kestrel.eval_node``.

Generated Lua hands functions, arithmetic and comparisons whose types are
only known per event to the core: ``eval_node(ctx, batch, ev, node)``
evaluates IR node `node` with the evaluator attached to `ctx`. Without one it
returns null. The evaluator (``kestrel._core.IrProgram``) is the Rust IR
evaluator; this is the one place that knows how to attach it.
"""

from __future__ import annotations

import json
from typing import Any, Dict

from kestrel import HostContext, Schema, _core

#: (owner, method) pairs that attach an IrProgram to a HostContext, in the
#: order tried. The binding is not settled yet; whichever lands first works.
_ATTACH = (("HostContext", "attach_evaluator"), ("IrProgram", "attach"))


def core_evaluator_available() -> bool:
    """True once the core exports its IR evaluator and a way to attach it to a HostContext."""
    return hasattr(_core, "IrProgram") and any(hasattr(getattr(_core, owner), method) for owner, method in _ATTACH)


def attach_core_evaluator(context: HostContext, ir: Dict[str, Any], schema: Schema) -> bool:
    """Make `context` evaluate the nodes of `ir`; False when the core has no evaluator yet."""
    if not core_evaluator_available():
        return False
    program = _core.IrProgram(json.dumps(ir), schema)
    if hasattr(context, "attach_evaluator"):
        context.attach_evaluator(program)
    else:
        program.attach(context)  # type: ignore[attr-defined]
    return True
