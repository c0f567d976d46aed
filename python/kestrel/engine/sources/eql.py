"""Bare ``.eql`` files, EQL text handed to ``engine.load`` directly, and
compiled rules (``engine.load(kestrel.compile(query))``).

The rule id and name are the file's stem. The ``//`` comment lines that open
the file are its header: ``// size: 10`` and ``// max_samples_per_key: 2``
set the rule's limits (as the same keys of a TOML rule or a package manifest
do), and the first other comment line, as the bundled rules have, becomes
the name::

    // Three processes of one user, in any order.
    // max_samples_per_key: 2
    sample by user.name [process where true] [file where true] [network where true]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, RuleSource, rule_from_query
from kestrel.packages.manifest import LIMITS

_LIMIT_LINE = re.compile(r"//\s*(" + "|".join(LIMITS) + r")\s*:\s*(.*?)\s*")

#: The compile options that say where an event's fields are: a compiled rule
#: must agree with the engine on each (EngineConfig names them the same).
EVENT_FIELD_OPTIONS = ("category_field", "timestamp_field", "timestamp_unit", "tiebreaker_field")


def read(path: Path, text: str) -> Iterator[RuleSource]:
    """The rule of an ``.eql`` file: the whole text, named and limited by its header."""
    name, limits = header(text)
    yield RuleSource(str(path), text, 1, file=str(path), rule_id=path.stem, name=name or path.stem, limits=limits, kind="eql")


def header(text: str) -> Tuple[Optional[str], Dict[str, Any]]:
    """The name and the limits an ``.eql`` file's opening comment lines give.

    A limit's value is an int when it is written as digits; anything else is
    kept as text, for the loader to refuse with the key's name.
    """
    name: Optional[str] = None
    limits: Dict[str, Any] = {}
    for line in text.strip().splitlines():
        line = line.strip()
        if not line.startswith("//"):
            break
        found = _LIMIT_LINE.fullmatch(line)
        if found is not None:
            value = found.group(2)
            limits[found.group(1)] = int(value) if value.isdigit() else value
        elif name is None:
            name = line[2:].strip() or None
    return name, limits


def load_eql_text(text: str, context: LoadContext, report: LoadReport, rule_id: Optional[str] = None) -> None:
    rule_id = rule_id or "rule"
    rule_from_query(context, report, rule_id=rule_id, name=rule_id, query=text, location=f"<{rule_id}>", source="eql")


def option_mismatches(compiled: Any, context: LoadContext) -> List[str]:
    """How a compiled rule's event fields differ from the engine's, one line per option."""
    engine = context.compile_options()
    return [
        f"{name}: the rule was compiled with {getattr(compiled.options, name)!r}, the engine uses {getattr(engine, name)!r}"
        for name in EVENT_FIELD_OPTIONS
        if getattr(compiled.options, name) != getattr(engine, name)
    ]


def load_compiled(compiled: Any, context: LoadContext, report: LoadReport, rule_id: Optional[str] = None) -> None:
    """A :class:`kestrel.CompiledRule`, built again from its source text.

    Its field ids belong to the schema it was compiled against, so the
    engine compiles the text again against its own schema, with the rule's
    options. Those must name the same event fields (category, timestamp and
    its unit, tiebreaker) as the engine's: a rule compiled for other fields
    would read other data than its author tested, so it is refused, with
    each differing option named.
    """
    rule_id = rule_id or "rule"
    location = f"<{rule_id}>"
    mismatches = option_mismatches(compiled, context)
    if mismatches:
        reason = "compiled for other event fields than the engine's: " + "; ".join(mismatches)
        report.failures.append(LoadFailure(location, None, None, reason))
        return
    rule_from_query(
        context,
        report,
        rule_id=rule_id,
        name=rule_id,
        query=compiled.source,
        location=location,
        source="eql",
        options=compiled.options,
    )
