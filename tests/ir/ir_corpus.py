"""Where the shared rule corpus lives (the conformance suite is in tests/support/conformance.py)."""

from __future__ import annotations

import json
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
if not SHARED.is_dir():  # a checkout elsewhere: the machine-wide copy
    SHARED = Path("/work/shared")
CORPUS = SHARED / "corpus" / "elastic_eql_rules.jsonl"


def corpus_rules():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
