#!/bin/sh
# ZooKeeper's own command-line client, as in the notes: zkCli.sh -server zk1:2181
exec java -Xmx64m -XX:TieredStopAtLevel=1 -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
  -cp '/opt/zookeeper/lib/*' org.apache.zookeeper.ZooKeeperMain "$@"
