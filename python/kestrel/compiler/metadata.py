"""Facts about a compiled rule that the engine uses before evaluating it.

* the event categories the rule can match (or "any");
* the fields it reads, and those it requires (not marked `?optional`);
* for each filter, literal strings that any matching event must contain,
  as a conjunction of alternatives, for substring prefiltering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from kestrel.compiler import ir
from kestrel.compiler.wildcard import literal_chunks


@dataclass(frozen=True)
class LiteralNeed:
    """Field `path` must contain `literal` (compared case-insensitively if flagged)."""

    field: int
    path: str
    literal: str
    case_insensitive: bool


#: A requirement is satisfied when any one of its alternatives is.
Requirement = Tuple[LiteralNeed, ...]


@dataclass(frozen=True)
class Metadata:
    categories: Tuple[str, ...]
    any_category: bool
    fields: Tuple[ir.FieldRef, ...]
    required_fields: Tuple[str, ...]
    required_literals: Tuple[Tuple[Requirement, ...], ...]


def collect(rule: ir.Rule) -> Metadata:
    """Compute the metadata of an (optimised) rule."""
    steps = ir.step_list(rule)
    categories = sorted({step.category for step in steps if step.category is not None})
    any_category = any(step.category is None for step in steps)
    fields = _fields(rule)
    required = sorted({ref.path for ref in fields.values() if not ref.optional})
    literals = tuple(tuple(necessary_literals(step.predicate)) for step in rule.steps)
    return Metadata(
        tuple(categories), any_category, tuple(sorted(fields.values(), key=lambda r: r.field)), tuple(required), literals
    )


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


def necessary_literals(node: ir.Node) -> List[Requirement]:
    """Requirements every event matching `node` satisfies, strongest first."""
    if isinstance(node, ir.Logical):
        parts = [necessary_literals(operand) for operand in node.operands]
        if node.op == "and":
            merged = [requirement for part in parts for requirement in part]
            return sorted(merged, key=_strength, reverse=True)
        if all(parts):
            alternatives = tuple(need for part in parts for need in part[0])
            return [alternatives]
        return []
    single = _leaf_requirement(node)
    return [single] if single else []


def _strength(requirement: Requirement) -> int:
    return min(len(need.literal) for need in requirement)


def _leaf_requirement(node: ir.Node) -> Optional[Requirement]:
    if isinstance(node, ir.Compare) and node.cmp == "eq":
        load, literal = _field_and_literal(node.left, node.right)
        if load is not None and isinstance(literal, str) and literal:
            return (LiteralNeed(load.field, load.path, literal, node.case_insensitive),)
    elif isinstance(node, ir.InSet) and isinstance(node.operand, ir.LoadField):
        strings = [v for v in node.values if isinstance(v, str) and v]
        if len(strings) == len(node.values):
            return tuple(LiteralNeed(node.operand.field, node.operand.path, v, node.case_insensitive) for v in strings)
    elif isinstance(node, ir.WildcardMatch) and isinstance(node.operand, ir.LoadField):
        chunks = [max(literal_chunks(p), key=len, default="") for p in node.patterns]
        if all(chunks):
            return tuple(LiteralNeed(node.operand.field, node.operand.path, c, node.case_insensitive) for c in chunks)
    elif isinstance(node, ir.FunctionCall) and node.name in ("startsWith", "endsWith", "stringContains") and len(node.args) == 2:
        source, needle = node.args
        if isinstance(source, ir.LoadField) and isinstance(needle, ir.Literal) and isinstance(needle.value, str) and needle.value:
            return (LiteralNeed(source.field, source.path, needle.value, node.case_insensitive),)
    return None


def _field_and_literal(left: ir.Node, right: ir.Node):
    if isinstance(right, ir.LoadField):
        left, right = right, left
    if isinstance(left, ir.LoadField) and isinstance(right, ir.Literal):
        return left, right.value
    return None, None
