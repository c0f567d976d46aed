"""`kestrel bench`: the benchmark harness users run in their own CI.

One job per module:

* :mod:`~kestrel.bench.events` -- the events measured on: the user's NDJSON
  or a deterministic generated stream;
* :mod:`~kestrel.bench.timing` -- best-of-N wall-clock timing, per event;
* :mod:`~kestrel.bench.targets` -- a rule set as things to time, one per rule
  and runtime (Wasm, Lua);
* :mod:`~kestrel.bench.rules` -- `--rules`: measure every target, check the budget;
* :mod:`~kestrel.bench.compare` -- `--compare eql`: the same queries and events
  on the `eql` package's PythonEngine, with the match sets checked;
* :mod:`~kestrel.bench.history` -- `--diff`: regressions between two
  pytest-benchmark JSON files;
* :mod:`~kestrel.bench.budget` -- the budget check shared with `benches/`;
* :mod:`~kestrel.bench.table` -- plain-text tables;
* :mod:`~kestrel.bench.command` -- the `bench` verb's arguments and handler.
"""
