from pathlib import Path

import pytest


@pytest.fixture
def shared() -> Path:
    """The shared/ folder beside the clone: schemas, corpus, conformance data
    (imported here, so only the tests that ask for it skip without it)."""
    from support.shared import SHARED

    return SHARED
