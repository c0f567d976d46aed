"""Hypothesis strategies: batches of ECS-ish events aimed at one compiled rule.

For each field the rule reads, values are drawn to hit the rule half the
time: strings from the literals, set members, wildcard patterns (wildcards
filled in) and regexes compared with that field, with their case changed;
numbers near the rule's numeric literals; addresses inside its CIDR blocks.
The rest is noise, arrays, nulls and missing fields.

Every value has the type the schema gives its field (an auto-typed field
gets one type per batch), so the batch decoder stores exactly what the
Python interpreter sees in the event dicts.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any, Dict, List, Set, Tuple

from hypothesis import strategies as st

import kestrel
from kestrel.compiler.ir import step_list

I64 = (-(2**63), 2**63 - 1)
# Noise, with a few characters whose case mapping is unusual.
NOISE = st.text(alphabet="abcXYZ019 .-_\\/:*?%\"'éÄß", max_size=10)
CASES = [str, str, str, str.upper, str.lower, str.swapcase]  # as written half the time


class Pools:
    """The constants a rule compares each field with (by path), plus all of them."""

    def __init__(self) -> None:
        self.strings: Dict[str, Set[str]] = {}
        self.numbers: Dict[str, Set[Any]] = {}
        self.regexes: Dict[str, Set[str]] = {}
        self.all_strings: Set[str] = set()
        self.all_numbers: Set[Any] = {0, 1}

    def add(self, path: str, value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, str):
            self.strings.setdefault(path, set()).add(value)
            self.all_strings.add(value)
        elif isinstance(value, (int, float)):
            self.numbers.setdefault(path, set()).add(value)
            self.all_numbers.add(value)


def fill(pattern: str, filler: str) -> str:
    return pattern.replace("*", filler).replace("?", (filler or "x")[:1])


def cidr_addresses(block: str) -> List[str]:
    """The first address of a CIDR block, one a little inside, and one just past it."""
    try:
        network = ipaddress.ip_network(block, strict=False)
    except ValueError:
        return [block]
    inside = network.network_address + min(5, network.num_addresses - 1)
    last = int(network.broadcast_address) == 2**network.max_prefixlen - 1
    outside = network.network_address if last else network.broadcast_address + 1
    return [str(network.network_address), str(inside), str(outside)]


def rule_pools(document: Dict[str, Any]) -> Pools:
    """Walk the IR document: which constants meet which field."""
    nodes = document["nodes"]
    pools = Pools()

    def field_of(index: int):
        node = nodes[index]
        return node["path"] if node["op"] == "LoadField" else None

    def literal(index: int):
        node = nodes[index]
        return node.get("value") if node["op"] == "Literal" else None

    for node in nodes:
        op = node["op"]
        if op == "Compare":
            for a, b in ((node["left"], node["right"]), (node["right"], node["left"])):
                if field_of(a):
                    pools.add(field_of(a), literal(b))
        elif op in ("InSet", "WildcardMatch", "RegexMatch") and field_of(node["operand"]):
            path = field_of(node["operand"])
            if op == "InSet":
                for value in document["sets"][node["set"]]["values"]:
                    pools.add(path, value)
            elif op == "WildcardMatch":
                for pattern in document["globs"][node["glob"]]["patterns"]:
                    for filler in ("", "q", "\\x.Y"):
                        pools.add(path, fill(pattern, filler))
            else:
                pools.regexes.setdefault(path, set()).update(document["regexes"][node["regex"]]["translated"])
        elif op == "FunctionCall" and node["args"] and field_of(node["args"][0]):
            path = field_of(node["args"][0])
            for arg in node["args"][1:]:
                value = literal(arg)
                if node["name"] == "cidrMatch" and isinstance(value, str):
                    for address in cidr_addresses(value):
                        pools.add(path, address)
                else:
                    pools.add(path, value)
                    if isinstance(value, str):  # glue it into a longer text too
                        pools.add(path, f"x{value}y")
    return pools


def _regex_text(pattern: str) -> st.SearchStrategy:
    try:
        return st.from_regex(re.compile(pattern, re.DOTALL), fullmatch=True).filter(lambda s: len(s) < 60)
    except Exception:  # a pattern hypothesis cannot generate from
        return NOISE


def _cased(pool: Set[str]) -> st.SearchStrategy:
    return st.tuples(st.sampled_from(sorted(pool)), st.sampled_from(CASES)).map(lambda p: p[1](p[0]))


def string_values(path: str, pools: Pools, ip: bool) -> st.SearchStrategy:
    near = []
    if pools.strings.get(path):
        near.append(_cased(pools.strings[path]))
    if pools.regexes.get(path):
        near.extend(_regex_text(p) for p in sorted(pools.regexes[path])[:4] if len(p) < 300)
    far = [NOISE]
    if pools.all_strings:
        far.append(_cased(pools.all_strings))
    if ip:
        far.append(st.sampled_from(["10.0.0.1", "192.168.1.20", "127.0.0.1", "8.8.8.8", "::1", "fe80::1", "not-an-ip"]))
    if near:
        hit = st.one_of(near)
        return st.one_of(hit, hit, hit, hit, st.one_of(far))
    return st.one_of(far)


def int_values(path: str, pools: Pools, low: int, high: int) -> st.SearchStrategy:
    anchors = sorted(int(n) for n in pools.numbers.get(path, pools.all_numbers) if isinstance(n, (int, float)) and abs(n) < 2**62)
    near = st.tuples(st.sampled_from(anchors or [0]), st.integers(-2, 2)).map(sum)
    return st.one_of(near, near, near, st.integers(low, high), st.sampled_from([low, high, 0, -1])).filter(
        lambda n: low <= n <= high
    )


def float_values(path: str, pools: Pools) -> st.SearchStrategy:
    anchors = sorted(float(n) for n in pools.numbers.get(path, pools.all_numbers) if abs(n) < 1e300)
    near = st.tuples(st.sampled_from(anchors or [0.0]), st.sampled_from([-0.5, 0.0, 0.25, 1.0])).map(sum)
    return st.one_of(near, st.floats(allow_nan=False, allow_infinity=False))


def scalar_values(path: str, kind: str, pools: Pools) -> st.SearchStrategy:
    if kind == "int":
        return int_values(path, pools, *I64)
    if kind == "u64":
        return int_values(path, pools, 0, 2**64 - 1)
    if kind == "float":
        return float_values(path, pools)
    if kind == "bool":
        return st.booleans()
    return string_values(path, pools, ip=kind == "ip")


SCHEMA_KINDS = {"i64": "int", "u64": "u64", "f64": "float", "bool": "bool", "ip": "ip"}


MISSING = object()


def field_values(path: str, kind: str, pools: Pools) -> st.SearchStrategy:
    """A field's value in one event: usually a scalar, sometimes an array, null or missing."""
    scalar = scalar_values(path, kind, pools)
    items = st.lists(st.one_of(scalar, scalar, scalar, st.none()), max_size=4)
    nested = items.filter(lambda xs: 0 < len(xs) < 3).map(lambda xs: [xs])  # flattened like ES
    weighted = [scalar] * 8 + [items] * 4 + [nested, st.just(MISSING), st.none()]
    return st.one_of(weighted)


def event_batches(document: Dict[str, Any], pools: Pools, categories: List[str]) -> st.SearchStrategy:
    """1 to 4 events (flat dotted keys) over the rule's fields.

    The strategies are built once per rule; building them per draw would
    dominate the run time.
    """
    category_path = document["event_fields"]["category"]["path"]
    per_kind: Dict[str, Dict[str, st.SearchStrategy]] = {}
    for ref in document["metadata"]["fields"]:
        # An auto-typed field gets one type per batch, drawn below.
        kinds = ["str", "int", "float", "bool"] if ref["type"] == "unknown" else [SCHEMA_KINDS.get(ref["type"], "str")]
        per_kind[ref["path"]] = {kind: field_values(ref["path"], kind, pools) for kind in kinds}
    unknown_kind = st.sampled_from(["str", "str", "str", "int", "float", "bool"])
    category = st.sampled_from(categories) if categories else st.just(MISSING)
    with_category = st.one_of(category, st.just(MISSING))

    @st.composite
    def batches(draw):
        chosen = {
            path: kinds[draw(unknown_kind)] if len(kinds) > 1 else next(iter(kinds.values())) for path, kinds in per_kind.items()
        }
        events = []
        for _ in range(draw(st.integers(1, 4))):
            event = {path: value for path, values in chosen.items() if (value := draw(values)) is not MISSING}
            if category_path not in per_kind and (value := draw(with_category)) is not MISSING:
                event[category_path] = value
            events.append(event)
        return events

    return batches()


@lru_cache(maxsize=None)
def _default_schema() -> kestrel.Schema:
    return kestrel.Schema.default()


def compiled_with_batches(query: str) -> Tuple[Any, kestrel.Schema, st.SearchStrategy]:
    """`query` compiled on its own copy of the default schema, that schema,
    and a strategy for batches of events aimed at the rule (in the
    categories its filters name, and `network`)."""
    schema = _default_schema().copy()
    compiled = kestrel.compile(query, schema=schema)
    document = compiled.ir_dict()
    categories = sorted({s.category for s in step_list(compiled.ir.rule) if s.category} | {"network"})
    return compiled, schema, event_batches(document, rule_pools(document), categories)
