"""The value of a constant subtree, computed by the core.

The optimizer folds a subtree that reads no field into a literal. Its value
comes from the core's IR evaluator (`kestrel-ir`), the production home of
EQL's semantics, so a semantic fix made there reaches folded constants too.
The subtree travels as a one-step IR document and is evaluated for an empty
event.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Tuple, Union, cast

from kestrel import _core
from kestrel.compiler import ir
from kestrel.compiler.ir_json import program_to_dict
from kestrel.compiler.metadata import Metadata

Scalar = Union[str, int, float, bool, None]

_NO_METADATA = Metadata((), True, (), ())
# Any fields serve: a constant subtree reads none of them.
_EVENT_FIELDS = ir.EventFields(ir.FieldRef(0, "event.category"), ir.FieldRef(1, "@timestamp"))


@lru_cache(maxsize=1)
def _empty_event() -> Tuple[_core.Schema, _core.EventBatch]:
    schema = _core.Schema.default()
    return schema, _core.EventBatch.from_dicts([{}], schema=schema)


class NotAScalar(ValueError):
    """The subtree's value has several alternatives, which no literal holds."""


def constant_value(node: ir.Node) -> Scalar:
    """The value of `node`, which must read no field; null for an error, as in EQL."""
    # IsNull gives the step a boolean predicate whatever `node`'s type is.
    rule = ir.Rule("event", (ir.Step(None, ir.IsNull(node)),))
    document = program_to_dict(ir.Program(rule, _EVENT_FIELDS), _NO_METADATA)
    predicate = document["nodes"][document["rule"]["steps"][0]["predicate"]]
    schema, event = _empty_event()
    program = _core.IrProgram(json.dumps(document, allow_nan=False), schema)
    value = program.value(event, 0, predicate["operand"])
    if isinstance(value, list):
        raise NotAScalar(f"{len(value)} alternatives")
    return cast(Scalar, value)
