#!/usr/bin/env bash
# The scale-out tests' environment: .venv-flink with the pinned apache-flink
# (the `flink` extra) and Kestrel from this checkout (built by setup.sh into
# python/kestrel), and the Kafka broker and Flink Kafka connector jars from
# Maven Central (scripts/scaleout/pom.xml). Idempotent; run after setup.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
FLINK_PIN="$(sed -n 's/^flink = \["\(apache-flink==[^"]*\)"\]/\1/p' pyproject.toml)"
if [ ! -x .venv-flink/bin/python ]; then
    "$PY" -m venv .venv-flink
fi
FPY="$ROOT/.venv-flink/bin/python"
if ! "$FPY" -c "import pyflink" 2>/dev/null; then
    "$FPY" -m pip install -q --disable-pip-version-check "$FLINK_PIN" lark "lupa>=2.7,<3" zstandard pyyaml
fi
# Kestrel itself comes from the checkout, whose extension setup.sh built in place.
SITE="$("$FPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$ROOT/python" > "$SITE/kestrel-checkout.pth"
"$FPY" -c "import kestrel, pyflink; kestrel.Engine().close()"
# Kafka (broker and tools) and the Flink Kafka SQL connector, from Maven Central.
JARS="${KESTREL_SCALEOUT_JARS:-$HOME/.cache/kestrel/scaleout}"
CONNECTOR="$(sed -n 's:.*<flink.kafka.connector>\(.*\)</flink.kafka.connector>.*:\1:p' scripts/scaleout/pom.xml)"
if [ ! -f "$JARS/broker/.complete" ]; then
    mvn -q -B -f scripts/scaleout/pom.xml dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$JARS/broker"
    touch "$JARS/broker/.complete"
fi
if [ ! -f "$JARS/connector/flink-sql-connector-kafka-$CONNECTOR.jar" ]; then
    mvn -q -B -f scripts/scaleout/pom.xml dependency:copy \
        -Dartifact="org.apache.flink:flink-sql-connector-kafka:$CONNECTOR" -DoutputDirectory="$JARS/connector"
fi
