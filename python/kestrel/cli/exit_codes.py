"""The exit codes of every `kestrel` verb, defined once, and their help text."""

#: The verb did what it was asked and found nothing to report.
OK = 0
#: What the verb looks for was found: alerts with ``run --fail-on-alert``,
#: rules that fail ``check``, packages whose alerts differ in ``test``, a
#: Flink job that failed.
FOUND = 1
#: A usage error, a rule or the config failed to load, or the alerts file
#: cannot be opened.
USAGE = 2
#: The events could not be read to their end (missing, a directory, a
#: truncated or corrupt ``.gz``/``.zst``: what was read before is
#: evaluated), or input errors exceeded ``--max-input-errors``.
INPUT = 3

EPILOG = """exit codes:
  0  ok
  1  what the verb looks for was found: alerts with run --fail-on-alert, rules that fail
     check, packages whose alerts differ in test, a Flink job that failed
  2  usage error, a rule or the config failed to load, or the alerts file cannot be opened
  3  the events could not be read to their end (a truncated or corrupt .gz/.zst: what was
     read before it is evaluated), or input errors exceeded --max-input-errors"""
