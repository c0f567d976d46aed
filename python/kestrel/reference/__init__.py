"""EQL's semantics in plain Python: the reference the core is checked against.

Nothing in the engine or the compiler uses this package. The production
evaluator is the core's (`kestrel-ir`, reached through ``kestrel._core``);
the tests run both over the same events and queries, so a semantic fix is
made once, in the core, and this reference shows whether it agrees with
Elasticsearch's documented behaviour.

* :mod:`kestrel.reference.interpreter` evaluates IR nodes over event dicts;
* :mod:`kestrel.reference.function_semantics` holds EQL's functions;
* :mod:`kestrel.reference.typed_semantics` compares mapped types (ip, date,
  version);
* :mod:`kestrel.reference.wildcard` turns `:`/`like` patterns into regexes.
"""
