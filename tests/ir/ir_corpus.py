"""Where the shared rule corpus lives (the conformance suite is in tests/support/conformance.py)."""

from __future__ import annotations

import json

from support.shared import CORPUS


def corpus_rules():
    with open(CORPUS, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
