#!/bin/bash
# Build-time only (a RUN step of the Dockerfile): build a class-data-sharing
# archive /opt/kafka/kafka.jsa covering the broker (KRaft mode, and ZooKeeper mode
# where the jars still have it: 3.9), the storage tool and the common admin tools, so that every JVM in a lab starts
# with about half the CPU. It runs single-node clusters on localhost, records the
# classes each JVM loads, and dumps one static archive from the merged list.
# Never fatal: on any failure the image simply has no archive (JVMs then start
# without it, only slower).
set -uo pipefail
work=/tmp/cds
archive=/opt/kafka/kafka.jsa
cp_libs='/opt/kafka/libs/*'
# Both logging configurations: 3.9 reads the first (reload4j), 4.x the second (log4j 2).
logs() { echo "-Dlog4j.configuration=file:/opt/kafka/config/$1.properties -Dlog4j2.configurationFile=file:/opt/kafka/config/${1/log4j/log4j2}.properties"; }
rm -rf "$work"; mkdir -p "$work"
cd "$work"

fail() {
  echo "cds-train: $*; building the image without a CDS archive" >&2
  pkill -TERM -x timeout 2>/dev/null; sleep 2
  cd / && rm -rf "$work" "$archive"
  exit 0
}

run() { # run LIST MainClass args...: a JVM that records its loaded classes
  local list=$1; shift
  timeout 120 java -Xshare:off -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -XX:DumpLoadedClassList="$work/$list.lst" \
    $(logs tools-log4j) -cp "$cp_libs" "$@"
}

bg() { # bg LIST MainClass args... &: a server JVM; $! is then the JVM's own timeout wrapper
  local list=$1; shift
  exec timeout 600 java -Xshare:off -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -XX:DumpLoadedClassList="$work/$list.lst" \
    $(logs log4j) -cp "$cp_libs" "$@"
}

wait_log() { # wait_log FILE PATTERN
  local i
  for i in $(seq 240); do grep -q "$2" "$1" && return 0; sleep 0.5; done
  return 1
}

stop_pid() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# A tool's main class, from its wrapper (the Dockerfile made them from bin/tools.list).
cls() { sed -n 's|^exec /opt/kafka/bin/kafka-run-class.sh \([^ ]*\).*|\1|p' "/opt/kafka/bin/$1" 2>/dev/null; }

tools() { # the admin tools a lab uses, against localhost:9092
  local b=(--bootstrap-server localhost:9092)
  run "$1-topics" "$(cls kafka-topics.sh)" "${b[@]}" --create --topic cds --partitions 2 --replication-factor 1 >/dev/null || return 1
  run "$1-describe" "$(cls kafka-topics.sh)" "${b[@]}" --describe >/dev/null || return 1
  echo x | run "$1-producer" "$(cls kafka-console-producer.sh)" "${b[@]}" --topic cds || return 1
  run "$1-consumer" "$(cls kafka-console-consumer.sh)" "${b[@]}" --topic cds --group cds \
    --from-beginning --max-messages 1 >/dev/null 2>&1 || return 1
  run "$1-groups" "$(cls kafka-consumer-groups.sh)" "${b[@]}" --describe --all-groups >/dev/null 2>&1 || return 1
  run "$1-configs" "$(cls kafka-configs.sh)" "${b[@]}" --entity-type brokers --entity-name 1 --describe >/dev/null || return 1
  run "$1-apiversions" "$(cls kafka-broker-api-versions.sh)" "${b[@]}" >/dev/null || return 1
  run "$1-election" "$(cls kafka-leader-election.sh)" "${b[@]}" --election-type preferred --all-topic-partitions >/dev/null 2>&1
  return 0
}

common_props='
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
'

# --- KRaft, one combined node ---
cat >kraft.properties <<PROPS
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@localhost:9093
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
log.dirs=$work/kraft-data
$common_props
PROPS
run format kafka.tools.StorageTool format -t Y2RzLXRyYWluaW5nLWlkAA -c kraft.properties >/dev/null || fail "format failed"
bg broker-kraft kafka.Kafka kraft.properties >kraft.log 2>&1 &
pid=$!
wait_log kraft.log 'Kafka Server started' || { tail -20 kraft.log >&2; fail "KRaft broker did not start"; }
run quorum "$(cls kafka-metadata-quorum.sh)" --bootstrap-server localhost:9092 describe --status >/dev/null || fail "quorum tool failed"
tools kraft || fail "tools failed (KRaft)"
stop_pid $pid

# --- ZooKeeper mode: standalone ZooKeeper + one broker (3.9; 4.0 removed it) ---
if [[ -f /opt/kafka/bin/zookeeper-shell.sh ]]; then
mkdir -p zk-data
printf 'tickTime=2000\ndataDir=%s/zk-data\nclientPort=2181\nadmin.enableServer=false\n4lw.commands.whitelist=*\n' "$work" >zoo.cfg
bg zookeeper org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg >zk.log 2>&1 &
zkpid=$!
cat >zk.properties <<PROPS
broker.id=1
zookeeper.connect=localhost:2181
listeners=PLAINTEXT://localhost:9092
log.dirs=$work/zk-broker-data
$common_props
PROPS
bg broker-zk kafka.Kafka zk.properties >zkbroker.log 2>&1 &
pid=$!
wait_log zkbroker.log 'started (kafka.server.KafkaServer)' || { tail -20 zkbroker.log >&2; fail "ZooKeeper-mode broker did not start"; }
tools zk || fail "tools failed (ZooKeeper mode)"
run zkshell org.apache.zookeeper.ZooKeeperMainWithTlsSupportForKafka -server localhost:2181 ls /brokers/ids >/dev/null 2>&1 || fail "zookeeper-shell failed"
stop_pid $pid
stop_pid $zkpid
fi

# --- merge the lists and dump one archive ---
# Keep plain class names (ids differ per JVM: dropped) and well-formed
# @lambda-form-invoker lines. JDK 17 may interleave lines written by concurrent
# class loading, so anything malformed is dropped; @lambda-proxy lines are left
# out altogether (a malformed one aborts the dump; they matter little).
cat ./*.lst | sed 's/ id: [0-9]*$//' | awk '
  /^#/ { next }
  /^@lambda-form-invoker / { if (NF == 3 || NF == 5) { if (!seen[$0]++) inv[++ni] = $0 } next }
  /^@/ { next }
  /^[A-Za-z0-9_$\/.-]+$/ { if (!seen[$0]++) print; next }
  END { for (i = 1; i <= ni; i++) print inv[i] }
' >classes.lst
java -Xshare:dump -XX:SharedClassListFile=classes.lst -XX:SharedArchiveFile="$archive" \
  -cp "$cp_libs" >dump.log 2>&1 || { tail -20 dump.log >&2; fail "archive dump failed"; }
# prove it maps
java -Xshare:on -XX:SharedArchiveFile="$archive" $(logs tools-log4j) \
  -cp "$cp_libs" kafka.tools.StorageTool random-uuid >/dev/null \
  || fail "archive does not map"
echo "cds-train: $(wc -l <classes.lst) classes -> $archive ($(du -m "$archive" | cut -f1) MB)"
cd / && rm -rf "$work"
