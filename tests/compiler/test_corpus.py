"""The acceptance corpus: every production rule compiles, and so do the TOML files."""

from __future__ import annotations

import pytest
import tomllib
from eql_test_data import CORPUS, corpus_queries

from kestrel.compiler import EqlError, compile

RULES = corpus_queries()
TOML_FILES = sorted((CORPUS / "detection-rules-toml").glob("*.toml"))


def test_corpus_has_1024_rules():
    assert len(RULES) == 1024


def test_every_corpus_rule_compiles():
    failures = []
    for rule in RULES:
        try:
            compiled = compile(rule["query"])
        except EqlError as exc:
            failures.append(f"{rule['name']}: {exc}")
            continue
        if compiled.kind != rule["query_kind"]:
            failures.append(f"{rule['name']}: kind {compiled.kind} != {rule['query_kind']}")
    assert failures == []


@pytest.mark.parametrize("path", TOML_FILES, ids=lambda p: p.stem)
def test_detection_rules_toml_compiles(path):
    with open(path, "rb") as handle:
        rule = tomllib.load(handle)["rule"]
    compiled = compile(rule["query"])
    assert compiled.ir_dict()["ir_version"] == 1


def test_there_are_19_toml_files():
    assert len(TOML_FILES) == 19
