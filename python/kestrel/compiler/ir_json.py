"""The IR's JSON form (documented in docs/ir.md) and its reader.

Predicates become one flat `nodes` array in dependency order (children before
parents); equal subtrees are emitted once, so the array is a DAG.  Strings,
sets, globs and regexes are pooled in tables that a code generator turns into
data segments and host-side matchers; nodes refer to them by index.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple, Union

from kestrel.compiler import ir
from kestrel.compiler.metadata import Metadata


class _Tables:
    """Interning tables shared by all predicates of one rule."""

    def __init__(self) -> None:
        self.nodes: List[Dict[str, Any]] = []
        self.node_ids: Dict[ir.Node, int] = {}
        self.strings: List[str] = []
        self.string_ids: Dict[str, int] = {}
        self.sets: List[Dict[str, Any]] = []
        self.globs: List[Dict[str, Any]] = []
        self.regexes: List[Dict[str, Any]] = []
        self._pooled: Dict[Tuple[object, ...], int] = {}

    def string(self, value: str) -> int:
        if value not in self.string_ids:
            self.string_ids[value] = len(self.strings)
            self.strings.append(value)
        return self.string_ids[value]

    def pooled(self, table: List[Dict[str, Any]], key: Tuple[object, ...], entry: Dict[str, Any]) -> int:
        if key not in self._pooled:
            self._pooled[key] = len(table)
            table.append(entry)
        return self._pooled[key]

    def node(self, node: ir.Node) -> int:
        """Emit `node` (and its children first); return its index."""
        found = self.node_ids.get(node)
        if found is not None:
            return found
        entry = self._encode(node)
        self.node_ids[node] = len(self.nodes)
        self.nodes.append(entry)
        return self.node_ids[node]

    def _encode(self, node: ir.Node) -> Dict[str, Any]:
        if isinstance(node, ir.Literal):
            entry: Dict[str, Any] = {"op": "Literal", "type": node.type, "value": encode_scalar(node.value)}
            if isinstance(node.value, str):
                entry["string"] = self.string(node.value)
            return entry
        if isinstance(node, ir.LoadField):
            return {"op": "LoadField", "field": node.field, "path": node.path, "type": node.type, "optional": node.optional}
        if isinstance(node, ir.Compare):
            left, right = self.node(node.left), self.node(node.right)
            return {"op": "Compare", "cmp": node.cmp, "left": left, "right": right, "case_insensitive": node.case_insensitive}
        if isinstance(node, ir.Logical):
            return {"op": "Logical", "logic": node.op, "operands": [self.node(o) for o in node.operands]}
        if isinstance(node, ir.Not):
            return {"op": "Not", "operand": self.node(node.operand)}
        if isinstance(node, ir.IsNull):
            return {"op": "IsNull", "operand": self.node(node.operand)}
        if isinstance(node, ir.Arithmetic):
            return {"op": "Arithmetic", "arith": node.op, "operands": [self.node(o) for o in node.operands]}
        if isinstance(node, ir.FunctionCall):
            args = [self.node(a) for a in node.args]
            return {"op": "FunctionCall", "name": node.name, "args": args, "case_insensitive": node.case_insensitive}
        operand = self.node(node.operand)
        if isinstance(node, ir.InSet):
            values = [encode_scalar(v) for v in node.values]
            key: Tuple[object, ...] = ("set", node.case_insensitive, tuple((type(v).__name__, v) for v in node.values))
            index = self.pooled(
                self.sets,
                key,
                {"values": values, "types": [ir.literal_type(v) for v in node.values], "case_insensitive": node.case_insensitive},
            )
            return {"op": "InSet", "operand": operand, "set": index, "case_insensitive": node.case_insensitive}
        if isinstance(node, ir.WildcardMatch):
            key = ("glob", node.case_insensitive, node.patterns)
            index = self.pooled(self.globs, key, {"patterns": list(node.patterns), "case_insensitive": node.case_insensitive})
            return {"op": "WildcardMatch", "operand": operand, "glob": index, "case_insensitive": node.case_insensitive}
        if isinstance(node, ir.RegexMatch):
            key = ("regex", node.case_insensitive, node.translated)
            entry = {
                "patterns": list(node.patterns),
                "translated": list(node.translated),
                "case_insensitive": node.case_insensitive,
            }
            index = self.pooled(self.regexes, key, entry)
            return {"op": "RegexMatch", "operand": operand, "regex": index, "case_insensitive": node.case_insensitive}
        raise TypeError(f"cannot encode {type(node).__name__}")


def encode_scalar(value: Union[str, int, float, bool, None]) -> Union[str, int, float, bool, None]:
    """JSON has no NaN or infinities; they travel as strings in f64 literals."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _field_ref(ref: ir.FieldRef) -> Dict[str, Any]:
    return {"field": ref.field, "path": ref.path, "type": ref.type, "optional": ref.optional}


def _step(step: ir.Step, tables: _Tables) -> Dict[str, Any]:
    return {
        "category": step.category,
        "predicate": tables.node(step.predicate),
        "by": [_field_ref(key) for key in step.by],
        "runs": step.runs,
        "missing": step.missing,
    }


def program_to_dict(program: ir.Program, metadata: Metadata) -> Dict[str, Any]:
    """The versioned JSON document for a compiled rule, as a dict."""
    tables = _Tables()
    rule = program.rule
    rule_json = {
        "kind": rule.kind,
        "steps": [_step(step, tables) for step in rule.steps],
        "by": [_field_ref(key) for key in rule.by],
        "maxspan_ns": rule.maxspan_ns,
        "until": _step(rule.until, tables) if rule.until is not None else None,
        "pipes": [{"op": pipe.op, "count": pipe.count} for pipe in rule.pipes],
    }
    fields = program.event_fields
    return {
        "ir_version": ir.IR_VERSION,
        "schema": {"name": program.schema_name, "version": program.schema_version},
        "event_fields": {
            "category": _field_ref(fields.category),
            "timestamp": dict(_field_ref(fields.timestamp), unit=fields.timestamp_unit),
            "tiebreaker": _field_ref(fields.tiebreaker) if fields.tiebreaker else None,
        },
        "rule": rule_json,
        "nodes": tables.nodes,
        "strings": tables.strings,
        "sets": tables.sets,
        "globs": tables.globs,
        "regexes": tables.regexes,
        "metadata": {
            "categories": list(metadata.categories),
            "any_category": metadata.any_category,
            "fields": [_field_ref(ref) for ref in metadata.fields],
            "required_fields": list(metadata.required_fields),
        },
    }


def program_to_json(program: ir.Program, metadata: Metadata, *, indent: Optional[int] = None) -> str:
    return json.dumps(program_to_dict(program, metadata), indent=indent, ensure_ascii=False, allow_nan=False)


# ---- reading ---------------------------------------------------------------------


class IRFormatError(ValueError):
    """The document is not a valid IR of a supported version."""


def _decode_scalar(kind: str, value: Any) -> Any:
    if kind == "f64" and isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    if kind == "f64" and isinstance(value, int):
        return float(value)
    return value


def rule_from_dict(document: Dict[str, Any]) -> ir.Rule:
    """Rebuild the rule descriptor and predicates from a JSON document.

    Used by tests to prove the JSON is self-contained: the interpreter gives
    the same answers on the decoded rule as on the original.
    """
    if document.get("ir_version") != ir.IR_VERSION:
        raise IRFormatError(f"unsupported ir_version {document.get('ir_version')!r}")
    nodes: List[ir.Node] = []
    for entry in document["nodes"]:
        nodes.append(_decode_node(entry, nodes, document))

    def ref(entry: Dict[str, Any]) -> ir.FieldRef:
        return ir.FieldRef(entry["field"], entry["path"], entry["type"], entry["optional"])

    def step(entry: Dict[str, Any]) -> ir.Step:
        return ir.Step(
            entry["category"], nodes[entry["predicate"]], tuple(ref(k) for k in entry["by"]), entry["runs"], entry["missing"]
        )

    rule = document["rule"]
    return ir.Rule(
        rule["kind"],
        tuple(step(s) for s in rule["steps"]),
        tuple(ref(k) for k in rule["by"]),
        rule["maxspan_ns"],
        step(rule["until"]) if rule["until"] else None,
        tuple(ir.Pipe(p["op"], p["count"]) for p in rule["pipes"]),
    )


def _decode_node(entry: Dict[str, Any], nodes: List[ir.Node], document: Dict[str, Any]) -> ir.Node:
    op = entry["op"]
    if op == "Literal":
        return ir.Literal(_decode_scalar(entry["type"], entry["value"]))
    if op == "LoadField":
        return ir.LoadField(entry["field"], entry["path"], entry["type"], entry["optional"])
    if op == "Compare":
        return ir.Compare(entry["cmp"], nodes[entry["left"]], nodes[entry["right"]], entry["case_insensitive"])
    if op == "Logical":
        return ir.Logical(entry["logic"], tuple(nodes[i] for i in entry["operands"]))
    if op == "Not":
        return ir.Not(nodes[entry["operand"]])
    if op == "IsNull":
        return ir.IsNull(nodes[entry["operand"]])
    if op == "Arithmetic":
        return ir.Arithmetic(entry["arith"], tuple(nodes[i] for i in entry["operands"]))
    if op == "FunctionCall":
        return ir.FunctionCall(entry["name"], tuple(nodes[i] for i in entry["args"]), entry["case_insensitive"])
    operand = nodes[entry["operand"]]
    if op == "InSet":
        table = document["sets"][entry["set"]]
        values = tuple(_decode_scalar(t, v) for t, v in zip(table["types"], table["values"]))
        return ir.InSet(operand, values, entry["case_insensitive"])
    if op == "WildcardMatch":
        return ir.WildcardMatch(operand, tuple(document["globs"][entry["glob"]]["patterns"]), entry["case_insensitive"])
    if op == "RegexMatch":
        table = document["regexes"][entry["regex"]]
        return ir.RegexMatch(operand, tuple(table["patterns"]), tuple(table["translated"]), entry["case_insensitive"])
    raise IRFormatError(f"unknown node op {op!r}")
