"""Fixtures for the compiler tests."""

from __future__ import annotations

import pytest

import kestrel


@pytest.fixture
def schema():
    """A fresh ECS 9.5.0 schema (the real Rust-backed kestrel.Schema)."""
    return kestrel.Schema.default()
