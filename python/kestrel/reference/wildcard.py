"""EQL wildcard patterns (`:`, `like`, `like~`).

`*` matches any run of characters (including none) and `?` exactly one.  As
in Elasticsearch there is no escape: a backslash is an ordinary character, so
`"C:\\\\Windows\\\\*"` means the folder's contents.  A pattern without `*` or
`?` is a plain (case-insensitive, for `:`) equality.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Pattern


@lru_cache(maxsize=4096)
def glob_regex(pattern: str, case_insensitive: bool) -> Pattern[str]:
    """A compiled Python regex that full-matches exactly what `pattern` does."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(parts), flags)
