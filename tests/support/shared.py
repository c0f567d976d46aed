"""The shared reference data, for test modules that need it throughout.

Importing this module skips the importing test module when the data is not
there (naming where it was looked for), except in CI (``CI=true``), where its
absence is an error. Modules that need it for a few tests only use
:func:`support.shared_paths.require` instead.
"""

from __future__ import annotations

import os

import pytest

from support.shared_paths import CONFORMANCE, CORPUS, CORPUS_DIR, SEEDS, SHARED

__all__ = ["CONFORMANCE", "CORPUS", "CORPUS_DIR", "SEEDS", "SHARED"]

if not SHARED.is_dir():
    _missing = f"the shared reference data is not at {SHARED} (set KESTREL_SHARED)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(_missing)
    pytest.skip(_missing, allow_module_level=True)
