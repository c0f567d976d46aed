from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


@pytest.fixture
def shared() -> Path:
    """The shared/ folder beside the clone: schemas, corpus, conformance data."""
    return SHARED
