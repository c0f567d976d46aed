"""Where the shared reference data is: the rule corpus, the conformance cases, the schemas.

CI lays a clean clone out with ``shared/`` beside it; ``$KESTREL_SHARED``
points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _locate() -> Path:
    override = os.environ.get("KESTREL_SHARED")
    candidates = [Path(override)] if override else []
    candidates.append(REPO.parent / "shared")
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED = _locate()
CONFORMANCE = SHARED / "conformance"
CORPUS_DIR = SHARED / "corpus"
CORPUS = Path(os.environ.get("KESTREL_CORPUS", CORPUS_DIR / "elastic_eql_rules.jsonl"))
