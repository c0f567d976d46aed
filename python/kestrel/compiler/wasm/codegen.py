"""IR → WAT: one function per filter, the connectives inline, Host API calls for the leaves.

The generator works from the IR's JSON form (a flat, dependency-ordered node
array), so node ids in the generated code are the IR's own and the core's IR
evaluator can take over any subtree by id.

A filter function answers one question, "is the predicate true?", as an i32
0/1; connectives ask their operands "true?" or, under `not`, "false?" (see
`_Function.truth`), so three-valued logic never has to be accumulated. A
leaf gives an i32 *tri*: 1 true, 0 false, -1 null. The leaves that dominate
real rules (a field against a literal, a wildcard list, a regex, a set, a
null check, a string function over a field and a literal) are single host
calls that work in place on the batch; everything else (arithmetic, other
functions, expression-to-expression comparisons) is delegated with
`eval_node`, so every rule compiles and keeps the interpreter's semantics
exactly. Where testing the rule index's anchors last changes a filter, a
second function serves `pred_eval_candidates` (see rules/README.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Optional, cast

from kestrel import _core
from kestrel.compiler.wasm.imports import import_declarations
from kestrel.compiler.wasm.pretty import pretty

#: Comparison codes shared with the host's cmp_i64/cmp_f64.
CMP_CODES = {"eq": 0, "ne": 1, "lt": 2, "le": 3, "gt": 4, "ge": 5}
#: The comparison seen from the other side (`1 < x` is `x > 1`).
FLIPPED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
#: Field types whose values the host's text operations read as text.
TEXT_TYPES = {"string", "ip", "timestamp", "date_nanos", "version"}
#: Of those, the types whose equality and order are their mapping's, not the
#: text's (dates as instants, addresses, versions): the core's evaluator
#: compares them, so the host's text equality and sets are not used.
TYPED_TYPES = {"ip", "timestamp", "date_nanos", "version"}
NUMERIC_TYPES = {"i64", "u64", "f64"}
#: Boolean string functions with a direct host call when applied to (field, literal).
STRING_FUNCTIONS = {"startsWith": "str_starts_with", "endsWith": "str_ends_with", "stringContains": "str_contains"}
#: Kind codes of the leaf table, declared by the core (rust/kestrel-wasm/src/leaves.rs).
LEAF_KINDS = {name: code for code, name in enumerate(_core.wasm_leaf_kinds())}
#: Leaves beyond this many are plain host calls (the core's own cap is higher).
MAX_LEAVES = 4096
#: Where the leaf slots start in linear memory; address 0 stays unused.
SLOTS_AT = 16


@dataclass
class WasmModuleSource:
    """A generated module and the tables its ids refer to."""

    wat: str
    #: (dotted path, schema FieldId) of local field ids 1, 2, ... in order.
    #: Local ids start at 1, as package field tables do (0 is never used).
    fields: list[tuple[str, int]]
    #: Literal id → text: the IR's string table, then the category names.
    literals: list[str]
    #: The category each filter requires (None: any), in export order:
    #: the steps, then `until`.
    categories: list[Optional[str]]

    @property
    def filters(self) -> int:
        return len(self.categories)

    @property
    def field_paths(self) -> list[str]:
        """Paths indexed by local id, as the Wasm host takes them ("" for the unused id 0)."""
        return ["", *(path for path, _ in self.fields)]


@dataclass
class _Module:
    doc: dict[str, Any]
    used: set[str] = field(default_factory=set)
    fields: dict[int, int] = field(default_factory=dict)  # schema id -> local id
    paths: dict[int, str] = field(default_factory=dict)
    literals: list[str] = field(default_factory=list)
    #: Leaf table entries, (kind, filter, field, a, b, rhs bits); slot k is leaf k.
    leaves: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)
    #: Slots of the leaves a filter tests first, on every event.
    first_tests: set[int] = field(default_factory=set)

    def leaf_slot(self, entry: tuple[int, int, int, int, int, int], first: bool) -> Optional[int]:
        """The slot address of a leaf the core may evaluate ahead, or None when the table is full."""
        if entry not in self.leaves:
            if len(self.leaves) >= MAX_LEAVES:
                return None
            self.leaves.append(entry)
        slot = self.leaves.index(entry)
        if first:
            self.first_tests.add(slot)
        return SLOTS_AT + 4 * slot

    def local_field(self, node: dict[str, Any]) -> int:
        schema_id = node["field"]
        if schema_id not in self.fields:
            self.fields[schema_id] = len(self.fields) + 1
            self.paths[schema_id] = node["path"]
        return self.fields[schema_id]

    def literal(self, text: str) -> int:
        if text not in self.literals:
            self.literals.append(text)
        return self.literals.index(text)

    def call(self, name: str, *args: str) -> str:
        self.used.add(name)
        return f"(call ${name} {' '.join(args)})"


class _Function:
    """Code generation state for one filter function: its block labels."""

    def __init__(self, module: _Module, filter: int) -> None:
        self.module = module
        self.filter = filter
        self.nodes = module.doc["nodes"]
        self.labels = 0
        #: The node whose code is being generated, and the filter's first test.
        self.current: Optional[int] = None
        self.first: Optional[int] = None

    def label(self) -> str:
        self.labels += 1
        return f"$b{self.labels}"

    # ---- predicates ----------------------------------------------------------------

    def truth(self, index: int, want: int, anchors_last: bool = False) -> str:
        """An i32 that is 1 when node `index` evaluates to `want` (1: is it
        true? 0: is it false?) and 0 otherwise.

        A filter only asks whether its predicate is true, so three-valued
        results need not be carried up: `a and b` is true when both are
        true and false when either is false, `or` the reverse, and `not x`
        is true exactly when x is false. Each connective therefore stops at
        the first operand that settles the question, a null included, which
        Kleene accumulation could not. Operands go cheapest first: none has
        side effects, so the order changes the cost, never the answer.

        With `anchors_last`, a top-level `and` tests its membership
        conjuncts (the rule index's anchors) after everything else: events
        the index selected have passed its check of them already, so they
        are tested first only where that check could have been loose.
        """
        node = self.nodes[index]
        op = node["op"]
        if self.first is None:
            self.first = self.first_test(index)
        if op == "Literal":
            return f"(i32.const {int(_literal_truth(node) == want)})"
        if op == "Not":
            return self.truth(node["operand"], 1 - want)
        if op == "Logical":
            every = (node["logic"] == "and") == (want == 1)  # all operands must answer yes
            label = self.label()
            parts = []
            order = (lambda o: (self.is_membership(o), self.cost(o))) if anchors_last and every else self.cost
            for operand in sorted(node["operands"], key=order):
                test = self.truth(operand, want)
                parts.append(f"(if {f'(i32.eqz {test})' if every else test} (then (br {label} (i32.const {int(not every)}))))")
            return f"(block {label} (result i32) {' '.join(parts)} (i32.const {int(every)}))"
        return f"(i32.eq {self.tri(index)} (i32.const {want}))"

    def first_test(self, index: int) -> int:
        """The node `truth(index)` evaluates first, whatever the event: down
        through `not` and each connective's cheapest operand."""
        node = self.nodes[index]
        if node["op"] == "Not":
            return self.first_test(node["operand"])
        if node["op"] == "Logical":
            return self.first_test(min(node["operands"], key=self.cost))
        return index

    def tri(self, index: int) -> str:
        """Node `index`'s three-valued result (1, 0, -1 null): one host call."""
        self.current = index
        fast = self.leaf(self.nodes[index])
        if fast is not None:
            return fast
        return self.module.call("eval_node", "(local.get $ev)", f"(i32.const {index})")

    def is_membership(self, index: int) -> bool:
        """Whether node `index` is `field in {strings}` (or an `or` of such):
        the conditions the rule index anchors on (rust/kestrel-index/src/anchor.rs)."""
        node = self.nodes[index]
        op = node["op"]
        doc = self.module.doc
        if op == "Logical":
            return node["logic"] == "or" and all(self.is_membership(o) for o in node["operands"])
        if op == "InSet":
            return self.nodes[node["operand"]]["op"] == "LoadField" and all(
                t == "string" for t in doc["sets"][node["set"]]["types"]
            )
        if op == "WildcardMatch":
            patterns = doc["globs"][node["glob"]]["patterns"]
            return self.nodes[node["operand"]]["op"] == "LoadField" and not any("*" in p or "?" in p for p in patterns)
        if op == "Compare" and node["cmp"] == "eq":
            sides = {self.nodes[node["left"]]["op"], self.nodes[node["right"]]["op"]}
            literal = self.nodes[node["right"] if self.nodes[node["left"]]["op"] == "LoadField" else node["left"]]
            return sides == {"LoadField", "Literal"} and _is_string(literal)
        return False

    def cost(self, index: int) -> int:
        """A rough relative cost of evaluating node `index`, for ordering."""
        node = self.nodes[index]
        op = node["op"]
        if op == "Literal":
            return 0
        if op == "Not":
            return self.cost(node["operand"])
        if op == "Logical":
            return sum(self.cost(o) for o in node["operands"])
        # Asking registers the leaf's import, which its operand's code needs
        # anyway; it is not yet the code being generated.
        self.current = None
        if self.leaf(node) is None:
            return 50  # delegated to the core's IR evaluator (functions, arithmetic)
        if op == "RegexMatch":
            return 30
        if op == "WildcardMatch":
            return 4 + len(self.module.doc["globs"][node["glob"]]["patterns"])
        return {"IsNull": 1, "Compare": 2, "InSet": 3}.get(op, 5)

    def leaf(self, node: dict[str, Any]) -> str | None:
        """A single host call for the common leaf shapes, or None."""
        op = node["op"]
        if op == "IsNull":
            target = self.nodes[node["operand"]]
            if target["op"] == "LoadField":
                return self.host_leaf("event_is_null", target)
            return None
        if op in ("WildcardMatch", "RegexMatch", "InSet"):
            target = self.nodes[node["operand"]]
            if target["op"] != "LoadField" or base_type(target) not in TEXT_TYPES:
                return None
            if op == "WildcardMatch":
                return self.host_leaf("glob_match_field", target, node["glob"])
            if op == "RegexMatch":
                return self.host_leaf("re_match_field", target, node["regex"])
            if base_type(target) not in TYPED_TYPES and all(t == "string" for t in self.module.doc["sets"][node["set"]]["types"]):
                return self.host_leaf("set_contains", target, node["set"])
            return None
        if op == "Compare":
            return self.compare(node)
        if op == "FunctionCall" and node["name"] in STRING_FUNCTIONS and len(node["args"]) == 2:
            source, needle = (self.nodes[a] for a in node["args"])
            if source["op"] == "LoadField" and base_type(source) in TEXT_TYPES and _is_string(needle):
                return self.host_leaf(STRING_FUNCTIONS[node["name"]], source, needle["string"], int(node["case_insensitive"]))
        return None

    def compare(self, node: dict[str, Any]) -> str | None:
        left, right = self.nodes[node["left"]], self.nodes[node["right"]]
        cmp = node["cmp"]
        if right["op"] == "LoadField" and left["op"] == "Literal":
            left, right, cmp = right, left, FLIPPED[cmp]
        if left["op"] != "LoadField" or right["op"] != "Literal":
            return None
        if cmp == "eq" and base_type(left) in TEXT_TYPES - TYPED_TYPES and _is_string(right):
            return self.host_leaf("str_eq", left, right["string"], int(node["case_insensitive"]))
        if left["type"] in NUMERIC_TYPES and right["type"] in ("i64", "f64") and isinstance(right["value"], (int, float)):
            code = CMP_CODES[cmp]
            if right["type"] == "i64" and left["type"] != "f64":
                value = int(right["value"])
                return self.host_leaf("cmp_i64", left, code, rhs=value & (2**64 - 1), rhs_code=f"(i64.const {value})")
            number = float(right["value"])
            bits = struct.unpack("<Q", struct.pack("<d", number))[0]
            return self.host_leaf("cmp_f64", left, code, rhs=bits, rhs_code=f"(f64.const {number!r})")
        return None

    def field(self, node: dict[str, Any]) -> str:
        return f"(i32.const {self.module.local_field(node)})"

    def host_leaf(self, name: str, field_node: dict[str, Any], *args: int, rhs: int = 0, rhs_code: str = "") -> str:
        """The host call `name(ev, field, *args[, rhs])`, read from the core's
        precomputed results when it evaluated the leaf ahead for this call
        (the leaf's slot holds their address), else called."""
        local = self.module.local_field(field_node)
        operands = [f"(i32.const {a})" for a in args] + ([rhs_code] if rhs_code else [])
        call = self.module.call(name, "(local.get $ev)", f"(i32.const {local})", *operands)
        a, b = (list(args) + [0, 0])[:2]
        first = self.current is not None and self.current == self.first
        slot = self.module.leaf_slot((LEAF_KINDS[name], self.filter, local, a, b, rhs), first)
        if slot is None:
            return call
        return (
            f"(if (result i32) (local.tee $r (i32.load (i32.const {slot}))) "
            f"(then (i32.load8_s (i32.add (local.get $r) (local.get $ev)))) (else {call}))"
        )


def base_type(node: dict[str, Any]) -> str:
    """A field node's type without a date's format (`timestamp:epoch_second` -> `timestamp`)."""
    return str(node["type"]).split(":", 1)[0]


def _literal_truth(node: dict[str, Any]) -> int:
    """A literal in a boolean position: true/false, and null for everything else."""
    if node["type"] == "bool":
        return 1 if node["value"] else 0
    return -1


def _is_string(node: dict[str, Any]) -> bool:
    return cast(bool, node["op"] == "Literal" and node["type"] == "string")  # the document's values are untyped JSON


def _filters(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rule = doc["rule"]
    return list(rule["steps"]) + ([rule["until"]] if rule["until"] else [])


def generate(doc: dict[str, Any]) -> WasmModuleSource:
    """Generate the module for one compiled rule's IR document."""
    module = _Module(doc, literals=list(doc["strings"]))
    # Every field the rule reads gets a local id, including those only read
    # inside subtrees delegated to the core, so captures can report them.
    for ref in doc["metadata"]["fields"]:
        module.local_field(ref)
    functions = []
    filters = _filters(doc)
    # Per filter, the function that tests the rule index's candidates: $f{n}
    # itself unless putting the anchors last changes its code.
    for_candidates = []
    for n, step in enumerate(filters):
        body = _Function(module, n).truth(step["predicate"], 1)
        functions.append(f"(func $f{n} (param $ev i32) (result i32) (local $r i32)\n    {body})")
        anchors_last = _Function(module, n).truth(step["predicate"], 1, anchors_last=True)
        if anchors_last != body:
            functions.append(f"(func $g{n} (param $ev i32) (result i32) (local $r i32)\n    {anchors_last})")
        for_candidates.append(f"g{n}" if anchors_last != body else f"f{n}")
        # The category test, for callers that offer events one at a time.
        check = "(i32.const 1)"
        if step["category"] is not None:
            check = module.call("category_is", "(local.get $ev)", f"(i32.const {module.literal(step['category'])})")
        functions.append(
            f"(func $c{n} (param $ev i32) (result i32)\n"
            f"    (if (result i32) {check} (then (call $f{n} (local.get $ev))) (else (i32.const 0))))"
        )
    # Compiled EQL keeps no state, so initialisation has nothing to do; the
    # export is there because the predicate ABI promises it.
    exports = ['(func (export "pred_init") (result i32)\n    (i32.const 0))']
    for n in range(len(filters)):
        name = "pred_eval" if n == 0 else f"pred_eval_{n}"
        exports.append(
            f'(func (export "{name}") (param $ev i32) (result i32)\n    (i32.eq (call $c{n} (local.get $ev)) (i32.const 1)))'
        )
    exports.append(_batch_loop(module, len(filters)))
    exports.append(_list_loop("pred_eval_list", [f"f{n}" for n in range(len(filters))]))
    exports.append(_list_loop("pred_eval_candidates", for_candidates))
    exports.append(_capture(module))
    lines = ["(module", *("  " + line for line in import_declarations(module.used))]
    lines += ["  " + line for line in _memory_layout(module.leaves, module.first_tests)]
    lines += ["  " + f.replace("\n", "\n  ") for f in functions + exports]
    lines.append(")")
    fields = sorted(((local, module.paths[sid], sid) for sid, local in module.fields.items()))
    return WasmModuleSource(
        wat=pretty("\n".join(lines)),
        fields=[(path, sid) for _, path, sid in fields],
        literals=module.literals,
        categories=[step["category"] for step in filters],
    )


def _memory_layout(leaves: list[tuple[int, int, int, int, int, int]], first_tests: set[int]) -> list[str]:
    """Linear memory: the leaf slots and table (rust/kestrel-wasm/src/leaves.rs),
    then the scratch space where the core writes the candidate and match
    lists and the leaf results, growing it to fit a batch."""
    table_at = SLOTS_AT + 4 * len(leaves)
    table = struct.pack("<II", len(leaves), SLOTS_AT) + b"".join(
        struct.pack("<IIiiiIQ", kind, filter, field, a, b, int(slot in first_tests), rhs)
        for slot, (kind, filter, field, a, b, rhs) in enumerate(leaves)
    )
    scratch = -(-(table_at + len(table)) // 65536) * 65536
    escaped = "".join(f"\\{byte:02x}" for byte in table)
    return [
        f'(memory (export "memory") {scratch // 65536})',
        f'(global (export "pred_leaves") i32 (i32.const {table_at}))',
        f'(global (export "pred_scratch") i32 (i32.const {scratch}))',
        f'(data (i32.const {table_at}) "{escaped}")',
    ]


def _dispatch(functions: list[str]) -> str:
    """Call `functions[filter]($ev)`; an unknown filter matches nothing."""
    dispatch = "(i32.const 0)"
    for n in reversed(range(len(functions))):
        dispatch = (
            f"(if (result i32) (i32.eq (local.get $filter) (i32.const {n})) "
            f"(then (call ${functions[n]} (local.get $ev))) (else {dispatch}))"
        )
    return dispatch


def _list_loop(name: str, functions: list[str]) -> str:
    """`{name}(filter, in, count, out) -> matched`, testing each event with
    `functions[filter]`.

    The core writes candidate event indexes (already filtered by category)
    at `in`; matches are written at `out`. One call per batch, and no host
    call per event beyond the predicate's own leaves. `pred_eval_list` is
    for events the core picked by category alone; `pred_eval_candidates`
    for the rule index's candidates.
    """
    return (
        f'(func (export "{name}") (param $filter i32) (param $in i32) (param $count i32) (param $out i32) (result i32)\n'
        "    (local $i i32) (local $n i32) (local $ev i32)\n"
        "    (block $done (loop $next\n"
        "      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))\n"
        "      (local.set $ev (i32.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))\n"
        f"      (if (i32.eq {_dispatch(functions)} (i32.const 1))\n"
        "        (then (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))) (local.get $ev))\n"
        "              (local.set $n (i32.add (local.get $n) (i32.const 1)))))\n"
        "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
        "      (br $next)))\n"
        "    (local.get $n))"
    )


def _batch_loop(module: _Module, count: int) -> str:
    """`pred_eval_batch(filter, start, end)`: events `start..end` in one call, matches via `match_emit`."""
    module.used.add("match_emit")
    return (
        '(func (export "pred_eval_batch") (param $filter i32) (param $start i32) (param $end i32) (result i32)\n'
        "    (local $ev i32) (local $n i32)\n"
        "    (local.set $ev (local.get $start))\n"
        "    (block $done (loop $next\n"
        "      (br_if $done (i32.ge_u (local.get $ev) (local.get $end)))\n"
        f"      (if (i32.eq {_dispatch([f'c{n}' for n in range(count)])} (i32.const 1))\n"
        "        (then (call $match_emit (local.get $filter) (local.get $ev))\n"
        "              (local.set $n (i32.add (local.get $n) (i32.const 1)))))\n"
        "      (local.set $ev (i32.add (local.get $ev) (i32.const 1)))\n"
        "      (br $next)))\n"
        "    (local.get $n))"
    )


def _capture(module: _Module) -> str:
    """`pred_capture(ev)`: report every field the rule reads."""
    module.used.add("capture_field")
    calls = " ".join(f"(call $capture_field (local.get $ev) (i32.const {local}))" for local in sorted(module.fields.values()))
    return f'(func (export "pred_capture") (param $ev i32)\n    {calls})'
