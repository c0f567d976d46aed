"""Facts about a compiled rule that the engine uses before evaluating it.

* the event categories the rule can match (or "any");
* the fields it reads, and those it requires (not marked `?optional`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from kestrel.compiler import ir


@dataclass(frozen=True)
class Metadata:
    categories: Tuple[str, ...]
    any_category: bool
    fields: Tuple[ir.FieldRef, ...]
    required_fields: Tuple[str, ...]


def collect(rule: ir.Rule) -> Metadata:
    """Compute the metadata of an (optimised) rule."""
    steps = ir.step_list(rule)
    categories = sorted({step.category for step in steps if step.category is not None})
    any_category = any(step.category is None for step in steps)
    fields = _fields(rule)
    required = sorted({ref.path for ref in fields.values() if not ref.optional})
    return Metadata(tuple(categories), any_category, tuple(sorted(fields.values(), key=lambda r: r.field)), tuple(required))


def _fields(rule: ir.Rule) -> Dict[int, ir.FieldRef]:
    """Every field the rule reads; a field is optional only if every use is."""
    found: Dict[int, ir.FieldRef] = {}

    def note(ref: ir.FieldRef) -> None:
        previous = found.get(ref.field)
        optional = ref.optional and (previous is None or previous.optional)
        found[ref.field] = ir.FieldRef(ref.field, ref.path, ref.type, optional)

    for step in ir.step_list(rule):
        for node in ir.distinct_nodes(step.predicate):
            if isinstance(node, ir.LoadField):
                note(ir.FieldRef(node.field, node.path, node.type, node.optional))
        for key in step.by:
            note(key)
    for key in rule.by:
        note(key)
    return found
