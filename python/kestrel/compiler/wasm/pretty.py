"""Indent WAT S-expressions so generated modules read like hand-written ones.

A form that fits in `width` columns stays on one line; a longer one puts each
child form on its own line, one level deeper. The output is deterministic, so
snapshot tests can compare it verbatim.
"""

from __future__ import annotations

from typing import Optional, Union

Form = Union[str, list["Form"]]


def _parse(text: str) -> list[Form]:
    stack: list[list[Form]] = [[]]
    token = ""
    in_string = False
    for char in text:
        if in_string:
            token += char
            if char == '"' and not token.endswith('\\"'):
                in_string = False
            continue
        if char == '"':
            in_string = True
            token += char
        elif char in "()" or char.isspace():
            if token:
                stack[-1].append(token)
                token = ""
            if char == "(":
                stack.append([])
            elif char == ")":
                done = stack.pop()
                stack[-1].append(done)
        else:
            token += char
    return stack[0]


def _flat(form: Form, limit: Optional[int] = None) -> Optional[str]:
    """`form` on one line; None as soon as it is longer than `limit`.

    The limit keeps rendering linear: every form of a deep tree is asked
    whether it fits the line, and only its first `limit` characters matter.
    """
    # A loop, not recursion: generated code nests as deep as the rule's
    # expression, and each level of it is several forms deep here.
    if isinstance(form, str):
        return form if limit is None or len(form) <= limit else None
    parts: list[str] = []
    length = 0
    stack: list[Form] = [form]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            length += len(item)
            if limit is not None and length > limit:
                return None
            continue
        # Punctuation goes on the stack as text, like the atoms.
        stack.append(")")
        for index in range(len(item) - 1, -1, -1):
            stack.append(item[index])
            if index:
                stack.append(" ")
        parts.append("(")
        length += 1
    return "".join(parts)


def _render(form: Form, indent: int, width: int, out: list[str]) -> None:
    # (form, indent) pairs, plus None entries that close the form opened last.
    stack: list[Optional[tuple[Form, int]]] = [(form, indent)]
    while stack:
        item = stack.pop()
        if item is None:
            out[-1] += ")"
            continue
        form, indent = item
        pad = "  " * indent
        flat = _flat(form, max(width - len(pad), 0))
        if isinstance(form, str) or flat is not None:
            out.append(pad + (form if isinstance(form, str) else str(flat)))
            continue
        # Keep the head and its atom arguments (names, types) on the first line.
        head = []
        rest = list(form)
        while rest and (isinstance(rest[0], str) or _is_signature(rest[0])):
            head.append(_flat(rest.pop(0)) or "")
        out.append(pad + "(" + " ".join(head))
        stack.append(None)
        stack += [(child, indent + 1) for child in reversed(rest)]


def _is_signature(form: Form) -> bool:
    return isinstance(form, list) and bool(form) and form[0] in ("param", "result", "local", "export")


def pretty(text: str, width: int = 100) -> str:
    out: list[str] = []
    for form in _parse(text):
        _render(form, 0, width, out)
    return "\n".join(out) + "\n"
