"""The Host API v1 imports a generated module declares (see rules/README.md)."""

#: name -> (params, results) in WAT types. Order is the order of declaration.
HOST_IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "category_is": (("i32", "i32"), ("i32",)),
    "event_is_null": (("i32", "i32"), ("i32",)),
    "cmp_i64": (("i32", "i32", "i32", "i64"), ("i32",)),
    "cmp_f64": (("i32", "i32", "i32", "f64"), ("i32",)),
    "str_eq": (("i32", "i32", "i32", "i32"), ("i32",)),
    "str_contains": (("i32", "i32", "i32", "i32"), ("i32",)),
    "str_starts_with": (("i32", "i32", "i32", "i32"), ("i32",)),
    "str_ends_with": (("i32", "i32", "i32", "i32"), ("i32",)),
    "glob_match_field": (("i32", "i32", "i32"), ("i32",)),
    "re_match_field": (("i32", "i32", "i32"), ("i32",)),
    "set_contains": (("i32", "i32", "i32"), ("i32",)),
    "eval_node": (("i32", "i32"), ("i32",)),
    "capture_field": (("i32", "i32"), ()),
    "match_emit": (("i32", "i32"), ()),
}


def import_declarations(used: set[str]) -> list[str]:
    """WAT import lines for the imports a module uses, in a stable order."""
    lines = []
    for name, (params, results) in HOST_IMPORTS.items():
        if name not in used:
            continue
        sig = "".join(f" (param {p})" for p in params) + "".join(f" (result {r})" for r in results)
        lines.append(f'(import "kestrel" "{name}" (func ${name}{sig}))')
    return lines
