"""Rule corpora: one JSON object per line with a ``query`` (and optionally
``rule_id``, ``name``, ``severity``, ``risk_score``, ``tags``, ``mitre``,
``size``, ``max_samples_per_key``), as
Elastic's detection-rules corpus (``elastic_eql_rules.jsonl``) has them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from kestrel.engine.sources.common import RuleSource
from kestrel.packages.manifest import LIMITS


def read(path: Path, text: str) -> Iterator[RuleSource]:
    """One record per non-blank line: a rule, a line that is not one, or a rule in another language."""
    where = str(path)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        location = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield RuleSource(location, "", None, f"invalid JSON: {error.msg}", file=where, line=number, column=error.colno)
            continue
        except RecursionError:
            yield RuleSource(location, "", None, "invalid JSON: nested too deeply to parse", file=where, line=number)
            continue
        if not isinstance(record, dict) or not isinstance(record.get("query"), str):
            yield RuleSource(location, "", None, "no `query` field", file=where, line=number)
            continue
        if record.get("language", "eql") != "eql":
            yield RuleSource(location, "", None, skipped=f"language {record['language']!r} is not EQL", file=where)
            continue
        rule_id = str(record.get("rule_id") or f"{path.stem}:{number}")
        metadata = {key: record.get(key) for key in ("severity", "risk_score", "tags")}
        metadata["threat"] = record.get("mitre") or record.get("threat") or []
        # The query is escaped inside the line: errors carry query positions (first_line=None).
        yield RuleSource(
            location,
            record["query"],
            None,
            file=where,
            rule_id=rule_id,
            name=str(record.get("name") or rule_id),
            metadata=metadata,
            limits={key: record[key] for key in LIMITS if key in record},
            kind="jsonl",
        )
