"""Elastic detection-rules ``.toml`` files.

Only ``language = "eql"`` rules load; rules in other languages (kuery,
lucene, esql, machine learning...) are skipped and counted. The rule id,
name, version, severity, risk score, tags and MITRE threat mapping become the
alert's ``rule`` metadata. Kestrel also reads ``size`` and
``max_samples_per_key`` from the ``[rule]`` table (see ``Engine.load``).
"""

from __future__ import annotations

from pathlib import Path

from kestrel.compiler.sources import rules_from_text
from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, rule_from_query
from kestrel.errors import RuleFileError
from kestrel.files import read_text
from kestrel.packages.manifest import LIMITS

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons need tomli
    import tomli as tomllib  # type: ignore[no-redef,import-not-found]


def load_toml_file(path: Path, context: LoadContext, report: LoadReport) -> None:
    try:
        text = read_text(path)
    except RuleFileError as error:
        report.failures.append(LoadFailure(str(path), None, None, f"cannot read: {error.reason}"))
        return
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        report.failures.append(LoadFailure(str(path), None, None, f"invalid TOML: {error}"))
        return
    except RecursionError:
        report.failures.append(LoadFailure(str(path), None, None, "invalid TOML: nested too deeply to parse"))
        return
    problem = _shape_problem(document)
    if problem is not None:
        report.failures.append(LoadFailure(str(path), None, None, problem))
        return
    [source] = list(rules_from_text(path, text))  # the query and the file line it starts on
    rule = document.get("rule", {})
    language = rule.get("language") or rule.get("type")
    if language != "eql":
        report.skipped.append(Skipped(str(path), f"language {language!r} is not EQL"))
        return
    if source.problem is not None:
        report.failures.append(LoadFailure(str(path), None, None, source.problem))
        return
    metadata = {
        "severity": rule.get("severity"),
        "risk_score": rule.get("risk_score"),
        "tags": list(rule.get("tags", [])),
        "threat": rule.get("threat", []),
    }
    rule_id = rule.get("rule_id") or path.stem
    rule_from_query(
        context,
        report,
        rule_id=rule_id,
        name=rule.get("name") or rule_id,
        query=source.query,
        location=str(path),
        first_line=source.first_line,
        metadata=metadata,
        version=str(rule.get("version") or document.get("metadata", {}).get("updated_date") or "1"),
        source="toml",
        limits={key: rule[key] for key in LIMITS if key in rule},
    )


def _shape_problem(document: dict) -> "str | None":
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
