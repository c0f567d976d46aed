"""Hypothesis strategies: random ECS events aimed at one compiled rule.

Values are drawn from the rule's own constants (string literals, set members,
wildcard patterns with their wildcards filled in, in both cases) mixed with
noise, so that predicates are true, false and null often enough for a
comparison between runtimes to mean something. Text is ASCII: Unicode case
folding is the host's (tested in tests/core) and differs from Python's
`str.lower` on a few code points by design.
"""

from __future__ import annotations

import string
from typing import Any, Dict, List

from hypothesis import strategies as st

_NOISE = st.text(alphabet=string.ascii_letters + string.digits + " .-_\\/:*?", max_size=12)
_IPS = ["10.0.0.1", "192.168.1.20", "127.0.0.1", "8.8.8.8", "::1", "fe80::1", "172.16.5.4"]


def _fill(pattern: str, filler: str) -> str:
    return pattern.replace("*", filler).replace("?", filler[:1] or "x")


def _string_pool(document: Dict[str, Any]) -> List[str]:
    pool = set(document["strings"])
    for entry in document["sets"]:
        pool.update(v for v in entry["values"] if isinstance(v, str))
    for entry in document["globs"]:
        for pattern in entry["patterns"]:
            pool.update({_fill(pattern, ""), _fill(pattern, "ab"), _fill(pattern, "\\x")})
    pool.update({text.upper() for text in list(pool)} | {text.lower() for text in list(pool)})
    return sorted(pool) or ["x"]


def _numbers(document: Dict[str, Any]) -> List[int]:
    found = {0, 1, 1000, 4242}
    for node in document["nodes"]:
        if node["op"] == "Literal" and node["type"] == "i64":
            found.update({node["value"] - 1, node["value"], node["value"] + 1})
    for entry in document["sets"]:
        found.update(v for v, t in zip(entry["values"], entry["types"]) if t == "i64")
    return sorted(found)


def value_strategy(kind: str, strings: List[str], numbers: List[int]) -> st.SearchStrategy:
    pooled = st.sampled_from(strings)
    # Mostly the rule's own constants, sometimes several glued together (so
    # that `x : "*a*" and x : "*b*"` can hold), sometimes noise.
    text = st.one_of(pooled, pooled, pooled, st.lists(pooled, min_size=2, max_size=3).map("".join), _NOISE)
    if kind == "i64":
        return st.one_of(st.sampled_from(numbers), st.integers(-(2**40), 2**40))
    if kind == "f64":
        return st.one_of(st.sampled_from([float(n) for n in numbers]), st.floats(-1e6, 1e6, allow_nan=False))
    if kind == "bool":
        return st.booleans()
    if kind == "ip":
        return st.sampled_from(_IPS)
    if kind == "string":
        return st.one_of(text, st.lists(text, min_size=1, max_size=3))
    # unknown (auto-typed) fields: keep one type per field within a batch is not
    # guaranteed, so stay with strings, the common case in the corpus.
    return text


def _nest(flat: Dict[str, Any]) -> Dict[str, Any]:
    event: Dict[str, Any] = {}
    for path, value in flat.items():
        node = event
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            if not isinstance(node.get(leaf), dict):
                node[leaf] = value
    return event


def field_kinds(document: Dict[str, Any]) -> Dict[str, str]:
    """Path -> value type. An auto-typed ("unknown") field takes the type of the
    literals it is compared with, so that one batch holds one type per field
    (mixed types are the core evaluator's business, through eval_node)."""
    kinds = {ref["path"]: ref["type"] for ref in document["metadata"]["fields"]}
    seen: Dict[str, set] = {}
    nodes = document["nodes"]
    for node in nodes:
        pairs = []
        if node["op"] == "Compare":
            pairs = [(nodes[node["left"]], nodes[node["right"]]), (nodes[node["right"]], nodes[node["left"]])]
        for field, literal in pairs:
            if field["op"] == "LoadField" and literal["op"] == "Literal" and literal["type"] != "null":
                seen.setdefault(field["path"], set()).add(literal["type"])
        if node["op"] == "InSet" and nodes[node["operand"]]["op"] == "LoadField":
            seen.setdefault(nodes[node["operand"]]["path"], set()).update(document["sets"][node["set"]]["types"])
    for path, types in seen.items():
        if kinds.get(path) == "unknown" and len(types) == 1:
            kinds[path] = types.pop()
    return {path: ("string" if kind == "unknown" else kind) for path, kind in kinds.items()}


def events_for(document: Dict[str, Any], categories: List[str]) -> st.SearchStrategy:
    """Events with the rule's fields (each maybe missing or null) and categories.

    Categories are mostly the rule's own, from `categories` otherwise.
    """
    strings, numbers = _string_pool(document), _numbers(document)
    fields = field_kinds(document)
    paths = [p for p in fields if not any(other.startswith(p + ".") for other in fields)]
    category_path = document["event_fields"]["category"]["path"]
    optional = {
        path: st.one_of(st.none(), *[value_strategy(fields[path], strings, numbers)] * 6)
        for path in paths
        if path != category_path
    }
    own = sorted(set(document["metadata"]["categories"])) or categories
    category = st.lists(st.one_of(st.sampled_from(own), st.sampled_from(own), st.sampled_from(categories)), max_size=2)
    flat = st.fixed_dictionaries({category_path: category}, optional=optional)
    return flat.map(_nest)


# ---- events built to satisfy (or falsify) the predicate --------------------------
#
# Random values rarely satisfy a conjunction of several patterns, so most
# examples also get a "witness": field values chosen by walking the predicate
# towards a wanted truth value, then perturbed (fields dropped, nulled or
# replaced with noise), so the two runtimes meet true, false and null results.


def _noise_of(kind: str) -> st.SearchStrategy:
    """A value of the field's type (a value the batch would reject is another test's business)."""
    return value_strategy(kind, ["x"], [0, 1]) if kind in ("i64", "f64", "bool", "ip") else _NOISE


def _case(draw, text: str, case_insensitive: bool) -> str:
    if case_insensitive and draw(st.booleans()):
        return text.upper() if draw(st.booleans()) else text.lower()
    return text


def _set(assign: Dict[str, Any], path: str, value: Any, glue: bool = False) -> None:
    previous = assign.get(path)
    if glue and isinstance(previous, str) and isinstance(value, str):
        value = previous + " " + value  # several patterns on one field can all hold
    assign[path] = value


def _witness(draw, doc: Dict[str, Any], node_id: int, want: bool, assign: Dict[str, Any]) -> None:
    node = doc["nodes"][node_id]
    op = node["op"]
    if op == "Logical":
        operands = node["operands"]
        all_must_hold = (node["logic"] == "and") == want
        chosen = operands if all_must_hold else [draw(st.sampled_from(operands))]
        for child in chosen:
            _witness(draw, doc, child, want, assign)
    elif op == "Not":
        _witness(draw, doc, node["operand"], not want, assign)
    elif op == "IsNull":
        operand = doc["nodes"][node["operand"]]
        if operand["op"] == "LoadField":
            assign[operand["path"]] = None if want else draw(_noise_of(field_kinds(doc).get(operand["path"], "string")))
    elif op in ("Compare", "InSet", "WildcardMatch", "FunctionCall"):
        _leaf_witness(draw, doc, node, want, assign)


def _leaf_witness(draw, doc: Dict[str, Any], node: Dict[str, Any], want: bool, assign: Dict[str, Any]) -> None:
    nodes = doc["nodes"]
    operand_ids = (
        [node["left"], node["right"]]
        if node["op"] == "Compare"
        else (node["args"] if node["op"] == "FunctionCall" else [node["operand"]])
    )
    fields = [nodes[i] for i in operand_ids if nodes[i]["op"] == "LoadField"]
    literals = [nodes[i] for i in operand_ids if nodes[i]["op"] == "Literal"]
    if len(fields) != 1:
        return
    path, ci = fields[0]["path"], node.get("case_insensitive", False)
    if not want:
        _set(assign, path, draw(_noise_of(field_kinds(doc).get(path, "string"))))
        return
    if node["op"] == "WildcardMatch":
        pattern = draw(st.sampled_from(doc["globs"][node["glob"]]["patterns"]))
        _set(assign, path, _case(draw, _fill(pattern, draw(st.sampled_from(["", "ab", "-x-"]))), ci), glue=True)
    elif node["op"] == "InSet":
        value = draw(st.sampled_from(doc["sets"][node["set"]]["values"]))
        _set(assign, path, _case(draw, value, ci) if isinstance(value, str) else value)
    elif literals and literals[0]["type"] == "string":
        text = _case(draw, literals[0]["value"], ci)
        if node["op"] == "FunctionCall":
            text = draw(st.sampled_from([text, "pre" + text, text + "post"]))
        _set(assign, path, text, glue=node["op"] == "FunctionCall" and node["name"] == "stringContains")
    elif literals and literals[0]["type"] == "i64" and node["op"] == "Compare":
        shift = {"eq": 0, "gt": 1, "ge": 0, "lt": -1, "le": 0, "ne": 1}[node["cmp"]]
        if nodes[node["left"]]["op"] == "Literal":
            shift = -shift
        _set(assign, path, literals[0]["value"] + shift)


@st.composite
def witness_events(draw, document: Dict[str, Any], base: st.SearchStrategy) -> Dict[str, Any]:
    """An event from `base`, overlaid with values steering filter 0 to a drawn truth value."""
    event = draw(base)
    step = document["rule"]["steps"][0]
    assign: Dict[str, Any] = {}
    _witness(draw, document, step["predicate"], draw(st.sampled_from([True, True, False])), assign)
    flat: Dict[str, Any] = {}
    for path, value in assign.items():
        fate = draw(st.sampled_from(["keep"] * 8 + ["drop", "null"]))
        if fate != "drop":
            flat[path] = None if fate == "null" else value
    if step["category"] is not None and draw(st.integers(0, 9)) > 0:
        flat[document["event_fields"]["category"]["path"]] = [step["category"]]
    overlay = _nest(flat)
    return _merge(event, overlay)


def _merge(base: Dict[str, Any], overlay: Dict[str, Any]) -> Dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
