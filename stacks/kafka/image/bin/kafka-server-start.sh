#!/bin/sh
# kafka-server-start.sh <server.properties> [--override key=value ...]
# Runs the broker (ZooKeeper mode) or broker/controller (KRaft mode) in the foreground.
#   KAFKA_HEAP_OPTS             default -Xms128m -Xmx256m (lab load needs ~128m when
#                               log.cleaner.dedupe.buffer.size is lowered; see README)
#   KAFKA_JVM_PERFORMANCE_OPTS  default: SerialGC, C1 JIT only (quick start, small footprint)
#   KAFKA_LOG4J_OPTS            default: /opt/kafka/config/log4j.properties (3.9) or
#                               log4j2.properties (4.x): stdout, INFO
#   KAFKA_OPTS                  anything else (e.g. -D... or -Xlog:gc)
if [ $# -lt 1 ]; then
  echo "usage: kafka-server-start.sh server.properties [--override property=value]*" >&2
  exit 1
fi
cds=
[ -f /opt/kafka/kafka.jsa ] && cds=-XX:SharedArchiveFile=/opt/kafka/kafka.jsa
exec java \
  ${KAFKA_HEAP_OPTS:--Xms128m -Xmx256m} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true} \
  -Xshare:auto $cds \
  ${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -Dlog4j2.configurationFile=file:/opt/kafka/config/log4j2.properties} \
  ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$@"
