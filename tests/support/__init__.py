"""Helpers shared by the test suites (importable as `support`; see pyproject's pythonpath)."""
