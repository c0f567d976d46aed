"""Rule corpora: one JSON object per line with a ``query`` (and optionally
``rule_id``, ``name``, ``severity``, ``risk_score``, ``tags``, ``mitre``,
``size``, ``max_samples_per_key``), as
Elastic's detection-rules corpus (``elastic_eql_rules.jsonl``) has them."""

from __future__ import annotations

import json
from pathlib import Path

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, rule_from_query
from kestrel.errors import RuleFileError
from kestrel.files import read_text
from kestrel.packages.manifest import LIMITS


def load_jsonl_file(path: Path, context: LoadContext, report: LoadReport) -> None:
    try:
        lines = read_text(path).splitlines()
    except RuleFileError as error:
        report.failures.append(LoadFailure(str(path), None, None, f"cannot read: {error.reason}"))
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            report.failures.append(LoadFailure(str(path), number, error.colno, f"invalid JSON: {error.msg}"))
            continue
        except RecursionError:
            report.failures.append(LoadFailure(str(path), number, None, "invalid JSON: nested too deeply to parse"))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("query"), str):
            report.failures.append(LoadFailure(str(path), number, None, "no `query` field"))
            continue
        if record.get("language", "eql") != "eql":
            report.skipped.append(Skipped(f"{path}:{number}", f"language {record['language']!r} is not EQL"))
            continue
        rule_id = str(record.get("rule_id") or f"{path.stem}:{number}")
        metadata = {key: record.get(key) for key in ("severity", "risk_score", "tags")}
        metadata["threat"] = record.get("mitre") or record.get("threat") or []
        # The query is escaped inside the line: errors carry query positions (first_line=None).
        rule_from_query(
            context,
            report,
            rule_id=rule_id,
            name=str(record.get("name") or rule_id),
            query=record["query"],
            location=f"{path}:{number}",
            first_line=None,
            metadata=metadata,
            source="jsonl",
            limits={key: record[key] for key in LIMITS if key in record},
        )
