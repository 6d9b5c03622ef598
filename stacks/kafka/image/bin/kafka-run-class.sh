#!/bin/sh
# kafka-run-class.sh <MainClass> [args...]: run a Kafka/ZooKeeper tool class with
# a small heap. Tool JVM settings come from KAFKA_TOOL_* (not from the broker's
# KAFKA_HEAP_OPTS/KAFKA_OPTS, which the container environment also carries).
# JVM warnings go to stderr so that stdout stays parseable.
cds=
[ -f /opt/kafka/kafka.jsa ] && cds=-XX:SharedArchiveFile=/opt/kafka/kafka.jsa
exec java \
  ${KAFKA_TOOL_HEAP_OPTS:--Xmx256m} \
  ${KAFKA_TOOL_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true} \
  -Xshare:auto $cds -Xlog:disable -Xlog:all=warning:stderr \
  ${KAFKA_TOOL_LOG4J_OPTS:--Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties -Dlog4j2.configurationFile=file:/opt/kafka/config/tools-log4j2.properties} \
  ${KAFKA_TOOL_OPTS:-} \
  -cp '/opt/kafka/libs/*' "$@"
