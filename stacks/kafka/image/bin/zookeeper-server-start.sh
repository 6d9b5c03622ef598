#!/bin/sh
# zookeeper-server-start.sh <zoo.cfg>: the ZooKeeper server bundled with Kafka
# (fallback for tests; labs use the midlab/zookeeper image).
exec java \
  ${ZK_HEAP_OPTS:--Xms64m -Xmx128m} \
  -XX:+UseSerialGC -Djava.awt.headless=true \
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -Dzookeeper.admin.enableServer=false \
  -cp '/opt/kafka/libs/*' org.apache.zookeeper.server.quorum.QuorumPeerMain "$@"
