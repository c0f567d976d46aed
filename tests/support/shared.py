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
    return Path(override) if override else REPO.parent / "shared"


SHARED = _locate()

# A clone with nothing beside it still runs every test that needs no shared
# data: a module that needs it is skipped, naming what is missing. In CI the
# data must be there, so its absence is an error instead.
if not SHARED.is_dir():
    _missing = f"the shared reference data is not at {SHARED} (set KESTREL_SHARED)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(_missing)
    import pytest

    pytest.skip(_missing, allow_module_level=True)
CONFORMANCE = SHARED / "conformance"
CORPUS_DIR = SHARED / "corpus"
CORPUS = Path(os.environ.get("KESTREL_CORPUS", CORPUS_DIR / "elastic_eql_rules.jsonl"))
