"""Sigma rules (``.yml``/``.yaml``) through pySigma's Elasticsearch EQL backend.

An optional extra: ``pip install kestrel[sigma]``. Without pySigma, Sigma
files are skipped with a message saying so. The ECS Windows pipeline maps
Sigma fields to ECS, and the backend writes Elastic Defend's ``.caseless``
multi-fields (``process.executable.caseless like~ (...)``); the schema
knows those multi-fields, so the query compiles as pySigma wrote it. The
``any where`` it emits is narrowed to the event category of the Sigma
logsource, so the rule is indexed like hand-written EQL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Optional

from kestrel.engine.sources.common import LoadContext, LoadFailure, LoadReport, Skipped, rule_from_query
from kestrel.errors import RuleFileError
from kestrel.files import read_text

SIGMA_SUFFIXES = (".yml", ".yaml")
MISSING = "Sigma rules need pySigma and its Elasticsearch backend: pip install 'kestrel[sigma]'"

#: Sigma logsource category -> ECS event.category.
CATEGORIES = {
    "process_creation": "process",
    "process_termination": "process",
    "file_event": "file",
    "file_change": "file",
    "file_delete": "file",
    "file_rename": "file",
    "file_access": "file",
    "network_connection": "network",
    "dns_query": "network",
    "dns": "network",
    "registry_add": "registry",
    "registry_delete": "registry",
    "registry_event": "registry",
    "registry_set": "registry",
    "image_load": "library",
    "driver_load": "driver",
}

_LEVEL_RISK = {"informational": 21, "low": 21, "medium": 47, "high": 73, "critical": 99}


def load_sigma_file(path: Path, context: LoadContext, report: LoadReport) -> None:
    try:
        from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
        from sigma.collection import SigmaCollection
        from sigma.pipelines.elasticsearch.windows import ecs_windows
    except ImportError:
        report.skipped.append(Skipped(str(path), MISSING))
        return
    try:
        text = read_text(path)
    except RuleFileError as error:
        report.failures.append(LoadFailure(str(path), None, None, f"cannot read: {error.reason}"))
        return
    try:
        collection = SigmaCollection.from_yaml(text)
        backend = EqlBackend(ecs_windows())
        rules = [rule for rule in collection.rules if getattr(rule, "detection", None) is not None]
        if not rules:
            report.skipped.append(Skipped(str(path), "not a Sigma rule (no detection)"))
            return
        for rule in rules:
            queries = backend.convert_rule(rule)  # type: ignore[arg-type]  # correlation rules have no detection, filtered above
            for number, query in enumerate(queries):
                rule_id = str(rule.id or path.stem) + (f"#{number}" if len(queries) > 1 else "")
                rule_from_query(
                    context,
                    report,
                    rule_id=rule_id,
                    name=rule.title or rule_id,
                    query=_narrow(query, rule),
                    location=str(path),
                    first_line=None,
                    metadata=_metadata(rule),
                    source="sigma",
                )
    except Exception as error:  # pySigma raises its own hierarchy (SigmaError) and YAML errors
        report.failures.append(LoadFailure(str(path), _line(error), None, f"Sigma: {error}"))


def _narrow(query: str, rule: Any) -> str:
    category = CATEGORIES.get(getattr(rule.logsource, "category", None) or "")
    if category and query.startswith("any where "):
        query = f"{category} where " + query[len("any where ") :]
    return query


def _metadata(rule: Any) -> Dict[str, Any]:
    level = getattr(rule.level, "name", None)
    level = level.lower() if level else None
    tags = [f"{t.namespace}.{t.name}" for t in rule.tags]
    techniques = [t.name.upper() for t in rule.tags if t.namespace == "attack" and re.fullmatch(r"t\d{4}(\.\d{3})?", t.name)]
    threat = [{"framework": "MITRE ATT&CK", "technique": [{"id": t} for t in techniques]}] if techniques else []
    return {"severity": level, "risk_score": _LEVEL_RISK.get(level or ""), "tags": tags, "threat": threat}


def _line(error: Exception) -> Optional[int]:
    mark = getattr(error, "problem_mark", None)
    return mark.line + 1 if mark is not None else None
