from pathlib import Path

import pytest

from support.shared import SHARED


@pytest.fixture
def shared() -> Path:
    """The shared/ folder beside the clone: schemas, corpus, conformance data."""
    return SHARED
