#!/bin/sh
# zookeeper-server-start.sh <zoo.cfg>: the ZooKeeper server bundled with Kafka
# (fallback for tests; labs use the midlab/zookeeper image).
cds=
[ -f /opt/kafka/kafka.jsa ] && cds=-XX:SharedArchiveFile=/opt/kafka/kafka.jsa
exec java \
  ${ZK_HEAP_OPTS:--Xms64m -Xmx128m} \
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Xshare:auto $cds \
  -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -Dzookeeper.admin.enableServer=false \
  -cp '/opt/kafka/libs/*' org.apache.zookeeper.server.quorum.QuorumPeerMain "$@"
