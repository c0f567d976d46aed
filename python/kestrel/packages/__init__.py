"""Rule packages: a directory with ``manifest.json`` and the predicate it names.

:mod:`kestrel.packages.manifest` parses and validates manifests and maps their
field tables onto a schema; it is shared by the Lua and Wasm runtimes.
"""

from kestrel.packages.manifest import FieldTable, Manifest, RulePackageError, load_manifest, parse_manifest

__all__ = ["FieldTable", "Manifest", "RulePackageError", "load_manifest", "parse_manifest"]
