#!/bin/sh
# kafka-server-start.sh <server.properties> [--override key=value ...]
# Runs the broker (ZooKeeper mode) or broker/controller (KRaft mode) in the foreground.
if [ $# -lt 1 ]; then
  echo "usage: kafka-server-start.sh server.properties [--override property=value]*" >&2
  exit 1
fi
exec java \
  ${KAFKA_HEAP_OPTS:--Xms256m -Xmx256m} \
  ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:MaxMetaspaceSize=96m -XX:ReservedCodeCacheSize=64m -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true} \
  ${KAFKA_LOG4J_OPTS:--Dlog4j.configuration=file:/opt/kafka/config/log4j.properties} \
  ${KAFKA_OPTS:-} \
  -cp '/opt/kafka/libs/*' kafka.Kafka "$@"
