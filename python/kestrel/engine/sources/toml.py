"""Elastic detection-rules ``.toml`` files.

Only ``language = "eql"`` rules load; rules in other languages (kuery,
lucene, esql, machine learning...) are skipped and counted. The rule id,
name, version, severity, risk score, tags and MITRE threat mapping become the
alert's ``rule`` metadata. Kestrel also reads ``size`` and
``max_samples_per_key`` from the ``[rule]`` table (see ``Engine.load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

from kestrel.engine.sources.common import RuleSource
from kestrel.packages.manifest import LIMITS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons need tomli
    import tomli as tomllib  # type: ignore[no-redef,import-not-found]


def read(path: Path, text: str) -> Iterator[RuleSource]:
    """The rule of a detection-rules file, with its metadata; skipped unless its language is EQL."""
    where = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        yield RuleSource(where, "", problem=f"invalid TOML: {error}", file=where)
        return
    except RecursionError:
        yield RuleSource(where, "", problem="invalid TOML: nested too deeply to parse", file=where)
        return
    problem = _shape_problem(document)
    if problem is not None:
        yield RuleSource(where, "", problem=problem, file=where)
        return
    rule = document.get("rule", {})
    language = rule.get("language") or rule.get("type")
    if language != "eql":
        yield RuleSource(where, "", skipped=f"language {language!r} is not EQL", file=where)
        return
    query = rule.get("query")
    if not isinstance(query, str):
        yield RuleSource(where, "", problem="no [rule] query", file=where)
        return
    # Literal ('''...''') strings keep the query verbatim, so it can be found.
    offset = text.find(query)
    first_line = text.count("\n", 0, offset) + 1 if offset >= 0 else 1
    rule_id = str(rule.get("rule_id") or path.stem)
    yield RuleSource(
        where,
        query,
        first_line,
        file=where,
        rule_id=rule_id,
        name=str(rule.get("name") or rule_id),
        metadata={
            "severity": rule.get("severity"),
            "risk_score": rule.get("risk_score"),
            "tags": list(rule.get("tags", [])),
            "threat": rule.get("threat", []),
        },
        version=str(rule.get("version") or document.get("metadata", {}).get("updated_date") or "1"),
        limits={key: rule[key] for key in LIMITS if key in rule},
        kind="toml",
    )


def _shape_problem(document: Dict[str, Any]) -> "str | None":
    """Why the tables and lists this loader reads are not of their documented shape, or None."""
    rule, metadata = document.get("rule", {}), document.get("metadata", {})
    if not isinstance(rule, dict):
        return "`rule` must be a table"
    if not isinstance(metadata, dict):
        return "`metadata` must be a table"
    for key in ("tags", "threat"):
        if not isinstance(rule.get(key, []), list):
            return f"`rule.{key}` must be a list"
    return None
