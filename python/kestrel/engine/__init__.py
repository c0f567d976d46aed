"""The engine users run: rule sources, rule indexing, the event bus, alerts and sinks, hot reload.

* :class:`Engine` -- the facade (``kestrel.Engine``);
* :class:`EngineConfig` -- its options, also read from TOML/YAML files;
* :mod:`kestrel.engine.sources` -- one loader per rule source;
* :mod:`kestrel.engine.sinks` -- stdout, file, callback, Elasticsearch bulk;
* :mod:`kestrel.engine.watch` -- a watched rules directory (``Engine.watch``).
"""

from kestrel.engine.config import EngineConfig
from kestrel.engine.engine import Engine, ReloadResult
from kestrel.engine.sinks import CallbackSink, ElasticsearchBulkSink, FileSink, Sink, StdoutSink
from kestrel.engine.sources import LoadFailure, LoadReport, Skipped

__all__ = [
    "CallbackSink",
    "ElasticsearchBulkSink",
    "Engine",
    "EngineConfig",
    "FileSink",
    "LoadFailure",
    "LoadReport",
    "ReloadResult",
    "Sink",
    "Skipped",
    "StdoutSink",
]
