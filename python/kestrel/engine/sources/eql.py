"""Bare ``.eql`` files, and EQL text handed to ``engine.load`` directly.

The rule id and name are the file's stem; a leading ``//`` comment line, as
the bundled rules have, becomes the name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, rule_from_query


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
