"""Bare ``.eql`` files, EQL text handed to ``engine.load`` directly, and
compiled rules (``engine.load(kestrel.compile(query))``).

The rule id and name are the file's stem; a leading ``//`` comment line, as
the bundled rules have, becomes the name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, rule_from_query

#: The compile options that say where an event's fields are: a compiled rule
#: must agree with the engine on each (EngineConfig names them the same).
EVENT_FIELD_OPTIONS = ("category_field", "timestamp_field", "timestamp_unit", "tiebreaker_field")


def load_eql_file(path: Path, context: LoadContext, report: LoadReport) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        report.failures.append(LoadFailure(str(path), None, None, f"cannot read: {error}"))
        return
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    name = first[2:].strip() if first.startswith("//") else path.stem
    rule_from_query(context, report, rule_id=path.stem, name=name, query=text, location=str(path), source="eql")


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
        context, report, rule_id=rule_id, name=rule_id, query=compiled.source, location=location, source="eql",
        options=compiled.options,
    )
