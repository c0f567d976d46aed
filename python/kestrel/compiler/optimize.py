"""Optimisation passes over IR predicates.

Each pass is a pure function Node -> Node that must not change the result of
evaluating the predicate on any event; tests/compiler/test_optimize.py
checks every pass on random predicates and events with the reference
interpreter.

* :func:`fold_constants` evaluates subtrees that read no field, in the core
  (:mod:`constant_eval`).
* :func:`plain_patterns_to_equality`: a `:`/`like` pattern without `*` or `?`
  is an equality with the same case flag.
* :func:`merge_wildcards`: `or`-ed wildcard matches on one operand become one
  multi-pattern WildcardMatch.
* :func:`equalities_to_set`: `or`-ed equalities of one operand against
  constants become one hashed InSet.
* :func:`simplify_booleans`: Kleene identities (`x and true` = `x`,
  `not not x` = `x`, flattening, duplicate removal).
* :func:`remove_dead_branches`: absorbing constants (`x and false` = `false`)
  and absorption (`a or (a and b)` = `a`).

All identities used hold in three-valued logic; `x and not x` = `false`, for
example, does *not* (it is null when x is null) and is not used.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union, cast

from kestrel.compiler import ir
from kestrel.compiler.constant_eval import NotAScalar, constant_value

Pass = Callable[[ir.Node], ir.Node]


def rewrite(node: ir.Node, local: Pass) -> ir.Node:
    """Apply `local` bottom-up: children first, then the rebuilt node.

    Lowering shares subtrees (`f(x) in (a, b)` tests one `f(x)` twice), so
    a predicate is a DAG; each shared node is rewritten once, or nested
    sharing would cost time exponential in its depth.
    """
    # Keyed by id: every original node stays alive (under `node`) meanwhile.
    return _rewrite(node, local, {})


def _rewrite(node: ir.Node, local: Pass, done: Dict[int, ir.Node]) -> ir.Node:
    found = done.get(id(node))
    if found is not None:
        return found
    original = node
    old = ir.children(node)
    if old:
        new = [_rewrite(child, local, done) for child in old]
        if any(a is not b for a, b in zip(old, new)):
            node = _with_children(node, new)
    result = local(node)
    done[id(original)] = result
    return result


def _with_children(node: ir.Node, kids: List[ir.Node]) -> ir.Node:
    if not kids:
        return node
    if isinstance(node, ir.Compare):
        return ir.Compare(node.cmp, kids[0], kids[1], node.case_insensitive)
    if isinstance(node, ir.Logical):
        return ir.Logical(node.op, tuple(kids))
    if isinstance(node, ir.Arithmetic):
        return ir.Arithmetic(node.op, tuple(kids))
    if isinstance(node, ir.FunctionCall):
        return ir.FunctionCall(node.name, tuple(kids), node.case_insensitive)
    if isinstance(node, ir.Not):
        return ir.Not(kids[0])
    if isinstance(node, ir.IsNull):
        return ir.IsNull(kids[0])
    if isinstance(node, ir.InSet):
        return ir.InSet(kids[0], node.values, node.case_insensitive)
    if isinstance(node, ir.WildcardMatch):
        return ir.WildcardMatch(kids[0], node.patterns, node.case_insensitive)
    if isinstance(node, ir.RegexMatch):
        return ir.RegexMatch(kids[0], node.patterns, node.translated, node.case_insensitive)
    raise TypeError(f"unexpected node {type(node).__name__}")


# ---- constant folding -----------------------------------------------------------


def _fold_local(node: ir.Node) -> ir.Node:
    if isinstance(node, (ir.Literal, ir.LoadField)):
        return node
    if all(isinstance(child, ir.Literal) for child in ir.children(node)):
        try:
            return ir.Literal(constant_value(node))
        except NotAScalar:  # alternatives cannot come from literals, but be safe
            pass
    return node


def fold_constants(node: ir.Node) -> ir.Node:
    return rewrite(node, _fold_local)


# ---- pattern rewrites --------------------------------------------------------------


def _has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _plain_local(node: ir.Node) -> ir.Node:
    if isinstance(node, ir.WildcardMatch) and len(node.patterns) == 1 and not _has_wildcard(node.patterns[0]):
        return ir.Compare("eq", node.operand, ir.Literal(node.patterns[0]), node.case_insensitive)
    return node


def plain_patterns_to_equality(node: ir.Node) -> ir.Node:
    return rewrite(node, _plain_local)


def _merge_local(node: ir.Node) -> ir.Node:
    if not (isinstance(node, ir.Logical) and node.op == "or"):
        return node
    if sum(isinstance(operand, ir.WildcardMatch) for operand in node.operands) < 2:
        return node
    groups: Dict[Tuple[ir.Node, bool], Dict[str, None]] = {}  # dicts as ordered sets
    merged: List[Union[ir.Node, Tuple[ir.Node, bool]]] = []
    for operand in node.operands:
        if isinstance(operand, ir.WildcardMatch):
            key = (operand.operand, operand.case_insensitive)
            if key not in groups:
                groups[key] = {}
                merged.append(key)
            groups[key].update(dict.fromkeys(operand.patterns))
        else:
            merged.append(operand)
    operands = tuple(
        ir.WildcardMatch(item[0], tuple(groups[item]), item[1]) if isinstance(item, tuple) else item for item in merged
    )
    return _logical("or", operands)


def merge_wildcards(node: ir.Node) -> ir.Node:
    return rewrite(node, _merge_local)


def _constant_equality(node: ir.Node) -> Optional[Tuple[ir.Node, Union[str, int, float, bool], bool]]:
    """(operand, value, case flag) if `node` is `operand == constant`, else None."""
    if not isinstance(node, ir.Compare) or node.cmp != "eq":
        return None
    left, right = node.left, node.right
    if isinstance(left, ir.Literal) and not isinstance(right, ir.Literal):
        left, right = right, left
    if isinstance(right, ir.Literal) and right.value is not None and not isinstance(left, ir.Literal):
        return left, right.value, node.case_insensitive
    return None


def _set_local(node: ir.Node) -> ir.Node:
    if not (isinstance(node, ir.Logical) and node.op == "or"):
        return node
    groups: Dict[Tuple[ir.Node, bool], Dict[Tuple[type, object], object]] = {}  # (type, value) -> value, ordered
    merged: List[object] = []
    for operand in node.operands:
        found = _constant_equality(operand)
        values: List[Any]
        if isinstance(operand, ir.InSet):
            found_key = (operand.operand, operand.case_insensitive)
            values = list(operand.values)
        elif found is not None:
            found_key = (found[0], found[2])
            values = [found[1]]
        else:
            merged.append(operand)
            continue
        if found_key not in groups:
            groups[found_key] = {}
            merged.append(found_key)
        # Keyed by type too: 1, 1.0 and True are equal in Python but not in EQL.
        groups[found_key].update(((type(v), v), v) for v in values)
    operands: List[ir.Node] = []
    for item in merged:
        if isinstance(item, tuple) and item in groups:
            operand, case_insensitive = item
            members = list(groups[item].values())
            if len(members) == 1:
                operands.append(ir.Compare("eq", operand, ir.Literal(members[0]), case_insensitive))  # type: ignore[arg-type]
            else:
                operands.append(ir.InSet(operand, tuple(members), case_insensitive))  # type: ignore[arg-type]
        else:
            operands.append(cast(ir.Node, item))
    return _logical("or", tuple(operands))


def equalities_to_set(node: ir.Node) -> ir.Node:
    return rewrite(node, _set_local)


# ---- boolean simplification -----------------------------------------------------------


def _logical(op: str, operands: Sequence[ir.Node]) -> ir.Node:
    if len(operands) == 1:
        return operands[0]
    if not operands:
        return ir.TRUE if op == "and" else ir.FALSE
    return ir.Logical(op, tuple(operands))


def _simplify_local(node: ir.Node) -> ir.Node:
    if isinstance(node, ir.Not) and isinstance(node.operand, ir.Not):
        return node.operand.operand
    if not isinstance(node, ir.Logical):
        return node
    identity = ir.TRUE if node.op == "and" else ir.FALSE
    operands: List[ir.Node] = []
    seen: Set[ir.Node] = set()  # a set, not the list: chains of thousands of terms
    for operand in node.operands:
        parts = operand.operands if isinstance(operand, ir.Logical) and operand.op == node.op else (operand,)
        for part in parts:
            if part == identity:
                continue
            if part not in seen:
                seen.add(part)
                operands.append(part)
    return _logical(node.op, operands)


def simplify_booleans(node: ir.Node) -> ir.Node:
    return rewrite(node, _simplify_local)


def _dead_local(node: ir.Node) -> ir.Node:
    if not isinstance(node, ir.Logical):
        return node
    absorbing = ir.FALSE if node.op == "and" else ir.TRUE
    if any(isinstance(o, ir.Literal) and o.value is absorbing.value for o in node.operands):
        return absorbing
    # Absorption: in `a or (a and b)` the inner conjunction can never decide.
    dual = "or" if node.op == "and" else "and"
    if not any(isinstance(o, ir.Logical) and o.op == dual for o in node.operands):
        return node
    siblings = set(node.operands)
    kept = [
        operand
        for operand in node.operands
        if not (isinstance(operand, ir.Logical) and operand.op == dual and any(o in siblings for o in operand.operands))
    ]
    return _logical(node.op, kept)


def remove_dead_branches(node: ir.Node) -> ir.Node:
    return rewrite(node, _dead_local)


#: The local rewrites, in the order they are tried at each node.  Folding
#: comes again last because the other rewrites can expose constant subtrees.
LOCAL_REWRITES: Tuple[Pass, ...] = (
    _fold_local,
    _plain_local,
    _merge_local,
    _set_local,
    _simplify_local,
    _dead_local,
    _fold_local,
)


def _applicable(node_type: type) -> Tuple[Pass, ...]:
    """The rewrites that can change a node of this type (the rest return it as is)."""
    if node_type is ir.Logical:
        return LOCAL_REWRITES
    if node_type is ir.Not:
        return (_fold_local, _simplify_local)
    if node_type is ir.WildcardMatch:
        return (_fold_local, _plain_local, _fold_local)
    return (_fold_local,)


_BY_TYPE = {
    node_type: _applicable(node_type)
    for node_type in (
        ir.Literal,
        ir.LoadField,
        ir.Compare,
        ir.Logical,
        ir.Not,
        ir.Arithmetic,
        ir.FunctionCall,
        ir.InSet,
        ir.WildcardMatch,
        ir.RegexMatch,
        ir.IsNull,
    )
}


def _all_local(node: ir.Node) -> ir.Node:
    for local in _BY_TYPE[type(node)]:
        node = local(node)
        if type(node) is ir.Literal:
            break
    return node


def optimize(node: ir.Node) -> ir.Node:
    """Run every rewrite in one bottom-up walk.

    Each local rewrite preserves meaning on its own (the tests check each pass
    separately), so applying them all at every node does too.
    """
    return rewrite(node, _all_local)


def optimize_rule(rule: ir.Rule) -> ir.Rule:
    """Optimise every predicate of a rule."""

    def step(s: ir.Step) -> ir.Step:
        return ir.Step(s.category, optimize(s.predicate), s.by, s.runs, s.missing)

    return ir.Rule(
        rule.kind,
        tuple(step(s) for s in rule.steps),
        rule.by,
        rule.maxspan_ns,
        step(rule.until) if rule.until is not None else None,
        rule.pipes,
    )
