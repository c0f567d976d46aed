"""Where the shared reference data lives, and what a test does without it.

CI lays a clean clone out with ``shared/`` beside it; ``$KESTREL_SHARED``
points elsewhere and ``$KESTREL_CORPUS`` at another rule corpus. The corpus
location is the one ``kestrel bench`` uses (:func:`kestrel.bench.compare.default_corpus`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kestrel.bench.compare import default_corpus, shared_dir

SHARED = shared_dir()
CONFORMANCE = SHARED / "conformance"
CORPUS_DIR = SHARED / "corpus"
CORPUS = default_corpus()
SEEDS = SHARED / "seeds"


def require(path: Path) -> Path:
    """`path`, or skip the calling test naming it; in CI (``CI=true``) its absence is an error."""
    if path.exists():
        return path
    missing = f"needs {path}, which is not there (set KESTREL_SHARED, or KESTREL_CORPUS for the corpus)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(missing)
    pytest.skip(missing)
